package rdb

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// sharedTestdata is the shared fixture folder beside the repository.
const sharedTestdata = "../../shared/testdata"

func sharedDir(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join(sharedTestdata, sub)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared fixtures missing: %v", err)
		}
		t.Skipf("shared fixtures missing: %v", err)
	}
	return dir
}

// readFixture returns a Reader over the RDB file at path, read into
// memory (as internal/fixtures.Open does, which package rdb cannot import).
func readFixture(t testing.TB, path string) *Reader {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return NewReader(bytes.NewReader(data))
}

// eachKey decodes the RDB file at path and calls fn for each of its keys;
// a file that does not decode fails the test.
func eachKey(t testing.TB, path string, fn func(e *Entry)) {
	t.Helper()
	r := readFixture(t, path)
	for {
		e, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if e.Kind == KindKey {
			fn(e)
		}
	}
}

// eachKeyUntilError is eachKey for files that may not decode to their
// end (handcrafted corpus files): it logs the error and stops there. fn
// gets the Reader too, for the file's version.
func eachKeyUntilError(t testing.TB, path string, fn func(r *Reader, e *Entry)) {
	t.Helper()
	r := readFixture(t, path)
	for {
		e, err := r.Next()
		if err != nil {
			if err != io.EOF {
				t.Logf("%s: %v (skipped from here)", path, err)
			}
			return
		}
		if e.Kind == KindKey {
			fn(r, e)
		}
	}
}

// canonKey is a key as the generated fixtures' .expected.jsonl describe it
// (see shared/testdata/generated/README.md): byte strings base64 ([]byte),
// sets and hashes sorted, scores as shortest strings.
type canonKey struct {
	DB           int             `json:"db"`
	Key          []byte          `json:"key"`
	Type         string          `json:"type"`
	Encoding     string          `json:"encoding"`
	RDBType      int             `json:"rdb_type"`
	ExpireAt     *int64          `json:"expire_at_ms"`
	Value        json.RawMessage `json:"value"`
	ValueSHA256  string          `json:"value_sha256,omitempty"`
	Len          int64           `json:"len"`
	FieldExpires [][2]any        `json:"field_expires,omitempty"`
	LFUFreq      *int64          `json:"lfu_freq,omitempty"`
	IdleSeconds  *int64          `json:"idle_seconds,omitempty"`
	Kind         string          `json:"kind,omitempty"`
	Library      string          `json:"library,omitempty"`
	Code         string          `json:"code,omitempty"`
}

