package rdb

import "encoding/binary"

// lzfDecompress expands LZF data in into out, which must come out exactly
// full. See liblzf lzf_d.c (redis/src/lzf_d.c).
//
// Where there is room, literal runs and back references are copied in
// 8-byte words: what lands past a run is overwritten by what follows it.
func lzfDecompress(out, in []byte) error {
	ip, op := 0, 0
	for ip < len(in) {
		ctrl := int(in[ip])
		ip++
		if ctrl < 32 { // literal run of ctrl+1 bytes
			n := ctrl + 1
			if op+40 <= len(out) && ip+40 <= len(in) {
				o, s := out[op:op+40], in[ip:ip+40] // n <= 32: five words at most
				for i := 0; i < n; i += 8 {
					binary.LittleEndian.PutUint64(o[i:i+8], binary.LittleEndian.Uint64(s[i:i+8]))
				}
			} else if op+n > len(out) || ip+n > len(in) {
				return corrupt("lzf literal overruns")
			} else {
				copy(out[op:op+n], in[ip:ip+n])
			}
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
		switch d := op - ref; {
		case d >= 8 && op+l+8 <= len(out):
			for i := 0; i < l; i += 8 {
				binary.LittleEndian.PutUint64(out[op+i:], binary.LittleEndian.Uint64(out[ref+i:]))
			}
		case d >= l:
			copy(out[op:op+l], out[ref:ref+l])
		default:
			for i := range l {
				out[op+i] = out[ref+i]
			}
		}
		op += l
	}
	if op != len(out) {
		return corrupt("lzf output %d bytes, header says %d", op, len(out))
	}
	return nil
}
