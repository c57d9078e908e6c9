package rdb

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// lzfSamples collects the LZF-compressed values of a fixture file (strings
// and blobs alike) with their lengths.
func lzfSamples(t testing.TB) (ins [][]byte, ulens []int) {
	eachKey(t, filepath.Join(sharedDir(t, "generated"), "redis-7.2", "all-in-one.rdb"), func(e *Entry) {
		if len(e.Payload) < 2 || e.Payload[1] != 0xc3 {
			return
		}
		c := cursor{buf: e.Payload, pos: 2, end: len(e.Payload), mark: -1}
		cl, ul, err := c.lzfHeader(1 << 30)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, e.Payload[c.pos:c.pos+cl])
		ulens = append(ulens, ul)
	})
	return ins, ulens
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

// lzfReference is liblzf's lzf_decompress, byte by byte, for comparison.
func lzfReference(in []byte, ulen int) ([]byte, bool) {
	out := make([]byte, 0, ulen)
	for ip := 0; ip < len(in); {
		ctrl := int(in[ip])
		ip++
		if ctrl < 32 {
			n := ctrl + 1
			if ip+n > len(in) || len(out)+n > ulen {
				return nil, false
			}
			out = append(out, in[ip:ip+n]...)
			ip += n
			continue
		}
		l := ctrl >> 5
		if l == 7 {
			if ip >= len(in) {
				return nil, false
			}
			l += int(in[ip])
			ip++
		}
		if ip >= len(in) {
			return nil, false
		}
		ref := len(out) - (ctrl&0x1f)<<8 - 1 - int(in[ip])
		ip++
		l += 2
		if ref < 0 || len(out)+l > ulen {
			return nil, false
		}
		for i := range l {
			out = append(out, out[ref+i])
		}
	}
	return out, len(out) == ulen
}

// lzfRandom returns a random LZF stream: literal runs of every length and
// back references of every length and distance, overlapping ones (runs)
// included, with its expanded length.
func lzfRandom(rng *rand.Rand, ops int) (in []byte, ulen int) {
	for range ops {
		if ulen == 0 || rng.IntN(2) == 0 {
			n := 1 + rng.IntN(32)
			in = append(in, byte(n-1))
			for range n {
				in = append(in, byte(rng.IntN(4))) // few symbols: matches look real
			}
			ulen += n
			continue
		}
		d := 1 + rng.IntN(min(ulen, 8192))
		if rng.IntN(4) == 0 {
			d = 1 + rng.IntN(min(ulen, 20)) // short distances: overlapping copies
		}
		l := 3 + rng.IntN(8-3+1)
		if rng.IntN(5) == 0 {
			l = 9 + rng.IntN(256)
		}
		if l < 9 {
			in = append(in, byte((l-2)<<5|(d-1)>>8), byte(d-1))
		} else {
			in = append(in, byte(7<<5|(d-1)>>8), byte(l-9), byte(d-1))
		}
		ulen += l
	}
	return in, ulen
}

// TestLZFRandom checks lzfDecompress (its word-copying fast loop and its
// careful tail alike) against the byte-by-byte reference on random streams
// of many sizes, and on every cut of some of them.
func TestLZFRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		in, ulen := lzfRandom(rng, 1+rng.IntN(1+i/10))
		want, ok := lzfReference(in, ulen)
		if !ok {
			t.Fatalf("stream %d: reference failed", i)
		}
		out := make([]byte, ulen)
		if err := lzfDecompress(out, in); err != nil {
			t.Fatalf("stream %d (%d ops): %v", i, len(in), err)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("stream %d: output differs from the reference", i)
		}
		if i%50 != 0 {
			continue
		}
		for n := range len(in) {
			_, refOK := lzfReference(in[:n], ulen)
			err := lzfDecompress(make([]byte, ulen), in[:n])
			if (err == nil) != refOK {
				t.Fatalf("stream %d cut at %d: error %v, reference ok %v", i, n, err, refOK)
			}
		}
	}
}

// TestLZFFast checks that lzfFast (in assembly where there is one) and
// lzfFastGo stop at the same place, having decoded what the reference
// decodes up to there, on random streams, on random streams followed by
// random bytes (back references out of range among them) and on random
// bytes alone.
func TestLZFFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 6000 {
		var in []byte
		ulen := 0
		if i%3 != 2 {
			in, ulen = lzfRandom(rng, 1+rng.IntN(1+i/10))
		}
		for range rng.IntN(100 + 200*(i%3/2)) {
			in = append(in, byte(rng.IntN(256)))
		}
		ulen = max(0, ulen+rng.IntN(300)-150)
		var ip, op [2]int
		var out [2][]byte
		for j, fast := range []func(out, in []byte) (int, int){lzfFast, lzfFastGo} {
			out[j] = make([]byte, ulen)
			ip[j], op[j] = fast(out[j], in)
		}
		if ip[0] != ip[1] || op[0] != op[1] {
			t.Fatalf("stream %d: lzfFast stops at %d/%d, lzfFastGo at %d/%d", i, ip[0], op[0], ip[1], op[1])
		}
		want, ok := lzfReference(in[:ip[0]], op[0])
		if !ok || !bytes.Equal(out[0][:op[0]], want) || !bytes.Equal(out[1][:op[1]], want) {
			t.Fatalf("stream %d: output differs from the reference", i)
		}
	}
}

// TestLZFCorrupt checks that a back reference before the start of the
// output fails where the fast loop decodes it too.
func TestLZFCorrupt(t *testing.T) {
	in := []byte{31}
	in = append(in, make([]byte, 32)...)                        // 32 literal bytes
	in = append(in, 1<<5|0x1f, 0xff)                            // distance 8192: before the start
	in = append(in, append([]byte{31}, make([]byte, 32)...)...) // room for the fast loop
	if err := lzfDecompress(make([]byte, 32+3+32), in); err == nil {
		t.Fatal("no error")
	}
}
