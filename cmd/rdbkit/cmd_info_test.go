package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/rdb"
)

func TestInfoGolden(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		json   bool
		filter filterOptions
	}{
		{"dump.info", dumpRDB, false, filterOptions{}},
		{"dump.info.json", dumpRDB, true, filterOptions{}},
		{"dump.info-filter", dumpRDB, false, filterOptions{match: "{user:1}*", types: []string{"hash", "set", "string"}}},
		{"ttl.info", "generated/redis-7.2/ttl.rdb", false, filterOptions{}},
		{"ttl.info-no-expired", "generated/redis-7.2/ttl.rdb", false, filterOptions{noExpired: true}},
		{"multidb.info", "generated/redis-7.2/multidb.rdb", false, filterOptions{}},
		{"functions.info", "generated/redis-7.2/functions.rdb", false, filterOptions{}},
		{"functions.info.json", "generated/redis-7.2/functions.rdb", true, filterOptions{}},
		{"cluster-7.4.info", "generated/redis-7.4/cluster.rdb", false, filterOptions{}},
		{"cluster-valkey-8.0.info", "generated/valkey-8.0/cluster.rdb", false, filterOptions{}},
		{"hash-fe.info", "generated/redis-7.4/hash-fe.rdb", false, filterOptions{}},
		{"module-aux.info", "corpus/librdb/test/dumps/module_aux_v12.rdb", false, filterOptions{}},
		{"old.info", "corpus/hdt3213-rdb/cases/parser_filters.rdb", false, filterOptions{}},
		{"script.info", "corpus/librdb/test/dumps/script_legacy.rdb", false, filterOptions{}},
		{"valkey9.info", "corpus/hdt3213-rdb/cases/valkey_hash2_with_hfe.rdb", false, filterOptions{}},
		{"repl.info", "corpus/redis-redis/test.rdb", false, filterOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file != dumpRDB {
				file = sharedFile(t, file)
			}
			var out bytes.Buffer
			err := runInfo(context.Background(), infoOptions{file: file, json: tt.json, filter: tt.filter, now: testNow}, &out)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, out.Bytes())
		})
	}
}

// TestInfoCorrupt prints what was gathered up to the fault and returns the
// error with its offset.
func TestInfoCorrupt(t *testing.T) {
	data, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "truncated.rdb")
	if err := os.WriteFile(path, data[:4096], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, asJSON := range []bool{false, true} {
		var out bytes.Buffer
		err := runInfo(context.Background(), infoOptions{file: path, json: asJSON, now: testNow}, &out)
		var re *rdb.Error
		if !errors.As(err, &re) || re.Offset != 4096 || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("error %v, want a truncation at 4096", err)
		}
		got := bytes.ReplaceAll(out.Bytes(), []byte(path), []byte("truncated.rdb"))
		name := "truncated.info"
		if asJSON {
			name += ".json"
			var rep infoReport
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Error == nil || rep.Error.Offset == nil || *rep.Error.Offset != 4096 || rep.Checksum.State != "unread" || rep.Keys == 0 {
				t.Errorf("report %+v", rep)
			}
		}
		checkGolden(t, name, got)
	}
}

// TestInfoChecksumMismatch gathers the whole file, then fails.
func TestInfoChecksumMismatch(t *testing.T) {
	path := sharedFile(t, "corpus/librdb/test/dumps/invalid_chksum_v8.rdb")
	var out bytes.Buffer
	err := runInfo(context.Background(), infoOptions{file: path, now: testNow}, &out)
	if !errors.Is(err, rdb.ErrChecksum) {
		t.Fatalf("error %v, want ErrChecksum", err)
	}
	checkGolden(t, "invalid-checksum.info", out.Bytes())
}

// TestInfoMatchesDecoder checks info's counts against a plain decoder loop
// over every generated fixture.
func TestInfoMatchesDecoder(t *testing.T) {
	dir := sharedFile(t, "generated")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.rdb"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range append(files, dumpRDB) {
		for _, maxPayload := range []int{0, 100} {
			var out bytes.Buffer
			if err := runInfo(context.Background(), infoOptions{file: path, json: true, now: testNow, maxPayload: maxPayload}, &out); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			var got infoReport
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			want := countKeys(t, path, maxPayload)
			if got.Keys != want.keys || got.Streamed != want.streamed || got.Payload != want.payload ||
				got.Expiry.Keys != want.expires || got.Expiry.Expired != want.expired ||
				len(got.Functions) != want.functions || got.Checksum.State != "ok" {
				t.Errorf("%s (max payload %d): keys %d/%d, streamed %d/%d, payload %d/%d, expires %d/%d, expired %d/%d, functions %d/%d, checksum %s",
					path, maxPayload, got.Keys, want.keys, got.Streamed, want.streamed, got.Payload, want.payload,
					got.Expiry.Keys, want.expires, got.Expiry.Expired, want.expired, len(got.Functions), want.functions, got.Checksum.State)
			}
			for typ, n := range want.types {
				if got.Types[typ] != n {
					t.Errorf("%s: %d %s keys, want %d", path, got.Types[typ], typ, n)
				}
			}
		}
	}
}

type keyCounts struct {
	keys, streamed, payload, expires, expired int64
	functions                                 int
	types                                     map[string]int64
}

func countKeys(t *testing.T, path string, maxPayload int) keyCounts {
	t.Helper()
	r := fixtures.Open(t, path)
	r.MaxPayload = maxPayload
	c := keyCounts{types: map[string]int64{}}
	for {
		e, err := r.Next()
		if err == io.EOF {
			return c
		}
		if err != nil {
			t.Fatal(err)
		}
		switch e.Kind {
		case rdb.KindFunction:
			c.functions++
		case rdb.KindKey:
			c.keys++
			c.types[e.Type.String()]++
			if e.Payload == nil {
				c.streamed++
			}
			c.payload += int64(len(e.Payload))
			if e.ExpireAt != 0 {
				c.expires++
				if e.ExpireAt < testNow.UnixMilli() {
					c.expired++
				}
			}
		}
	}
}
