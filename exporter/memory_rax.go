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
//
// The branching points are those of the sorted keys' lcp intervals: a run
// of keys whose common prefix is longer than that of the keys around it,
// the prefix's length being the interval's depth. One pass over the
// common prefixes of neighbours finds them with a stack of the intervals
// still open, from the shallowest up: an interval closes, a child of the
// deeper of the one below it and the next common prefix, when the next
// common prefix is shallower. Each key is a child of the deeper of the
// intervals its two common prefixes open.
func raxNodes(keys [][]byte) int64 {
	if len(keys) == 0 {
		return 1
	}
	keyLen := len(keys[0])
	n := int64(0)
	// start counts the nodes of a start at depth d whose branching point
	// or key end is at depth p.
	start := func(d, p int) {
		n++ // the node at p
		if p > d {
			n++ // the compressed node from d to p
		}
	}
	open := make([]int, 0, 17) // depths of the open intervals, increasing
	prev := -1                 // common prefix with the previous key, -1 for none
	for i := range keys {
		next := -1
		if i+1 < len(keys) {
			next = commonPrefix(keys[i], keys[i+1])
		}
		start(max(prev, next)+1, keyLen)
		for len(open) > 0 && open[len(open)-1] > next {
			depth := open[len(open)-1]
			open = open[:len(open)-1]
			parent := next // the root's parent is at -1: its start at 0
			if len(open) > 0 {
				parent = max(parent, open[len(open)-1])
			}
			start(parent+1, depth)
		}
		if next >= 0 && (len(open) == 0 || open[len(open)-1] < next) {
			open = append(open, next)
		}
		prev = next
	}
	return n
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
