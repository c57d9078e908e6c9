package rdb

import "encoding/binary"

// Intset: encoding u32 (bytes per element: 2, 4 or 8), length u32, then the
// sorted elements, little-endian. See redis/src/intset.c.
func (bl *blob) initIntset() error {
	b := bl.b
	if len(b) < 8 {
		return corrupt("intset of %d bytes", len(b))
	}
	w := int(binary.LittleEndian.Uint32(b))
	n := uint64(binary.LittleEndian.Uint32(b[4:]))
	if w != 2 && w != 4 && w != 8 {
		return corrupt("intset element size %d", w)
	}
	if 8+n*uint64(w) != uint64(len(b)) {
		return corrupt("intset of %d %d-byte elements in %d bytes", n, w, len(b))
	}
	bl.width, bl.left, bl.count, bl.pos = w, int(n), int(n), 8
	return nil
}

func (bl *blob) nextIntset() int64 {
	p := bl.b[bl.pos : bl.pos+bl.width]
	bl.pos += bl.width
	switch len(p) { // loads of the width, not leInt's loop over bytes
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(p)))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(p)))
	}
	return int64(binary.LittleEndian.Uint64(p))
}
