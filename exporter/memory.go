package exporter

import (
	"fmt"
	"math"

	"github.com/rdbkit/rdbkit/rdb"
)

// A MemoryServer is the server whose memory use a MemoryEstimator models:
// the one that would load the file.
type MemoryServer uint8

// The modelled servers.
const (
	// Redis70 is Redis 7.0: listpack hashes and sorted sets, intset or
	// hashtable sets, quicklist lists.
	Redis70 MemoryServer = iota
	// Redis72 is Redis 7.2 and later (and Valkey 7.2 to 8.0, near
	// enough): small lists become plain listpacks and small sets of
	// strings listpacks; consumers are 8 bytes bigger.
	Redis72
)

func (s MemoryServer) String() string {
	if s == Redis72 {
		return "redis-7.2"
	}
	return "redis-7.0"
}

// ParseMemoryServer parses "7.0" or "7.2" (optionally prefixed "redis-").
func ParseMemoryServer(s string) (MemoryServer, bool) {
	switch s {
	case "7.0", "redis-7.0":
		return Redis70, true
	case "7.2", "redis-7.2", "7.4", "8.0", "valkey-8.0":
		return Redis72, true
	}
	return 0, false
}

// MemoryOptions describe the server a MemoryEstimator models. The zero
// value is Redis 7.0 with its default configuration, built with its own
// jemalloc.
type MemoryOptions struct {
	Server MemoryServer
	// Quantum is jemalloc's quantum: 8 (the default) for Redis built
	// from source, whose deps/Makefile configures --with-lg-quantum=3;
	// 16 for a redis-server linked with a system jemalloc, as Debian's
	// and Ubuntu's packages are.
	Quantum int
	// Loaded models the server right after it loaded the file. By
	// default the model is the server that wrote it, where the last
	// listpack of each stream is preallocated (stream-node-max-bytes,
	// up to 4096 bytes).
	Loaded bool
	// Cluster adds the 16 bytes of slot metadata a cluster node keeps in
	// each key's dict entry (Redis 7.0 and 7.2).
	Cluster bool
	// The encoding thresholds of the server's configuration; 0 means
	// the default (512, 64, 128, 64, 512, 128, 64, -2, 4096).
	HashMaxListpackEntries int
	HashMaxListpackValue   int
	ZSetMaxListpackEntries int
	ZSetMaxListpackValue   int
	SetMaxIntsetEntries    int
	SetMaxListpackEntries  int
	SetMaxListpackValue    int
	ListMaxListpackSize    int
	StreamNodeMaxBytes     int
}

func (o *MemoryOptions) setDefaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&o.Quantum, 8)
	def(&o.HashMaxListpackEntries, 512)
	def(&o.HashMaxListpackValue, 64)
	def(&o.ZSetMaxListpackEntries, 128)
	def(&o.ZSetMaxListpackValue, 64)
	def(&o.SetMaxIntsetEntries, 512)
	def(&o.SetMaxListpackEntries, 128)
	def(&o.SetMaxListpackValue, 64)
	def(&o.ListMaxListpackSize, -2)
	def(&o.StreamNodeMaxBytes, 4096)
}

// KeyMemory is the estimate for one key.
type KeyMemory struct {
	// Bytes is what `MEMORY USAGE key SAMPLES 0` would report: the
	// value's allocations, the key's sds and its dict entry (not the
	// bucket pointer in the keyspace, nor the expires entry).
	Bytes int64
	// Elements is the value's element count: a list's length, a set's
	// or sorted set's cardinality, a hash's fields, a stream's entries;
	// a string's length in bytes (STRLEN); 0 for a module value.
	Elements int64
	// Encoding is what OBJECT ENCODING would report once loaded.
	Encoding string
}

// A MemoryEstimator estimates the memory a key takes in a running server,
// modelling its allocator (jemalloc size classes) and data structures
// (robj, sds headers, dict entries and buckets, listpacks, quicklist nodes,
// skiplist nodes, stream radix trees), and the encoding conversions the
// server makes when it loads the file. See redis/src/object.c
// objectComputeSize and memoryCommand.
//
// A MemoryEstimator is not safe for concurrent use.
type MemoryEstimator struct {
	opt      MemoryOptions
	a        *allocator
	zslNode  float64 // expected allocation of a skiplist node without its sds
	keys     [][]byte
	nodeKeys [][]byte // a stream's node keys
	streams  rdb.StreamWalker
	elems    rdb.ElemLayout
	lens     []int64 // string lengths of a value's elements (rdb.ElemLayout.AppendLens)
	keyBuf   []byte
	scratch  []byte
}

