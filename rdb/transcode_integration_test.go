package rdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/rdb"
)

// The helpers roundTrip (server access), rtDecodeKey (a decoded key) and
// rtDiffKey (their comparison) come from roundtrip_integration_test.go.

// tciFiles returns every fixture that decodes cleanly: the generated files
// of every server version, then the corpus (where some files are corrupt
// on purpose, or need a module).
func tciFiles(t *testing.T) []string {
	t.Helper()
	gen := generatedDir(t)
	if gen == "" {
		t.Skip("no shared fixtures")
	}
	files, _ := filepath.Glob(filepath.Join(gen, "*", "*.rdb"))
	if len(files) < 100 {
		t.Fatalf("%d generated fixtures", len(files))
	}
	_ = filepath.Walk(filepath.Join(gen, "..", "corpus"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(p, ".rdb") && tciClean(p) {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// tciClean reports whether a file reads to its end with every value
// decoding.
func tciClean(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	r := rdb.NewReader(f)
	for {
		e, err := r.Next()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		if e.Kind == rdb.KindKey {
			v := e.Value()
			for v.Next() {
			}
			if v.Err() != nil {
				return false
			}
		}
	}
}

// TestTranscodeRestore restores every key of every fixture into a real
// Redis 7.0 (RDB 10): it transcodes the key for rdb.Target{Version: 10},
// sends it with RESTORE ... ABSTTL, and compares what the server then
// holds (TYPE, value, PEXPIRETIME) with the decoded original minus exactly
// what Transcode reported as lost. Keys whose expiry has passed (or comes
// within a minute) are skipped, as a loader does, and module values, which
// a server without the module cannot take.
func TestTranscodeRestore(t *testing.T) {
	files := tciFiles(t)
	s := redistest.Start(t)
	now := time.Now().UnixMilli()
	target := rdb.Target{Version: 10}
	var total tciStats
	type run struct {
		path  string
		now   int64
		label string
	}
	var runs []run
	for _, path := range files {
		runs = append(runs, run{path, now, ""})
		if filepath.Base(path) == "hash-fe.rdb" {
			// Two days on, the fields with relative TTLs have expired.
			runs = append(runs, run{path, now + 48*3600*1000, "/two-days-later"})
		}
	}
	for _, rn := range runs {
		rel, _ := filepath.Rel(filepath.Join(generatedDir(t), ".."), rn.path)
		t.Run(rel+rn.label, func(t *testing.T) {
			rt := &roundTrip{t: t, s: s}
			rt.do(0, "FLUSHALL")
			f, err := os.Open(rn.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r := rdb.NewReader(f)
			for {
				e, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if e.Kind == rdb.KindKey {
					tciRestoreKey(rt, e, target, rn.now, &total)
				}
			}
		})
	}
	t.Logf("%+v", total)
	if total.Restored < 4000 || total.Transcoded < 200 || total.FieldTTLs == 0 || total.ExpiredFields == 0 || total.ActiveTimes == 0 || total.IDMP == 0 {
		t.Errorf("coverage too low: %+v", total)
	}
}

type tciStats struct {
	Restored, Transcoded, Expired, Modules, Empty, Refused int
	ExpiredFields, FieldTTLs, ActiveTimes, IDMP            int
	Encodings                                              map[string]int
}

func tciRestoreKey(rt *roundTrip, e *rdb.Entry, target rdb.Target, now int64, st *tciStats) {
	t := rt.t
	t.Helper()
	name := fmt.Sprintf("db %d key %q (%v)", e.DB, e.Key, e.Encoding)
	if e.ExpireAt != 0 && e.ExpireAt < now+60_000 {
		st.Expired++
		return
	}
	out, loss, err := rdb.Transcode(nil, e.Payload, e.Encoding, target, now)
	if e.Type == rdb.TypeModule {
		if err != nil || !bytes.Equal(out, e.Payload) {
			t.Errorf("%s: a module value for RDB 10 should pass unchanged: %v", name, err)
		}
		st.Modules++
		return
	}
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	want, _, err := rtDecodeKey(e)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ttls := tciFieldTTLs(t, e)
	if tciEmpty(want) { // corrupt on purpose: Redis refuses empty collections
		st.Empty++
		return
	}
	if loss.Expired {
		for f, exp := range ttls {
			if exp >= now {
				t.Errorf("%s: every field expired, but %q expires at %d", name, f, exp)
			}
		}
		if len(ttls) != len(want.Hash) || len(out) != 0 {
			t.Errorf("%s: Expired with %d of %d fields having a TTL, %d bytes", name, len(ttls), len(want.Hash), len(out))
		}
		st.Expired++
		return
	}
	tciExpect(t, name, e, want, ttls, now, loss)
	if !bytes.Equal(out, e.Payload) {
		st.Transcoded++
		if st.Encodings == nil {
			st.Encodings = map[string]int{}
		}
		st.Encodings[e.Encoding.String()+" -> "+rdb.NewPayloadValue(out, 10).Encoding.String()]++
	}
	st.ExpiredFields += loss.ExpiredFields
	st.FieldTTLs += loss.FieldTTLs
	st.ActiveTimes += loss.ActiveTimes
	st.IDMP += loss.IDMPStreams

	args := []any{"RESTORE", e.Key, e.ExpireAt, rdb.AppendDump(nil, out, target.DumpVersion()), "REPLACE"}
	if e.ExpireAt != 0 {
		args = append(args, "ABSTTL")
	}
	switch {
	case e.Freq >= 0:
		args = append(args, "FREQ", e.Freq)
	case e.Idle >= 0:
		args = append(args, "IDLETIME", e.Idle)
	}
	if _, err := rt.try(e.DB, args...); err != nil {
		if bytes.Equal(out, e.Payload) && e.Encoding == rdb.EncHashZipmap {
			// Passed through unchanged, and refused by the server: the
			// corpus has a zipmap whose count byte is 255, which our
			// decoder takes for "unknown" but Redis's deep zipmap check
			// (always on for zipmaps) rejects, as it would in a file.
			t.Logf("%s: RESTORE of the unchanged payload: %v", name, err)
			st.Refused++
			return
		}
		t.Errorf("%s: RESTORE: %v", name, err)
		return
	}
	st.Restored++
	got := rt.key(e.DB, string(e.Key))
	if want.Stream != nil && e.Encoding == rdb.EncStreamListpacks {
		tciV1Stream(t, name, want, got)
	}
	want.Encoding, got.Encoding = "", "" // the target picks its own
	for _, d := range rtDiffKey(want, got) {
		t.Errorf("%s: %s (loss: %v)", name, d, loss)
	}
}

// tciFieldTTLs returns the hash fields of e that have an expiry.
func tciFieldTTLs(t *testing.T, e *rdb.Entry) map[string]int64 {
	if e.Type != rdb.TypeHash {
		return nil
	}
	m := map[string]int64{}
	v := e.Value()
	for v.Next() {
		if el := v.Elem(); el.ExpireAt != 0 {
			m[string(el.Member)] = el.ExpireAt
		}
	}
	if err := v.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func tciEmpty(k *rtKey) bool {
	switch k.Type {
	case "list":
		return len(k.List) == 0
	case "set":
		return len(k.Set) == 0
	case "zset":
		return len(k.ZSet) == 0
	case "hash":
		return len(k.Hash) == 0
	}
	return false
}

// tciExpect removes from want what a Redis 7.0 cannot hold, checking that
// loss counts exactly that: expired fields (and field TTLs, which rtKey
// does not carry), consumers' active time, a v4 stream's IDMP state.
func tciExpect(t *testing.T, name string, e *rdb.Entry, want *rtKey, ttls map[string]int64, now int64, loss rdb.Loss) {
	t.Helper()
	var wantLoss rdb.Loss
	for f, exp := range ttls {
		if exp < now {
			delete(want.Hash, f)
			wantLoss.ExpiredFields++
		} else {
			wantLoss.FieldTTLs++
		}
	}
	if s := want.Stream; s != nil {
		for i := range s.Groups {
			for j := range s.Groups[i].Consumers {
				c := &s.Groups[i].Consumers[j]
				if e.Encoding >= rdb.EncStreamListpacks3 && c.ActiveTime != c.SeenTime {
					wantLoss.ActiveTimes++
				}
				c.ActiveTime = -1 // Redis 7.0 has no active time
			}
		}
		if e.Encoding == rdb.EncStreamListpacks4 {
			v := e.Value()
			for v.Next() {
			}
			if m := v.Stream().IDMP; m != nil {
				for _, p := range m.Producers {
					wantLoss.IDMPIDs += len(p.Entries)
				}
				if len(m.Producers) > 0 || m.IIDsAdded > 0 || m.IIDDuplicates > 0 || m.Duration != 100 || m.MaxEntries != 100 {
					wantLoss.IDMPStreams = 1
				}
			}
		}
	}
	if loss != wantLoss {
		t.Errorf("%s: loss %+v, want %+v", name, loss, wantLoss)
	}
}

// tciV1Stream fills in what Redis 7.0 computes when it loads a stream in
// the RDB 9 layout, which does not store it, after checking it: the first
// entry's id, entries added = length, no deleted id, and the groups'
// entries-read counter.
func tciV1Stream(t *testing.T, name string, want, got *rtKey) {
	ws, gs := want.Stream, got.Stream
	first := gs.FirstID // an empty stream: Redis 7.0 leaves the largest id there
	if len(ws.Entries) > 0 {
		first = ws.Entries[0].ID
	}
	if gs.FirstID != first || gs.EntriesAdded != ws.Length || gs.MaxDeletedID != "0-0" {
		t.Errorf("%s: RDB 9 stream loaded with first %s, added %d, max deleted %s; want %s, %d, 0-0",
			name, gs.FirstID, gs.EntriesAdded, gs.MaxDeletedID, first, ws.Length)
	}
	ws.FirstID, ws.EntriesAdded, ws.MaxDeletedID = gs.FirstID, gs.EntriesAdded, gs.MaxDeletedID
	for i := range min(len(ws.Groups), len(gs.Groups)) {
		ws.Groups[i].EntriesRead = gs.Groups[i].EntriesRead
	}
}

// TestTranscodeValkey transcodes hashes with field TTLs and streams from
// Redis fixtures for Valkey 9 (RDB 80), where no server runs here: it
// writes them into a VALKEY080 file and as DUMP payloads, reads both back
// with this package, and compares with the originals. Field TTLs survive
// (as Valkey's HASH_2); a v4 stream loses its IDMP state.
func TestTranscodeValkey(t *testing.T) {
	gen := generatedDir(t)
	if gen == "" {
		t.Skip("no shared fixtures")
	}
	files := []string{
		filepath.Join(gen, "redis-7.4", "hash-fe.rdb"),
		filepath.Join(gen, "redis-8.0", "all-in-one.rdb"),
		filepath.Join(gen, "..", "corpus", "librdb", "test", "dumps", "stream_v13.rdb"),
		filepath.Join(gen, "..", "corpus", "librdb", "test", "dumps", "stream_v13_idmp.rdb"),
		filepath.Join(gen, "..", "corpus", "hdt3213-rdb", "cases", "valkey_hash2_with_hfe.rdb"),
	}
	target := rdb.Target{Version: 80, Valkey: true}
	now := time.Now().UnixMilli()
	encs := map[string]int{}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var file bytes.Buffer
			w := rdb.NewWriter(&file, target.Version, true)
			want := map[string]*rtKey{} // by db and key
			wantTTL := map[string]map[string]int64{}
			db := -1
			r := rdb.NewReader(f)
			for {
				e, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if e.Kind != rdb.KindKey {
					continue
				}
				name := fmt.Sprintf("key %q (%v)", e.Key, e.Encoding)
				out, loss, err := rdb.Transcode(nil, e.Payload, e.Encoding, target, now)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				k, _, err := rtDecodeKey(e)
				if err != nil {
					t.Fatal(err)
				}
				ttls := tciFieldTTLs(t, e)
				if loss.Expired {
					continue
				}
				for f, exp := range ttls {
					if exp < now {
						delete(k.Hash, f)
						delete(ttls, f)
					}
				}
				if loss.FieldTTLs != 0 || loss.ActiveTimes != 0 {
					t.Errorf("%s: loss %v for Valkey 9", name, loss)
				}
				if e.Encoding == rdb.EncStreamListpacks4 && loss.IDMPStreams+loss.IDMPIDs == 0 && strings.Contains(path, "idmp") {
					t.Errorf("%s: IDMP state not counted as lost", name)
				}
				pv := rdb.NewPayloadValue(out, target.Version)
				encs[e.Encoding.String()+" -> "+pv.Encoding.String()]++
				if !target.Knows(pv.Encoding) {
					t.Errorf("%s: transcoded to %v", name, pv.Encoding)
				}
				// The same payload as a DUMP reply would carry it.
				payload, ver, err := rdb.ParseDump(rdb.AppendDump(nil, out, target.DumpVersion()))
				if err != nil || ver != 80 || !bytes.Equal(payload, out) {
					t.Fatalf("%s: DUMP round trip: %v %d", name, err, ver)
				}
				if e.DB != db {
					db = e.DB
					if err := w.SelectDB(db, 0, 0); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.WriteKey(e.Key, out, e.ExpireAt, -1, -1); err != nil {
					t.Fatal(err)
				}
				id := fmt.Sprint(e.DB, string(e.Key))
				want[id], wantTTL[id] = k, ttls
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			back := rdb.NewReader(bytes.NewReader(file.Bytes()))
			n := 0
			for {
				e, err := back.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if !back.Valkey() || back.Version() != 80 {
					t.Fatalf("read back as version %d, valkey %v", back.Version(), back.Valkey())
				}
				if e.Kind != rdb.KindKey {
					continue
				}
				n++
				got, _, err := rtDecodeKey(e)
				if err != nil {
					t.Fatal(err)
				}
				id := fmt.Sprint(e.DB, string(e.Key))
				wk := want[id] // Valkey keeps the v3 layout: active times survive
				if wk == nil {
					t.Fatalf("db %d key %q: not written", e.DB, e.Key)
				}
				wk.Encoding, got.Encoding = "", ""
				for _, d := range rtDiffKey(wk, got) {
					t.Errorf("key %q: %s", e.Key, d)
				}
				if g, wt := tciFieldTTLs(t, e), wantTTL[id]; len(g)+len(wt) > 0 && !maps.Equal(g, wt) {
					t.Errorf("key %q: field TTLs %v, want %v", e.Key, g, wt)
				}
			}
			if n != len(want) {
				t.Errorf("%d keys read back, want %d", n, len(want))
			}
		})
	}
	t.Logf("encodings: %v", encs)
	if encs["hash_listpack_ex -> valkey_hash_2"] == 0 || encs["stream_listpacks_4 -> stream_listpacks_3"] == 0 {
		t.Errorf("expected transcodings missing: %v", slices.Sorted(maps.Keys(encs)))
	}
}

// TestTranscodeUnknown checks that what a target cannot take at all fails
// per key with ErrUnknown, so that a loader can report it and go on.
func TestTranscodeUnknown(t *testing.T) {
	module := append([]byte{byte(rdb.EncModule2)}, 0x3f) // a module id; the rest does not matter
	_, _, err := rdb.Transcode(nil, module, rdb.EncModule2, rdb.Target{Version: 7}, 0)
	if !errors.Is(err, rdb.ErrUnknown) || !strings.Contains(err.Error(), "Redis RDB 7") {
		t.Errorf("module for RDB 7: %v", err)
	}
}
