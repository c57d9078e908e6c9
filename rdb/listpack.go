package rdb

import "encoding/binary"

// blobKind tells the format of a blob: a compact encoding that a value's
// elements are packed into, stored as one RDB string.
type blobKind uint8

const (
	blobListpack blobKind = iota
	blobZiplist
	blobIntset
	blobZipmap
)

func (k blobKind) String() string {
	return [...]string{"listpack", "ziplist", "intset", "zipmap"}[k]
}

// blob iterates over the entries of a listpack, ziplist, intset or zipmap
// held in memory. An entry is a string or an integer.
type blob struct {
	kind  blobKind
	b     []byte
	pos   int
	left  int // entries left, -1 if the header does not say
	width int // intset element size
	count int // entries announced by the header, -1 if unknown
}

// init checks the blob's header and positions it at the first entry.
func (bl *blob) init(kind blobKind, b []byte) error {
	*bl = blob{kind: kind, b: b, left: -1, count: -1}
	switch kind {
	case blobListpack:
		return bl.initListpack()
	case blobZiplist:
		return bl.initZiplist()
	case blobIntset:
		return bl.initIntset()
	}
	return bl.initZipmap()
}

// next returns the next entry: s for a string, or v with isInt set. At the
// end it returns done. s is a view of the blob.
func (bl *blob) next() (s []byte, v int64, isInt, done bool, err error) {
	if bl.left == 0 {
		return nil, 0, false, true, bl.end()
	}
	switch bl.kind {
	case blobListpack:
		if s, v, next := lpEntry(bl.b, bl.pos); bl.take(next) {
			return s, v, s == nil, false, nil
		}
		s, v, isInt, done, err = bl.nextListpack()
	case blobIntset:
		bl.left--
		return nil, bl.nextIntset(), true, false, nil
	case blobZiplist:
		s, v, isInt, done, err = bl.nextZiplist()
	default:
		s, done, err = bl.nextZipmap()
	}
	if err == nil && !done && bl.left > 0 {
		bl.left--
	}
	if done && err == nil && bl.left > 0 {
		err = corrupt("%v ends after fewer entries than its header says", bl.kind)
	}
	return
}

// end checks that a blob whose count is exhausted ends right there.
func (bl *blob) end() error {
	switch bl.kind {
	case blobIntset:
		return nil
	case blobZipmap:
		if bl.pos >= len(bl.b) || bl.b[bl.pos] != 0xff {
			return corrupt("zipmap has more entries than its header says")
		}
		return nil
	}
	if bl.pos != len(bl.b)-1 || bl.b[bl.pos] != 0xff {
		return corrupt("%v has more entries than its header says", bl.kind)
	}
	return nil
}

// Listpack: total bytes u32, count u16 (65535: unknown), entries, 0xff.
// Each entry: encoding+data, then its backlen. See redis/src/listpack.c.
func (bl *blob) initListpack() error {
	b := bl.b
	if len(b) < 7 || int(binary.LittleEndian.Uint32(b)) != len(b) || b[len(b)-1] != 0xff {
		return corrupt("listpack header does not match its %d bytes", len(b))
	}
	if n := int(binary.LittleEndian.Uint16(b[4:])); n != 65535 {
		bl.left, bl.count = n, n
	}
	bl.pos = 6
	return nil
}

// take moves past the entry that lpEntry decoded, next being where the
// entry after it starts; false, having moved nowhere, if lpEntry left the
// entry to nextListpack (next 0) or the header's count is used up.
func (bl *blob) take(next int) bool {
	if next == 0 || bl.left == 0 {
		return false
	}
	bl.pos, bl.left = next, max(bl.left-1, -1) // left -1: unknown, stays so
	return true
}

