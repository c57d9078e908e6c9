package rdb_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hdt3213/rdb/core"
	"github.com/hdt3213/rdb/model"

	"github.com/rdbkit/rdbkit/rdb"
)

// The differential test decodes the same files with this package and with
// github.com/hdt3213/rdb (its core.Decoder, the version go.mod requires) and
// compares every key: the (db, key) pairs, the type, the expiry and the
// value. It runs over the cases/ folder of hdt3213/rdb and over the
// generated fixtures of the RDB versions hdt3213 reads (Redis 7.0 and 7.2).
//
// Where hdt3213's model loses information, our side is reduced the same way
// before comparing; where hdt3213 is wrong, the comparison is adjusted and
// the evidence given next to it. Each such place says so in a comment.

const hdtModule = "github.com/hdt3213/rdb"

// hdtCannotParse lists the files whose parse hdt3213 v1.3.0 abandons with
// an error, and why. Our decoder must still read them to the end; the keys
// hdt3213 delivered before its error are compared all the same. A file that
// fails without being listed here, or is listed and parses, fails the test.
var hdtCannotParse = map[string]string{
	// RDB_OPCODE_FUNCTION2 (245), which Redis 7.0+ writes for each function
	// library before the first SELECTDB: hdt3213's parse loop does not know
	// the opcode, takes it for an object type, reads the library source as a
	// key name and fails on "unknown type flag". RDB-FORMAT.md, opcode 245.
	"generated/redis-7.0.15/functions.rdb":  "unknown type flag",
	"generated/redis-7.0.15/all-in-one.rdb": "unknown type flag",
	"generated/redis-7.2/functions.rdb":     "unknown type flag",
	"generated/redis-7.2/all-in-one.rdb":    "unknown type flag",
}

// generatedDirs are the folders of shared/testdata/generated written with
// an RDB version hdt3213 reads: it stops at version 12 and knows neither
// SLOT_INFO (Redis 7.4+) nor Valkey's files.
var generatedDirs = []string{"redis-7.0.15", "redis-7.2"}

type diffCase struct {
	name string // cases/<file> or generated/<dir>/<file>
	path string
}

func TestDifferentialHDT3213(t *testing.T) {
	var tests []diffCase
	hdt, gen := hdtDir(t), generatedDir(t)
	if hdt == "" && gen == "" {
		t.Skip("no files to compare")
	}
	if hdt != "" {
		cases := filepath.Join(hdt, "cases")
		files, err := filepath.Glob(filepath.Join(cases, "*.rdb"))
		if err != nil || len(files) < 30 {
			t.Fatalf("%s: found %d .rdb files (%v)", cases, len(files), err)
		}
		for _, f := range files {
			tests = append(tests, diffCase{"cases/" + filepath.Base(f), f})
		}
	}
	for _, d := range generatedDirs {
		if gen == "" {
			break
		}
		files, err := filepath.Glob(filepath.Join(gen, d, "*.rdb"))
		if err != nil || len(files) < 10 {
			t.Fatalf("%s: found %d .rdb files (%v)", filepath.Join(gen, d), len(files), err)
		}
		for _, f := range files {
			tests = append(tests, diffCase{"generated/" + d + "/" + filepath.Base(f), f})
		}
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			ours, err := decodeOurs(tt.path, false)
			if err != nil {
				t.Fatalf("ours: %v", err)
			}
			// The same file with every value streamed must give the same
			// records (slow: the input comes one byte a Read).
			if !testing.Short() {
				streamed, err := decodeOurs(tt.path, true)
				if err != nil {
					t.Fatalf("ours, streamed: %v", err)
				}
				vsInMemory.dumps(t, streamed, ours, false)
			}
			theirs, hdtErr := decodeHDT(tt.path)
			want, listed := hdtCannotParse[tt.name]
			switch {
			case hdtErr != nil && !listed:
				t.Errorf("hdt3213 fails, and the file is not in hdtCannotParse: %v", hdtErr)
			case hdtErr == nil && listed:
				t.Errorf("hdt3213 parses the file, which hdtCannotParse says it cannot (%q)", want)
			case hdtErr != nil && !strings.Contains(hdtErr.Error(), want):
				t.Errorf("hdt3213 fails with %q, hdtCannotParse says %q", hdtErr, want)
			}
			if hdtErr != nil {
				// Only the keys hdt3213 returned before failing can be
				// compared: each must be ours too, with the same contents.
				t.Logf("hdt3213: %v", hdtErr)
				vsHDT.dumps(t, ours, theirs, true)
				return
			}
			vsHDT.dumps(t, ours, theirs, false)
		})
	}
	for name := range hdtCannotParse {
		ran := gen != ""
		if strings.HasPrefix(name, "cases/") {
			ran = hdt != ""
		}
		if ran && !seen[name] {
			t.Errorf("hdtCannotParse lists %s, which is not among the files", name)
		}
	}
}

