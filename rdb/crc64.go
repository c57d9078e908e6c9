package rdb

import "encoding/binary"

// Redis checksums its files and DUMP payloads with CRC-64/Jones: polynomial
// 0xad93d23594c935a9, reflected, init 0, no final xor ("123456789" →
// 0xe9c6d914c4b8d9ca). This is the same function as
// ^crc64.Update(^sum, crc64.MakeTable(0x95AC9329AC4BC9B5), p) from hash/crc64,
// computed slicing-by-8 (hash/crc64 only slices the ECMA and ISO tables) or,
// on amd64 CPUs with PCLMULQDQ, by folding 64 bytes at a time with
// carry-less multiplication (crc64_amd64.s). See redis/src/crc64.c.

const crcPoly = 0x95AC9329AC4BC9B5 // reflected form of 0xad93d23594c935a9

var crcTab = makeCRCTable()

func makeCRCTable() *[8][256]uint64 {
	t := new([8][256]uint64)
	for i := range 256 {
		c := uint64(i)
		for range 8 {
			if c&1 == 1 {
				c = c>>1 ^ crcPoly
			} else {
				c >>= 1
			}
		}
		t[0][i] = c
	}
	for i := range 256 {
		c := t[0][i]
		for j := 1; j < 8; j++ {
			c = t[0][c&0xff] ^ c>>8
			t[j][i] = c
		}
	}
	return t
}

// CRC64 returns the Redis CRC-64 of p continued from crc (0 to start).
func CRC64(crc uint64, p []byte) uint64 {
	if useCLMUL && len(p) >= crcFoldMin {
		n := len(p) &^ 15
		lo, hi := crc64CLMUL(crc, p[:n], &crcFoldK)
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:], lo)
		binary.LittleEndian.PutUint64(b[8:], hi)
		crc, p = crcSlicing8(0, b[:]), p[n:]
	}
	return crcSlicing8(crc, p)
}

// crcSlicing8 is CRC64 with the tables, 8 bytes a step.
func crcSlicing8(crc uint64, p []byte) uint64 {
	t := crcTab
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^ t[6][crc>>8&0xff] ^ t[5][crc>>16&0xff] ^ t[4][crc>>24&0xff] ^
			t[3][crc>>32&0xff] ^ t[2][crc>>40&0xff] ^ t[1][crc>>48&0xff] ^ t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}

// crcFoldMin is the shortest input worth folding: below it the tables win.
const crcFoldMin = 128

// crcFoldK holds the folding constants of crc64CLMUL, x^n mod P bit-reflected
// (bit 0 is the coefficient of x^63), for the high and the low 64 bits of a
// 128-bit block: moved 512 bits forward (four blocks), then 128 bits (one).
// The exponents are one short of the distance because the product of two
// reflected 64-bit values comes out one bit low in 128 bits. See Intel's
// "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ" (2009).
var crcFoldK = [4]uint64{
	crcXPow(512 + 63), crcXPow(512 - 1),
	crcXPow(128 + 63), crcXPow(128 - 1),
}

// crcXPow returns x^n mod P, bit-reflected.
func crcXPow(n int) uint64 {
	v := uint64(1) << 63 // x^0
	for range n {
		if v&1 == 1 {
			v = v>>1 ^ crcPoly
		} else {
			v >>= 1
		}
	}
	return v
}
