package exporter

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// raxNodes returns the number of nodes of a Redis radix tree (rax) holding
// keys, which must be sorted and distinct and all of the same length (the
// 16-byte big-endian stream IDs of a stream's nodes or of a PEL). An empty
// rax has its root node.
//
// A rax stores a run of bytes without branching in one compressed node,
// and a branching point in a node holding one byte per child; each child
// is a node of its own, and so is every key's end. For keys of equal
// length that makes: from a node start at depth d, a compressed node up to
// the next branching point or key end p (when p > d), then the node at p;
// the children of a branching node start at p+1. See redis/src/rax.c
// raxGenericInsert, whose splits of compressed nodes keep this shape.
func raxNodes(keys [][]byte) int64 {
	if len(keys) == 0 {
		return 1
	}
	return raxCount(keys, 0)
}

// raxCount counts the nodes of the subtree of keys (which share their
// first d bytes) that starts at depth d.
func raxCount(keys [][]byte, d int) int64 {
	n := int64(0)
	for {
		first, last := keys[0], keys[len(keys)-1]
		p := d + commonPrefix(first[d:], last[d:])
		if p > d {
			n++ // the compressed node from d to p
		}
		n++ // the node at p: a key end or a branching node
		if len(keys) == 1 || p >= len(first) {
			return n
		}
		// Children: runs of keys with the same byte at p. All but the
		// last are counted recursively; the last one loops.
		for len(keys) > 0 {
			c := keys[0][p]
			j := 1
			for j < len(keys) && keys[j][p] == c {
				j++
			}
			if j == len(keys) {
				break
			}
			n += raxCount(keys[:j], p+1)
			keys = keys[j:]
		}
		d = p + 1
	}
}

// commonPrefix returns the length of the common prefix of a and b,
// comparing 8 bytes at a time.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.BigEndian.Uint64(a[i:]) ^ binary.BigEndian.Uint64(b[i:]); x != 0 {
			return i + bits.LeadingZeros64(x)>>3
		}
	}
	for ; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// sortedDistinct reports whether keys are in strictly increasing order.
func sortedDistinct(keys [][]byte) bool {
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			return false
		}
	}
	return true
}
