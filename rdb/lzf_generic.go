//go:build !amd64 || purego

package rdb

func lzfFast(out, in []byte) (ip, op int) { return lzfFastGo(out, in) }
