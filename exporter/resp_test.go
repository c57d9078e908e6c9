package exporter

import (
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"testing"

	"github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/rdb"
)

// readEntries decodes a file into cloned entries.
func readEntries(t *testing.T, path string) (entries []*rdb.Entry, version int) {
	t.Helper()
	r := fixtures.Open(t, path)
	for {
		e, err := r.Next()
		if err == io.EOF {
			return entries, r.Version()
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e.Clone())
	}
}

func TestRESPSelectAndFunctions(t *testing.T) {
	out := exportFile(t, sharedFile(t, "generated/redis-7.2/multidb.rdb"), exportConfig{format: "resp"})
	var selects []string
	for _, c := range parseRESP(t, out) {
		if string(c[0]) == "SELECT" {
			selects = append(selects, string(c[1]))
		}
	}
	if got := strconv.Quote(string(bytes.Join(toBytes(selects), []byte(",")))); got != `"0,1,15"` {
		t.Errorf("SELECTs %s, want 0,1,15 once each", got)
	}

	path := sharedFile(t, "generated/redis-7.2/functions.rdb")
	entries, _ := readEntries(t, path)
	var codes [][]byte
	for _, e := range entries {
		if e.Kind == rdb.KindFunction {
			codes = append(codes, e.Aux.Value)
		}
	}
	if len(codes) != 2 {
		t.Fatalf("%d functions in the fixture", len(codes))
	}
	for _, replace := range []bool{false, true} {
		var b bytes.Buffer
		w := NewRESP(&b, RESPOptions{Replace: replace})
		for _, e := range entries {
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		for _, c := range parseRESP(t, b.Bytes()) {
			if string(c[0]) != "FUNCTION" {
				continue
			}
			want := 3
			if replace {
				want = 4
				if string(c[2]) != "REPLACE" {
					t.Errorf("no REPLACE: %q", c)
				}
			}
			if len(c) != want || string(c[1]) != "LOAD" {
				t.Fatalf("%q", c)
			}
			got = append(got, c[len(c)-1])
		}
		if !bytes.Equal(bytes.Join(got, nil), bytes.Join(codes, nil)) {
			t.Errorf("FUNCTION LOAD code differs")
		}
		if w.Stats().Functions != 2 {
			t.Errorf("stats %+v", w.Stats())
		}
	}
}

func toBytes(s []string) [][]byte {
	b := make([][]byte, len(s))
	for i := range s {
		b[i] = []byte(s[i])
	}
	return b
}

// TestRESPRestore checks the RESTORE commands: key, absolute expiry,
// a payload with the target's version and a valid checksum whose encoding
// the target knows, ABSTTL, IDLETIME or FREQ as the file has them,
// REPLACE with the option.
func TestRESPRestore(t *testing.T) {
	tests := []struct {
		file    string
		target  int
		replace bool
	}{
		{"generated/redis-7.2/lru-idle.rdb", 0, false},
		{"generated/redis-7.2/lfu.rdb", 0, true},
		{"generated/redis-7.2/ttl.rdb", 0, false},
		{"generated/redis-7.2/all-in-one.rdb", 10, false},
		{"generated/redis-7.4/all-in-one.rdb", 10, false},
		{"generated/valkey-8.0/all-in-one.rdb", 11, false},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+strconv.Itoa(tt.target), func(t *testing.T) {
			entries, version := readEntries(t, sharedFile(t, tt.file))
			target := rdb.Target{Version: version}
			if tt.target != 0 {
				target.Version = tt.target
			}
			var b bytes.Buffer
			w := NewRESP(&b, RESPOptions{Restore: true, Replace: tt.replace, Target: target, Now: testNow.UnixMilli()})
			keys := map[string]*rdb.Entry{}
			for _, e := range entries {
				if err := w.Write(e); err != nil {
					t.Fatal(err)
				}
				if e.Kind == rdb.KindKey {
					keys[strconv.Itoa(e.DB)+" "+string(e.Key)] = e
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			db := -1
			restored := 0
			for _, c := range parseRESP(t, b.Bytes()) {
				switch string(c[0]) {
				case "SELECT":
					db, _ = strconv.Atoi(string(c[1]))
					continue
				case "RESTORE":
				default:
					continue // rewritten: keys the target cannot hold in a payload
				}
				restored++
				e := keys[strconv.Itoa(db)+" "+string(c[1])]
				if e == nil {
					t.Fatalf("RESTORE of an unknown key %q in db %d", c[1], db)
				}
				if string(c[2]) != strconv.FormatInt(e.ExpireAt, 10) {
					t.Errorf("%q: ttl %s, want %d", c[1], c[2], e.ExpireAt)
				}
				p, ver, err := rdb.ParseDump(c[3])
				if err != nil || int(ver) != target.Version {
					t.Errorf("%q: payload version %d, %v", c[1], ver, err)
				}
				if enc := rdb.Encoding(p[0]); !target.Knows(enc) {
					t.Errorf("%q: encoding %v unknown to %v", c[1], enc, target)
				}
				want := []string{"ABSTTL"}
				switch {
				case e.Idle >= 0:
					want = append(want, "IDLETIME", strconv.FormatInt(e.Idle, 10))
				case e.Freq >= 0:
					want = append(want, "FREQ", strconv.FormatInt(e.Freq, 10))
				}
				if tt.replace {
					want = append(want, "REPLACE")
				}
				if got := string(bytes.Join(c[4:], []byte(" "))); got != string(bytes.Join(toBytes(want), []byte(" "))) {
					t.Errorf("%q: options %q, want %q", c[1], got, want)
				}
			}
			st := w.Stats()
			if int64(restored) != st.Restored || st.Restored+st.Rewritten+st.Expired != int64(len(keys)) || restored == 0 {
				t.Errorf("%d RESTOREs, stats %+v, %d keys", restored, st, len(keys))
			}
		})
	}
}

// TestRESPRestoreStreamed: a value too large to be in memory is written
// with commands even with Restore.
func TestRESPRestoreStreamed(t *testing.T) {
	r := fixtures.Open(t, sharedFile(t, "generated/redis-7.2/lists.rdb"))
	r.MaxPayload = 1000
	var b bytes.Buffer
	w := NewRESP(&b, RESPOptions{Restore: true, Target: rdb.Target{Version: 11}})
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Restored == 0 || st.Rewritten == 0 {
		t.Errorf("stats %+v: want keys both restored and rewritten", st)
	}
	cmds := map[string]int{}
	for _, c := range parseRESP(t, b.Bytes()) {
		cmds[string(c[0])]++
	}
	if cmds["RPUSH"] == 0 || cmds["RESTORE"] != int(st.Restored) {
		t.Errorf("commands %v, stats %+v", cmds, st)
	}
}

// expiredHash returns a HASH_LISTPACK_EX entry whose one field f=v expires
// at 1000 ms.
func expiredHash() *rdb.Entry {
	lp := []byte{0, 0, 0, 0, 3, 0, 0x81, 'f', 2, 0x81, 'v', 2, 0xc3, 0xe8, 2, 0xff}
	binary.LittleEndian.PutUint32(lp, uint32(len(lp)))
	p := []byte{byte(rdb.EncHashListpackEx)}
	p = binary.LittleEndian.AppendUint64(p, 1000)
	p = rdb.AppendString(p, lp)
	return &rdb.Entry{Kind: rdb.KindKey, Key: []byte("h"), Type: rdb.TypeHash, Encoding: rdb.EncHashListpackEx,
		Idle: -1, Freq: -1, Payload: p}
}

// TestExpiredHash: a hash whose every field has expired is left out of
// RESP, with commands or RESTORE, but kept in JSON with its expiries.
func TestExpiredHash(t *testing.T) {
	e := expiredHash()
	var j bytes.Buffer
	jw := NewJSONL(&j)
	if err := jw.Write(e); err != nil {
		t.Fatal(err)
	}
	if err := jw.Close(); err != nil {
		t.Fatal(err)
	}
	want := `{"db":0,"key":"h","type":"hash","encoding":"listpackex","expire_at":null,"value":[["f","v",1000]]}` + "\n"
	if j.String() != want {
		t.Fatalf("JSONL %s, want %s", j.String(), want)
	}
	for _, restore := range []bool{false, true} {
		var b bytes.Buffer
		w := NewRESP(&b, RESPOptions{Restore: restore, Target: rdb.Target{Version: 12}, Now: 2000})
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Expired != 1 || st.Keys != 0 {
			t.Errorf("restore %v: stats %+v", restore, st)
		}
		if cmds := parseRESP(t, b.Bytes()); len(cmds) != 1 || string(cmds[0][0]) != "SELECT" {
			t.Errorf("restore %v: %q", restore, cmds)
		}
		// Before the expiry, the field and its TTL are written.
		b.Reset()
		w = NewRESP(&b, RESPOptions{Restore: restore, Target: rdb.Target{Version: 12}, Now: 500})
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Keys != 1 {
			t.Errorf("restore %v, before the expiry: stats %+v", restore, st)
		}
	}
}

// TestRESPLost: what a target cannot hold is reported.
func TestRESPLost(t *testing.T) {
	entries, _ := readEntries(t, sharedFile(t, "generated/redis-7.4/hash-fe.rdb"))
	for _, restore := range []bool{false, true} {
		w := NewRESP(io.Discard, RESPOptions{Restore: restore, Target: rdb.Target{Version: 10}, Now: testNow.UnixMilli()})
		for _, e := range entries {
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if lost := w.Lost(); !bytes.Contains([]byte(lost), []byte("field TTL")) {
			t.Errorf("restore %v: Lost() = %q, want the field TTLs", restore, lost)
		}
	}
}

// TestRESPModule: a module value has no commands: it is restored even
// without Restore.
func TestRESPModule(t *testing.T) {
	out := exportFile(t, sharedFile(t, "corpus/librdb/test/dumps/module_aux_v12.rdb"), exportConfig{format: "resp"})
	cmds := parseRESP(t, out)
	if len(cmds) != 2 || string(cmds[1][0]) != "RESTORE" || string(cmds[1][1]) != "mykey" {
		t.Errorf("%q", cmds)
	}
}