// NewMemoryEstimator returns an estimator for the server opts describes.
func NewMemoryEstimator(opts MemoryOptions) *MemoryEstimator {
	opts.setDefaults()
	m := &MemoryEstimator{opt: opts, a: newAllocator(opts.Quantum)}
	// zslRandomLevel: level L with probability 0.75*0.25^(L-1), capped
	// at ZSKIPLIST_MAXLEVEL.
	p := 0.75
	for l := int64(1); l <= zslMaxLevel; l++ {
		if l == zslMaxLevel {
			p = math.Pow(0.25, zslMaxLevel-1)
		}
		m.zslNode += p * float64(m.a.class(sizeZSLNodeBase+sizeZSLLevel*l))
		p *= 0.25
	}
	return m
}

// Options returns the options in force, defaults filled in.
func (m *MemoryEstimator) Options() MemoryOptions { return m.opt }

// EstimateMemory returns the estimate for a key with the default options
// (Redis 7.0 built with its own jemalloc). Use a MemoryEstimator for many
// keys.
func EstimateMemory(e *rdb.Entry) (KeyMemory, error) {
	return NewMemoryEstimator(MemoryOptions{}).Estimate(e)
}

// Estimate returns the memory estimate of the key e (Kind rdb.KindKey). It
// reads e's value: call it at most once per entry, before the next
// [rdb.Reader.Next]. Its error is the value's decoding error.
func (m *MemoryEstimator) Estimate(e *rdb.Entry) (KeyMemory, error) {
	if e.Kind != rdb.KindKey {
		return KeyMemory{}, fmt.Errorf("exporter: memory estimate of a %v record", e.Kind)
	}
	km, err := m.value(e)
	if err != nil {
		return km, fmt.Errorf("exporter: memory of key %q: %w", e.Key, err)
	}
	km.Bytes += sizeDictEntry + m.a.sds(int64(len(e.Key)))
	if m.opt.Cluster {
		km.Bytes += 16
	}
	return km, nil
}

func (m *MemoryEstimator) value(e *rdb.Entry) (KeyMemory, error) {
	switch e.Encoding {
	case rdb.EncString:
		return m.stringValue(e)
	case rdb.EncListQuicklist2:
		if e.Payload != nil {
			return m.quicklist2(e)
		}
		return m.listElems(e)
	case rdb.EncListQuicklist:
		if e.Payload != nil {
			return m.quicklistZiplist(e)
		}
		return m.listElems(e)
	case rdb.EncList, rdb.EncListZiplist:
		return m.listElems(e)
	case rdb.EncSetIntset, rdb.EncSetListpack, rdb.EncZSetListpack, rdb.EncHashListpack:
		if e.Payload != nil {
			return m.listpackValue(e)
		}
	case rdb.EncStreamListpacks, rdb.EncStreamListpacks2, rdb.EncStreamListpacks3:
		if e.Payload != nil {
			return m.stream(e)
		}
		return m.streamElems(e)
	case rdb.EncModule2, rdb.EncModulePreGA:
		// A module reports its own usage (mem_usage); the serialized
		// size is the best guess without it.
		return KeyMemory{Bytes: sizeRobj + m.a.class(int64(len(e.Payload))), Encoding: "module"}, nil
	}
	switch e.Type {
	case rdb.TypeSet:
		return m.setElems(e)
	case rdb.TypeZSet:
		return m.zsetElems(e)
	case rdb.TypeHash:
		return m.hashElems(e)
	case rdb.TypeStream:
		return m.streamElems(e)
	}
	return KeyMemory{}, fmt.Errorf("encoding %v: %w", e.Encoding, rdb.ErrUnknown)
}

