package exporter

import (
	"bytes"
	"hash/maphash"
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
	fanout int // children kept a node
	seed   maphash.Seed
	nodes  int // nodes besides the root, "(other)" nodes included
	folded int64
	leaves []*prefixNode // scratch for prune
}

type prefixNode struct {
	seg         string // the segment, without separator
	keys, bytes int64
	parent      *prefixNode
	hash        uint64 // of seg, once in its parent's index
	// The children: in few while there are at most smallFanout (a scan
	// beats hashing), then in index by the hash of their segment (two
	// segments with one 64-bit hash would share a node: not a worry).
	few     []*prefixNode
	index   map[uint64]*prefixNode
	other   *prefixNode // folded children, nil if none
	isOther bool
	misses  int // new prefixes counted in other since the last admitted
}

// newPrefixTree returns a tree of at most max nodes and fanout children a
// node.
func newPrefixTree(sep []byte, depth, max, fanout int) *prefixTree {
	return &prefixTree{sep: sep, depth: depth, max: max, fanout: fanout, seed: maphash.MakeSeed()}
}

const smallFanout = 16

// child returns the child named seg, nil if none.
func (n *prefixNode) child(seg []byte, seed maphash.Seed) *prefixNode {
	if n.index != nil {
		return n.index[maphash.Bytes(seed, seg)]
	}
	for _, c := range n.few {
		if c.seg == string(seg) {
			return c
		}
	}
	return nil
}

// addChild adds c.
func (n *prefixNode) addChild(c *prefixNode, seed maphash.Seed) {
	c.hash = maphash.String(seed, c.seg)
	if n.index == nil && len(n.few) < smallFanout {
		n.few = append(n.few, c)
		return
	}
	if n.index == nil {
		n.index = make(map[uint64]*prefixNode, 2*smallFanout)
		for _, k := range n.few {
			n.index[k.hash] = k
		}
		n.few = nil
	}
	n.index[c.hash] = c
}

// removeChild removes c.
func (n *prefixNode) removeChild(c *prefixNode) {
	if n.index != nil {
		delete(n.index, c.hash)
		return
	}
	for i, k := range n.few {
		if k == c {
			n.few = append(n.few[:i], n.few[i+1:]...)
			return
		}
	}
}

// numChildren returns the number of children.
func (n *prefixNode) numChildren() int {
	if n.index != nil {
		return len(n.index)
	}
	return len(n.few)
}

// eachChild calls fn for every child.
func (n *prefixNode) eachChild(fn func(c *prefixNode)) {
	if n.index != nil {
		for _, c := range n.index {
			fn(c)
		}
		return
	}
	for _, c := range n.few {
		fn(c)
	}
}

// add counts a key of n bytes.
func (t *prefixTree) add(key []byte, n int64) {
	node := &t.root
	node.keys++
	node.bytes += n
	if len(t.sep) == 0 {
		return
	}
	rest := key
	for d := 0; d < t.depth; d++ {
		var i int
		if len(t.sep) == 1 {
			i = bytes.IndexByte(rest, t.sep[0])
		} else {
			i = bytes.Index(rest, t.sep)
		}
		if i < 0 {
			return
		}
		seg := rest[:i]
		rest = rest[i+len(t.sep):]
		c := node.child(seg, t.seed)
		if c == nil && node.other != nil {
			if node.misses++; node.misses < admitEvery {
				c = node.other
				c.keys++
				c.bytes += n
				return
			}
			node.misses = 0
		}
		if c == nil && node.numChildren() >= t.fanout && !t.evictSmallest(node) {
			c = t.otherOf(node)
			c.keys++
			c.bytes += n
			return
		}
		if c == nil {
			if t.nodes >= t.max {
				t.prune()
			}
			if t.nodes >= t.max { // nothing left to fold: count it as other
				c = t.otherOf(node)
				c.keys++
				c.bytes += n
				return
			}
			c = &prefixNode{seg: string(seg), parent: node}
			node.addChild(c, t.seed)
			t.nodes++
		}
		c.keys++
		c.bytes += n
		node = c
	}
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
