package rdb

import (
	"math"
	"slices"
)

// A server that RESTOREs a payload decompresses its LZF strings: for the
// compact encodings (listpacks, ziplists, intsets, quicklist nodes, stream
// listpacks) that is one blob per value or node, and the largest part of
// its work after the command itself (a tenth of Redis 7.0's instructions
// for the benchmark file's RESTOREs). The client can do it instead, on
// its own core, at the price of more bytes on the wire: InflatedLen and
// AppendInflated store those blobs plain, as Redis does when it saves
// with rdbcompression no. A blob that LZF made more than maxInflate times
// smaller stays compressed: its bytes would cost more on the wire than
// its decompression costs the server.

// maxInflate bounds the growth of a blob stored plain.
const maxInflate = 2

// InflatedLen returns the length of the payload p (type byte first, of
// encoding enc) once AppendInflated has stored its compressed blobs
// plain, and false if it has none to store so: p then goes as it is. A
// corrupt payload has none (the server says what is wrong with it).
func InflatedLen(p []byte, enc Encoding) (int, bool) {
	in := inflater{c: cursor{buf: p, pos: 1, end: len(p), mark: -1}, measure: true}
	if in.walk(enc) != nil || in.blobs == 0 {
		return len(p), false
	}
	return len(p) + in.growth, true
}

// AppendInflated appends the payload p (type byte first, of encoding enc)
// to dst with its compressed blobs stored plain (see InflatedLen).
func AppendInflated(dst, p []byte, enc Encoding) ([]byte, error) {
	in := inflater{c: cursor{buf: p, pos: 1, end: len(p), mark: -1}, out: dst}
	if err := in.walk(enc); err != nil {
		return dst, err
	}
	return append(in.out, p[in.from:]...), nil
}

// An inflater walks a payload's blobs: measuring what storing the
// compressed ones plain adds, or appending the payload with them plain.
type inflater struct {
	c       cursor
	measure bool
	blobs   int    // compressed blobs stored plain
	growth  int    // bytes that adds
	out     []byte // !measure: the payload so far, up to from
	from    int    // the next byte of the payload to copy to out
}

// walk passes over the value, one blob at a time; the parts that hold
// no blob are copied as they are, and so is a value of an encoding that
// has none (hashtables, skiplists: their strings are compressed one by
// one, if at all).
func (in *inflater) walk(enc Encoding) error {
	c := &in.c
	switch enc {
	case EncString, EncHashZipmap, EncListZiplist, EncSetIntset, EncZSetZiplist,
		EncHashZiplist, EncHashListpack, EncZSetListpack, EncSetListpack:
		return in.blob()
	case EncListQuicklist, EncListQuicklist2:
		n, err := c.plainLen()
		for ; n > 0 && err == nil; n-- {
			if enc == EncListQuicklist2 {
				if _, err = c.plainLen(); err != nil { // container: plain or packed
					break
				}
			}
			err = in.blob()
		}
		return err
	case EncStreamListpacks, EncStreamListpacks2, EncStreamListpacks3, EncStreamListpacks4:
		n, err := c.plainLen()
		for ; n > 0 && err == nil; n-- {
			if err = c.skipStr(); err == nil { // master id
				err = in.blob()
			}
		}
		return err // the metadata and groups that follow are copied
	}
	return nil
}

// blob passes over a string, storing it plain if LZF compressed it by at
// most maxInflate.
func (in *inflater) blob() error {
	c := &in.c
	start := c.pos
	n, enc, err := c.length()
	if err != nil || !enc || n != encLZF {
		c.pos = start
		return c.skipStr()
	}
	clen, ulen, err := c.lzfHeader(math.MaxInt)
	if err != nil {
		return err
	}
	if ulen > maxInflate*clen {
		return c.skip(uint64(clen))
	}
	data, err := c.next(clen)
	if err != nil {
		return err
	}
	var header [9]byte
	plainHeader := len(AppendLength(header[:0], uint64(ulen)))
	in.blobs++
	in.growth += plainHeader + ulen - (c.pos - start)
	if in.measure {
		return nil
	}
	in.out = append(in.out, c.buf[in.from:start]...)
	in.out = AppendLength(in.out, uint64(ulen))
	k := len(in.out)
	in.out = slices.Grow(in.out, ulen)[:k+ulen]
	in.from = c.pos
	return lzfDecompress(in.out[k:], data)
}
