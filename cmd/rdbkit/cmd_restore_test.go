package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rdbkit/rdbkit/loader"
)

func TestParseDBMap(t *testing.T) {
	tests := []struct {
		in   []string
		want map[int]int
		err  string
	}{
		{nil, map[int]int{}, ""},
		{[]string{"0=3"}, map[int]int{0: 3}, ""},
		{[]string{"1=0,2=0", "15=5"}, map[int]int{1: 0, 2: 0, 15: 5}, ""},
		{[]string{"1=2", "1=2"}, map[int]int{1: 2}, ""},
		{[]string{"1=2", "1=3"}, nil, "mapped twice"},
		{[]string{"1:2"}, nil, "SRC=DST"},
		{[]string{"-1=2"}, nil, "SRC=DST"},
		{[]string{"a=b"}, nil, "SRC=DST"},
	}
	for _, tt := range tests {
		got, err := parseDBMap("restore", tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseDBMap(%q): %v, want an error with %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseDBMap(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512", 512, true},
		{"64k", 64 << 10, true},
		{"64KB", 64 << 10, true},
		{"64KiB", 64 << 10, true},
		{"1m", 1 << 20, true},
		{"2g", 2 << 30, true},
		{"", 0, false},
		{"lots", 0, false},
		{"-1", 0, false},
		{"1t", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize("restore", "max-payload", tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestCheckpointFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dump.rdb")
	if err := os.WriteFile(file, []byte("REDIS0011 not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cp")
	cp, err := openCheckpoint(path, file, "redis://h", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.write(loader.Checkpoint{Offset: 100, Done: []int64{300, 500}, Last: 600, Keys: 10}, false); err != nil {
		t.Fatal(err)
	}
	res, err := openCheckpoint(path, file, "redis://h", true)
	if err != nil {
		t.Fatal(err)
	}
	for off, want := range map[int64]bool{50: true, 100: true, 200: false, 300: true, 500: true, 700: false} {
		if res.skip(off) != want {
			t.Errorf("skip(%d) = %v", off, !want)
		}
	}
	for off, want := range map[int64]bool{100: false, 200: true, 300: false, 600: true, 700: false} {
		if res.inDoubt(off) != want {
			t.Errorf("inDoubt(%d) = %v", off, !want)
		}
	}
	// The resumed run settles 200 and 400: its own progress starts there.
	got := res.merge(loader.Checkpoint{Offset: 400, Done: []int64{700}, Last: 700, Keys: 3})
	want := loader.Checkpoint{Offset: 400, Done: []int64{500, 700}, Last: 700, Keys: 13}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merge = %+v, want %+v", got, want)
	}
	// Another file: refused.
	if err := os.WriteFile(file, []byte("REDIS0011 another file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openCheckpoint(path, file, "redis://h", true); err == nil || !strings.Contains(err.Error(), "another file") {
		t.Errorf("resume with another file: %v", err)
	}
	// No checkpoint yet: start from the beginning.
	res, err = openCheckpoint(filepath.Join(dir, "none"), file, "redis://h", true)
	if err != nil || res.skip(0) {
		t.Errorf("missing checkpoint: %v", err)
	}
}
