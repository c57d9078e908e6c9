package exporter

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// The memory model needs the sizes of the blobs a compact value is made of
// (a listpack's total bytes, each quicklist node's), which package rdb
// decodes but does not expose: it hands out elements. payloadWalker reads
// just enough of a payload's framing, RDB lengths and string headers, to
// find those sizes without decompressing or decoding anything; the
// elements, when they are needed, still come from rdb.Value. See
// redis/src/rdb.c rdbLoadLen and rdbGenericLoadStringObject.

var errPayload = errors.New("exporter: malformed payload")

type payloadWalker struct {
	b   []byte
	pos int
}

// length reads an RDB length; enc reports a string encoding (11xxxxxx),
// whose number is n.
func (w *payloadWalker) length() (n uint64, enc bool, err error) {
	if w.pos >= len(w.b) {
		return 0, false, errPayload
	}
	c := w.b[w.pos]
	w.pos++
	switch c >> 6 {
	case 0:
		return uint64(c & 0x3f), false, nil
	case 1:
		if w.pos >= len(w.b) {
			return 0, false, errPayload
		}
		n = uint64(c&0x3f)<<8 | uint64(w.b[w.pos])
		w.pos++
		return n, false, nil
	case 2:
		switch c {
		case 0x80:
			if len(w.b)-w.pos < 4 {
				return 0, false, errPayload
			}
			n = uint64(binary.BigEndian.Uint32(w.b[w.pos:]))
			w.pos += 4
			return n, false, nil
		case 0x81:
			if len(w.b)-w.pos < 8 {
				return 0, false, errPayload
			}
			n = binary.BigEndian.Uint64(w.b[w.pos:])
			w.pos += 8
			return n, false, nil
		}
		return 0, false, errPayload
	}
	return uint64(c & 0x3f), true, nil
}

// plainLen reads a length that is not a string encoding.
func (w *payloadWalker) plainLen() (uint64, error) {
	n, enc, err := w.length()
	if err == nil && enc {
		err = errPayload
	}
	return n, err
}

// A payloadString describes an RDB string without decoding it.
type payloadString struct {
	size  int64  // length once decoded (decimal digits of an integer)
	raw   []byte // the bytes when stored plainly, nil when LZF-compressed
	lzf   []byte // the compressed bytes of an LZF string
	isInt bool   // stored as an integer encoding
	ival  int64
	start int // offset of the string's first header byte in the payload
}

// str reads the header of an RDB string and skips its body.
func (w *payloadWalker) str() (payloadString, error) {
	s := payloadString{start: w.pos}
	n, enc, err := w.length()
	if err != nil {
		return s, err
	}
	if !enc {
		if n > uint64(len(w.b)-w.pos) {
			return s, errPayload
		}
		s.size, s.raw = int64(n), w.b[w.pos:w.pos+int(n)]
		w.pos += int(n)
		return s, nil
	}
	switch n {
	case 0, 1, 2: // RDB_ENC_INT8, INT16, INT32
		k := 1 << n
		if len(w.b)-w.pos < k {
			return s, errPayload
		}
		p := w.b[w.pos : w.pos+k]
		w.pos += k
		switch k {
		case 1:
			s.ival = int64(int8(p[0]))
		case 2:
			s.ival = int64(int16(binary.LittleEndian.Uint16(p)))
		default:
			s.ival = int64(int32(binary.LittleEndian.Uint32(p)))
		}
		s.isInt, s.size = true, decimalLen(s.ival)
		return s, nil
	case 3: // RDB_ENC_LZF
		clen, err := w.plainLen()
		if err != nil {
			return s, err
		}
		ulen, err := w.plainLen()
		if err != nil {
			return s, err
		}
		if clen > uint64(len(w.b)-w.pos) || ulen > 1<<62 {
			return s, errPayload
		}
		s.lzf = w.b[w.pos : w.pos+int(clen)]
		w.pos += int(clen)
		s.size = int64(ulen)
		return s, nil
	}
	return s, errPayload
}

// strDouble reads a score stored as text (RDB_TYPE_ZSET): a length
// byte, 253 NaN, 254 +inf, 255 -inf. See rdbLoadDoubleValue.
func (w *payloadWalker) strDouble() (float64, error) {
	if w.pos >= len(w.b) {
		return 0, errPayload
	}
	n := int(w.b[w.pos])
	w.pos++
	switch n {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	if n > len(w.b)-w.pos {
		return 0, errPayload
	}
	f, err := strconv.ParseFloat(string(w.b[w.pos:w.pos+n]), 64)
	w.pos += n
	if err != nil {
		return 0, errPayload
	}
	return f, nil
}

// lens skips n lengths.
func (w *payloadWalker) lens(n int) error {
	for range n {
		if _, err := w.plainLen(); err != nil {
			return err
		}
	}
	return nil
}

// skip advances over n bytes.
func (w *payloadWalker) skip(n int) error {
	if n > len(w.b)-w.pos {
		return errPayload
	}
	w.pos += n
	return nil
}

// decimalLen returns the length of v in decimal.
func decimalLen(v int64) int64 {
	n := int64(1)
	u := uint64(v)
	if v < 0 {
		n++
		u = uint64(-v)
	}
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

// head returns the first n (at most 8) bytes of the string once decoded,
// decompressing only those; nil if it is shorter or malformed.
func (s *payloadString) head(buf *[8]byte, n int) []byte {
	switch {
	case s.size < int64(n):
		return nil
	case s.raw != nil:
		return s.raw[:n]
	case s.lzf != nil:
		return lzfHead(buf[:n], s.lzf)
	}
	return nil
}

// lzfHead decodes the first len(out) bytes of the LZF data in, or returns
// nil if in is malformed. See redis/src/lzf_d.c.
func lzfHead(out, in []byte) []byte {
	ip, op := 0, 0
	for op < len(out) {
		if ip >= len(in) {
			return nil
		}
		ctrl := int(in[ip])
		ip++
		if ctrl < 32 { // literal run of ctrl+1 bytes
			n := ctrl + 1
			if ip+n > len(in) {
				return nil
			}
			op += copy(out[op:], in[ip:ip+n])
			ip += n
			continue
		}
		l := ctrl >> 5
		if l == 7 {
			if ip >= len(in) {
				return nil
			}
			l += int(in[ip])
			ip++
		}
		if ip >= len(in) {
			return nil
		}
		ref := op - (ctrl&0x1f)<<8 - 1 - int(in[ip])
		ip++
		if ref < 0 {
			return nil
		}
		for i := 0; i < l+2 && op < len(out); i++ {
			out[op] = out[ref+i]
			op++
		}
	}
	return out
}

// blobCount returns the element count in the header of a listpack (entries)
// or an intset, -1 when the header does not say (a listpack of 65535 or
// more entries) or cannot be read.
func (s *payloadString) blobCount(intset bool) int64 {
	var buf [8]byte
	if intset {
		h := s.head(&buf, 8)
		if h == nil {
			return -1
		}
		return int64(binary.LittleEndian.Uint32(h[4:]))
	}
	h := s.head(&buf, 6)
	if h == nil {
		return -1
	}
	n := int64(binary.LittleEndian.Uint16(h[4:]))
	if n == 65535 {
		return -1
	}
	return n
}
