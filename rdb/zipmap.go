package rdb

import "encoding/binary"

// Zipmap (hashes written by Redis < 2.6): zmlen u8 (254+: unknown), then
// len field, len value, free u8, value, free padding; 0xff ends it. Lengths
// are one byte below 254, or 254 and a little-endian u32.
// See redis/src/zipmap.c.
func (bl *blob) initZipmap() error {
	if len(bl.b) < 2 || bl.b[len(bl.b)-1] != 0xff {
		return corrupt("zipmap of %d bytes without terminator", len(bl.b))
	}
	if n := int(bl.b[0]); n < 254 {
		bl.left, bl.count = 2*n, 2*n
	}
	bl.pos = 1
	return nil
}

// nextZipmap returns fields and values in turn.
func (bl *blob) nextZipmap() (s []byte, done bool, err error) {
	b, p := bl.b, bl.pos
	if p >= len(b) {
		return nil, false, corrupt("zipmap entry past its end")
	}
	if b[p] == 0xff {
		if bl.left > 0 && bl.left%2 == 1 {
			return nil, false, corrupt("zipmap field without value")
		}
		return nil, true, nil
	}
	value := (bl.count >= 0 && (bl.count-bl.left)%2 == 1) || (bl.count < 0 && bl.width == 1)
	n := int(b[p])
	p++
	if n == 254 {
		if p+4 > len(b) {
			return nil, false, corrupt("zipmap length past its end")
		}
		n = int(binary.LittleEndian.Uint32(b[p:]))
		p += 4
	} else if n == 255 {
		return nil, false, corrupt("zipmap length 255")
	}
	free := 0
	if value {
		if p >= len(b) {
			return nil, false, corrupt("zipmap entry past its end")
		}
		free = int(b[p])
		p++
	}
	if n > len(b)-1-p || free > len(b)-1-p-n {
		return nil, false, corrupt("zipmap entry past its end")
	}
	s = b[p : p+n]
	bl.pos = p + n + free
	if bl.count < 0 {
		bl.width ^= 1 // field, value, field, ...
	}
	return s, false, nil
}
