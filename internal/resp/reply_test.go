package resp

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// TestStatusNoAlloc checks that the common status replies (a RESTORE's
// +OK) are read without an allocation.
func TestStatusNoAlloc(t *testing.T) {
	const n = 100
	in := bytes.NewReader([]byte(strings.Repeat("+OK\r\n", n+1)))
	c := &Conn{br: bufio.NewReaderSize(in, 1024)}
	allocs := testing.AllocsPerRun(n, func() {
		if v, reply, err := c.read(); v != "OK" || reply != nil || err != nil {
			t.Fatalf("read = %v, %v, %v", v, reply, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per +OK, want 0", allocs)
	}
}
