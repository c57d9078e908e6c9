package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestLZFHead(t *testing.T) {
	// "aaaaaaaaab": a literal 'a', a back reference of 8, a literal 'b'.
	in := []byte{0x00, 'a', 0xc0, 0x00, 0x00, 'b'}
	var buf [8]byte
	if got := lzfHead(buf[:6], in); string(got) != "aaaaaa" {
		t.Errorf("lzfHead = %q", got)
	}
	if got := lzfHead(buf[:8], in[:2]); got != nil {
		t.Errorf("lzfHead of truncated input = %q, want nil", got)
	}
}

func TestDecimalLen(t *testing.T) {
	for _, v := range []int64{0, 7, -7, 10, -10, 99, 100, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		if got, want := decimalLen(v), int64(len(strconv.FormatInt(v, 10))); got != want {
			t.Errorf("decimalLen(%d) = %d, want %d", v, got, want)
		}
	}
}

// lzfString is "aaaaaaaaab" compressed, as an RDB string.
var lzfString = []byte{0xc3, 6, 10, 0x00, 'a', 0xc0, 0x00, 0x00, 'b'}

func TestPayloadBlobString(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 100)
	tests := []struct {
		str   []byte // serialized
		len   int64
		plain []byte
		isInt bool
		ival  int64
		lzf   bool
		head  string // Head of 6 bytes
	}{
		{str: AppendString(nil, []byte("hello!")), len: 6, plain: []byte("hello!"), head: "hello!"},
		{str: AppendString(nil, nil), len: 0, plain: []byte{}},
		{str: AppendString(nil, long), len: 100, plain: long, head: "xxxxxx"},
		{str: AppendString(nil, []byte("-12")), len: 3, isInt: true, ival: -12},
		{str: AppendString(nil, []byte("1234567")), len: 7, isInt: true, ival: 1234567},
		{str: AppendString(nil, []byte("-30000")), len: 6, isInt: true, ival: -30000},
		{str: lzfString, len: 10, lzf: true, head: "aaaaaa"},
	}
	for i, tt := range tests {
		s, err := PayloadBlob(append([]byte{byte(EncString)}, tt.str...), EncString)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if s.Len != tt.len || !bytes.Equal(s.Plain(), tt.plain) || (s.Plain() == nil) != (tt.plain == nil) ||
			s.IsInt() != tt.isInt || s.Int != tt.ival || s.Compressed() != tt.lzf || !bytes.Equal(s.Span(), tt.str) {
			t.Errorf("%d: got %+v", i, s)
		}
		var buf [6]byte
		if h := s.Head(buf[:]); string(h) != tt.head || (h == nil) != (tt.head == "") {
			t.Errorf("%d: Head = %q, want %q", i, h, tt.head)
		}
		text := string(tt.plain)
		switch {
		case tt.isInt:
			text = strconv.FormatInt(tt.ival, 10)
		case tt.lzf:
			text = "aaaaaaaaab"
		}
		if got, err := s.AppendTo([]byte("<")); err != nil || string(got) != "<"+text {
			t.Errorf("%d: AppendTo = %q, %v, want %q", i, got, err, "<"+text)
		}
	}
	// A back reference before the start: an error, and dst as it was.
	bad, err := PayloadBlob([]byte{byte(EncString), 0xc3, 6, 10, 0x00, 'a', 0xc0, 0x05, 0x00, 'b'}, EncString)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := bad.AppendTo([]byte("<")); !errors.Is(err, ErrCorrupt) || string(got) != "<" {
		t.Errorf("AppendTo of corrupt LZF = %q, %v", got, err)
	}
	if _, err := new(StringLayout).AppendTo(nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("AppendTo of no string = %v", err)
	}
	for _, p := range [][]byte{{0}, {0, 5, 'a'}, {0, 0xc3, 6, 20, 0}, {0, 0xc4}, {0, 0x82}} {
		if _, err := PayloadBlob(p, EncString); !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("PayloadBlob(%x) = %v, want an error", p, err)
		}
	}
	if _, err := PayloadBlob([]byte{byte(EncList), 0}, EncList); !errors.Is(err, ErrUnknown) {
		t.Errorf("PayloadBlob of a list = %v, want ErrUnknown", err)
	}
}

