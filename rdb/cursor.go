package rdb

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
)

// errRetain stops a look-ahead scan whose record would keep more than the
// cursor's limit in memory; the Reader then streams the value instead.
var errRetain = errors.New("rdb: record exceeds MaxPayload")

const (
	minRead    = 64 << 10  // smallest read from the source
	initialBuf = 256 << 10 // first buffer size of a Reader
)

// cursor is the one buffer every byte of the input passes through. It reads
// from src on demand, keeps the bytes from mark on (so that a record can be
// returned as a view), adds every byte it discards to the running CRC, and
// counts input offsets. With src == nil, buf[:end] is the whole input (a
// payload in memory).
type cursor struct {
	src    io.Reader
	srcErr error
	buf    []byte
	pos    int   // next byte to read
	end    int   // end of valid data in buf
	base   int64 // input offset of buf[0]
	mark   int   // first byte that must stay in buf, or -1
	limit  int   // with mark >= 0: bytes kept from mark at most
	crc    uint64
	crcPos int  // buf[:crcPos] is already in crc
	crcOn  bool // false: no checksum is kept
}

func (c *cursor) offset() int64 { return c.base + int64(c.pos) }

// fill makes n bytes available at pos, or fails with io.ErrUnexpectedEOF
// (the input ends first), errRetain (a marked record would grow past
// limit) or the source's error.
func (c *cursor) fill(n int) error {
	if c.end-c.pos >= n {
		return nil
	}
	if c.src == nil {
		return io.ErrUnexpectedEOF
	}
	if c.mark >= 0 && c.pos+n-c.mark > c.limit {
		return errRetain
	}
	empty := 0
	for c.end-c.pos < n {
		if c.srcErr != nil {
			if c.srcErr == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return c.srcErr
		}
		if len(c.buf)-c.end < minRead || len(c.buf)-c.pos < n {
			c.makeRoom(n)
		}
		m, err := c.src.Read(c.buf[c.end:])
		c.end += m
		if err != nil {
			c.srcErr = err
		} else if m == 0 {
			if empty++; empty > 100 {
				c.srcErr = io.ErrNoProgress
			}
		}
	}
	return nil
}

// makeRoom discards what is no longer needed (adding it to the checksum) and
// grows the buffer so that n bytes from pos plus a read fit.
func (c *cursor) makeRoom(n int) {
	keep := c.pos
	if c.mark >= 0 && c.mark < keep {
		keep = c.mark
	}
	c.sumTo(keep)
	need := c.pos - keep + n + minRead
	if need > len(c.buf) {
		nb := make([]byte, max(2*len(c.buf), need, initialBuf))
		copy(nb, c.buf[keep:c.end])
		c.buf = nb
	} else {
		copy(c.buf, c.buf[keep:c.end])
	}
	c.pos -= keep
	c.end -= keep
	c.crcPos -= keep
	if c.mark >= 0 {
		c.mark -= keep
	}
	c.base += int64(keep)
}

// sumTo adds buf[crcPos:i] to the checksum.
func (c *cursor) sumTo(i int) {
	if c.crcPos >= i {
		return
	}
	if c.crcOn {
		c.crc = CRC64(c.crc, c.buf[c.crcPos:i])
	}
	c.crcPos = i
}

func (c *cursor) readByte() (byte, error) {
	if c.pos < c.end {
		b := c.buf[c.pos]
		c.pos++
		return b, nil
	}
	if err := c.fill(1); err != nil {
		return 0, err
	}
	b := c.buf[c.pos]
	c.pos++
	return b, nil
}

// next returns the next n bytes as a view of the buffer, valid until the
// cursor reads again. The caller bounds n.
func (c *cursor) next(n int) ([]byte, error) {
	if c.end-c.pos < n {
		if err := c.fill(n); err != nil {
			return nil, err
		}
	}
	b := c.buf[c.pos : c.pos+n : c.pos+n]
	c.pos += n
	return b, nil
}

// skip passes over n bytes; outside a marked record it needs no memory.
func (c *cursor) skip(n uint64) error {
	for {
		avail := uint64(c.end - c.pos)
		if n <= avail {
			c.pos += int(n)
			return nil
		}
		if c.mark >= 0 || c.src == nil {
			if n > uint64(c.limit) && c.src != nil {
				return errRetain
			}
			if n > 1<<40 {
				return io.ErrUnexpectedEOF
			}
			if err := c.fill(int(n)); err != nil {
				return err
			}
			continue
		}
		c.pos = c.end
		n -= avail
		if err := c.fill(int(min(n, minRead))); err != nil {
			return err
		}
	}
}

func (c *cursor) uint64LE() (uint64, error) {
	p, err := c.next(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(p), nil
}

// length reads an RDB length; encoded reports a special string encoding
// (11xxxxxx) whose number is returned in n. See redis/src/rdb.c rdbLoadLenByRef.
func (c *cursor) length() (n uint64, encoded bool, err error) {
	if c.pos >= c.end {
		if err := c.fill(1); err != nil {
			return 0, false, err
		}
	}
	b := c.buf[c.pos] // readByte, which is not inlined
	c.pos++
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3f), false, nil
	case 1:
		b2, err := c.readByte()
		return uint64(b&0x3f)<<8 | uint64(b2), false, err
	case 2:
		switch b {
		case 0x80:
			p, err := c.next(4)
			if err != nil {
				return 0, false, err
			}
			return uint64(binary.BigEndian.Uint32(p)), false, nil
		case 0x81:
			p, err := c.next(8)
			if err != nil {
				return 0, false, err
			}
			return binary.BigEndian.Uint64(p), false, nil
		}
		return 0, false, corrupt("unknown length encoding 0x%02x", b)
	}
	return uint64(b & 0x3f), true, nil
}