// stringValue: an integer in a shared or INT-encoded robj, an embstr
// (robj, sdshdr8 and bytes in one allocation) up to 44 bytes, else a robj
// and a raw sds. See redis/src/object.c tryObjectEncoding.
func (m *MemoryEstimator) stringValue(e *rdb.Entry) (KeyMemory, error) {
	var km KeyMemory
	var n int64
	if e.Payload != nil {
		var s rdb.StringLayout
		if err := s.ParseBlob(e.Payload, rdb.EncString); err != nil {
			return km, err
		}
		if p := s.Plain(); s.IsInt() || p != nil && len(p) <= 20 && isCanonicalInt(p) {
			km.Bytes, km.Elements, km.Encoding = sizeRobj, s.Len, "int"
			return km, nil
		}
		n = s.Len
	} else {
		v := e.Value()
		for v.Next() {
			n += int64(len(v.Elem().Value))
		}
		if err := v.Err(); err != nil {
			return km, err
		}
	}
	km.Elements = n
	if n <= embstrMax {
		km.Bytes, km.Encoding = m.a.class(sizeRobj+3+n+1), "embstr"
		return km, nil
	}
	km.Bytes, km.Encoding = sizeRobj+m.a.rawSDS(n), "raw"
	return km, nil
}

func isCanonicalInt(s []byte) bool {
	_, ok := parseInt(s)
	return ok
}

// listpackValue handles the compact encodings kept as loaded: the blob is
// the allocation (rdbGenericLoadStringObject with RDB_LOAD_PLAIN). One
// with more elements than the server's threshold is converted.
func (m *MemoryEstimator) listpackValue(e *rdb.Entry) (KeyMemory, error) {
	var s rdb.StringLayout
	if err := s.ParseBlob(e.Payload, e.Encoding); err != nil {
		return KeyMemory{}, err
	}
	var n int64
	if e.Encoding == rdb.EncSetIntset {
		n = s.IntsetCount()
	} else if n = s.ListpackCount(); n >= 0 {
		if e.Type == rdb.TypeZSet || e.Type == rdb.TypeHash {
			n /= 2
		}
	}
	if n < 0 {
		return m.elemsFallback(e)
	}
	o := &m.opt
	km := KeyMemory{Bytes: sizeRobj + m.a.class(s.Len), Elements: n, Encoding: e.Encoding.ObjectEncoding()}
	switch e.Encoding {
	case rdb.EncSetIntset:
		if n > int64(o.SetMaxIntsetEntries) {
			return m.setElems(e)
		}
	case rdb.EncSetListpack:
		if m.opt.Server == Redis70 || n > int64(o.SetMaxListpackEntries) {
			return m.setElems(e)
		}
	case rdb.EncZSetListpack:
		if n > int64(o.ZSetMaxListpackEntries) {
			return m.zsetElems(e)
		}
	case rdb.EncHashListpack:
		if n > int64(o.HashMaxListpackEntries) {
			return m.hashElems(e)
		}
	}
	return km, nil
}

// elemsFallback estimates a value from its elements.
func (m *MemoryEstimator) elemsFallback(e *rdb.Entry) (KeyMemory, error) {
	switch e.Type {
	case rdb.TypeSet:
		return m.setElems(e)
	case rdb.TypeZSet:
		return m.zsetElems(e)
	case rdb.TypeHash:
		return m.hashElems(e)
	}
	return m.listElems(e)
}

// quicklist2 walks the nodes of a QUICKLIST_2 list: each is a listpack
// (PACKED) or a single element (PLAIN) kept as loaded, in a quicklistNode.
func (m *MemoryEstimator) quicklist2(e *rdb.Entry) (KeyMemory, error) {
	km := KeyMemory{Encoding: "quicklist"}
	var bytes int64
	var lastSize int64
	packed := true
	nodes, err := rdb.WalkQuicklist(e.Payload, e.Encoding, func(container uint64, s rdb.StringLayout) error {
		bytes += sizeQuicklistNode + m.a.class(s.Len)
		lastSize = s.Len
		if container == rdb.QuicklistPlain {
			km.Elements++
			packed = false
			return nil
		}
		c := s.ListpackCount()
		if c < 0 {
			var err error
			if c, err = m.blobCount(&s, rdb.EncSetListpack); err != nil {
				return err
			}
		}
		km.Elements += c
		return nil
	})
	if err != nil {
		return km, err
	}
	if m.opt.Server == Redis72 && nodes == 1 && packed && m.fitsOneNode(lastSize) {
		km.Bytes, km.Encoding = sizeRobj+m.a.class(lastSize), "listpack"
		return km, nil
	}
	km.Bytes = sizeRobj + sizeQuicklist + bytes
	return km, nil
}

