package exporter

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// pieceString writes s through jsonEnc.piece cut into pieces of n bytes
// (the last piece may be shorter; an empty s is one empty piece), with
// holdMax bytes held in memory, and returns the output.
func pieceString(t testing.TB, s []byte, n, holdMax int, dir string) []byte {
	t.Helper()
	var out bytes.Buffer
	j := newJSONEnc(&out)
	j.holdMax, j.tempDir = holdMax, dir
	for first := true; first || len(s) > 0; first = false {
		k := min(n, len(s))
		if err := j.piece(s[:k], k < len(s)); err != nil {
			t.Fatal(err)
		}
		s = s[k:]
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestPieces checks that a string written in pieces comes out as
// AppendString writes it whole, whatever the cuts and the memory hold.
func TestPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := strings.Repeat("héllo wörld ☃ 🎉 \u2028\n\"\\\x00 ", 3000)
	tests := []struct {
		name string
		s    string
	}{
		{"empty", ""},
		{"ascii", "hello world"},
		{"escapes", "a\"b\\c\nd\x00e\x1f"},
		{"multibyte", "é☃🎉é☃🎉"},
		{"separators", "\u2028\u2029x\u2028"},
		{"invalid first", "\xffabc"},
		{"invalid middle", "abc\xffdef"},
		{"invalid last", "abcdef\xff"},
		{"truncated rune at end", "abc\xe2\x98"},
		{"truncated 4-byte rune", "🎉🎉"[:7]},
		{"bad continuation", "ab\xe2\x28\xa1"},
		{"surrogate", "a\xed\xa0\x80b"},
		{"long text", text},
		{"long text invalid at end", text + "\xc3"},
		{"long text invalid in the middle", text[:len(text)/2] + "\x80" + text[len(text)/2:]},
		{"binary", string(randBytes(70000))},
		{"zeros then binary", strings.Repeat("\x00", 50000) + "\x80"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := AppendString(nil, []byte(tt.s))
			for _, n := range []int{1, 2, 3, 4, 5, 7, 1000, 4096, 1 << 20} {
				for _, hold := range []int{1, 5, 1000, defaultHoldMax} {
					if len(tt.s) > 10000 && n < 1000 && hold < 1000 {
						continue // slow and no different
					}
					got := pieceString(t, []byte(tt.s), n, hold, dir)
					if !bytes.Equal(got, want) {
						t.Fatalf("pieces of %d, hold %d:\n got %.200q\nwant %.200q", n, hold, got, want)
					}
				}
			}
			// Whole, through bytes (the path of long strings in memory).
			var out bytes.Buffer
			j := newJSONEnc(&out)
			if err := j.bytes([]byte(tt.s)); err != nil {
				t.Fatal(err)
			}
			if err := j.close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("bytes:\n got %.200q\nwant %.200q", out.Bytes(), want)
			}
		})
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func FuzzPieces(f *testing.F) {
	for _, s := range []string{"", "a", "é", "\xff", "a\xe2\x98", "\u2028", strings.Repeat("☃", 100)} {
		f.Add([]byte(s), uint8(1), uint16(3))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s []byte, n uint8, hold uint16) {
		want := AppendString(nil, s)
		got := pieceString(t, s, int(n)+1, int(hold)+1, dir)
		if !bytes.Equal(got, want) {
			t.Fatalf("pieces of %d, hold %d:\n got %q\nwant %q", int(n)+1, int(hold)+1, got, want)
		}
	})
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, io.ErrClosedPipe
	}
	w.n -= len(p)
	return len(p), nil
}

// TestWriteErrors checks that every writer reports a failing output, and
// keeps reporting it.
func TestWriteErrors(t *testing.T) {
	for _, format := range []string{"jsonl", "json", "csv", "resp"} {
		t.Run(format, func(t *testing.T) {
			in, err := os.Open(dumpRDB)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			err = exportTo(&failWriter{n: 1000}, in, exportConfig{format: format})
			if err == nil || !strings.Contains(err.Error(), io.ErrClosedPipe.Error()) {
				t.Fatalf("error %v, want %v", err, io.ErrClosedPipe)
			}
		})
	}
}
