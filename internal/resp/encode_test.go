package resp

import (
	"bytes"
	"strconv"
	"testing"
)

// TestAppend checks the encoding of commands against the protocol's
// examples, for lengths and integers of every size.
func TestAppend(t *testing.T) {
	for _, n := range []int64{0, 7, 9, 10, 99, 100, 12345, -1, -42, 1 << 40} {
		s := strconv.FormatInt(n, 10)
		want := "*2\r\n$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n$" + s + "\r\n"
		got := AppendArgHeader(AppendArgInt(AppendCommand(nil, 2), n), int(n))
		if n < 0 {
			continue // a length is never negative
		}
		if string(got) != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
	got := AppendArg(AppendArgString(AppendCommand(nil, 2), "GET"), []byte("k"))
	if want := "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"; string(got) != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// BenchmarkAppendRestore encodes a RESTORE as the loader does, with a
// payload of 350 bytes.
func BenchmarkAppendRestore(b *testing.B) {
	key := []byte("user:123456:profile")
	payload := bytes.Repeat([]byte("x"), 350)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCommand(buf[:0], 5)
		buf = AppendArgString(buf, "RESTORE")
		buf = AppendArg(buf, key)
		buf = AppendArgInt(buf, 0)
		buf = AppendArg(buf, payload)
		buf = AppendArgString(buf, "ABSTTL")
	}
}