// hdtDir returns the directory of the hdt3213/rdb module required by
// go.mod; if it cannot be found, it fails when CI is set and else returns "".
func hdtDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", hdtModule).Output()
	dir := strings.TrimSpace(string(out))
	if err == nil && dir != "" {
		return dir
	}
	if err == nil {
		err = fmt.Errorf("no Dir for %s", hdtModule)
	}
	// Without a go command: the module cache, at the version go.mod
	// requires (the one the test binary was built with).
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		if gopath := os.Getenv("GOPATH"); gopath != "" {
			cache = filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
		} else if home, herr := os.UserHomeDir(); herr == nil {
			cache = filepath.Join(home, "go", "pkg", "mod")
		}
	}
	if v := hdtVersion(); v != "" && cache != "" {
		dir := filepath.Join(cache, filepath.FromSlash(hdtModule)+"@"+v)
		if _, serr := os.Stat(filepath.Join(dir, "cases")); serr == nil {
			return dir
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: go list: %v", hdtModule, err)
	}
	t.Logf("%s not found, skipping its cases: go list: %v", hdtModule, err)
	return ""
}

// hdtVersion returns the version of hdt3213/rdb that go.mod requires.
func hdtVersion() string {
	data, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if i := slices.Index(f, hdtModule); i >= 0 && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// generatedDir returns shared/testdata/generated beside the repository; if
// it is missing, it fails when CI is set and else returns "".
func generatedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "testdata", "generated")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared fixtures missing: %v", err)
		}
		t.Logf("shared fixtures missing, skipping them: %v", err)
		return ""
	}
	return dir
}

// A dbKey names a key: its database and its bytes.
type dbKey struct {
	DB  int
	Key string
}

func (k dbKey) String() string { return fmt.Sprintf("db %d key %q", k.DB, k.Key) }

// A record is one key reduced to what both decoders can tell. Both return
// integer encodings (int-encoded strings, intset members, ziplist and
// listpack integers) as their decimal text, and parse ziplist and listpack
// scores with strconv.ParseFloat, so these need no normalizing.
type record struct {
	Type     string // "string", "list", "set", "zset", "hash", "stream", "module"
	Module   string // module type name (Type "module")
	ExpireAt int64  // Unix ms, 0 = none

	Str      []byte            // string
	List     [][]byte          // list elements in order; set members, sorted
	Hash     map[string]string // hash fields and values
	FieldTTL map[string]int64  // hash fields with an expiry (Unix ms)
	ZSet     []zMember         // sorted by member
	Stream   *streamRec
}

type zMember struct {
	Member string
	Score  float64
}

type streamRec struct {
	Entries []streamEntry // live entries, in order
	Length  uint64
	LastID  rdb.StreamID
	V2      bool // RDB_TYPE_STREAM_LISTPACKS_2 and later: the fields below are stored
	FirstID rdb.StreamID
	MaxDel  rdb.StreamID
	Added   uint64
	V3      bool // RDB_TYPE_STREAM_LISTPACKS_3 and later: consumers' active time is stored
	Groups  []groupRec
}

type streamEntry struct {
	ID     rdb.StreamID
	Fields map[string]string
}

