package exporter

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
)

// Under a parent that already has an "(other)" node, a new prefix is
// admitted one time in admitEvery and otherwise counted in "(other)": a big
// prefix is soon admitted, the many small ones (ids) do not churn the tree.
const admitEvery = 64

// prefixTree counts keys and bytes by key prefix: a key is split on the
// separator, and each of its first segments (up to the depth) that a
// separator follows names a node. Memory stays bounded whatever the keys:
// a node keeps at most fanout children, and a new one then takes the place
// of the smallest childless one, which is folded into the node's "(other)"
// child; and the tree holds at most max nodes (plus one "(other)" a
// node): when it is full, the smallest half of its leaves are folded. A
// prefix folded away starts afresh if it comes again; its earlier keys stay
// in "(other)".
type prefixTree struct {
	root   prefixNode
	sep    []byte
	depth  int
	max    int
	fanout int    // children kept a node
	seed   uint64 // of segHash
	pat    uint64 // a one-byte separator in every byte of a word (cutByte)
	nodes  int    // nodes besides the root, "(other)" nodes included
	folded int64
	leaves []*prefixNode // scratch for prune
}

type prefixNode struct {
	seg         string // the segment, without separator
	keys, bytes int64
	parent      *prefixNode
	hash        uint64 // segHash of seg
	kids        childTable
	other       *prefixNode // folded children, nil if none
	isOther     bool
	misses      int // new prefixes counted in other since the last admitted
}

// prefixSeed seeds segHash. It is fixed: the order of a node's children
// in its table decides which of two prefixes of the same size is folded,
// and the same file must give the same report every time.
const prefixSeed = 0x9e3779b97f4a7c15

// newPrefixTree returns a tree of at most max nodes and fanout children a
// node.
func newPrefixTree(sep []byte, depth, max, fanout int) *prefixTree {
	t := &prefixTree{sep: sep, depth: depth, max: max, fanout: fanout, seed: prefixSeed}
	if len(sep) == 1 {
		t.pat = swarLo * uint64(sep[0])
	}
	return t
}

// child returns the child named seg, whose hash is h; nil if none.
func (n *prefixNode) child(seg []byte, h uint64) *prefixNode { return n.kids.get(seg, h) }

// addChild adds c, its hash set.
func (n *prefixNode) addChild(c *prefixNode) { n.kids.put(c) }

// removeChild removes c.
func (n *prefixNode) removeChild(c *prefixNode) { n.kids.remove(c) }

// numChildren returns the number of children.
func (n *prefixNode) numChildren() int { return n.kids.n }

// eachChild calls fn for every child.
func (n *prefixNode) eachChild(fn func(c *prefixNode)) {
	for _, c := range n.kids.nodes {
		if c != nil {
			fn(c)
		}
	}
}

// A childTable holds the children of a node by the hash of their
// segment: open addressing with linear probing, at most half full. Most
// lookups are of new segments (ids): a miss is a probe or two. The zero
// value is an empty table.
type childTable struct {
	hashes []uint64 // 0: empty
	nodes  []*prefixNode
	n      int
}

// get returns the node named seg, whose hash is h; nil if none.
func (t *childTable) get(seg []byte, h uint64) *prefixNode {
	if t.n == 0 {
		return nil
	}
	mask := uint64(len(t.hashes) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.hashes[i] {
		case h:
			if c := t.nodes[i]; c.seg == string(seg) {
				return c
			}
		case 0:
			return nil
		}
	}
}

// put adds c (not in the table), growing the table to keep it at most
// half full.
func (t *childTable) put(c *prefixNode) {
	if 2*(t.n+1) > len(t.hashes) {
		old := t.nodes
		size := max(8, 2*len(t.hashes))
		*t = childTable{hashes: make([]uint64, size), nodes: make([]*prefixNode, size)}
		for _, k := range old {
			if k != nil {
				t.put(k)
			}
		}
	}
	mask := uint64(len(t.hashes) - 1)
	i := c.hash & mask
	for t.hashes[i] != 0 {
		i = (i + 1) & mask
	}
	t.hashes[i], t.nodes[i] = c.hash, c
	t.n++
}

