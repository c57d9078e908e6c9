package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/rdb"
)

func TestAllocatorClass(t *testing.T) {
	tests := []struct {
		n        int64
		q8, q16  int64
		describe string
	}{
		{1, 8, 8, "tiny"},
		{8, 8, 8, ""},
		{9, 16, 16, ""},
		{17, 24, 32, "quantum 8 has 24"},
		{24, 24, 32, "a 4-byte embstr"},
		{25, 32, 32, ""},
		{33, 40, 48, ""},
		{57, 64, 64, ""},
		{65, 80, 80, ""},
		{129, 160, 160, "four classes a doubling"},
		{536, 640, 640, "skiplist header: 24 + 32 levels"},
		{4096, 4096, 4096, ""},
		{4097, 5120, 5120, ""},
		{14337, 16384, 16384, "largest small class is 14336"},
		{16385, 20480, 20480, "large classes"},
		{1<<20 + 1, 1<<20 + 1<<18, 1<<20 + 1<<18, ""},
	}
	a8, a16 := newAllocator(8), newAllocator(16)
	for _, tt := range tests {
		if got := a8.class(tt.n); got != tt.q8 {
			t.Errorf("quantum 8: class(%d) = %d, want %d %s", tt.n, got, tt.q8, tt.describe)
		}
		if got := a16.class(tt.n); got != tt.q16 {
			t.Errorf("quantum 16: class(%d) = %d, want %d %s", tt.n, got, tt.q16, tt.describe)
		}
	}
	// Every class holds its request, is a class itself, and classes grow
	// with requests.
	for _, a := range []*allocator{a8, a16} {
		prev := int64(0)
		for n := int64(1); n < 1<<18; n += 1 + n/64 {
			c := a.class(n)
			if c < n || a.class(c) != c || c < prev {
				t.Fatalf("class(%d) = %d (previous %d, class of it %d)", n, c, prev, a.class(c))
			}
			prev = c
		}
	}
}

func TestSDS(t *testing.T) {
	a := newAllocator(8)
	tests := []struct{ n, hdr, alloc int64 }{
		{0, 3, 8},     // sdshdr8 for the empty string
		{1, 1, 8},     // sdshdr5: 1 + 1 + 1
		{31, 1, 40},   // 33 bytes
		{32, 3, 40},   // sdshdr8: 36 bytes
		{255, 3, 320}, // 259
		{256, 5, 320}, // sdshdr16: 262
		{65536, 9, 81920},
	}
	for _, tt := range tests {
		if h := sdsHeader(tt.n); h != tt.hdr {
			t.Errorf("sdsHeader(%d) = %d, want %d", tt.n, h, tt.hdr)
		}
		if got := a.sds(tt.n); got != tt.alloc {
			t.Errorf("sds(%d) = %d, want %d", tt.n, got, tt.alloc)
		}
	}
}