type groupRec struct {
	Name        string
	LastID      rdb.StreamID
	EntriesRead uint64 // with V2 only
	Pending     []pendingRec
	Consumers   []consumerRec
}

type pendingRec struct {
	ID            rdb.StreamID
	DeliveryTime  uint64
	DeliveryCount uint64
}

type consumerRec struct {
	Name       string
	SeenTime   uint64
	ActiveTime uint64 // with V3 only
	Pending    []rdb.StreamID
}

// A dump is the keys of a file, in file order, with their records.
type dump struct {
	keys    []dbKey
	records map[dbKey]*record
	dups    []dbKey // keys met twice
}

func (d *dump) add(k dbKey, r *record) {
	if d.records == nil {
		d.records = map[dbKey]*record{}
	}
	if _, ok := d.records[k]; ok {
		d.dups = append(d.dups, k)
		return
	}
	d.keys = append(d.keys, k)
	d.records[k] = r
}

// decodeOurs reads the whole file with rdb.NewReader: it fails unless the
// reader reaches io.EOF (EOF opcode read and, where one is stored, the
// checksum verified) and every value decodes without error. With streamed,
// every value is larger than MaxPayload and, the input coming one byte a
// Read, not already in the Reader's buffer (a value that is stays whole), so
// it is read from the input element by element, its strings byte by byte
// (ChunkSize 1).
func decodeOurs(path string, streamed bool) (*dump, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &dump{}
	r := rdb.NewReader(f)
	if streamed {
		r.Reset(iotest.OneByteReader(f))
		r.MaxPayload, r.ChunkSize = 1, 1
	}
	for {
		e, err := r.Next()
		if err == io.EOF {
			return d, nil
		}
		if err != nil {
			return d, err
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		rec, err := ourRecord(e)
		if err != nil {
			return d, fmt.Errorf("key %q: %w", e.Key, err)
		}
		d.add(dbKey{e.DB, string(e.Key)}, rec)
	}
}

func ourRecord(e *rdb.Entry) (*record, error) {
	rec := &record{Type: e.Type.String(), ExpireAt: e.ExpireAt}
	v := e.Value()
	// A value larger than Reader.MaxPayload is streamed, its long strings
	// cut into pieces (Elem.More): join them back. The last string of an
	// element is the one that may be cut (a member, or a hash value).
	more := false
	switch e.Type {
	case rdb.TypeString:
		rec.Str = []byte{}
		for v.Next() {
			rec.Str = append(rec.Str, v.Elem().Value...)
		}
	case rdb.TypeList, rdb.TypeSet:
		rec.List = [][]byte{}
		for v.Next() {
			el := v.Elem()
			if more {
				rec.List[len(rec.List)-1] = append(rec.List[len(rec.List)-1], el.Member...)
			} else {
				rec.List = append(rec.List, bytes.Clone(el.Member))
			}
			more = el.More
		}
		if e.Type == rdb.TypeSet {
			sortBytes(rec.List)
		}
	case rdb.TypeHash:
		rec.Hash = map[string]string{}
		var field string
		var val []byte
		var exp int64
		n := 0
		for v.Next() {
			el := v.Elem()
			if !more {
				field, val, exp = string(el.Member), nil, 0
			}
			// The expiry comes with the first piece when it precedes the
			// field (HASH_METADATA), with the last when it follows the
			// value (Valkey HASH_2).
			val = append(val, el.Value...)
			if el.ExpireAt != 0 {
				exp = el.ExpireAt
			}
			more = el.More
			if more {
				continue
			}
			n++
			rec.Hash[field] = string(val)
			if exp != 0 {
				if rec.FieldTTL == nil {
					rec.FieldTTL = map[string]int64{}
				}
				rec.FieldTTL[field] = exp
			}
		}
		if n != len(rec.Hash) {
			return rec, fmt.Errorf("%d hash fields, %d distinct", n, len(rec.Hash))
		}
	case rdb.TypeZSet:
		for v.Next() {
			el := v.Elem()
			rec.ZSet = append(rec.ZSet, zMember{string(el.Member), el.Score})
		}
		sortZSet(rec.ZSet)
	case rdb.TypeStream:
		s := &streamRec{}
		rec.Stream = s
		for v.Next() {
			el := v.Elem()
			// hdt3213 keeps an entry's fields in a map[string]string filled
			// in order, so a field name given twice keeps its last value
			// and the order of the fields is lost; reduce ours the same way.
			m := make(map[string]string, len(el.Fields)/2)
			for i := 0; i+1 < len(el.Fields); i += 2 {
				m[string(el.Fields[i])] = string(el.Fields[i+1])
			}
			s.Entries = append(s.Entries, streamEntry{el.ID, m})
		}
		if info := v.Stream(); info != nil {
			ourStreamInfo(s, info, e.Encoding)
		}
	case rdb.TypeModule:
		for v.Next() {
		}
		rec.Module = v.ModuleName
	}
	return rec, v.Err()
}

func ourStreamInfo(s *streamRec, info *rdb.StreamInfo, enc rdb.Encoding) {
	s.Length, s.LastID = info.Length, info.LastID
	s.V2 = enc >= rdb.EncStreamListpacks2
	s.V3 = enc >= rdb.EncStreamListpacks3
	if s.V2 {
		s.FirstID, s.MaxDel, s.Added = info.FirstID, info.MaxDeletedID, info.EntriesAdded
	}
	for _, g := range info.Groups {
		gr := groupRec{Name: string(g.Name), LastID: g.LastID}
		if s.V2 {
			// Stored with rdbSaveLen as an unsigned 64-bit length; ours
			// reads it as int64 (-1 = SCG_INVALID_ENTRIES_READ), hdt3213 as
			// uint64: compare the bits.
			gr.EntriesRead = uint64(g.EntriesRead)
		}
		for _, p := range g.Pending {
			gr.Pending = append(gr.Pending, pendingRec{p.ID, uint64(p.DeliveryTime), p.DeliveryCount})
		}
		for _, c := range g.Consumers {
			cr := consumerRec{Name: string(c.Name), SeenTime: uint64(c.SeenTime), Pending: slices.Clone(c.Pending)}
			if s.V3 {
				cr.ActiveTime = uint64(c.ActiveTime)
			}
			gr.Consumers = append(gr.Consumers, cr)
		}
		s.Groups = append(s.Groups, gr)
	}
}

// decodeHDT reads the file with hdt3213's core.Decoder and returns the keys
// it delivered, also when it fails.
func decodeHDT(path string) (*dump, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &dump{}
	err = core.NewDecoder(f).Parse(func(o model.RedisObject) bool {
		// Keys, member strings and field names are unsafe aliases of
		// buffers the decoder allocated per value; copy what is kept.
		d.add(dbKey{o.GetDBIndex(), strings.Clone(o.GetKey())}, hdtRecord(o))
		return true
	})
	return d, err
}

func hdtRecord(o model.RedisObject) *record {
	rec := &record{Type: o.GetType()}
	if exp := o.GetExpiration(); exp != nil {
		rec.ExpireAt = exp.UnixMilli()
	}
	switch v := o.(type) {
	case *model.StringObject:
		rec.Str = bytes.Clone(v.Value)
	case *model.ListObject:
		rec.List = cloneAll(v.Values)
	case *model.SetObject:
		rec.List = cloneAll(v.Members)
		sortBytes(rec.List)
	case *model.HashObject:
		rec.Hash = make(map[string]string, len(v.Hash))
		for f, val := range v.Hash {
			rec.Hash[strings.Clone(f)] = string(val)
		}
		// FieldExpirations is nil unless the encoding stores expiries, and
		// holds 0 for a field without one: keep the expiring fields.
		for f, at := range v.FieldExpirations {
			if at != 0 {
				if rec.FieldTTL == nil {
					rec.FieldTTL = map[string]int64{}
				}
				rec.FieldTTL[strings.Clone(f)] = at
			}
		}
	case *model.ZSetObject:
		for _, z := range v.Entries {
			rec.ZSet = append(rec.ZSet, zMember{strings.Clone(z.Member), z.Score})
		}
		sortZSet(rec.ZSet)
	case *model.StreamObject:
		rec.Stream = hdtStream(v)
	case *model.ModuleTypeObject:
		// GetType returns the module type's name.
		rec.Type, rec.Module = "module", v.ModuleType
	}
	return rec
}

func hdtStream(v *model.StreamObject) *streamRec {
	s := &streamRec{Length: v.Length, LastID: hdtID(v.LastId), V2: v.Version >= 2, V3: v.Version >= 3}
	for _, node := range v.Entries {
		for _, m := range node.Msgs {
			// hdt3213 returns the entries flagged deleted (XDEL) too; ours
			// returns only the live ones, as XRANGE would.
			if m.Deleted {
				continue
			}
			fields := make(map[string]string, len(m.Fields))
			for k, val := range m.Fields {
				fields[strings.Clone(k)] = strings.Clone(val)
			}
			s.Entries = append(s.Entries, streamEntry{hdtID(m.Id), fields})
		}
	}
	if s.V2 {
		s.FirstID, s.MaxDel, s.Added = hdtID(v.FirstId), hdtID(v.MaxDeletedId), v.AddedEntriesCount
	}
	for _, g := range v.Groups {
		gr := groupRec{Name: strings.Clone(g.Name), LastID: hdtID(g.LastId)}
		if s.V2 {
			gr.EntriesRead = g.EntriesRead
		}
		for _, p := range g.Pending {
			gr.Pending = append(gr.Pending, pendingRec{hdtID(p.Id), p.DeliveryTime, p.DeliveryCount})
		}
		for _, c := range g.Consumers {
			// Before STREAM_LISTPACKS_3 no active time is stored and
			// hdt3213 copies the seen time into ActiveTime; compare it only
			// where it is stored.
			cr := consumerRec{Name: strings.Clone(c.Name), SeenTime: c.SeenTime}
			if s.V3 {
				cr.ActiveTime = c.ActiveTime
			}
			for _, id := range c.Pending {
				cr.Pending = append(cr.Pending, hdtID(id))
			}
			gr.Consumers = append(gr.Consumers, cr)
		}
		s.Groups = append(s.Groups, gr)
	}
	return s
}

func hdtID(id *model.StreamId) rdb.StreamID {
	if id == nil {
		return rdb.StreamID{}
	}
	return rdb.StreamID{MS: id.Ms, Seq: id.Sequence}
}

// hdtExpiry reduces our expiry to what hdt3213 can return. It keeps an
// expiry only when it is > 0 (parse: "if expireMs > 0"), and stores it as
// time.Unix(0, ms*int64(time.Millisecond)): nanoseconds in an int64, which
// wrap for an expiry after 2262-04-11 (the generated ttl fixtures hold one
// in year 9999). Applying the same conversion to ours keeps every expiry
// before 2262 exact and compares the later ones modulo the same wrap.
func hdtExpiry(ms int64) int64 {
	if ms <= 0 {
		return 0
	}
	return time.Unix(0, ms*int64(time.Millisecond)).UnixMilli()
}

// A differ compares the records of two decodings, a and b, and names them
// in its messages.
type differ struct {
	a, b string
	hdt  bool // b is hdt3213's: a's expiry is reduced by hdtExpiry first
}

var (
	vsHDT      = differ{"ours", "hdt3213", true}
	vsInMemory = differ{"streamed", "in memory", false}
)

// dumps reports every difference between dumps a and b. With partial, b is
// what hdt3213 returned before failing: its keys must all be in a, but a
// may have more.
func (d differ) dumps(t *testing.T, a, b *dump, partial bool) {
	t.Helper()
	for _, k := range a.dups {
		t.Errorf("%s: %v appears twice", d.a, k)
	}
	for _, k := range b.dups {
		t.Errorf("%s: %v appears twice", d.b, k)
	}
	if !partial {
		for _, k := range a.keys {
			if _, ok := b.records[k]; !ok {
				t.Errorf("%v: only in %s (%s)", k, d.a, a.records[k].Type)
			}
		}
	}
	for _, k := range b.keys {
		ra, ok := a.records[k]
		if !ok {
			t.Errorf("%v: only in %s (%s)", k, d.b, b.records[k].Type)
			continue
		}
		for _, msg := range d.record(ra, b.records[k]) {
			t.Errorf("%v: %s", k, msg)
		}
	}
	if d.hdt {
		t.Logf("compared the %d keys of hdt3213 (ours: %d)", len(b.keys), len(a.keys))
	}
}

// record lists the differences between records a and b.
func (d differ) record(a, b *record) []string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if a.Type != b.Type || a.Module != b.Module {
		add("type: %s %s %s, %s %s %s", d.a, a.Type, a.Module, d.b, b.Type, b.Module)
		return diffs
	}
	if ae := a.ExpireAt; d.hdt && hdtExpiry(ae) != b.ExpireAt {
		add("expire: %s %d ms (as hdt3213 would keep it: %d), %s %d ms", d.a, ae, hdtExpiry(ae), d.b, b.ExpireAt)
	} else if !d.hdt && ae != b.ExpireAt {
		add("expire: %s %d ms, %s %d ms", d.a, ae, d.b, b.ExpireAt)
	}
	switch a.Type {
	case "string":
		if !bytes.Equal(a.Str, b.Str) {
			add("value: %s %s, %s %s", d.a, short(a.Str), d.b, short(b.Str))
		}
	case "list":
		diffs = append(diffs, d.list("element", a.List, b.List)...)
	case "set":
		onlyA, onlyB := bytesMinus(a.List, b.List), bytesMinus(b.List, a.List)
		for _, m := range onlyA {
			add("set member %s only in %s", short(m), d.a)
		}
		for _, m := range onlyB {
			add("set member %s only in %s", short(m), d.b)
		}
	case "hash":
		diffs = append(diffs, d.hmap("hash field", a.Hash, b.Hash)...)
		for _, f := range sortedKeys(a.FieldTTL, b.FieldTTL) {
			if a.FieldTTL[f] != b.FieldTTL[f] {
				add("hash field %q expiry: %s %d, %s %d (0 = none)", f, d.a, a.FieldTTL[f], d.b, b.FieldTTL[f])
			}
		}
	case "zset":
		diffs = append(diffs, d.zset(a.ZSet, b.ZSet)...)
	case "stream":
		diffs = append(diffs, d.stream(a.Stream, b.Stream)...)
	}
	return diffs
}