func TestBlobCounts(t *testing.T) {
	var lb listpackBuilder
	lb.reset()
	for _, s := range []string{"a", "b", "c"} {
		lb.appendString([]byte(s))
	}
	lp, err := lb.finish()
	if err != nil {
		t.Fatal(err)
	}
	s, err := PayloadBlob(appendBlob([]byte{byte(EncSetListpack)}, lp), EncSetListpack)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.ListpackCount(); n != 3 || s.Len != int64(len(lp)) {
		t.Errorf("listpack: count %d, len %d of %d", n, s.Len, len(lp))
	}
	big := append([]byte(nil), lp...)
	binary.LittleEndian.PutUint16(big[4:], 65535)
	s, _ = PayloadBlob(appendBlob([]byte{byte(EncSetListpack)}, big), EncSetListpack)
	if n := s.ListpackCount(); n != -1 {
		t.Errorf("listpack of unknown count: %d", n)
	}
	var ib intsetBuilder
	ib.reset()
	for _, v := range []int64{1, 2, 70000, 3} {
		ib.add(v)
	}
	is := ib.appendTo(nil)
	s, err = PayloadBlob(appendBlob([]byte{byte(EncSetIntset)}, is), EncSetIntset)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.IntsetCount(); n != 4 || s.Len != int64(len(is)) {
		t.Errorf("intset: count %d, len %d of %d", n, s.Len, len(is))
	}
	// A blob whose header is compressed.
	s, _ = PayloadBlob(append([]byte{byte(EncSetIntset)}, lzfString...), EncSetIntset)
	if n := s.IntsetCount(); n != int64(binary.LittleEndian.Uint32([]byte("aaaa"))) {
		t.Errorf("intset count of an LZF blob: %d", n)
	}
}

func TestElemLayout(t *testing.T) {
	p := []byte{byte(EncZSet)}
	p = AppendLength(p, 2)
	p = AppendString(p, []byte("m1"))
	p = append(p, 3, '1', '.', '5')
	p = append(p, lzfString...)
	p = append(p, 254)
	var l ElemLayout
	l.Reset(p, EncZSet)
	if l.Len() != 2 {
		t.Fatalf("Len = %d", l.Len())
	}
	var got []string
	for l.Next() {
		got = append(got, string(l.Member.Plain())+"/"+strconv.FormatInt(l.Member.Len, 10)+"/"+strconv.FormatFloat(l.Score, 'g', -1, 64))
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"m1/2/1.5", "/10/+Inf"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %q, want %q", got, want)
	}
	l.Reset(p, EncZSet)
	if lens := l.AppendLens(nil); l.Err() != nil || !slices.Equal(lens, []int64{2, 10}) {
		t.Errorf("AppendLens = %v, %v", lens, l.Err())
	}
	l.Reset(append(p, 0), EncZSet)
	for l.Next() {
	}
	if !errors.Is(l.Err(), ErrCorrupt) {
		t.Errorf("trailing byte: %v", l.Err())
	}
	l.Reset(p[:len(p)-1], EncZSet)
	for l.Next() {
	}
	if l.Err() == nil {
		t.Error("truncated payload: no error")
	}
}

func TestElemLayoutLens(t *testing.T) {
	long := bytes.Repeat([]byte("v"), 70)
	hash := AppendLength([]byte{byte(EncHash)}, 3)
	for _, s := range [][]byte{[]byte("f1"), []byte("v1"), []byte("f2"), long, []byte("12"), nil} {
		hash = AppendString(hash, s)
	}
	zset := AppendLength([]byte{byte(EncZSet2)}, 2)
	zset = append(AppendString(zset, []byte("m")), 0, 0, 0, 0, 0, 0, 0xf8, 0x3f)
	zset = append(append(zset, lzfString...), 0, 0, 0, 0, 0, 0, 0, 0)
	set := AppendLength([]byte{byte(EncSet)}, 3)
	for _, s := range [][]byte{[]byte("a"), []byte("-30000"), long} {
		set = AppendString(set, s)
	}
	tests := []struct {
		name    string
		payload []byte
		want    []int64
		err     error // nil, ErrCorrupt, or io.ErrUnexpectedEOF
	}{
		{"hash", hash, []int64{2, 2, 2, 70, 2, 0}, nil},
		{"zset2", zset, []int64{1, 10}, nil},
		{"set", set, []int64{1, 6, 70}, nil},
		{"trailing byte", append(slices.Clip(set), 0), []int64{1, 6, 70}, ErrCorrupt},
		{"truncated score", zset[:len(zset)-1], []int64{1}, io.ErrUnexpectedEOF},
		{"truncated string", set[:len(set)-1], []int64{1, 6}, io.ErrUnexpectedEOF},
		{"hash value missing", hash[:len(hash)-1], []int64{2, 2, 2, 70}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l ElemLayout
			l.Reset(tt.payload, Encoding(tt.payload[0]))
			got := l.AppendLens([]int64{-1})
			if !slices.Equal(got, append([]int64{-1}, tt.want...)) {
				t.Errorf("AppendLens = %v, want %v", got[1:], tt.want)
			}
			if err := l.Err(); tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("Err = %v, want %v", err, tt.err)
			}
		})
	}
}