func TestListpackEntrySize(t *testing.T) {
	tests := []struct {
		s    string
		want int64
	}{
		{"", 2},                     // 6-bit string, no bytes, backlen
		{"a", 3},                    // 6-bit string
		{"0", 2},                    // 7-bit uint
		{"127", 2},                  // 7-bit uint
		{"128", 3},                  // 13-bit int
		{"-1", 3},                   // 13-bit int
		{"-4096", 3},                // 13-bit int
		{"4096", 4},                 // 16-bit int
		{"-0", 4},                   // not an integer: string
		{"01", 4},                   // not canonical: string
		{"8388607", 5},              // 24-bit
		{"2147483647", 6},           // 32-bit
		{"9223372036854775807", 10}, // 64-bit
		{"9223372036854775808", 1 + 19 + 1},
		{strings.Repeat("x", 63), 1 + 63 + 1},
		{strings.Repeat("x", 64), 2 + 64 + 1},
		{strings.Repeat("x", 126), 2 + 126 + 2}, // 128 bytes need a 2-byte backlen
		{strings.Repeat("x", 4096), 5 + 4096 + 2},
	}
	for _, tt := range tests {
		if got := lpEntrySize([]byte(tt.s)); got != tt.want {
			t.Errorf("lpEntrySize(%.20q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestParseInt(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "10", "9223372036854775807", "-9223372036854775808"} {
		if _, ok := parseInt([]byte(s)); !ok {
			t.Errorf("parseInt(%q) fails", s)
		}
	}
	for _, s := range []string{"", "-", "-0", "00", "01", "+1", " 1", "1a", "9223372036854775808", "-9223372036854775809", "99999999999999999999"} {
		if v, ok := parseInt([]byte(s)); ok {
			t.Errorf("parseInt(%q) = %d, want no integer", s, v)
		}
	}
}

func id(ms, seq uint64) []byte { return appendStreamID(nil, rdb.StreamID{MS: ms, Seq: seq}) }

func TestRaxNodes(t *testing.T) {
	tests := []struct {
		name string
		keys [][]byte
		want int64
	}{
		{"empty", nil, 1},
		{"one key: compressed root and key node", [][]byte{id(1, 0)}, 2},
		{"last byte differs", [][]byte{id(1, 0), id(1, 1)}, 4},
		{"first byte differs", [][]byte{id(0, 0), id(1<<56, 0)}, 5},
		// Root compressed over 7 bytes, a branching node, then per key
		// a compressed node for the 8 bytes left and the key node.
		{"sequential ms", [][]byte{id(1000, 0), id(1001, 0), id(1002, 0)}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := raxNodes(tt.keys); got != tt.want {
				t.Errorf("raxNodes = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestRaxNodesRandom compares raxNodes with a count that follows the
// tree's definition: node by node, from the root down.
func TestRaxNodesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		keys := make([][]byte, 1+r.IntN(40))
		for i := range keys {
			// Few distinct bytes, to branch at every depth.
			k := make([]byte, 6)
			for j := range k {
				k[j] = byte(r.IntN(3))
			}
			keys[i] = k
		}
		slices.SortFunc(keys, bytes.Compare)
		keys = slices.CompactFunc(keys, bytes.Equal)
		if got, want := raxNodes(keys), raxWalk(keys, 0); got != want {
			t.Fatalf("raxNodes(%x) = %d, want %d", keys, got, want)
		}
	}
}

// raxWalk counts the nodes of the subtree of keys (sharing their first d
// bytes) that starts at depth d: a compressed node to the keys' common
// prefix p if p > d, the node at p, and the subtrees of the runs of keys
// with the same byte at p.
func raxWalk(keys [][]byte, d int) int64 {
	p := d + commonPrefix(keys[0][d:], keys[len(keys)-1][d:])
	n := int64(1)
	if p > d {
		n++
	}
	for i := 0; p < len(keys[0]) && i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j][p] == keys[i][p] {
			j++
		}
		n += raxWalk(keys[i:j], p+1)
		i = j
	}
	return n
}

func TestDictSlots(t *testing.T) {
	tests := []struct{ n, presize, want int64 }{
		{0, 0, 4},
		{4, 0, 4},
		{5, 0, 12},      // grew to 8 on the fifth insert: 4 + 8 until rehashed
		{8, 0, 8},       // three inserts since: the 4 buckets are moved
		{129, 0, 384},   // 128 + 256
		{129, 129, 256}, // presized on load
		{600, 513, 1024},
		{1100, 513, 3072},
	}
	for _, tt := range tests {
		if got := dictSlots(tt.n, tt.presize); got != tt.want {
			t.Errorf("dictSlots(%d, %d) = %d, want %d", tt.n, tt.presize, got, tt.want)
		}
	}
}

func TestAppendD2String(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "-0"}, {3, "3"}, {-17, "-17"}, {1.5, "1.5"},
		{0.1, "0.10000000000000001"}, {1e300, "1.0000000000000001e+300"},
		{math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
	}
	for _, tt := range tests {
		if got := string(appendD2String(nil, tt.f)); got != tt.want {
			t.Errorf("appendD2String(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

// TestEstimateFixtures estimates every key of every shared fixture: no
// error but the decoder's, and a plausible size (at least the dictEntry,
// the key and a robj).
func TestEstimateFixtures(t *testing.T) {
	files := sharedRDBFiles(t)
	keys := 0
	for _, opts := range []MemoryOptions{{}, {Server: Redis72, Quantum: 16, Loaded: true}} {
		m := NewMemoryEstimator(opts)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			r := rdb.NewReader(bytes.NewReader(data))
			for {
				e, err := r.Next()
				if err != nil {
					break // corrupt fixtures end early
				}
				if e.Kind != rdb.KindKey {
					continue
				}
				km, err := m.Estimate(e)
				if err != nil {
					// Only what the decoder itself refuses.
					if e.Payload != nil {
						v := rdb.NewPayloadValue(e.Payload, r.Version())
						for v.Next() {
						}
						if v.Err() == nil {
							t.Errorf("%s: %q: %v, but the value decodes", file, e.Key, err)
						}
					}
					continue
				}
				keys++
				if min := int64(sizeDictEntry + sizeRobj + len(e.Key)); km.Bytes < min || km.Encoding == "" {
					t.Errorf("%s: %q: %+v", file, e.Key, km)
				}
			}
		}
	}
	t.Logf("%d files, %d keys", len(files), keys)
}

// TestEstimateStreamed estimates values too large for the Reader's
// MaxPayload, which stream, and checks they come close to the same values
// kept whole.
func TestEstimateStreamed(t *testing.T) {
	file := "../../shared/testdata/generated/redis-7.0.15/all-in-one.rdb"
	data, err := os.ReadFile(file)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	whole := estimateAll(t, data, 0)
	streamed := estimateAll(t, data, 64)
	n := 0
	for k, w := range whole {
		s := streamed[k]
		if s.Elements != w.Elements || math.Abs(float64(s.Bytes-w.Bytes)) > 0.25*float64(w.Bytes) {
			t.Errorf("%q: streamed %+v, whole %+v", k, s, w)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no keys")
	}
}

func estimateAll(t *testing.T, data []byte, maxPayload int) map[string]KeyMemory {
	t.Helper()
	r := rdb.NewReader(bytes.NewReader(data))
	r.MaxPayload = maxPayload
	m := NewMemoryEstimator(MemoryOptions{Loaded: true})
	out := map[string]KeyMemory{}
	for {
		e, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		km, err := m.Estimate(e)
		if err != nil {
			t.Fatalf("%q: %v", e.Key, err)
		}
		out[fmt.Sprint(e.DB, string(e.Key))] = km
	}
}

func TestChildTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tab childTable
	want := map[string]*prefixNode{}
	var live []*prefixNode
	// Few distinct hashes, two segments for some: full clusters,
	// wrapping around the end of the table, and equal hashes.
	hash := func(seg string) uint64 {
		v, _ := strconv.Atoi(seg)
		return uint64(v/2)<<1 | 1
	}
	for i := range 20000 {
		if len(live) > 0 && (rng.IntN(3) == 0 || len(live) > 300 && i%2000 < 1000) {
			j := rng.IntN(len(live))
			c := live[j]
			live[j] = live[len(live)-1]
			live = live[:len(live)-1]
			delete(want, c.seg)
			tab.remove(c)
		} else {
			seg := strconv.Itoa(rng.IntN(8192))
			if want[seg] != nil {
				continue
			}
			c := &prefixNode{seg: seg, hash: hash(seg)}
			want[seg] = c
			live = append(live, c)
			tab.put(c)
		}
		if tab.n != len(want) {
			t.Fatalf("step %d: n = %d, want %d", i, tab.n, len(want))
		}
		if i%97 == 0 {
			for v := range 8192 {
				seg := strconv.Itoa(v)
				if got := tab.get([]byte(seg), hash(seg)); got != want[seg] {
					t.Fatalf("step %d: get(%s) = %p, want %p", i, seg, got, want[seg])
				}
			}
		}
	}
}

// TestPrefixCut checks that cut finds the separator and hashes the
// segment as segHash does, whatever the lengths and alignments.
func TestPrefixCut(t *testing.T) {
	for _, sep := range []string{":", "::", "\x00"} {
		tr := newPrefixTree([]byte(sep), 3, 100, 8)
		for pre := range 10 {
			for n := range 20 {
				for tail := range 12 {
					seg := strings.Repeat("ab", n)[:n]
					key := strings.Repeat("y", pre) + sep + seg + sep + strings.Repeat("x", tail)
					start := pre + len(sep)
					end, h := tr.cut([]byte(key), start)
					if end != start+n || h != tr.segHash([]byte(seg)) || h == 0 {
						t.Fatalf("sep %q: cut(%q, %d) = %d, %x; want %d, %x", sep, key, start, end, h, start+n, tr.segHash([]byte(seg)))
					}
					key = key[:start] + seg + strings.Repeat("x", tail)
					if end, _ := tr.cut([]byte(key), start); end != -1 {
						t.Fatalf("sep %q: cut(%q, %d) = %d, want -1", sep, key, start, end)
					}
				}
			}
		}
		if tr.segHash([]byte("a")) == tr.segHash([]byte("a\x00")) {
			t.Errorf("segHash ignores the length")
		}
	}
}

// TestPrefixTreeRepeatable counts the same keys twice, many prefixes of
// the same size among them, into trees too small to hold them: which ones
// are folded, and the report, are the same both times.
func TestPrefixTreeRepeatable(t *testing.T) {
	var trees [2]*MemoryPrefix
	for i := range trees {
		tr := newPrefixTree([]byte(":"), 3, 50, 8)
		for k := range 5000 {
			tr.add(fmt.Appendf(nil, "p%d:q%d:x", k%700, k%13), 100)
		}
		trees[i] = tr.export(5)
	}
	if !reflect.DeepEqual(trees[0], trees[1]) {
		a, _ := json.Marshal(trees[0])
		b, _ := json.Marshal(trees[1])
		t.Fatalf("two reports of the same keys differ:\n%s\n%s", a, b)
	}
}

func TestPrefixTreeBounded(t *testing.T) {
	tr := newPrefixTree([]byte(":"), 3, 50, 8)
	rng := rand.New(rand.NewPCG(1, 2))
	var total int64
	for i := range 20000 {
		var key string
		switch i % 4 {
		case 0:
			key = fmt.Sprintf("user:%d:profile", rng.IntN(100000))
		case 1:
			key = fmt.Sprintf("big:%d:x", rng.IntN(3))
		case 2:
			key = fmt.Sprintf("t%d:a:b:c:d", rng.IntN(1000))
		default:
			key = "plain"
		}
		n := int64(1 + rng.IntN(100))
		if i%4 == 1 {
			n *= 50
		}
		total += n
		tr.add([]byte(key), n)
		if tr.nodes > 2*50 {
			t.Fatalf("%d nodes", tr.nodes)
		}
	}
	root := tr.export(5)
	if root.Bytes != total || root.Keys != 20000 {
		t.Fatalf("root %d keys %d bytes, want 20000, %d", root.Keys, root.Bytes, total)
	}
	// Children never hold more than their parent, and the first level
	// shows the big prefix first.
	root.walk(func(p *MemoryPrefix, depth int) {
		var keys, bytes int64
		for _, c := range p.Children {
			keys += c.Keys
			bytes += c.Bytes
		}
		if keys > p.Keys || bytes > p.Bytes || len(p.Children) > 6 {
			t.Errorf("%q: %d keys %d bytes, children %d keys %d bytes in %d", p.Prefix, p.Keys, p.Bytes, keys, bytes, len(p.Children))
		}
	})
	if string(root.Children[0].Prefix) != "big:" {
		t.Errorf("first prefix %q, want big:", root.Children[0].Prefix)
	}
	if len(root.Children[0].Children) != 3 {
		t.Errorf("big: has %d children, want its 3 ids", len(root.Children[0].Children))
	}
}

// testKeys is a small set of keys for report tests, with awkward names.
func testKeys() []struct {
	e  rdb.Entry
	km KeyMemory
} {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	mk := func(db int, key string, typ rdb.Type, bytes, elems, exp int64) struct {
		e  rdb.Entry
		km KeyMemory
	} {
		return struct {
			e  rdb.Entry
			km KeyMemory
		}{rdb.Entry{Kind: rdb.KindKey, DB: db, Key: []byte(key), Type: typ, ExpireAt: exp},
			KeyMemory{Bytes: bytes, Elements: elems, Encoding: "enc-" + typ.String()}}
	}
	return []struct {
		e  rdb.Entry
		km KeyMemory
	}{
		mk(0, "user:1:profile", rdb.TypeHash, 500, 10, 0),
		mk(0, "user:2:profile", rdb.TypeHash, 700, 12, now+30*60*1000),
		mk(0, "<script>alert(1)</script>", rdb.TypeString, 900, 30, 0),
		mk(1, "bin:\xff\xfe<b>", rdb.TypeList, 1200, 300, now-1),
		mk(1, "cache:a:b:c:d", rdb.TypeString, 64, 5, now+2*24*3600*1000),
		mk(2, "q:1", rdb.TypeZSet, 4000, 200, now+40*24*3600*1000),
		mk(2, "q:2", rdb.TypeZSet, 4000, 100, 0),
		mk(0, "\u2028line\"sep", rdb.TypeSet, 80, 3, now+10*24*3600*1000),
	}
}

func testSummary(t *testing.T, order []int) *MemorySummary {
	t.Helper()
	r := NewMemoryReport(MemoryReportOptions{Top: 4, Now: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
	keys := testKeys()
	for _, i := range order {
		r.Add(&keys[i].e, keys[i].km)
	}
	return r.Summary(MemoryModel{Server: "redis-7.0", Quantum: 8})
}

func TestMemoryReport(t *testing.T) {
	s := testSummary(t, []int{0, 1, 2, 3, 4, 5, 6, 7})
	if s.Keys != 8 || s.Bytes != 500+700+900+1200+64+4000+4000+80 {
		t.Fatalf("totals %d keys %d bytes", s.Keys, s.Bytes)
	}
	var names []string
	for _, k := range s.TopBytes {
		names = append(names, string(k.Key))
	}
	// q:1 and q:2 tie on bytes: the smaller key ranks first.
	if got := strings.Join(names, "|"); got != "q:1|q:2|bin:\xff\xfe<b>|<script>alert(1)</script>" {
		t.Errorf("top by bytes %q", got)
	}
	names = names[:0]
	for _, k := range s.TopElements {
		names = append(names, string(k.Key))
	}
	if got := strings.Join(names, "|"); got != "bin:\xff\xfe<b>|q:1|q:2|user:2:profile" {
		t.Errorf("top by elements %q (strings are not ranked)", got)
	}
	wantExpiry := map[string]int64{"none": 3, "expired": 1, "<1h": 1, "<1d": 0, "<7d": 1, "<30d": 1, "later": 1}
	for _, g := range s.Expiry {
		if g.Keys != wantExpiry[g.Name] {
			t.Errorf("expiry %s: %d keys, want %d", g.Name, g.Keys, wantExpiry[g.Name])
		}
	}
	if len(s.DBs) != 3 || s.DBs[1].DB != 1 || s.DBs[1].Keys != 2 || s.DBs[1].Volatile != 2 {
		t.Errorf("dbs %+v", s.DBs)
	}
	// The same keys in another order give the same report.
	a, b := new(bytes.Buffer), new(bytes.Buffer)
	if err := s.WriteJSON(a); err != nil {
		t.Fatal(err)
	}
	if err := testSummary(t, []int{7, 6, 5, 4, 3, 2, 1, 0}).WriteJSON(b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("order changes the report:\n%s\n%s", a, b)
	}
	// Lossless keys in JSON.
	var back struct {
		TopBytes []struct {
			Key json.RawMessage `json:"key"`
		} `json:"top_by_bytes"`
	}
	if err := json.Unmarshal(a.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	var key bytes.Buffer
	json.Compact(&key, back.TopBytes[2].Key)
	if got := key.String(); got != `{"base64":"YmluOv/+PGI+"}` {
		t.Errorf("invalid UTF-8 key as %s", got)
	}
}

func TestMemoryReportCSVAndText(t *testing.T) {
	s := testSummary(t, []int{0, 1, 2, 3, 4, 5, 6, 7})
	var csv, text bytes.Buffer
	if err := s.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"section,name,db,key,type,encoding,keys,bytes,elements,volatile,expire_at\n",
		"total,,,,,,8,11444,",
		"top_by_bytes,,1,base64:YmluOv/+PGI+,list,enc-list,,1200,300,,",
		"prefix,user:,,,,,2,1200,",
	} {
		if !strings.Contains(csv.String(), want) {
			t.Errorf("CSV lacks %q:\n%s", want, csv.String())
		}
	}
	for _, want := range []string{"Memory estimate: 8 keys", `"bin:\xff\xfe<b>"`, "user:*", "q:*"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// TestScanMemory checks ScanMemory's Keep, and that it returns the
// reader's errors and ctx's (TestScanMemoryFixtures compares its reports
// with the one-goroutine loop's).
func TestScanMemory(t *testing.T) {
	data, err := os.ReadFile(fixtures.Shared(t, "generated/redis-7.0.15/all-in-one.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	r := rdb.NewReader(bytes.NewReader(data))
	rep := NewMemoryReport(MemoryReportOptions{Now: scanNow})
	model, err := ScanMemory(context.Background(), r, MemoryScanOptions{Keep: func(e *rdb.Entry) bool { return e.Type == rdb.TypeHash }}, rep)
	if got := memoryJSON(t, rep, model); err != nil || !strings.Contains(got, `"name": "hash"`) || strings.Contains(got, `"name": "string"`) {
		t.Errorf("Keep: %v\n%s", err, got)
	}
	// A truncated file: the reader's error, with what came before.
	r = rdb.NewReader(bytes.NewReader(data[:len(data)/2]))
	if _, err := ScanMemory(context.Background(), r, MemoryScanOptions{}, NewMemoryReport(MemoryReportOptions{})); err == nil {
		t.Error("no error on a truncated file")
	}
	// A cancelled context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = rdb.NewReader(bytes.NewReader(data))
	if _, err := ScanMemory(ctx, r, MemoryScanOptions{}, NewMemoryReport(MemoryReportOptions{})); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

func TestServerOfAux(t *testing.T) {
	tests := []struct {
		name, value string
		want        MemoryServer
		ok          bool
	}{
		{"redis-ver", "7.0.15", Redis70, true},
		{"redis-ver", "6.2.6", Redis70, true},
		{"redis-ver", "7.2.4", Redis72, true},
		{"redis-ver", "8.0.0", Redis72, true},
		{"redis-ver", "255.255.255", Redis72, true},
		{"valkey-ver", "8.0.1", Redis72, true},
		{"redis-ver", "x", 0, false},
		{"ctime", "1", 0, false},
	}
	for _, tt := range tests {
		got, ok := serverOfAux([]byte(tt.name), []byte(tt.value))
		if got != tt.want || ok != tt.ok {
			t.Errorf("serverOfAux(%s, %s) = %v, %v", tt.name, tt.value, got, ok)
		}
	}
}

// FuzzEstimate estimates payloads of every encoding, seeded with the keys
// of the shared fixtures: an error is fine, a panic is not (the layout
// parsers index the payload by lengths it holds).
func FuzzEstimate(f *testing.F) {
	for _, file := range sharedRDBFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		r := rdb.NewReader(bytes.NewReader(data))
		for {
			e, err := r.Next()
			if err != nil {
				break
			}
			if e.Kind == rdb.KindKey && e.Payload != nil && len(e.Payload) < 4096 {
				f.Add(bytes.Clone(e.Payload))
			}
		}
	}
	ests := []*MemoryEstimator{NewMemoryEstimator(MemoryOptions{}),
		NewMemoryEstimator(MemoryOptions{Server: Redis72, Quantum: 16, Loaded: true})}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) == 0 {
			return
		}
		enc := rdb.Encoding(payload[0])
		e := rdb.Entry{Kind: rdb.KindKey, Key: []byte("k"), Type: enc.Type(), Encoding: enc,
			Idle: -1, Freq: -1, Payload: payload}
		for _, m := range ests {
			_, _ = m.Estimate(&e)
		}
	})
}
