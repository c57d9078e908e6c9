package resp

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// maxBulk bounds the length of a bulk reply this client accepts: the
// largest a server sends (proto-max-bulk-len is at most 512 MiB by
// default, 4 GiB at most).
const maxBulk = 4 << 30

// maxPrealloc bounds what a length read from a reply allocates before the
// data it announces arrives: elements of an array, KiB of a bulk string.
const maxPrealloc = 1024

// maxDepth bounds the nesting of arrays (EXEC replies hold replies).
const maxDepth = 32

// A ProtocolError is a reply this client cannot read; it breaks the
// connection like a transport error.
type ProtocolError struct{ Line string }

func (e *ProtocolError) Error() string { return fmt.Sprintf("resp: malformed reply %q", e.Line) }

// Replies that are common enough to deserve no allocation: held as
// interfaces, so that returning one does not box a string each time. +OK
// is not even looked up.
var (
	statusOK any = "OK"
	statuses     = map[string]any{"QUEUED": "QUEUED", "PONG": "PONG"}
)

// read reads one reply: its value, its error reply (an Error, or
// redis.Nil), or the transport or protocol error that breaks the
// connection.
func (c *Conn) read() (val any, reply error, err error) { return c.readDepth(0) }

func (c *Conn) readDepth(depth int) (any, error, error) {
	line, err := c.line()
	if err != nil {
		return nil, nil, err
	}
	switch line[0] {
	case '+':
		if string(line) == "+OK" { // the reply to most commands: no lookup
			return statusOK, nil, nil
		}
		if s, ok := statuses[string(line[1:])]; ok {
			return s, nil, nil
		}
		return string(line[1:]), nil, nil
	case '-':
		return nil, Error(line[1:]), nil
	case ':':
		n, err := strconv.ParseInt(string(line[1:]), 10, 64)
		if err != nil {
			return nil, nil, &ProtocolError{string(line)}
		}
		return n, nil, nil
	case '$':
		n, err := c.length(line)
		if err != nil || n < 0 {
			return nil, redis.Nil, err
		}
		return c.bulk(n)
	case '*':
		n, err := c.length(line)
		if err != nil || n < 0 {
			return nil, redis.Nil, err
		}
		if depth >= maxDepth {
			return nil, nil, &ProtocolError{string(line)}
		}
		arr := make([]any, 0, min(n, maxPrealloc)) // n is not trusted before its elements come
		for range n {
			v, rerr, err := c.readDepth(depth + 1)
			if err != nil {
				return nil, nil, err
			}
			if rerr == redis.Nil {
				rerr = nil
			}
			if rerr != nil {
				v = rerr
			}
			arr = append(arr, v)
		}
		return arr, nil, nil
	}
	return nil, nil, &ProtocolError{string(line)}
}

// bulk reads a bulk string of n bytes and its CRLF, copying it once: a
// string, or a []byte on a connection of a Pool with BulkBytes.
func (c *Conn) bulk(n int) (any, error, error) {
	var val any
	if c.bulkBytes {
		b := make([]byte, 0, min(n, maxPrealloc<<10)) // n is not trusted before its bytes come
		for len(b) < n {
			if len(b) == cap(b) {
				b = slices.Grow(b, min(n-len(b), len(b)))
			}
			m, err := io.ReadFull(c.br, b[len(b):min(n, cap(b))])
			b = b[:len(b)+m]
			if err != nil {
				return nil, nil, noEOF(err)
			}
		}
		val = b
	} else {
		var sb strings.Builder
		sb.Grow(min(n, maxPrealloc<<10))
		if _, err := io.CopyN(&sb, c.br, int64(n)); err != nil {
			return nil, nil, noEOF(err)
		}
		val = sb.String()
	}
	if crlf, err := c.br.Peek(2); err != nil || crlf[0] != '\r' || crlf[1] != '\n' {
		if err != nil {
			return nil, nil, noEOF(err)
		}
		return nil, nil, &ProtocolError{"$" + strconv.Itoa(n) + " not followed by CRLF"}
	}
	_, _ = c.br.Discard(2)
	return val, nil, nil
}

// line returns the next line without its CRLF, valid until the next read.
func (c *Conn) line() ([]byte, error) {
	b, err := c.br.ReadSlice('\n')
	if err != nil {
		return nil, noEOF(err)
	}
	if len(b) < 3 || b[len(b)-2] != '\r' {
		return nil, &ProtocolError{string(b)}
	}
	return b[:len(b)-2], nil
}

// length parses the length of a bulk string or array header: -1 for nil.
func (c *Conn) length(line []byte) (int, error) {
	n, err := strconv.Atoi(string(line[1:]))
	if err != nil || n < -1 || n > maxBulk {
		return 0, &ProtocolError{string(line)}
	}
	return n, nil
}

// noEOF turns io.EOF, a connection closed between replies, into
// io.ErrUnexpectedEOF: a reply was expected.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