// remove removes c, moving back the entries after it that it displaced
// (backward-shift deletion: no tombstones).
func (t *childTable) remove(c *prefixNode) {
	if t.n == 0 {
		return
	}
	mask := uint64(len(t.hashes) - 1)
	i := c.hash & mask
	for t.nodes[i] != c {
		if t.hashes[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	t.n--
	for j := i; ; {
		t.hashes[i], t.nodes[i] = 0, nil
		for {
			j = (j + 1) & mask
			if t.hashes[j] == 0 {
				return
			}
			// Move j's entry to the hole at i unless its home slot
			// lies cyclically in (i, j].
			home := t.hashes[j] & mask
			if (j-home)&mask >= (j-i)&mask {
				break
			}
		}
		t.hashes[i], t.nodes[i] = t.hashes[j], t.nodes[j]
		i = j
	}
}

// Segments are hashed 8 bytes at a time, as they are searched for the
// separator: every full word of the segment, then the rest (0 to 7 bytes,
// zero-padded), then the length. Never 0, which marks an empty slot.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

func hashWord(h, w uint64) uint64 {
	return bits.RotateLeft64((h^w)*0x9e3779b97f4a7c15, 31)
}

func hashEnd(h uint64, n int) uint64 {
	h = (h ^ uint64(n)) * 0xff51afd7ed558ccd
	return (h ^ h>>32) | 1
}

// segHash returns the hash of the segment seg.
func (t *prefixTree) segHash(seg []byte) uint64 {
	h := t.seed
	i := 0
	for ; i+8 <= len(seg); i += 8 {
		h = hashWord(h, binary.LittleEndian.Uint64(seg[i:]))
	}
	var tail [8]byte
	copy(tail[:], seg[i:])
	return hashEnd(hashWord(h, binary.LittleEndian.Uint64(tail[:])), len(seg))
}

// cut returns the end of the segment of key that starts at start (the
// index of the first separator from start on) and the segment's hash, or
// -1 when no separator follows.
func (t *prefixTree) cut(key []byte, start int) (int, uint64) {
	if len(t.sep) == 1 {
		return cutByte(key, start, t.pat, t.seed)
	}
	i := bytes.Index(key[start:], t.sep)
	if i < 0 {
		return -1, 0
	}
	return start + i, t.segHash(key[start : start+i])
}

// cutByte is cut for a one-byte separator, pat being that byte in every
// byte of a word: it searches a word at a time (SWAR) while it hashes the
// words, and reads the last bytes of the key (fewer than 8) as the end of
// its last 8.
func cutByte(key []byte, start int, pat, seed uint64) (int, uint64) {
	h := seed
	i := start
	for ; i+8 <= len(key); i += 8 {
		w := binary.LittleEndian.Uint64(key[i:])
		x := w ^ pat
		// The lowest byte flagged is the first equal to the separator
		// (borrows only flag bytes above it).
		if m := (x - swarLo) &^ x & swarHi; m != 0 {
			j := bits.TrailingZeros64(m) >> 3
			return i + j, hashEnd(hashWord(h, w&(1<<(8*j)-1)), i+j-start)
		}
		h = hashWord(h, w)
	}
	n := len(key) - i
	if n <= 0 {
		return -1, 0
	}
	var w uint64
	if len(key) >= 8 {
		w = binary.LittleEndian.Uint64(key[len(key)-8:]) >> (64 - 8*n)
	} else {
		for k := len(key) - 1; k >= i; k-- {
			w = w<<8 | uint64(key[k])
		}
	}
	x := w ^ pat
	if m := (x - swarLo) &^ x & (swarHi >> (64 - 8*n)); m != 0 {
		j := bits.TrailingZeros64(m) >> 3
		return i + j, hashEnd(hashWord(h, w&(1<<(8*j)-1)), i+j-start)
	}
	return -1, 0
}

// add counts a key of n bytes.
func (t *prefixTree) add(key []byte, n int64) {
	node := &t.root
	node.keys++
	node.bytes += n
	if len(t.sep) == 0 {
		return
	}
	start := 0
	for d := 0; d < t.depth; d++ {
		var end int
		var h uint64
		if len(t.sep) == 1 {
			end, h = cutByte(key, start, t.pat, t.seed)
		} else {
			end, h = t.cut(key, start)
		}
		if end < 0 {
			return
		}
		seg := key[start:end]
		start = end + len(t.sep)
		c := node.child(seg, h)
		if c == nil {
			if c = t.newChild(node, seg, h, n); c == nil {
				return
			}
		}
		c.keys++
		c.bytes += n
		node = c
	}
}

// newChild returns the node to count a key in for a segment seg (hash h)
// that node has no child for: a new child, or nil when the key was
// counted in node's "(other)" instead.
func (t *prefixTree) newChild(node *prefixNode, seg []byte, h uint64, n int64) *prefixNode {
	if node.other != nil {
		if node.misses++; node.misses < admitEvery {
			node.other.keys++
			node.other.bytes += n
			return nil
		}
		node.misses = 0
	}
	if node.numChildren() >= t.fanout && !t.evictSmallest(node) {
		c := t.otherOf(node)
		c.keys++
		c.bytes += n
		return nil
	}
	if t.nodes >= t.max {
		t.prune()
	}
	if t.nodes >= t.max { // nothing left to fold: count it as other
		c := t.otherOf(node)
		c.keys++
		c.bytes += n
		return nil
	}
	c := &prefixNode{seg: string(seg), parent: node, hash: h}
	node.addChild(c)
	t.nodes++
	return c
}

// otherOf returns the "(other)" node of n, made if needed.
func (t *prefixTree) otherOf(n *prefixNode) *prefixNode {
	if n.other == nil {
		n.other = &prefixNode{seg: "(other)", parent: n, isOther: true}
		t.nodes++
	}
	return n.other
}

// evictSmallest folds the smallest child of n that has no children into
// its "(other)" node, to make room for a new child; false if there is none.
func (t *prefixTree) evictSmallest(n *prefixNode) bool {
	var min *prefixNode
	n.eachChild(func(c *prefixNode) {
		if c.numChildren() == 0 && c.other == nil && (min == nil || c.bytes < min.bytes) {
			min = c
		}
	})
	if min == nil {
		return false
	}
	t.fold(min)
	return true
}

// fold moves the leaf c into its parent's "(other)" node.
func (t *prefixTree) fold(c *prefixNode) {
	p := c.parent
	o := t.otherOf(p)
	o.keys += c.keys
	o.bytes += c.bytes
	p.removeChild(c)
	t.nodes--
	t.folded++
}

// prune folds the smallest half of the leaves into their parents'
// "(other)" nodes.
func (t *prefixTree) prune() {
	t.leaves = t.leaves[:0]
	var walk func(n *prefixNode)
	walk = func(n *prefixNode) {
		n.eachChild(func(c *prefixNode) {
			if c.numChildren() == 0 && c.other == nil {
				t.leaves = append(t.leaves, c)
			} else {
				walk(c)
			}
		})
	}
	walk(&t.root)
	slices.SortFunc(t.leaves, func(a, b *prefixNode) int {
		if a.bytes != b.bytes {
			if a.bytes < b.bytes {
				return -1
			}
			return 1
		}
		return int(a.keys - b.keys)
	})
	fold := (len(t.leaves) + 1) / 2
	for _, c := range t.leaves[:fold] {
		t.fold(c)
	}
	clear(t.leaves)
}

// MemoryPrefix is a node of the prefix tree of a memory report: the keys
// whose first segments are Prefix (with its trailing separators), their
// count and estimated bytes, and the largest longer prefixes under it.
// Other is set on the node that stands for the prefixes left out (folded
// while counting, or beyond the children shown); its Prefix is the
// parent's.
type MemoryPrefix struct {
	Prefix   jsonString      `json:"prefix"`
	Other    bool            `json:"other,omitempty"`
	Keys     int64           `json:"keys"`
	Bytes    int64           `json:"bytes"`
	Children []*MemoryPrefix `json:"children,omitempty"`
}

// export returns the tree pruned to what a report shows: at most
// maxChildren children a node, the largest by bytes, the rest folded into
// one "(other)" child.
func (t *prefixTree) export(maxChildren int) *MemoryPrefix {
	return t.exportNode(&t.root, nil, maxChildren)
}

func (t *prefixTree) exportNode(n *prefixNode, prefix []byte, maxChildren int) *MemoryPrefix {
	out := &MemoryPrefix{Prefix: bytes.Clone(prefix), Keys: n.keys, Bytes: n.bytes}
	if out.Prefix == nil {
		out.Prefix = jsonString{}
	}
	kids := make([]*prefixNode, 0, n.numChildren())
	n.eachChild(func(c *prefixNode) { kids = append(kids, c) })
	slices.SortFunc(kids, func(a, b *prefixNode) int {
		switch {
		case a.bytes != b.bytes:
			if a.bytes > b.bytes {
				return -1
			}
			return 1
		case a.keys != b.keys:
			if a.keys > b.keys {
				return -1
			}
			return 1
		}
		return bytes.Compare([]byte(a.seg), []byte(b.seg))
	})
	var other *MemoryPrefix
	if n.other != nil {
		other = &MemoryPrefix{Prefix: out.Prefix, Other: true, Keys: n.other.keys, Bytes: n.other.bytes}
	}
	for i, c := range kids {
		if i >= maxChildren {
			if other == nil {
				other = &MemoryPrefix{Prefix: out.Prefix, Other: true}
			}
			other.Keys += c.keys
			other.Bytes += c.bytes
			continue
		}
		p := append(append(bytes.Clone(prefix), c.seg...), t.sep...)
		out.Children = append(out.Children, t.exportNode(c, p, maxChildren))
	}
	if other != nil {
		out.Children = append(out.Children, other)
	}
	return out
}
