package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/rdb"
)

func TestKeysGolden(t *testing.T) {
	tests := []struct {
		name   string
		file   string // relative to the shared folder, or dumpRDB
		json   bool
		filter filterOptions
	}{
		{"dump.keys", dumpRDB, false, filterOptions{}},
		{"dump.keys.jsonl", dumpRDB, true, filterOptions{}},
		{"dump.keys-match", dumpRDB, false, filterOptions{match: "cl:ttl:1?"}},
		{"dump.keys-regex", dumpRDB, false, filterOptions{regex: `^\{user:1\}:(name|tags)$`}},
		{"dump.keys-type", dumpRDB, true, filterOptions{types: []string{"stream", "zset"}}},
		{"strings.keys", "generated/redis-7.2/strings.rdb", false, filterOptions{}},
		{"strings.keys.jsonl", "generated/redis-7.2/strings.rdb", true, filterOptions{}},
		{"multidb.keys-db", "generated/redis-7.2/multidb.rdb", false, filterOptions{dbs: []int{1, 15}}},
		{"ttl.keys", "generated/redis-7.2/ttl.rdb", false, filterOptions{}},
		{"ttl.keys-no-expired", "generated/redis-7.2/ttl.rdb", true, filterOptions{noExpired: true}},
		{"hash-fe.keys.jsonl", "generated/redis-7.4/hash-fe.rdb", true, filterOptions{}},
		{"module.keys", "corpus/librdb/test/dumps/module_aux_v12.rdb", false, filterOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file != dumpRDB {
				file = sharedFile(t, file)
			}
			var out bytes.Buffer
			err := runKeys(context.Background(), keysOptions{file: file, json: tt.json, filter: tt.filter, now: testNow}, &out)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, out.Bytes())
		})
	}
}

// keyRecord is what the decoder says of a key, to compare keys' output with.
type keyRecord struct {
	db       int
	key      []byte
	typ      string
	encoding string
	expireAt int64
	size     int // -1 for a streamed entry
}

func decodeKeys(t *testing.T, path string, maxPayload int) []keyRecord {
	t.Helper()
	r := fixtures.Open(t, path)
	r.MaxPayload = maxPayload
	var recs []keyRecord
	for {
		e, err := r.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		size := len(e.Payload)
		if e.Streamed() {
			size = -1
		}
		recs = append(recs, keyRecord{e.DB, bytes.Clone(e.Key), e.Type.String(), e.ObjectEncoding(), e.ExpireAt, size})
	}
}

var decoderFixtures = []string{
	"generated/redis-7.2/strings.rdb",
	"generated/redis-7.2/multidb.rdb",
	"generated/redis-7.2/ttl.rdb",
	"generated/redis-7.2/streams.rdb",
	"generated/redis-7.4/all-in-one.rdb",
	"generated/valkey-8.0/all-in-one.rdb",
	"generated/redis-7.0.15/lists.rdb",
	"corpus/librdb/test/dumps/module_aux_v12.rdb",
	"corpus/hdt3213-rdb/cases/parser_filters.rdb",
}

// TestKeysJSONMatchesDecoder parses keys --json back with encoding/json and
// compares every field with the decoder, with values kept whole and with
// most of them streamed (size null).
func TestKeysJSONMatchesDecoder(t *testing.T) {
	files := []string{dumpRDB}
	for _, rel := range decoderFixtures {
		files = append(files, sharedFile(t, rel))
	}
	for _, path := range files {
		for _, maxPayload := range []int{0, 64} {
			t.Run(path+"/max="+strconv.Itoa(maxPayload), func(t *testing.T) {
				want := decodeKeys(t, path, maxPayload)
				var out bytes.Buffer
				if err := runKeys(context.Background(), keysOptions{file: path, json: true, maxPayload: maxPayload, now: testNow}, &out); err != nil {
					t.Fatal(err)
				}
				got := parseJSONLines(t, out.Bytes())
				compareKeyRecords(t, got, want)
				if maxPayload > 0 && !bytes.Contains(out.Bytes(), []byte(`"size":null}`)) && hasStreamed(want) {
					t.Error("no streamed entry")
				}
			})
		}
	}
}

func hasStreamed(recs []keyRecord) bool {
	for _, r := range recs {
		if r.size < 0 {
			return true
		}
	}
	return false
}

func parseJSONLines(t *testing.T, out []byte) []keyRecord {
	t.Helper()
	var recs []keyRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var line struct {
			DB       *int            `json:"db"`
			Key      json.RawMessage `json:"key"`
			Type     *string         `json:"type"`
			Encoding *string         `json:"encoding"`
			ExpireAt *int64          `json:"expire_at"`
			Size     *int            `json:"size"`
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("%s: %v", sc.Bytes(), err)
		}
		if line.DB == nil || line.Key == nil || line.Type == nil || line.Encoding == nil {
			t.Fatalf("field missing in %s", sc.Bytes())
		}
		for _, f := range []string{`"expire_at":`, `"size":`} {
			if !bytes.Contains(sc.Bytes(), []byte(f)) {
				t.Fatalf("%s missing in %s", f, sc.Bytes())
			}
		}
		rec := keyRecord{db: *line.DB, key: jsonKey(t, line.Key), typ: *line.Type, encoding: *line.Encoding, size: -1}
		if line.ExpireAt != nil {
			rec.expireAt = *line.ExpireAt
			if rec.expireAt == 0 {
				t.Errorf("expire_at 0 instead of null in %s", sc.Bytes())
			}
		}
		if line.Size != nil {
			rec.size = *line.Size
		}
		recs = append(recs, rec)
	}
	return recs
}