// TestLayoutCorpus checks the layouts of the generated fixtures' payloads
// against what Value decodes from them.
func TestLayoutCorpus(t *testing.T) {
	dir := sharedDir(t, "generated")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.rdb"))
	if len(files) == 0 {
		t.Skip("no fixtures")
	}
	seen := map[Encoding]int{}
	for _, path := range files {
		eachKey(t, path, func(e *Entry) {
			if e.Payload != nil && checkLayout(t, e) {
				seen[e.Encoding]++
			}
		})
	}
	for _, enc := range []Encoding{EncString, EncListQuicklist2, EncSet, EncHash, EncStreamListpacks3} {
		if seen[enc] == 0 {
			t.Errorf("no key of encoding %v checked", enc)
		}
	}
}

// checkLayout compares the layout of e's payload with its value; it
// reports whether it knows e's encoding.
func checkLayout(t *testing.T, e *Entry) bool {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("key %q (%v): "+format, append([]any{e.Key, e.Encoding}, args...)...)
	}
	v := e.Value()
	switch e.Encoding {
	case EncString:
		s, err := PayloadBlob(e.Payload, e.Encoding)
		if err != nil || !v.Next() {
			fail("%v %v", err, v.Err())
			return true
		}
		if s.Len != int64(len(v.Elem().Value)) {
			fail("Len %d, value of %d bytes", s.Len, len(v.Elem().Value))
		}
	case EncSetListpack, EncHashListpack, EncZSetListpack, EncSetIntset:
		s, err := PayloadBlob(e.Payload, e.Encoding)
		if err != nil {
			fail("%v", err)
			return true
		}
		n := s.ListpackCount()
		if e.Encoding == EncSetIntset {
			n = s.IntsetCount()
		} else if e.Encoding != EncSetListpack && n >= 0 {
			n /= 2
		}
		if n >= 0 && n != v.Len() {
			fail("count %d, Len %d", n, v.Len())
		}
	case EncListQuicklist, EncListQuicklist2:
		var elems int64
		_, err := WalkQuicklist(e.Payload, e.Encoding, func(container uint64, s StringLayout) error {
			if container == QuicklistPlain {
				elems++
				return nil
			}
			kind := EncSetListpack
			if container == QuicklistZiplist {
				kind = EncListZiplist
			}
			nv := NewPayloadValue(append([]byte{byte(kind)}, s.Span()...), 0)
			for nv.Next() {
				elems++
			}
			return nv.Err()
		})
		var n int64
		for v.Next() {
			n++
		}
		if err != nil || v.Err() != nil || n != elems {
			fail("%v %v: %d elements, value has %d", err, v.Err(), elems, n)
		}
	case EncList, EncSet, EncZSet, EncZSet2, EncHash:
		var l, lens ElemLayout
		l.Reset(e.Payload, e.Encoding)
		if l.Len() != v.Len() {
			fail("Len %d, value's %d", l.Len(), v.Len())
		}
		lens.Reset(e.Payload, e.Encoding)
		got := lens.AppendLens(nil)
		var want []int64
		for l.Next() {
			want = append(want, l.Member.Len)
			if e.Encoding == EncHash {
				want = append(want, l.Value.Len)
			}
			if !v.Next() {
				fail("more elements than the value")
				return true
			}
			el := v.Elem()
			if !sameString(&l.Member, el.Member) || e.Encoding == EncHash && !sameString(&l.Value, el.Value) ||
				l.Score != el.Score && !math.IsNaN(el.Score) {
				fail("element %+v, value's %q %q %v", l, el.Member, el.Value, el.Score)
			}
		}
		if l.Err() != nil || v.Next() || v.Err() != nil {
			fail("%v, value: %v", l.Err(), v.Err())
		}
		if lens.Err() != nil || !slices.Equal(got, want) {
			fail("AppendLens = %v, %v; Next's lengths %v", got, lens.Err(), want)
		}
	case EncStreamListpacks, EncStreamListpacks2, EncStreamListpacks3, EncStreamListpacks4:
		for v.Next() {
		}
		info := v.Stream()
		if info == nil {
			fail("%v", v.Err())
			return true
		}
		var groups []StreamGroup
		var w StreamWalker
		length, err := w.Walk(e.Payload, e.Encoding, func(key []byte, lp StringLayout) error {
			if len(key) != 16 || lp.Len < 7 {
				fail("node key %x, listpack of %d bytes", key, lp.Len)
			}
			return nil
		}, func(g *StreamGroupLayout) error {
			sg := StreamGroup{Name: g.Name.Plain()}
			for _, p := range g.Pending {
				sg.Pending = append(sg.Pending, StreamPending{ID: beID(p)})
			}
			for _, c := range g.Consumers {
				sc := StreamConsumer{Name: c.Name.Plain()}
				for _, p := range c.Pending {
					sc.Pending = append(sc.Pending, beID(p))
				}
				sg.Consumers = append(sg.Consumers, sc)
			}
			groups = append(groups, sg)
			return nil
		})
		if err != nil || length != info.Length || len(groups) != len(info.Groups) {
			fail("%v: length %d, %d groups; value: %d, %d", err, length, len(groups), info.Length, len(info.Groups))
			return true
		}
		for i, g := range groups {
			w := info.Groups[i]
			if !bytes.Equal(g.Name, w.Name) || len(g.Pending) != len(w.Pending) || len(g.Consumers) != len(w.Consumers) {
				fail("group %d: %q %d %d", i, g.Name, len(g.Pending), len(g.Consumers))
				continue
			}
			for j := range g.Pending {
				if g.Pending[j].ID != w.Pending[j].ID {
					fail("group %d PEL %d: %v, want %v", i, j, g.Pending[j].ID, w.Pending[j].ID)
				}
			}
			for j, c := range g.Consumers {
				wc := w.Consumers[j]
				if !bytes.Equal(c.Name, wc.Name) || len(c.Pending) != len(wc.Pending) {
					fail("group %d consumer %d: %q %d", i, j, c.Name, len(c.Pending))
					continue
				}
				for k := range c.Pending {
					if c.Pending[k] != wc.Pending[k] {
						fail("group %d consumer %d PEL %d: %v", i, j, k, c.Pending[k])
					}
				}
			}
		}
	default:
		return false
	}
	return true
}

