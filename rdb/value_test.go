package rdb

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// TestValueCompactElems checks the elements that Value decodes from
// listpacks and intsets (fillBatch, and integers formatted by Elem on
// demand) against a plain walk of the same blobs with the entry-by-entry
// decoders, for every such key of the generated fixtures. Elem is called
// for every other element only, and twice, so that an element whose
// integers were never formatted cannot leak into the next.
func TestValueCompactElems(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedDir(t, "generated"), "*", "*.rdb"))
	keys := 0
	for _, f := range files {
		eachKey(t, f, func(e *Entry) {
			want, ok := compactElems(t, e)
			if !ok {
				return
			}
			keys++
			v := e.Value()
			for i := 0; v.Next(); i++ {
				if i%2 == 1 {
					continue
				}
				v.Elem()
				el := v.Elem()
				got := fmt.Sprintf("%s|%s|%v", el.Member, el.Value, el.Score)
				if i >= len(want) || got != want[i] {
					t.Fatalf("%s key %q element %d: %q, want %q", f, e.Key, i, got, want[min(i, len(want)-1)])
				}
			}
			if err := v.Err(); err != nil {
				t.Fatalf("%s key %q: %v", f, e.Key, err)
			}
		})
	}
	if keys == 0 {
		t.Fatal("no listpack or intset keys in the fixtures")
	}
}

// compactElems decodes the elements of a listpack or intset value (lists
// as quicklist 2 nodes) entry by entry with nextListpack and leInt, as
// "member|value|score".
func compactElems(t *testing.T, e *Entry) ([]string, bool) {
	per := 1
	switch e.Encoding {
	case EncSetListpack, EncSetIntset, EncListQuicklist2:
	case EncHashListpack, EncZSetListpack:
		per = 2
	default:
		return nil, false
	}
	c := cursor{buf: e.Payload, pos: 1, end: len(e.Payload), mark: -1}
	nodes := uint64(1)
	if e.Encoding == EncListQuicklist2 {
		nodes, _ = c.plainLen()
	}
	var out, entries []string
	var scratch []byte
	for ; nodes > 0; nodes-- {
		if e.Encoding == EncListQuicklist2 {
			if container, _ := c.plainLen(); container != quicklistPacked {
				return nil, false
			}
		}
		b, err := c.str(&scratch, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if e.Encoding == EncSetIntset {
			w := int(b[0])
			for p := 8; p < len(b); p += w {
				entries = append(entries, strconv.FormatInt(leInt(b[p:p+w]), 10))
			}
			continue
		}
		bl := blob{kind: blobListpack, b: b, pos: 6, left: -1}
		for {
			s, n, isInt, done, err := bl.nextListpack()
			if err != nil {
				t.Fatal(err)
			}
			if done {
				break
			}
			if isInt {
				s = strconv.AppendInt(nil, n, 10)
			}
			entries = append(entries, string(s))
		}
	}
	for i := 0; i+per <= len(entries); i += per {
		switch {
		case per == 1:
			out = append(out, entries[i]+"||0")
		case e.Encoding == EncZSetListpack:
			f, _ := strconv.ParseFloat(entries[i+1], 64)
			out = append(out, fmt.Sprintf("%s||%v", entries[i], f))
		default:
			out = append(out, entries[i]+"|"+entries[i+1]+"|0")
		}
	}
	return out, true
}

// TestValueListpackEntries decodes listpacks holding every entry encoding
// (integers of each width at their limits, strings of 6-bit, 12-bit and
// 32-bit lengths) as a set and as a hash, and compares the elements with
// what went in.
func TestValueListpackEntries(t *testing.T) {
	var entries [][]byte
	for _, n := range []int64{0, 1, 127, 128, -1, -4096, 4095, 4096, -4097, math.MinInt16, math.MaxInt16,
		-1 << 23, 1<<23 - 1, 1 << 23, math.MinInt32, math.MaxInt32, math.MaxInt32 + 1, math.MinInt64, math.MaxInt64,
		9999, 10000, -9999, 123456789012} {
		entries = append(entries, strconv.AppendInt(nil, n, 10))
	}
	for _, n := range []int{0, 1, 63, 64, 200, 4095, 4096, 70000} {
		entries = append(entries, bytes.Repeat([]byte{'x'}, n))
	}
	entries = append(entries, []byte("-0"), []byte("007"), []byte("1e3"))
	var lb listpackBuilder
	lb.reset()
	for _, s := range entries {
		lb.appendString(s)
	}
	b, err := lb.finish()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		enc  Encoding
		per  int
	}{
		{"set", EncSetListpack, 1},
		{"hash", EncHashListpack, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			payload := appendBlob([]byte{byte(tt.enc)}, b)
			v := NewPayloadValue(payload, 11)
			i := 0
			for v.Next() {
				el := v.Elem()
				if got, want := string(el.Member), string(entries[i]); got != want {
					t.Fatalf("element %d member %.20q, want %.20q", i/tt.per, got, want)
				}
				if tt.per == 2 {
					if got, want := string(el.Value), string(entries[i+1]); got != want {
						t.Fatalf("element %d value %.20q, want %.20q", i/tt.per, got, want)
					}
				}
				i += tt.per
			}
			if err := v.Err(); err != nil || i != len(entries) {
				t.Fatalf("%d entries, err %v; want %d", i, err, len(entries))
			}
		})
	}
}

// TestStreamInfoReused checks that the stream metadata a Reader's Value
// builds in the memory of the previous stream's is what a fresh Value
// builds, on every stream of the fixtures.
func TestStreamInfoReused(t *testing.T) {
	groups := 0
	for _, path := range fixtureFiles(t) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(f)
		for {
			e, err := r.Next()
			if err != nil {
				break // the corpus has broken files; decoding them is tested elsewhere
			}
			if e.Type != TypeStream || e.Payload == nil {
				continue
			}
			v, fresh := e.Value(), NewPayloadValue(e.Payload, r.Version())
			for v.Next() {
			}
			for fresh.Next() {
			}
			got, want := v.Stream(), fresh.Stream()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: key %q: stream metadata %+v, fresh %+v", path, e.Key, got, want)
			}
			if got != nil {
				groups += len(got.Groups)
			}
		}
		f.Close()
	}
	if groups < 10 {
		t.Fatalf("only %d consumer groups in the fixtures", groups)
	}
}
