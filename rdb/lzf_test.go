package rdb

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// lzfSamples collects the LZF-compressed values of a fixture file (strings
// and blobs alike) with their lengths.
func lzfSamples(t testing.TB) (ins [][]byte, ulens []int) {
	data, err := os.ReadFile(filepath.Join(sharedDir(t, "generated"), "redis-7.2", "all-in-one.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(data))
	for {
		e, err := r.Next()
		if err == io.EOF {
			return ins, ulens
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != KindKey || len(e.Payload) < 2 || e.Payload[1] != 0xc3 {
			continue
		}
		c := cursor{buf: e.Payload, pos: 2, end: len(e.Payload), mark: -1}
		cl, ul, err := c.lzfHeader(1 << 30)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, e.Payload[c.pos:c.pos+cl])
		ulens = append(ulens, ul)
	}
}

func TestLZFErrors(t *testing.T) {
	ins, ulens := lzfSamples(t)
	if len(ins) < 5 {
		t.Fatalf("only %d LZF samples", len(ins))
	}
	for i, in := range ins {
		out := make([]byte, ulens[i])
		if err := lzfDecompress(out, in); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		// cuts and wrong output lengths must fail cleanly
		for n := 0; n < len(in); n += max(1, len(in)/64) {
			if err := lzfDecompress(make([]byte, ulens[i]), in[:n]); err == nil {
				t.Fatalf("sample %d cut at %d: no error", i, n)
			}
		}
		for _, d := range []int{-1, 1} {
			if err := lzfDecompress(make([]byte, ulens[i]+d), in); err == nil {
				t.Fatalf("sample %d with output %+d: no error", i, d)
			}
		}
	}
}

func BenchmarkLZF(b *testing.B) {
	ins, ulens := lzfSamples(b)
	total := 0
	for _, n := range ulens {
		total += n
	}
	outs := make([][]byte, len(ins))
	for i := range outs {
		outs[i] = make([]byte, ulens[i])
	}
	b.SetBytes(int64(total))
	for b.Loop() {
		for i, in := range ins {
			if err := lzfDecompress(outs[i], in); err != nil {
				b.Fatal(err)
			}
		}
	}
}