// jsonKey decodes a lossless JSON byte string: a string, or {"base64":...}.
func jsonKey(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []byte(s)
	}
	var obj struct {
		Base64 *string `json:"base64"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Base64 == nil {
		t.Fatalf("key %s: neither a string nor {\"base64\":...}", raw)
	}
	b, err := base64.StdEncoding.DecodeString(*obj.Base64)
	if err != nil {
		t.Fatalf("key %s: %v", raw, err)
	}
	return b
}

func compareKeyRecords(t *testing.T, got, want []keyRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.db != w.db || !bytes.Equal(g.key, w.key) || g.typ != w.typ || g.encoding != w.encoding ||
			g.expireAt != w.expireAt || g.size != w.size {
			t.Errorf("key %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// TestKeysTextMatchesDecoder parses the text lines back: six tab-separated
// fields, the key as is or Go-quoted.
func TestKeysTextMatchesDecoder(t *testing.T) {
	files := []string{dumpRDB}
	for _, rel := range decoderFixtures {
		files = append(files, sharedFile(t, rel))
	}
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			want := decodeKeys(t, path, 64)
			var out bytes.Buffer
			if err := runKeys(context.Background(), keysOptions{file: path, maxPayload: 64, now: testNow}, &out); err != nil {
				t.Fatal(err)
			}
			var got []keyRecord
			for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				if line == "" && len(want) == 0 {
					break
				}
				got = append(got, parseKeyLine(t, line))
			}
			compareKeyRecords(t, got, want)
		})
	}
}

func parseKeyLine(t *testing.T, line string) keyRecord {
	t.Helper()
	f := strings.Split(line, "\t")
	if len(f) != 6 {
		t.Fatalf("%d fields in %q", len(f), line)
	}
	db, err := strconv.Atoi(f[0])
	if err != nil {
		t.Fatalf("db in %q: %v", line, err)
	}
	rec := keyRecord{db: db, typ: f[1], encoding: f[2], key: []byte(f[3]), size: -1}
	if strings.HasPrefix(f[3], `"`) {
		k, err := strconv.Unquote(f[3])
		if err != nil {
			t.Fatalf("key in %q: %v", line, err)
		}
		rec.key = []byte(k)
	}
	if f[4] != "-" {
		tm, err := time.Parse("2006-01-02T15:04:05.000Z07:00", f[4])
		if err != nil || !strings.HasSuffix(f[4], "Z") {
			t.Fatalf("expiry in %q: %v", line, err)
		}
		rec.expireAt = tm.UnixMilli()
	}
	if f[5] != "-" {
		if rec.size, err = strconv.Atoi(f[5]); err != nil {
			t.Fatalf("size in %q: %v", line, err)
		}
	}
	return rec
}

func TestAppendKeyText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"user:1", "user:1"},
		{"with space", "with space"},
		{"clé ☃", "clé ☃"},
		{"", `""`},
		{`"quoted"`, `"\"quoted\""`},
		{`in"side`, `in"side`},
		{`back\slash`, `back\slash`},
		{"tab\there", `"tab\there"`},
		{"new\nline", `"new\nline"`},
		{"nul\x00", `"nul\x00"`},
		{"del\x7f", `"del\x7f"`},
		{"\xff\xfe", `"\xff\xfe"`},
		{"nbsp\u00a0", `"nbsp\u00a0"`},
		{"zero\u200bwidth", `"zero\u200bwidth"`},
		{"ls\u2028", `"ls\u2028"`},
	}
	for _, tt := range tests {
		got := string(appendKeyText(nil, []byte(tt.in)))
		if got != tt.want {
			t.Errorf("appendKeyText(%q) = %s, want %s", tt.in, got, tt.want)
		}
		back := got
		if strings.HasPrefix(got, `"`) {
			var err error
			if back, err = strconv.Unquote(got); err != nil {
				t.Errorf("%s: %v", got, err)
			}
		}
		if back != tt.in {
			t.Errorf("%q came back as %q", tt.in, back)
		}
	}
}

func TestKeysStdin(t *testing.T) {
	f, err := os.Open(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	var out bytes.Buffer
	if err := runKeys(context.Background(), keysOptions{file: "-", filter: filterOptions{match: "{user:1}:name"}}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "0\tstring\tembstr\t{user:1}:name\t2100-01-01T00:00:00.000Z\t5\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