func (d differ) list(what string, a, b [][]byte) []string {
	var diffs []string
	for i := range min(len(a), len(b)) {
		if !bytes.Equal(a[i], b[i]) {
			diffs = append(diffs, fmt.Sprintf("%s %d: %s %s, %s %s", what, i, d.a, short(a[i]), d.b, short(b[i])))
			if len(diffs) == 5 {
				diffs = append(diffs, "(more differences not shown)")
				break
			}
		}
	}
	if len(a) != len(b) {
		diffs = append(diffs, fmt.Sprintf("%ss: %s %d, %s %d", what, d.a, len(a), d.b, len(b)))
	}
	return diffs
}

func (d differ) hmap(what string, a, b map[string]string) []string {
	var diffs []string
	for _, f := range sortedKeys(a, b) {
		va, oka := a[f]
		vb, okb := b[f]
		switch {
		case !okb:
			diffs = append(diffs, fmt.Sprintf("%s %q only in %s (%s)", what, f, d.a, short([]byte(va))))
		case !oka:
			diffs = append(diffs, fmt.Sprintf("%s %q only in %s (%s)", what, f, d.b, short([]byte(vb))))
		case va != vb:
			diffs = append(diffs, fmt.Sprintf("%s %q: %s %s, %s %s", what, f, d.a, short([]byte(va)), d.b, short([]byte(vb))))
		}
	}
	return diffs
}

