//go:build !amd64 || purego

package rdb

const useCLMUL = false

func crc64CLMUL(crc uint64, p []byte, k *[4]uint64) (lo, hi uint64) {
	panic("rdb: crc64CLMUL without PCLMULQDQ")
}