// lpEntry decodes the listpack entry at b[p:] if it is a common one that
// lies well inside b: a string s (a view of b, never nil) or, with s nil,
// an integer v; next is where the entry after it starts. next is 0 for
// anything else, left to nextListpack.
func lpEntry(b []byte, p int) (s []byte, v int64, next int) {
	if p < 0 || p > len(b)-11 { // not p+11 > len(b), which leaves w a bounds check
		return nil, 0, 0
	}
	w := b[p:][:11] // the longest entry that is not a string, backlen included
	switch e := w[0]; {
	case e < 0x80: // 7-bit uint
		return nil, int64(e), p + 2
	case e < 0xc0: // 6-bit string: its entry is at most 64 bytes, backlen 1
		n := int(e & 0x3f)
		if next = p + 2 + n; next > len(b)-1 {
			return nil, 0, 0
		}
		return b[p+1 : p+1+n : p+1+n], 0, next
	case e < 0xe0: // 13-bit int
		u := int64(e&0x1f)<<8 | int64(w[1])
		return nil, u << 51 >> 51, p + 3
	case e < 0xf0: // 12-bit string
		n := int(e&0x0f)<<8 | int(w[1])
		if next = p + 2 + n + backlenSize(2+n); next > len(b)-1 {
			return nil, 0, 0
		}
		return b[p+2 : p+2+n : p+2+n], 0, next
	case e == 0xf1: // 16-bit int
		return nil, int64(int16(binary.LittleEndian.Uint16(w[1:]))), p + 4
	case e == 0xf2: // 24-bit int
		u := uint32(w[1]) | uint32(w[2])<<8 | uint32(w[3])<<16
		return nil, int64(int32(u<<8) >> 8), p + 5
	case e == 0xf3: // 32-bit int
		return nil, int64(int32(binary.LittleEndian.Uint32(w[1:]))), p + 6
	case e == 0xf4: // 64-bit int
		return nil, int64(binary.LittleEndian.Uint64(w[1:])), p + 10
	}
	return nil, 0, 0
}

func (bl *blob) nextListpack() (s []byte, v int64, isInt, done bool, err error) {
	b, p := bl.b, bl.pos
	if p >= len(b) {
		return nil, 0, false, false, corrupt("listpack entry past its end")
	}
	e := b[p]
	var hdr, dlen int // encoding bytes, data bytes
	switch {
	case e == 0xff:
		if p != len(b)-1 {
			return nil, 0, false, false, corrupt("listpack terminator before its end")
		}
		return nil, 0, false, true, nil
	case e&0x80 == 0: // 7-bit uint
		v, isInt, hdr = int64(e), true, 1
	case e&0xc0 == 0x80: // 6-bit string
		hdr, dlen = 1, int(e&0x3f)
	case e&0xe0 == 0xc0: // 13-bit int
		if p+2 > len(b) {
			return nil, 0, false, false, corrupt("listpack entry past its end")
		}
		u := int64(e&0x1f)<<8 | int64(b[p+1])
		v, isInt, hdr = u<<51>>51, true, 2
	case e&0xf0 == 0xe0: // 12-bit string
		if p+2 > len(b) {
			return nil, 0, false, false, corrupt("listpack entry past its end")
		}
		hdr, dlen = 2, int(e&0x0f)<<8|int(b[p+1])
	case e == 0xf0: // 32-bit string
		if p+5 > len(b) {
			return nil, 0, false, false, corrupt("listpack entry past its end")
		}
		hdr, dlen = 5, int(binary.LittleEndian.Uint32(b[p+1:]))
	case e >= 0xf1 && e <= 0xf4:
		size := [...]int{2, 3, 4, 8}[e-0xf1]
		if p+1+size > len(b) {
			return nil, 0, false, false, corrupt("listpack entry past its end")
		}
		v, isInt, hdr = leInt(b[p+1:p+1+size]), true, 1+size
	default:
		return nil, 0, false, false, corrupt("listpack entry encoding 0x%02x", e)
	}
	if isInt {
		dlen = 0
	} else if dlen > len(b)-p-hdr {
		return nil, 0, false, false, corrupt("listpack string past its end")
	} else {
		s = b[p+hdr : p+hdr+dlen]
	}
	size := hdr + dlen
	next := p + size + backlenSize(size)
	if next > len(b)-1 {
		return nil, 0, false, false, corrupt("listpack entry past its end")
	}
	bl.pos = next
	return s, v, isInt, false, nil
}

// backlenSize is the size of a listpack backlen for an entry of l bytes.
// See redis/src/listpack.c lpEncodeBacklen.
func backlenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

// leInt reads a little-endian signed integer of 2, 3, 4 or 8 bytes.
func leInt(p []byte) int64 {
	var u uint64
	for i := len(p) - 1; i >= 0; i-- {
		u = u<<8 | uint64(p[i])
	}
	shift := 64 - 8*uint(len(p))
	return int64(u<<shift) >> shift
}