func scoreText(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func sortPairs(p [][]any) {
	sort.Slice(p, func(i, j int) bool { return bytes.Compare(p[i][0].([]byte), p[j][0].([]byte)) < 0 })
}

// canonical decodes e into the fixtures' canonical form.
func canonical(t testing.TB, e *Entry) canonKey {
	t.Helper()
	k := canonKey{DB: e.DB, Key: bytes.Clone(e.Key), Type: e.Type.String(), RDBType: int(e.Encoding % valkeyBase)}
	if e.ExpireAt != 0 {
		x := e.ExpireAt
		k.ExpireAt = &x
	}
	if e.Freq >= 0 {
		x := e.Freq
		k.LFUFreq = &x
	}
	if e.Idle >= 0 {
		x := e.Idle
		k.IdleSeconds = &x
	}
	k.Encoding = e.ObjectEncoding()
	v := e.Value()
	var val any
	var n int64
	switch e.Type {
	case TypeString:
		s := []byte{}
		for v.Next() {
			s = append(s, v.Elem().Value...)
		}
		n = int64(len(s))
		if len(s) > 64<<10 {
			sum := sha256.Sum256(s)
			k.ValueSHA256 = hex.EncodeToString(sum[:])
		} else {
			val = s
		}
	case TypeList, TypeSet:
		l := [][]byte{}
		more := false
		for v.Next() {
			if more { // the rest of a chunked element
				l[len(l)-1] = append(l[len(l)-1], v.Elem().Member...)
			} else {
				l = append(l, bytes.Clone(v.Elem().Member))
			}
			more = v.Elem().More
		}
		if e.Type == TypeSet {
			sort.Slice(l, func(i, j int) bool { return bytes.Compare(l[i], l[j]) < 0 })
		}
		val, n = l, int64(len(l))
	case TypeZSet, TypeHash:
		p := [][]any{}
		var fe [][]any
		more := false
		for v.Next() {
			el := v.Elem()
			if more { // the rest of a chunked hash value
				last := p[len(p)-1]
				last[1] = append(last[1].([]byte), el.Value...)
				if !el.More && el.ExpireAt != 0 {
					fe = append(fe, []any{last[0], el.ExpireAt})
				}
				more = el.More
				continue
			}
			more = el.More
			if e.Type == TypeZSet {
				p = append(p, []any{bytes.Clone(el.Member), scoreText(el.Score)})
				continue
			}
			p = append(p, []any{bytes.Clone(el.Member), bytes.Clone(el.Value)})
			if el.ExpireAt != 0 && !el.More {
				fe = append(fe, []any{bytes.Clone(el.Member), el.ExpireAt})
			}
		}
		sortPairs(p)
		val, n = p, int64(len(p))
		if fe != nil {
			sortPairs(fe)
			for _, x := range fe {
				k.FieldExpires = append(k.FieldExpires, [2]any{x[0], x[1]})
			}
		}
	case TypeStream:
		val, n = canonStream(v)
	}
	if err := v.Err(); err != nil {
		t.Fatalf("key %q: %v", e.Key, err)
	}
	k.Len = n
	raw, err := json.Marshal(val)
	if err != nil {
		t.Fatal(err)
	}
	k.Value = raw
	return k
}

func canonStream(v *Value) (any, int64) {
	entries := []any{}
	for v.Next() {
		el := v.Elem()
		fields := [][]any{}
		for i := 0; i+1 < len(el.Fields); i += 2 {
			fields = append(fields, []any{bytes.Clone(el.Fields[i]), bytes.Clone(el.Fields[i+1])})
		}
		entries = append(entries, map[string]any{"id": el.ID.String(), "fields": fields})
	}
	info := v.Stream()
	if info == nil {
		return nil, 0
	}
	groups := []any{}
	for _, g := range info.Groups {
		pending := []any{}
		for _, p := range g.Pending {
			pending = append(pending, map[string]any{"id": p.ID.String(), "consumer": string(p.Consumer),
				"delivery_time": p.DeliveryTime, "delivery_count": p.DeliveryCount})
		}
		consumers := []any{}
		for _, c := range g.Consumers {
			cp := []any{}
			for _, id := range c.Pending {
				for _, p := range g.Pending {
					if p.ID == id {
						cp = append(cp, map[string]any{"id": id.String(), "delivery_time": p.DeliveryTime, "delivery_count": p.DeliveryCount})
					}
				}
			}
			cm := map[string]any{"name": string(c.Name), "seen-time": c.SeenTime, "pel-count": len(c.Pending), "pending": cp}
			if v.Encoding >= EncStreamListpacks3 {
				cm["active-time"] = c.ActiveTime
			}
			consumers = append(consumers, cm)
		}
		var er any
		if g.EntriesRead >= 0 {
			er = g.EntriesRead
		}
		groups = append(groups, map[string]any{"name": string(g.Name), "last-delivered-id": g.LastID.String(),
			"entries-read": er, "pel-count": len(g.Pending), "pending": pending, "consumers": consumers})
	}
	m := map[string]any{"length": info.Length, "last-generated-id": info.LastID.String(), "entries": entries, "groups": groups}
	if v.Encoding >= EncStreamListpacks2 {
		m["max-deleted-entry-id"] = info.MaxDeletedID.String()
		m["entries-added"] = info.EntriesAdded
		m["recorded-first-entry-id"] = info.FirstID.String()
	}
	return m, int64(info.Length)
}

// normalize re-encodes a JSON value through a generic decode so that two
// encodings of the same value compare equal, dropping fields a decoder cannot
// know (in-memory radix tree sizes, lag computed by the server).
func normalize(t testing.TB, raw json.RawMessage) any {
	t.Helper()
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatal(err)
	}
	if m, ok := x.(map[string]any); ok {
		delete(m, "radix-tree-keys")
		delete(m, "radix-tree-nodes")
		if gs, ok := m["groups"].([]any); ok {
			for _, g := range gs {
				delete(g.(map[string]any), "lag")
			}
		}
	}
	return x
}

func readExpected(t testing.TB, path string) (keys []canonKey, funcs []canonKey) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var k canonKey
		if err := json.Unmarshal(sc.Bytes(), &k); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if k.Kind == "function" {
			funcs = append(funcs, k)
		} else {
			keys = append(keys, k)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return keys, funcs
}

// decodeAll decodes a whole file into canonical keys and function lines.
func decodeAll(t testing.TB, path string, r *Reader, wrap func(io.Reader) io.Reader) (keys []canonKey, funcs []canonKey) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r.Reset(wrap(f))
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch e.Kind {
		case KindKey:
			keys = append(keys, canonical(t, e))
		case KindFunction:
			funcs = append(funcs, canonKey{Kind: "function", Library: string(e.Aux.Name), Code: string(e.Aux.Value)})
		}
	}
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].Library < funcs[j].Library })
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].DB != keys[j].DB {
			return keys[i].DB < keys[j].DB
		}
		return bytes.Compare(keys[i].Key, keys[j].Key) < 0
	})
	return keys, funcs
}