// plainLen reads a length that may not be a string encoding.
func (c *cursor) plainLen() (uint64, error) {
	n, enc, err := c.length()
	if err == nil && enc {
		err = corrupt("string encoding %d where a length was expected", n)
	}
	return n, err
}

// String encodings (11xxxxxx lengths). See redis/src/rdb.h RDB_ENC_*.
const (
	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// str reads an RDB string no longer than limit bytes. The result is a view
// of the buffer (raw strings) or of *scratch (integers, LZF), valid until the
// cursor reads again or scratch is reused. See rdbGenericLoadStringObject.
func (c *cursor) str(scratch *[]byte, limit int) ([]byte, error) {
	if s, ok := c.shortStr(limit); ok {
		return s, nil
	}
	n, enc, err := c.length()
	if err != nil {
		return nil, err
	}
	if !enc {
		if n > uint64(limit) {
			return nil, tooLarge("string", n, limit)
		}
		return c.next(int(n))
	}
	return c.encodedStr(n, scratch, limit)
}

// shortStr reads a raw string of up to 63 bytes (and limit) that is
// already in the buffer, the usual case, as a view of it; ok is false,
// having read nothing, for any other.
func (c *cursor) shortStr(limit int) (s []byte, ok bool) {
	if c.pos < c.end {
		if n := int(c.buf[c.pos]); n < 0x40 && n < c.end-c.pos && n <= limit {
			s = c.buf[c.pos+1 : c.pos+1+n : c.pos+1+n]
			c.pos += 1 + n
			return s, true
		}
	}
	return nil, false
}

// strCopy reads an RDB string into *dst, which stays valid whatever the
// cursor reads next.
func (c *cursor) strCopy(dst *[]byte, limit int) ([]byte, error) {
	n, enc, err := c.length()
	if err != nil {
		return nil, err
	}
	if !enc {
		if n > uint64(limit) {
			return nil, tooLarge("string", n, limit)
		}
		s, err := c.next(int(n))
		if err != nil {
			return nil, err
		}
		*dst = append((*dst)[:0], s...)
		return *dst, nil
	}
	return c.encodedStr(n, dst, limit)
}

// encodedStr decodes a string whose length byte was 11xxxxxx (enc).
func (c *cursor) encodedStr(enc uint64, scratch *[]byte, limit int) ([]byte, error) {
	switch enc {
	case encInt8, encInt16, encInt32:
		v, err := c.encodedInt(enc)
		if err != nil {
			return nil, err
		}
		*scratch = strconv.AppendInt((*scratch)[:0], v, 10)
		return *scratch, nil
	case encLZF:
		clen, ulen, err := c.lzfHeader(limit)
		if err != nil {
			return nil, err
		}
		in, err := c.next(clen)
		if err != nil {
			return nil, err
		}
		out := grow((*scratch)[:0], ulen)
		if err := lzfDecompress(out, in); err != nil {
			return nil, err
		}
		*scratch = out
		return out, nil
	}
	return nil, corrupt("unknown string encoding %d", enc)
}

func (c *cursor) encodedInt(enc uint64) (int64, error) {
	p, err := c.next(1 << enc)
	if err != nil {
		return 0, err
	}
	switch enc {
	case encInt8:
		return int64(int8(p[0])), nil
	case encInt16:
		return int64(int16(binary.LittleEndian.Uint16(p))), nil
	}
	return int64(int32(binary.LittleEndian.Uint32(p))), nil
}

func (c *cursor) lzfHeader(limit int) (clen, ulen int, err error) {
	cl, err := c.plainLen()
	if err != nil {
		return 0, 0, err
	}
	ul, err := c.plainLen()
	if err != nil {
		return 0, 0, err
	}
	if ul > uint64(limit) {
		return 0, 0, tooLarge("lzf string", ul, limit)
	}
	if cl > ul+ul/8+64 || cl == 0 {
		return 0, 0, corrupt("lzf lengths %d/%d", cl, ul)
	}
	return int(cl), int(ul), nil
}

// skipStr passes over an RDB string without decoding it.
func (c *cursor) skipStr() error {
	if c.pos < c.end {
		if n := int(c.buf[c.pos]); n < 0x40 && c.pos+n < c.end {
			c.pos += 1 + n // a short string, in the buffer (the usual case)
			return nil
		}
	}
	return c.skipStrSlow()
}

func (c *cursor) skipStrSlow() error {
	n, enc, err := c.length()
	if err != nil {
		return err
	}
	if !enc {
		return c.skip(n)
	}
	switch n {
	case encInt8, encInt16, encInt32:
		return c.skip(1 << n)
	case encLZF:
		cl, err := c.plainLen()
		if err != nil {
			return err
		}
		if _, err := c.plainLen(); err != nil {
			return err
		}
		return c.skip(cl)
	}
	return corrupt("unknown string encoding %d", n)
}

// skipDouble passes over a string-encoded double (RDB_TYPE_ZSET scores).
func (c *cursor) skipDouble() error {
	n, err := c.readByte()
	if err != nil || n >= 253 {
		return err
	}
	return c.skip(uint64(n))
}

func tooLarge(what string, n uint64, limit int) error {
	return &detailError{what + " of " + strconv.FormatUint(n, 10) + " bytes, limit " + strconv.Itoa(limit), ErrTooLarge}
}

// overPayload reports data that must be kept whole but is larger than
// MaxPayload (module data, which has no length to stream by).
func overPayload(what string, limit int) error {
	return &detailError{what + " larger than MaxPayload (" + strconv.Itoa(limit) + " bytes)", ErrTooLarge}
}

// grow returns b resliced to n bytes, reallocating if its capacity is short.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
