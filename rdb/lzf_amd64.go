//go:build !purego

package rdb

// lzfFast is lzfFastGo in assembly (lzf_amd64.s), with SSE2 moves of 16
// bytes where lzfFastGo moves words.
//
//go:noescape
func lzfFast(out, in []byte) (ip, op int)