// sameScore is float64 equality where NaN equals NaN; it also tells -0 from
// +0, which both decoders read from the same bytes.
func sameScore(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

func (d differ) zset(a, b []zMember) []string {
	var diffs []string
	ma := map[string]float64{}
	for _, z := range a {
		ma[z.Member] = z.Score
	}
	mb := map[string]float64{}
	for _, z := range b {
		mb[z.Member] = z.Score
	}
	if len(ma) != len(a) || len(mb) != len(b) {
		diffs = append(diffs, fmt.Sprintf("zset: %s %d entries (%d members), %s %d (%d)", d.a, len(a), len(ma), d.b, len(b), len(mb)))
	}
	for _, m := range sortedKeys(ma, mb) {
		sa, oka := ma[m]
		sb, okb := mb[m]
		switch {
		case !okb:
			diffs = append(diffs, fmt.Sprintf("zset member %q only in %s (score %v)", m, d.a, sa))
		case !oka:
			diffs = append(diffs, fmt.Sprintf("zset member %q only in %s (score %v)", m, d.b, sb))
		case !sameScore(sa, sb):
			diffs = append(diffs, fmt.Sprintf("zset member %q: score %s %v (%#x), %s %v (%#x)",
				m, d.a, sa, math.Float64bits(sa), d.b, sb, math.Float64bits(sb)))
		}
	}
	return diffs
}

func (d differ) stream(a, b *streamRec) []string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if a == nil || b == nil {
		add("stream: %s %v, %s %v", d.a, a != nil, d.b, b != nil)
		return diffs
	}
	for i := range min(len(a.Entries), len(b.Entries)) {
		ea, eb := a.Entries[i], b.Entries[i]
		if ea.ID != eb.ID {
			add("entry %d: id %s %v, %s %v", i, d.a, ea.ID, d.b, eb.ID)
			break
		}
		for _, msg := range d.hmap("field", ea.Fields, eb.Fields) {
			add("entry %v: %s", ea.ID, msg)
		}
	}
	if len(a.Entries) != len(b.Entries) {
		add("entries: %s %d, %s %d", d.a, len(a.Entries), d.b, len(b.Entries))
	}
	if a.V2 != b.V2 || a.V3 != b.V3 {
		add("stream encoding: %s v2 %v v3 %v, %s v2 %v v3 %v", d.a, a.V2, a.V3, d.b, b.V2, b.V3)
	}
	if a.Length != b.Length || a.LastID != b.LastID || a.FirstID != b.FirstID || a.MaxDel != b.MaxDel || a.Added != b.Added {
		add("stream metadata: %s length %d last %v first %v max-deleted %v added %d, %s length %d last %v first %v max-deleted %v added %d",
			d.a, a.Length, a.LastID, a.FirstID, a.MaxDel, a.Added, d.b, b.Length, b.LastID, b.FirstID, b.MaxDel, b.Added)
	}
	if len(a.Groups) != len(b.Groups) {
		add("groups: %s %d, %s %d", d.a, len(a.Groups), d.b, len(b.Groups))
	}
	for i := range min(len(a.Groups), len(b.Groups)) {
		if !reflect.DeepEqual(a.Groups[i], b.Groups[i]) {
			add("group %d:\n\t%-9s %+v\n\t%-9s %+v", i, d.a, a.Groups[i], d.b, b.Groups[i])
		}
	}
	return diffs
}

func cloneAll(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = bytes.Clone(b)
	}
	return out
}

func sortBytes(l [][]byte) { slices.SortFunc(l, bytes.Compare) }

func sortZSet(z []zMember) {
	sort.Slice(z, func(i, j int) bool { return z[i].Member < z[j].Member })
}

// bytesMinus returns the members of sorted a that are not in sorted b,
// counting repeats.
func bytesMinus(a, b [][]byte) [][]byte {
	var out [][]byte
	j := 0
	for _, x := range a {
		for j < len(b) && bytes.Compare(b[j], x) < 0 {
			j++
		}
		if j < len(b) && bytes.Equal(b[j], x) {
			j++
			continue
		}
		out = append(out, x)
	}
	return out
}

func sortedKeys[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// short quotes b, cut to 120 bytes, with its length.
func short(b []byte) string {
	if len(b) <= 120 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:120], len(b))
}
