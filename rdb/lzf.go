package rdb

import "encoding/binary"

// lzfDecompress expands LZF data in into out, which must come out exactly
// full. See liblzf lzf_d.c (redis/src/lzf_d.c).
//
// Most runs in Redis data are short (a few bytes). While the input and the
// output have room to spare, lzfFast copies every literal run as 16 or 32
// bytes and most back references as 8 or 16, in words, with no loop: what
// lands past a run is overwritten by what follows it. The careful loop below does the
// rest, and reports the errors.
func lzfDecompress(out, in []byte) error {
	ip, op := lzfFast(out, in)
	for ip < len(in) {
		ctrl := int(in[ip])
		ip++
		if ctrl < 32 { // literal run of ctrl+1 bytes
			n := ctrl + 1
			if op+n > len(out) || ip+n > len(in) {
				return corrupt("lzf literal overruns")
			}
			copy(out[op:op+n], in[ip:ip+n])
			op += n
			ip += n
			continue
		}
		l := ctrl >> 5
		ref := op - (ctrl&0x1f)<<8 - 1
		if l == 7 {
			if ip >= len(in) {
				return corrupt("lzf back reference truncated")
			}
			l += int(in[ip])
			ip++
		}
		if ip >= len(in) {
			return corrupt("lzf back reference truncated")
		}
		ref -= int(in[ip])
		ip++
		l += 2
		if ref < 0 || op+l > len(out) {
			return corrupt("lzf back reference out of range")
		}
		copyRef(out[:op+l], op, ref)
		op += l
	}
	if op != len(out) {
		return corrupt("lzf output %d bytes, header says %d", op, len(out))
	}
	return nil
}

// lzfFastGo decodes while more than 17 bytes of input and 16 of output
// are left, enough to copy a literal run of up to 16 bytes (17 input bytes)
// or a back reference of up to 16 in whole blocks; it copies a longer
// literal run as 32 bytes while there is room for them. It returns where
// it stopped, before a back reference out of range or a long literal run
// near the end. It is lzfFast where there is no assembly version
// (lzf_amd64.s).
func lzfFastGo(out, in []byte) (ip, op int) {
	inEnd, outEnd := len(in)-17, len(out)-16
	for ip < inEnd && op < outEnd {
		s := in[ip : ip+17 : ip+17] // control byte and 16 bytes
		ctrl := int(s[0])
		if ctrl < 16 { // literal run of ctrl+1 bytes
			copy16(out[op:op+16:op+16], s[1:17])
			op += ctrl + 1
			ip += ctrl + 2
			continue
		}
		if ctrl < 32 {
			if ip+16 > inEnd || op+16 > outEnd {
				break // for the careful loop
			}
			copy32(out[op:op+32:op+32], in[ip+1:ip+33])
			op += ctrl + 1
			ip += ctrl + 2
			continue
		}
		l := ctrl>>5 + 2
		ref := op - (ctrl&0x1f)<<8 - 1
		next := ip + 2
		if l == 9 {
			l += int(s[1])
			ref -= int(s[2])
			next++
		} else {
			ref -= int(s[1])
		}
		if ref < 0 || op+l > len(out) {
			break // for the careful loop to report
		}
		switch d := op - ref; {
		case l <= 8 && d >= 8: // a short reference, inside the output's margin
			binary.LittleEndian.PutUint64(out[op:op+8], binary.LittleEndian.Uint64(out[ref:ref+8]))
		case l <= 16 && d >= 16:
			copy16(out[op:op+16:op+16], out[ref:ref+16:ref+16])
		default:
			copyRef(out[:op+l], op, ref)
		}
		ip = next
		op += l
	}
	return ip, op
}

// copyRef copies a back reference: out[op:] from out[ref:], ref < op,
// where the two may overlap (a run repeating its last op-ref bytes).
func copyRef(out []byte, op, ref int) {
	d := op - ref
	if d >= len(out)-op {
		copy(out[op:], out[ref:op])
		return
	}
	if d < 8 {
		// The run of period d has period p too, the first multiple of d
		// from 8 on, which words can copy once p-d bytes are there.
		p := d
		for p < 8 {
			p += d
		}
		for end := min(op+p-d, len(out)); op < end; op, ref = op+1, ref+1 {
			out[op] = out[ref]
		}
		ref = op - p
	}
	for ; op+8 <= len(out); op, ref = op+8, ref+8 {
		binary.LittleEndian.PutUint64(out[op:], binary.LittleEndian.Uint64(out[ref:]))
	}
	for ; op < len(out); op, ref = op+1, ref+1 {
		out[op] = out[ref]
	}
}

// copy32 copies 32 bytes in four words, without the call to memmove that
// an array or slice copy of this size compiles to.
func copy32(dst, src []byte) {
	dst, src = dst[:32], src[:32]
	a := binary.LittleEndian.Uint64(src)
	b := binary.LittleEndian.Uint64(src[8:])
	c := binary.LittleEndian.Uint64(src[16:])
	d := binary.LittleEndian.Uint64(src[24:])
	binary.LittleEndian.PutUint64(dst, a)
	binary.LittleEndian.PutUint64(dst[8:], b)
	binary.LittleEndian.PutUint64(dst[16:], c)
	binary.LittleEndian.PutUint64(dst[24:], d)
}

// copy16 copies 16 bytes in two words; src may overlap dst from 16 bytes
// before it on.
func copy16(dst, src []byte) {
	dst, src = dst[:16], src[:16]
	a := binary.LittleEndian.Uint64(src)
	b := binary.LittleEndian.Uint64(src[8:])
	binary.LittleEndian.PutUint64(dst, a)
	binary.LittleEndian.PutUint64(dst[8:], b)
}
