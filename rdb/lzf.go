package rdb

// lzfDecompress expands LZF data in into out, which must come out exactly
// full. See liblzf lzf_d.c (redis/src/lzf_d.c).
func lzfDecompress(out, in []byte) error {
	ip, op := 0, 0
	for ip < len(in) {
		ctrl := int(in[ip])
		ip++
		if ctrl < 32 { // literal run of ctrl+1 bytes
			ctrl++
			if op+ctrl > len(out) || ip+ctrl > len(in) {
				return corrupt("lzf literal overruns")
			}
			copy(out[op:], in[ip:ip+ctrl])
			op += ctrl
			ip += ctrl
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
		if op-ref >= l {
			copy(out[op:op+l], out[ref:ref+l])
			op += l
			continue
		}
		for ; l > 0; l-- {
			out[op] = out[ref]
			op++
			ref++
		}
	}
	if op != len(out) {
		return corrupt("lzf output %d bytes, header says %d", op, len(out))
	}
	return nil
}
