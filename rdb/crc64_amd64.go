//go:build !purego

package rdb

// useCLMUL reports whether the CPU has PCLMULQDQ for crc64CLMUL.
var useCLMUL = hasCLMUL()

// hasCLMUL reports CPUID.1:ECX.PCLMULQDQ[bit 1].
func hasCLMUL() bool

// crc64CLMUL folds p, whose length is a multiple of 16 and at least 64,
// continuing from crc, into 128 bits (lo: the first 8 bytes) whose CRC64
// from 0 is the CRC64 of p from crc. k is crcFoldK.
//
//go:noescape
func crc64CLMUL(crc uint64, p []byte, k *[4]uint64) (lo, hi uint64)