// sameString reports whether s describes the decoded string want.
func sameString(s *StringLayout, want []byte) bool {
	switch {
	case s.Len != int64(len(want)):
		return false
	case s.IsInt():
		return strconv.FormatInt(s.Int, 10) == string(want)
	case s.Plain() != nil:
		return bytes.Equal(s.Plain(), want)
	}
	return s.Compressed()
}

func TestWalkStreamErrors(t *testing.T) {
	// A stream with no nodes, length 0, last id 0-0, no groups.
	p := []byte{byte(EncStreamListpacks), 0, 0, 0, 0, 0}
	node := func([]byte, StringLayout) error { return nil }
	group := func(*StreamGroupLayout) error { return nil }
	var w StreamWalker
	if n, err := w.Walk(p, EncStreamListpacks, node, group); err != nil || n != 0 {
		t.Errorf("empty stream: %d, %v", n, err)
	}
	if _, err := w.Walk(append(p, 0), EncStreamListpacks, node, group); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: %v", err)
	}
	if _, err := w.Walk(p[:5], EncStreamListpacks, node, group); err == nil {
		t.Error("truncated stream: no error")
	}
	// A node key that is not 16 bytes.
	bad := []byte{byte(EncStreamListpacks), 1, 2, 'a', 'b', 0}
	if _, err := w.Walk(bad, EncStreamListpacks, node, group); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short node key: %v", err)
	}
	if _, err := w.Walk(p, EncHash, node, group); !errors.Is(err, ErrUnknown) {
		t.Errorf("hash: %v", err)
	}
}

// TestSetPayload checks that an entry given a window of its input as its
// payload (SetPayload, the type byte not there) decodes as from its
// Payload: the same elements, or the same error with the same offsets.
func TestSetPayload(t *testing.T) {
	dir := sharedDir(t, "generated")
	keys := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".rdb") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		r := NewReader(bytes.NewReader(data))
		for {
			e, err := r.Next()
			if err != nil {
				return nil // io.EOF, or a corrupt fixture's end
			}
			if e.Kind != KindKey || e.Payload == nil {
				continue
			}
			want, wantErr := readElems(e.Value())
			off := e.PayloadOffset()
			c := e.Clone()
			c.SetPayload(data[off:off+int64(len(e.Payload))], off)
			got, gotErr := readElems(c.Value())
			if !reflect.DeepEqual(got, want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("%s: key %q: from the input %v, %v; from Payload %v, %v", path, e.Key, got, gotErr, want, wantErr)
			}
			keys++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d keys", keys)
}