// blobCount counts the elements of the blob s by decoding it as a value of
// encoding enc.
func (m *MemoryEstimator) blobCount(s *rdb.StringLayout, enc rdb.Encoding) (int64, error) {
	m.scratch = append(append(m.scratch[:0], byte(enc)), s.Span()...)
	v := rdb.NewPayloadValue(m.scratch, 0)
	n := v.Len()
	if err := v.Err(); err != nil {
		return 0, err
	}
	if n < 0 {
		for n = 0; v.Next(); n++ {
		}
		return n, nil
	}
	return n, nil
}

// fitsOneNode reports whether a listpack of n bytes fits the size limit of
// list-max-listpack-size (a list of one such node is a plain listpack in
// Redis 7.2). See redis/src/quicklist.c quicklistNodeLimit.
func (m *MemoryEstimator) fitsOneNode(n int64) bool {
	return n <= m.nodeLimit()
}

// nodeLimit returns the byte limit of a quicklist node (a negative
// list-max-listpack-size), or the safety limit of 8 KiB.
func (m *MemoryEstimator) nodeLimit() int64 {
	f := m.opt.ListMaxListpackSize
	if f < 0 {
		if f < -5 {
			f = -5
		}
		return 4096 << (-f - 1)
	}
	return 8192
}

// quicklistZiplist handles a QUICKLIST (RDB 7 to 9): each ziplist node is
// converted to a listpack of the same elements.
func (m *MemoryEstimator) quicklistZiplist(e *rdb.Entry) (KeyMemory, error) {
	km := KeyMemory{Encoding: "quicklist"}
	var bytes, lastSize int64
	nodes, err := rdb.WalkQuicklist(e.Payload, e.Encoding, func(_ uint64, s rdb.StringLayout) error {
		m.scratch = append(append(m.scratch[:0], byte(rdb.EncListZiplist)), s.Span()...)
		v := rdb.NewPayloadValue(m.scratch, 0)
		lp := int64(lpHeader + lpEnd)
		for v.Next() {
			lp += lpEntrySize(v.Elem().Member)
			km.Elements++
		}
		if err := v.Err(); err != nil {
			return err
		}
		bytes += sizeQuicklistNode + m.a.class(lp)
		lastSize = lp
		return nil
	})
	if err != nil {
		return km, err
	}
	if m.opt.Server == Redis72 && nodes == 1 && m.fitsOneNode(lastSize) {
		km.Bytes, km.Encoding = sizeRobj+m.a.class(lastSize), "listpack"
		return km, nil
	}
	km.Bytes = sizeRobj + sizeQuicklist + bytes
	return km, nil
}

// listElems models a list built element by element (quicklistPushTail):
// a new node when the next element would take the current one past the
// size limit. See redis/src/quicklist.c _quicklistNodeAllowInsert.
func (m *MemoryEstimator) listElems(e *rdb.Entry) (KeyMemory, error) {
	km := KeyMemory{Encoding: "quicklist"}
	limit := m.nodeLimit()
	var bytes, node, nodeCount, nodes int64
	flush := func() {
		if nodeCount > 0 {
			bytes += sizeQuicklistNode + m.a.class(node)
			nodes++
		}
		node, nodeCount = lpHeader+lpEnd, 0
	}
	flush()
	var it elemIter
	it.init(e)
	for it.next() {
		sz := it.mlen
		overhead := int64(1)
		if sz >= 254 {
			overhead = 5
		}
		switch {
		case sz < 64:
			overhead++
		case sz < 16384:
			overhead += 2
		default:
			overhead += 5
		}
		if nodeCount > 0 && node+sz+overhead > limit {
			flush()
		}
		node += m.lpSize(it.member, it.mlen)
		nodeCount++
		km.Elements++
	}
	if err := it.err(); err != nil {
		return km, err
	}
	last := node
	flush()
	if m.opt.Server == Redis72 && nodes == 1 && m.fitsOneNode(last) {
		km.Bytes, km.Encoding = sizeRobj+m.a.class(last), "listpack"
		return km, nil
	}
	km.Bytes = sizeRobj + sizeQuicklist + bytes
	return km, nil
}

// lpSize is lpEntrySize for an element whose bytes are s when it is short
// and whose length is n.
func (m *MemoryEstimator) lpSize(s []byte, n int64) int64 {
	if int64(len(s)) == n {
		return lpEntrySize(s)
	}
	return lpStrSize(n)
}
