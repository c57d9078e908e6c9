package exporter

import (
	"bytes"
	"container/heap"
	"maps"
	"slices"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
)

// MemoryReportOptions configure a MemoryReport. Zero values mean the
// defaults.
type MemoryReportOptions struct {
	Top            int       // keys in each top list; default 20
	PrefixDepth    int       // prefix tree depth; default 3, negative for none
	Separator      string    // prefix separator; default ":"
	MaxPrefixNodes int       // prefix tree nodes kept while counting; default 10000
	MaxChildren    int       // children shown a prefix; default 20
	Now            time.Time // for the expiry histogram; default time.Now()
}

// MemoryReport aggregates the memory estimates of a stream of keys in one
// pass and in bounded memory: totals by type, encoding and database, an
// expiry histogram, the biggest keys by bytes and by element count (two
// min-heaps of Top keys) and a prefix tree capped at MaxPrefixNodes.
//
// Add keys with Add, then call Summary. A MemoryReport is not safe for
// concurrent use.
type MemoryReport struct {
	opt       MemoryReportOptions
	now       int64
	total     MemoryGroup
	types     [rdb.TypeModule + 1]MemoryGroup
	encodings []*MemoryGroup    // few: a scan beats hashing
	known     [10]*MemoryGroup  // the groups of encodings, by knownEncoding
	dbs       []*MemoryDB       // by number, nil for none
	dbMap     map[int]*MemoryDB // databases numbered beyond maxDBIndex
	expiry    [len(expiryBuckets)]MemoryGroup
	byBytes   keyHeap
	byElems   keyHeap
	prefixes  *prefixTree
}

// expiryBuckets name the expiry histogram's buckets, relative to Now.
var expiryBuckets = [...]string{"none", "expired", "<1h", "<1d", "<7d", "<30d", "later"}

