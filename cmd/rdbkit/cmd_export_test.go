package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportGolden(t *testing.T) {
	tests := []struct {
		name   string
		file   string // relative to the shared folder, or dumpRDB
		format string
		filter filterOptions
	}{
		{"export-dump-user.jsonl", dumpRDB, "jsonl", filterOptions{match: "{user:1}*"}},
		{"export-dump-types.json", dumpRDB, "json", filterOptions{types: []string{"stream", "zset", "hash"}}},
		{"export-multidb-db.csv", "generated/redis-7.2/multidb.rdb", "csv", filterOptions{dbs: []int{1, 15}}},
		{"export-ttl-no-expired.jsonl", "generated/redis-7.2/ttl.rdb", "jsonl", filterOptions{noExpired: true}},
		{"export-functions.resp", "generated/redis-7.2/functions.rdb", "resp", filterOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file != dumpRDB {
				file = sharedFile(t, file)
			}
			var out, errb bytes.Buffer
			err := runExport(context.Background(), exportOptions{file: file, format: tt.format, filter: tt.filter, now: testNow}, &out, &errb)
			if err != nil {
				t.Fatal(err)
			}
			got := out.Bytes()
			if tt.format == "resp" { // one command a line in the golden file
				got = bytes.ReplaceAll(got, []byte("\r\n*"), []byte("\r\n\n*"))
			}
			checkGolden(t, tt.name, got)
			if !strings.HasPrefix(errb.String(), "export: ") {
				t.Errorf("no summary on stderr: %q", errb.String())
			}
		})
	}
}

// TestExportOutputFile checks -o: the file is written whole and renamed
// into place; on an error no file is left, and an existing one is kept.
func TestExportOutputFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	code, stdout, stderr := runCLI(t, "export", dumpRDB, "-o", out)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "export: 356 keys written, 0 left out by the filters") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	_, direct, _ := runCLI(t, "export", dumpRDB)
	got, err := os.ReadFile(out)
	if err != nil || string(got) != direct {
		t.Fatalf("-o wrote %d bytes (%v), stdout gives %d", len(got), err, len(direct))
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}
	checkOnly(t, dir, "out.jsonl")

	data, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.rdb")
	if err := os.WriteFile(truncated, data[:len(data)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"jsonl", "json", "csv", "resp"} {
		fresh := filepath.Join(dir, "fresh."+format)
		code, _, stderr := runCLI(t, "export", truncated, "--format", format, "-o", fresh)
		if code != exitFailure || !strings.Contains(stderr, "truncated") {
			t.Errorf("%s: exit %d, stderr %q", format, code, stderr)
		}
		code, _, _ = runCLI(t, "export", truncated, "--format", format, "-o", out)
		if code != exitFailure {
			t.Errorf("%s: exit %d", format, code)
		}
	}
	if again, _ := os.ReadFile(out); !bytes.Equal(again, got) {
		t.Error("a failed export changed the existing output file")
	}
	checkOnly(t, dir, "out.jsonl", "truncated.rdb")

	code, _, stderr = runCLI(t, "export", dumpRDB, "-o", filepath.Join(dir, "no", "such", "dir.jsonl"))
	if code != exitFailure || !strings.Contains(stderr, "no such file or directory") {
		t.Errorf("missing directory: exit %d, stderr %q", code, stderr)
	}
}

// checkOnly fails unless dir holds exactly the files named.
func checkOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func TestExportUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad format", []string{"export", "--format", "xml", dumpRDB}, exitUsage, `rdbkit: --format "xml": want jsonl, json, csv or resp`},
		{"restore without resp", []string{"export", "--restore", dumpRDB}, exitUsage, "--restore, --replace and --target-version go with --format resp"},
		{"target without resp", []string{"export", "-f", "csv", "--target-version", "10", dumpRDB}, exitUsage, "go with --format resp"},
		{"bad target", []string{"export", "-f", "resp", "--target-version", "14", dumpRDB}, exitUsage, "--target-version 14: want 1 to 13 (Redis) or 80 to 81 (Valkey)"},
		{"no file", []string{"export"}, exitUsage, "missing FILE argument"},
		{"missing file", []string{"export", "nope.rdb"}, exitFailure, "open nope.rdb"},
		{"bad filter", []string{"export", "--type", "blob", dumpRDB}, exitUsage, `--type "blob"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q", code, stdout, stderr, tt.code, tt.stderr)
			}
		})
	}
}

// TestExportFlags checks that the command line reaches runExport: filters,
// format, --restore, --replace and --target-version.
func TestExportFlags(t *testing.T) {
	code, stdout, stderr := runCLI(t, "export", dumpRDB, "--type", "zset", "--format", "json")
	if code != 0 || !strings.Contains(stderr, "export: 1 keys written, 355 left out by the filters") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var recs []map[string]any
	if err := json.Unmarshal([]byte(stdout), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || recs[5]["type"] != "zset" { // 5 aux fields, then the key
		t.Errorf("%d records: %v", len(recs), recs)
	}
	code, stdout, stderr = runCLI(t, "export", dumpRDB, "--match", "{user:1}:name", "-f", "resp", "--restore", "--replace", "--target-version", "10")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "$7\r\nRESTORE\r\n$13\r\n{user:1}:name\r\n$13\r\n4102444800000\r\n") ||
		!strings.HasSuffix(stdout, "$6\r\nABSTTL\r\n$7\r\nREPLACE\r\n") ||
		!strings.Contains(stdout, "\n\x00\x03ann\n\x00") { // the payload, with footer version 10
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, "1 keys with RESTORE") {
		t.Errorf("stderr %q", stderr)
	}
}
