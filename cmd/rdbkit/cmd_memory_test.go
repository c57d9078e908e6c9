package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func memoryOpts(file string) memoryOptions {
	return memoryOptions{
		file: file, top: 5, prefixDepth: 3, separator: ":", maxPrefixes: 10000,
		server: "auto", quantum: 8, now: testNow,
	}
}

func TestMemoryGolden(t *testing.T) {
	tests := []struct {
		name string
		opts func(o *memoryOptions)
	}{
		{"memory-dump", func(o *memoryOptions) {}},
		{"memory-dump.json", func(o *memoryOptions) { o.json = true }},
		{"memory-dump.csv", func(o *memoryOptions) { o.csv = true }},
		{"memory-dump-filter", func(o *memoryOptions) {
			o.filter = filterOptions{match: "{user:1}*"}
			o.server, o.quantum, o.loaded, o.prefixDepth = "7.0", 16, true, 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := memoryOpts(dumpRDB)
			tt.opts(&o)
			var out bytes.Buffer
			if err := runMemory(context.Background(), o, &out); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, out.Bytes())
		})
	}
}

// TestMemoryHTML writes the HTML report through a temporary file and a
// rename: the page holds the same data as --json, and no temporary file
// is left behind, after a success or a failure.
func TestMemoryHTML(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	o := memoryOpts(dumpRDB)
	o.json, o.html = true, page
	var out bytes.Buffer
	if err := runMemory(context.Background(), o, &out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="data">(.*?)</script>`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no data in the page")
	}
	var inPage, printed any
	if err := json.Unmarshal(m[1], &inPage); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &printed); err != nil {
		t.Fatal(err)
	}
	x, _ := json.Marshal(inPage)
	y, _ := json.Marshal(printed)
	if !bytes.Equal(x, y) {
		t.Errorf("page data differs from --json")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}

	// A directory in the way of the rename: the old page stays whole and
	// no temporary file is left.
	blocked := filepath.Join(dir, "blocked.html")
	if err := os.Mkdir(blocked, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blocked, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o.html = blocked
	if err := runMemory(context.Background(), o, new(bytes.Buffer)); err == nil {
		t.Fatal("no error renaming over a directory")
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files left after a failure: %v", entries)
	}
}

func TestMemoryCLI(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"text", []string{"memory", dumpRDB, "--top", "3"}, exitOK, "Biggest keys by memory (top 3)", ""},
		{"json", []string{"memory", "--json", dumpRDB}, exitOK, `"top_by_bytes": [`, ""},
		{"csv", []string{"memory", dumpRDB, "--csv", "--type", "hash"}, exitOK, "total,,,,,,1,", ""},
		{"csv and json", []string{"memory", "--csv", "--json", dumpRDB}, exitUsage, "", "--csv and --json exclude each other"},
		{"bad quantum", []string{"memory", "--quantum", "12", dumpRDB}, exitUsage, "", "--quantum 12: want 8 or 16"},
		{"bad server", []string{"memory", "--server", "6.0", dumpRDB}, exitUsage, "", `--server "6.0"`},
		{"bad top", []string{"memory", "--top", "0", dumpRDB}, exitUsage, "", "--top 0"},
		{"no prefixes", []string{"memory", "--prefix-depth", "0", dumpRDB}, exitOK, "By type", ""},
		{"missing file", []string{"memory", "nope.rdb"}, exitFailure, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
		})
	}
}

func TestMemoryCorrupt(t *testing.T) {
	data, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "truncated.rdb")
	if err := os.WriteFile(path, data[:4096], 0o644); err != nil {
		t.Fatal(err)
	}
	err = runMemory(context.Background(), memoryOpts(path), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "truncated.rdb") {
		t.Fatalf("error %v", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