// NewMemoryReport returns an empty report.
func NewMemoryReport(opts MemoryReportOptions) *MemoryReport {
	if opts.Top <= 0 {
		opts.Top = 20
	}
	if opts.PrefixDepth == 0 {
		opts.PrefixDepth = 3
	}
	if opts.Separator == "" {
		opts.Separator = ":"
	}
	if opts.MaxPrefixNodes <= 0 {
		opts.MaxPrefixNodes = 10000
	}
	if opts.MaxChildren <= 0 {
		opts.MaxChildren = 20
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	r := &MemoryReport{
		opt:      opts,
		now:      opts.Now.UnixMilli(),
		byElems:  keyHeap{elems: true},
		prefixes: newPrefixTree([]byte(opts.Separator), max(opts.PrefixDepth, 0), opts.MaxPrefixNodes, max(4*opts.MaxChildren, 32)),
	}
	for i := range r.types {
		r.types[i].Name = rdb.Type(i).String()
	}
	for i, name := range expiryBuckets {
		r.expiry[i].Name = name
	}
	return r
}

// Add counts the key e (Kind rdb.KindKey) with its estimate km. It copies
// what it keeps of e.
func (r *MemoryReport) Add(e *rdb.Entry, km KeyMemory) {
	r.prefixes.add(e.Key, km.Bytes)
	r.total.add(km)
	if int(e.Type) < len(r.types) {
		r.types[e.Type].add(km)
	}
	r.encoding(km.Encoding).add(km)
	d := r.db(e.DB)
	d.Keys++
	d.Bytes += km.Bytes
	if e.ExpireAt != 0 {
		d.Volatile++
	}
	r.expiry[r.expiryBucket(e.ExpireAt)].add(km)
	// Most keys are smaller than the smallest kept: no MemoryKey for them.
	aggregate := e.Type != rdb.TypeString && e.Type != rdb.TypeModule
	if r.byBytes.mayTake(km.Bytes, false, r.opt.Top) || aggregate && r.byElems.mayTake(km.Elements, true, r.opt.Top) {
		k := memoryKeyOf(e, km)
		r.byBytes.offer(&k, r.opt.Top)
		if aggregate {
			r.byElems.offer(&k, r.opt.Top)
		}
	}
}

func (r *MemoryReport) encoding(name string) *MemoryGroup {
	k := knownEncoding(name)
	if k >= 0 && r.known[k] != nil {
		return r.known[k]
	}
	for _, g := range r.encodings {
		if g.Name == name {
			return g
		}
	}
	g := &MemoryGroup{Name: name}
	r.encodings = append(r.encodings, g)
	if k >= 0 {
		r.known[k] = g
	}
	return g
}

// knownEncoding returns the index in MemoryReport.known of the group of
// an encoding the estimator reports, -1 for another name.
func knownEncoding(name string) int {
	switch name {
	case "int":
		return 0
	case "embstr":
		return 1
	case "raw":
		return 2
	case "listpack":
		return 3
	case "quicklist":
		return 4
	case "intset":
		return 5
	case "hashtable":
		return 6
	case "skiplist":
		return 7
	case "stream":
		return 8
	case "module":
		return 9
	}
	return -1
}

// maxDBIndex bounds the slice of databases; Redis has 16 by default.
const maxDBIndex = 1024

func (r *MemoryReport) db(n int) *MemoryDB {
	if uint(n) < uint(len(r.dbs)) {
		if d := r.dbs[n]; d != nil {
			return d
		}
	}
	return r.newDB(n)
}

// newDB is db for a database not met yet, or numbered beyond maxDBIndex.
func (r *MemoryReport) newDB(n int) *MemoryDB {
	if n >= 0 && n < maxDBIndex {
		if n >= len(r.dbs) {
			r.dbs = append(r.dbs, make([]*MemoryDB, n+1-len(r.dbs))...)
		}
		if r.dbs[n] == nil {
			r.dbs[n] = &MemoryDB{DB: n}
		}
		return r.dbs[n]
	}
	if r.dbMap == nil {
		r.dbMap = map[int]*MemoryDB{}
	}
	d := r.dbMap[n]
	if d == nil {
		d = &MemoryDB{DB: n}
		r.dbMap[n] = d
	}
	return d
}

func (r *MemoryReport) expiryBucket(at int64) int {
	if at == 0 {
		return 0
	}
	left := at - r.now
	const hour = int64(time.Hour / time.Millisecond)
	switch {
	case left < 0:
		return 1
	case left < hour:
		return 2
	case left < 24*hour:
		return 3
	case left < 7*24*hour:
		return 4
	case left < 30*24*hour:
		return 5
	}
	return 6
}

// MemoryGroup is a count of keys and their estimated bytes and elements.
type MemoryGroup struct {
	Name     string `json:"name"`
	Keys     int64  `json:"keys"`
	Bytes    int64  `json:"bytes"`
	Elements int64  `json:"elements"`
}

func (g *MemoryGroup) add(km KeyMemory) {
	g.Keys++
	g.Bytes += km.Bytes
	g.Elements += km.Elements
}

// MemoryDB is the total of one database.
type MemoryDB struct {
	DB       int   `json:"db"`
	Keys     int64 `json:"keys"`
	Bytes    int64 `json:"bytes"`
	Volatile int64 `json:"volatile"` // keys with an expiry
	// Overhead is what the keyspace itself takes besides the keys, not
	// in MEMORY USAGE: the main dict's buckets and the expires dict's
	// entries and buckets.
	Overhead int64 `json:"overhead"`
}

// MemoryKey is one key of a top list.
type MemoryKey struct {
	DB       int        `json:"db"`
	Key      jsonString `json:"key"`
	Type     string     `json:"type"`
	Encoding string     `json:"encoding"`
	Bytes    int64      `json:"bytes"`
	Elements int64      `json:"elements"`
	ExpireAt int64      `json:"expire_at,omitempty"` // Unix ms; 0 = none
}

func memoryKeyOf(e *rdb.Entry, km KeyMemory) MemoryKey {
	return MemoryKey{DB: e.DB, Key: e.Key, Type: e.Type.String(), Encoding: km.Encoding,
		Bytes: km.Bytes, Elements: km.Elements, ExpireAt: e.ExpireAt}
}

// jsonString is a byte string written in rdbkit's lossless JSON form (see
// AppendString).
type jsonString []byte

func (s jsonString) MarshalJSON() ([]byte, error) { return AppendString(nil, s), nil }

// MemorySummary is the result of a MemoryReport, ready to print: every
// list in a stable order, the field order fixed for JSON.
type MemorySummary struct {
	Model       MemoryModel   `json:"model"`
	Now         int64         `json:"now"` // Unix ms of the expiry histogram
	Keys        int64         `json:"keys"`
	Bytes       int64         `json:"bytes"`
	Elements    int64         `json:"elements"`
	Overhead    int64         `json:"keyspace_overhead"` // sum of MemoryDB.Overhead
	Types       []MemoryGroup `json:"types"`
	Encodings   []MemoryGroup `json:"encodings"`
	DBs         []MemoryDB    `json:"dbs"`
	Expiry      []MemoryGroup `json:"expiry"`
	TopBytes    []MemoryKey   `json:"top_by_bytes"`
	TopElements []MemoryKey   `json:"top_by_elements"`
	Separator   string        `json:"separator"`
	PrefixDepth int           `json:"prefix_depth"`
	// PrefixesFolded counts prefixes folded into "(other)" while
	// counting, because the tree was full.
	PrefixesFolded int64         `json:"prefixes_folded"`
	Prefixes       *MemoryPrefix `json:"prefixes"`
}

// MemoryModel names what the estimates model.
type MemoryModel struct {
	Server  string `json:"server"`
	Quantum int    `json:"quantum"`
	Loaded  bool   `json:"loaded"`
}

// ModelOf describes the model of the estimator m.
func ModelOf(m *MemoryEstimator) MemoryModel {
	return MemoryModel{Server: m.opt.Server.String(), Quantum: m.opt.Quantum, Loaded: m.opt.Loaded}
}

// Summary returns the report of the keys added so far. model describes
// the estimates (see ModelOf).
func (r *MemoryReport) Summary(model MemoryModel) *MemorySummary {
	s := &MemorySummary{
		Model: model, Now: r.now,
		Keys: r.total.Keys, Bytes: r.total.Bytes, Elements: r.total.Elements,
		Separator: r.opt.Separator, PrefixDepth: max(r.opt.PrefixDepth, 0),
		PrefixesFolded: r.prefixes.folded,
		Types:          []MemoryGroup{},
		Encodings:      []MemoryGroup{},
		DBs:            []MemoryDB{},
		Expiry:         r.expiry[:],
	}
	for _, g := range r.types {
		if g.Keys > 0 {
			s.Types = append(s.Types, g)
		}
	}
	for _, g := range r.encodings {
		s.Encodings = append(s.Encodings, *g)
	}
	slices.SortFunc(s.Encodings, func(a, b MemoryGroup) int {
		if a.Bytes != b.Bytes {
			return cmpDesc(a.Bytes, b.Bytes)
		}
		return cmpString(a.Name, b.Name)
	})
	dbs := slices.Collect(maps.Values(r.dbMap))
	for _, d := range r.dbs {
		if d != nil {
			dbs = append(dbs, d)
		}
	}
	for _, d := range dbs {
		// dictExpand on load (RESIZEDB) and growth both give a power of
		// two; an expires entry is a dictEntry pointing at the key.
		d.Overhead = sizeBucket*dictBuckets(d.Keys) + d.Volatile*sizeDictEntry
		if d.Volatile > 0 {
			d.Overhead += sizeBucket * dictBuckets(d.Volatile)
		}
		s.Overhead += d.Overhead
		s.DBs = append(s.DBs, *d)
	}
	slices.SortFunc(s.DBs, func(a, b MemoryDB) int { return a.DB - b.DB })
	s.TopBytes = r.byBytes.sorted()
	s.TopElements = r.byElems.sorted()
	s.Prefixes = r.prefixes.export(r.opt.MaxChildren)
	return s
}

func cmpDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// keyHeap keeps the Top largest keys: a min-heap whose root is the
// smallest kept, replaced when a bigger one comes. Keys compare by the
// measure, then by database and key (the smaller kept first on a tie), so
// the result does not depend on the order of the input.
type keyHeap struct {
	keys  []MemoryKey
	elems bool // rank by elements, else by bytes
}

// less reports whether a ranks below b.
func (h *keyHeap) less(a, b *MemoryKey) bool {
	if h.elems {
		return lessElems(a, b)
	}
	return lessBytes(a, b)
}

func lessBytes(a, b *MemoryKey) bool {
	if a.Bytes != b.Bytes {
		return a.Bytes < b.Bytes
	}
	return tieBelow(a, b)
}

func lessElems(a, b *MemoryKey) bool {
	if a.Elements != b.Elements {
		return a.Elements < b.Elements
	}
	if a.Bytes != b.Bytes {
		return a.Bytes < b.Bytes
	}
	return tieBelow(a, b)
}

// tieBelow ranks the later key (by db, then bytes of the key) below.
func tieBelow(a, b *MemoryKey) bool {
	if a.DB != b.DB {
		return a.DB > b.DB
	}
	return bytes.Compare(a.Key, b.Key) > 0
}

func (h *keyHeap) Len() int           { return len(h.keys) }
func (h *keyHeap) Less(i, j int) bool { return h.less(&h.keys[i], &h.keys[j]) }
func (h *keyHeap) Swap(i, j int)      { h.keys[i], h.keys[j] = h.keys[j], h.keys[i] }
func (h *keyHeap) Push(x any)         { h.keys = append(h.keys, x.(MemoryKey)) }
func (h *keyHeap) Pop() any {
	k := h.keys[len(h.keys)-1]
	h.keys = h.keys[:len(h.keys)-1]
	return k
}

// mayTake reports whether a key measuring v (bytes, or elements when
// elems) could enter a heap of at most n keys: there is room, or v is at
// least the smallest kept.
func (h *keyHeap) mayTake(v int64, elems bool, n int) bool {
	if len(h.keys) < n {
		return true
	}
	if elems {
		return v >= h.keys[0].Elements
	}
	return v >= h.keys[0].Bytes
}

// offer keeps k if it is among the n largest so far; its key bytes are
// copied only then, into the buffer of the key it evicts.
func (h *keyHeap) offer(k *MemoryKey, n int) {
	if len(h.keys) < n {
		c := *k
		c.Key = bytes.Clone(k.Key)
		heap.Push(h, c)
		return
	}
	if !h.less(&h.keys[0], k) {
		return
	}
	buf := h.keys[0].Key
	h.keys[0] = *k
	h.keys[0].Key = append(buf[:0], k.Key...)
	heap.Fix(h, 0)
}

// sorted returns the kept keys, largest first.
func (h *keyHeap) sorted() []MemoryKey {
	out := slices.Clone(h.keys)
	slices.SortFunc(out, func(a, b MemoryKey) int {
		switch {
		case h.less(&b, &a):
			return -1
		case h.less(&a, &b):
			return 1
		}
		return 0
	})
	if out == nil {
		out = []MemoryKey{}
	}
	return out
}
