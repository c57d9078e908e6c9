package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestMapping checks that a regular file is mapped with its bytes, that
// release drops the pages behind the scan in steps, and that the memory
// report of a mapped file is the one read from a pipe (not mapped).
func TestMapping(t *testing.T) {
	in, err := openRDB(dumpRDB, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	m := in.mapped()
	if m == nil {
		t.Fatal("a regular file not mapped")
	}
	defer m.Close()
	want, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.data, want) {
		t.Fatal("the mapping is not the file")
	}

	big := filepath.Join(t.TempDir(), "big")
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*releaseStep/16+100)
	if err := os.WriteFile(big, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bm := mapFile(f, int64(len(data)))
	if bm == nil {
		t.Fatal("not mapped")
	}
	defer bm.Close()
	page := os.Getpagesize()
	for _, step := range []struct{ off, released int }{
		{100, 0}, {releaseStep - 1, 0}, // less than a step: nothing
		{releaseStep + page + 5, releaseStep + page}, // whole pages only
		{2*releaseStep + page - 1, releaseStep + page},
		{2*releaseStep + page, 2*releaseStep + page},
		{len(data), 2*releaseStep + page},
	} {
		bm.release(int64(step.off))
		if bm.released != step.released {
			t.Errorf("release(%d): %d released, want %d", step.off, bm.released, step.released)
		}
		if tail := bm.data[bm.released:]; !bytes.Equal(tail, data[bm.released:]) {
			t.Errorf("release(%d): the bytes after it changed", step.off)
		}
	}

	// The same report from the mapped file and from a pipe.
	report := func(file string) string {
		var out bytes.Buffer
		o := memoryOpts(file)
		o.json = true
		if err := runMemory(context.Background(), o, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	stdin := os.Stdin
	defer func() { os.Stdin = stdin }()
	if os.Stdin, err = os.Open(dumpRDB); err != nil {
		t.Fatal(err)
	}
	defer os.Stdin.Close()
	if got, want := report(dumpRDB), report("-"); got != want {
		t.Errorf("mapped and piped reports differ:\n%s\n%s", got, want)
	}
}