func compareKeys(t *testing.T, got, want []canonKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d keys, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		name := fmt.Sprintf("db %d key %q", w.DB, w.Key)
		if g.DB != w.DB || !bytes.Equal(g.Key, w.Key) {
			t.Fatalf("key %d: got db %d %q, want %s", i, g.DB, g.Key, name)
		}
		if g.Type != w.Type || g.RDBType != w.RDBType {
			t.Errorf("%s: type %s/%d, want %s/%d", name, g.Type, g.RDBType, w.Type, w.RDBType)
		}
		if (w.Encoding == "int") != (g.Encoding == "int") && w.Type == "string" {
			t.Errorf("%s: encoding %s, want %s", name, g.Encoding, w.Encoding)
		}
		if !reflect.DeepEqual(g.ExpireAt, w.ExpireAt) {
			t.Errorf("%s: expire %v, want %v", name, ptr(g.ExpireAt), ptr(w.ExpireAt))
		}
		if g.Len != w.Len {
			t.Errorf("%s: len %d, want %d", name, g.Len, w.Len)
		}
		if w.ValueSHA256 != "" {
			if g.ValueSHA256 != w.ValueSHA256 {
				t.Errorf("%s: value sha256 %s, want %s", name, g.ValueSHA256, w.ValueSHA256)
			}
		} else if gv, wv := normalize(t, g.Value), normalize(t, w.Value); !reflect.DeepEqual(gv, wv) {
			t.Errorf("%s: value\n got %.600s\nwant %.600s", name, g.Value, w.Value)
		}
		if gf, wf := fmt.Sprint(normalizeAny(t, g.FieldExpires)), fmt.Sprint(normalizeAny(t, w.FieldExpires)); gf != wf {
			t.Errorf("%s: field expires %s, want %s", name, gf, wf)
		}
		if !reflect.DeepEqual(g.LFUFreq, w.LFUFreq) {
			t.Errorf("%s: lfu freq %v, want %v", name, ptr(g.LFUFreq), ptr(w.LFUFreq))
		}
		if w.IdleSeconds != nil && (g.IdleSeconds == nil || *g.IdleSeconds < *w.IdleSeconds || *g.IdleSeconds > *w.IdleSeconds+2) {
			t.Errorf("%s: idle %v, want %d (+2)", name, ptr(g.IdleSeconds), *w.IdleSeconds)
		}
	}
}

func normalizeAny(t testing.TB, x any) any {
	raw, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	return normalize(t, raw)
}

func ptr(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestGeneratedFixtures decodes every file written by every server version
// and compares it with its .expected.jsonl, key by key: once as a file is
// usually read, and once with every value over 64 bytes streamed element by
// element in 5-byte chunks from a reader that returns one byte a call
// (but for all-in-one, the union of the others, under the race detector).
func TestGeneratedFixtures(t *testing.T) {
	dir := sharedDir(t, "generated")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.rdb"))
	if err != nil || len(files) < 100 {
		t.Fatalf("found %d fixtures (%v)", len(files), err)
	}
	modes := []struct {
		name string
		r    *Reader
		wrap func(io.Reader) io.Reader
	}{
		{"whole", NewReader(nil), func(r io.Reader) io.Reader { return r }},
		{"streamed", &Reader{MaxPayload: 64, ChunkSize: 5, VerifyChecksum: true}, iotest.OneByteReader},
	}
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		big := strings.HasSuffix(path, "all-in-one.rdb") // the union of the other themes
		for _, m := range modes {
			if m.name == "streamed" && (testing.Short() || raceEnabled && big) {
				continue
			}
			t.Run(rel+"/"+m.name, func(t *testing.T) {
				testFixture(t, path, m.r, m.wrap)
			})
		}
	}
}

func testFixture(t *testing.T, path string, r *Reader, wrap func(io.Reader) io.Reader) {
	got, gotFn := decodeAll(t, path, r, wrap)
	if _, _, st := r.Checksum(); st != ChecksumOK {
		t.Errorf("checksum state %v", st)
	}
	want, wantFn := readExpected(t, path[:len(path)-4]+".expected.jsonl")
	compareKeys(t, got, want)
	if len(gotFn) != len(wantFn) {
		t.Fatalf("%d functions, want %d", len(gotFn), len(wantFn))
	}
	for i := range wantFn {
		if gotFn[i].Library != wantFn[i].Library || gotFn[i].Code != wantFn[i].Code {
			t.Errorf("function %d: %q %q, want %q %q", i, gotFn[i].Library, gotFn[i].Code, wantFn[i].Library, wantFn[i].Code)
		}
	}
}
