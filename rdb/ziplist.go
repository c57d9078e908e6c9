package rdb

import "encoding/binary"

// Ziplist: zlbytes u32, zltail u32, zllen u16 (65535: unknown), entries,
// 0xff. Each entry: prevlen (1 or 5 bytes), encoding, data.
// See redis/src/ziplist.c.
func (bl *blob) initZiplist() error {
	b := bl.b
	if len(b) < 11 || int(binary.LittleEndian.Uint32(b)) != len(b) || b[len(b)-1] != 0xff {
		return corrupt("ziplist header does not match its %d bytes", len(b))
	}
	if n := int(binary.LittleEndian.Uint16(b[8:])); n != 65535 {
		bl.left, bl.count = n, n
	}
	bl.pos = 10
	return nil
}

func (bl *blob) nextZiplist() (s []byte, v int64, isInt, done bool, err error) {
	b, p := bl.b, bl.pos
	if p >= len(b) {
		return nil, 0, false, false, corrupt("ziplist entry past its end")
	}
	if b[p] == 0xff {
		if p != len(b)-1 {
			return nil, 0, false, false, corrupt("ziplist terminator before its end")
		}
		return nil, 0, false, true, nil
	}
	if b[p] == 0xfe {
		p += 5
	} else {
		p++
	}
	if p >= len(b)-1 {
		return nil, 0, false, false, corrupt("ziplist entry past its end")
	}
	e := b[p]
	var hdr, dlen int
	switch {
	case e>>6 == 0:
		hdr, dlen = 1, int(e&0x3f)
	case e>>6 == 1:
		hdr, dlen = 2, int(e&0x3f)<<8|int(b[p+1])
	case e == 0x80:
		if p+5 > len(b) {
			return nil, 0, false, false, corrupt("ziplist entry past its end")
		}
		hdr, dlen = 5, int(binary.BigEndian.Uint32(b[p+1:]))
	case e >= 0xf1 && e <= 0xfd:
		v, isInt, hdr = int64(e&0x0f)-1, true, 1
	default:
		var size int
		switch e {
		case 0xc0:
			size = 2
		case 0xd0:
			size = 4
		case 0xe0:
			size = 8
		case 0xf0:
			size = 3
		case 0xfe:
			size = 1
		default:
			return nil, 0, false, false, corrupt("ziplist entry encoding 0x%02x", e)
		}
		if p+1+size > len(b)-1 {
			return nil, 0, false, false, corrupt("ziplist entry past its end")
		}
		if size == 1 {
			v = int64(int8(b[p+1]))
		} else {
			v = leInt(b[p+1 : p+1+size])
		}
		isInt, hdr = true, 1+size
	}
	if !isInt {
		if dlen > len(b)-1-p-hdr {
			return nil, 0, false, false, corrupt("ziplist string past its end")
		}
		s = b[p+hdr : p+hdr+dlen]
	}
	bl.pos = p + hdr + dlen
	return s, v, isInt, false, nil
}
