package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/redis/go-redis/v9"
)

// FuzzReply reads arbitrary bytes as replies: every read ends in a value,
// an error reply, or an error that breaks the connection; never a panic,
// and never an allocation out of proportion to the input (a bulk or array
// length is not trusted before its bytes come).
func FuzzReply(f *testing.F) {
	for _, s := range []string{
		"+OK\r\n", "-ERR x\r\n", ":42\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*-1\r\n",
		"*2\r\n$1\r\na\r\n*1\r\n:1\r\n", "*3\r\n:1\r\n-WRONGTYPE x\r\n$-1\r\n",
		"$5\r\nab", "*1000000000\r\n", "$4294967296\r\n", "+QUEUED\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, asBytes := range []bool{false, true} {
			readAll(t, &Conn{br: bufio.NewReaderSize(bytes.NewReader(data), 64), bulkBytes: asBytes})
		}
	})
}

// readAll reads replies from c until an error ends them (64 at most).
func readAll(t *testing.T, c *Conn) {
	for range 64 {
		_, reply, err := c.read()
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, bufio.ErrBufferFull) {
				t.Fatalf("unexpected error %T %v", err, err)
			}
			return
		}
		if reply != nil && reply != redis.Nil {
			if _, ok := reply.(Error); !ok {
				t.Fatalf("error reply of type %T", reply)
			}
		}
	}
}
