package rdb

import (
	"bytes"
	"reflect"
	"testing"
)

// TestInflate stores plain the compressed blobs of every key of every
// fixture and of values made to have them, and checks that the payload
// holds the same value in the same encoding, with no blob left to store
// plain, and that InflatedLen told its length.
func TestInflate(t *testing.T) {
	inflated := map[Encoding]int{}
	check := func(name string, p []byte, enc Encoding, ver int) {
		t.Helper()
		n, ok := InflatedLen(p, enc)
		if !ok {
			return
		}
		out, err := AppendInflated([]byte("prefix"), p, enc)
		if err != nil || !bytes.HasPrefix(out, []byte("prefix")) || len(out)-6 != n {
			t.Fatalf("%s: %d bytes, %v; InflatedLen %d", name, len(out)-6, err, n)
		}
		out = out[6:]
		if _, again := InflatedLen(out, enc); again || len(out) <= len(p)-8 {
			t.Fatalf("%s: %d bytes from %d, and a blob left to store plain: %v", name, len(out), len(p), again)
		}
		want, wantEnc, err := tcDecode(p, ver)
		if err != nil {
			return // a corrupt fixture: the server says what is wrong
		}
		got, gotEnc, err := tcDecode(out, ver)
		if err != nil || gotEnc != wantEnc || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v, %v; want %v %v", name, err, tcShow(got), wantEnc, tcShow(want))
		}
		inflated[enc]++
		for cut := 0; cut < len(p); cut += 1 + len(p)/256 { // truncated: no panic, no hang
			if _, ok := InflatedLen(p[:cut], enc); ok {
				_, _ = AppendInflated(nil, p[:cut], enc)
			}
		}
	}
	for _, path := range fixtureFiles(t) {
		eachKeyUntilError(t, path, func(r *Reader, e *Entry) {
			if e.Payload != nil {
				check(path+" "+string(e.Key), e.Payload, e.Encoding, r.Version())
			}
		})
	}
	// Made blobs: literals only (larger compressed than plain: they go
	// plain), and 8 bytes repeated 40 times (21 times smaller compressed:
	// it stays so).
	lp := tcListpack("first", "second", "third")
	literal := lzfRDBString(lzfLiterals(lp), len(lp))
	check("string of literals", append([]byte{byte(EncString)}, literal...), EncString, 10)
	check("quicklist of literals", tcPayload(EncListQuicklist2, []byte{2, 2}, tcBlob(lp), []byte{2}, literal), EncListQuicklist2, 11)
	repeated := append([]byte{byte(EncString)}, lzfRDBString(lzfRepeat8([]byte("abcdefgh"), 40), 320)...)
	if _, ok := InflatedLen(repeated, EncString); ok {
		t.Fatal("a blob 21 times smaller compressed would go plain")
	}
	set := tcPayload(EncSet, []byte{1}, tcBlob([]byte("member")))
	if n := testing.AllocsPerRun(100, func() { InflatedLen(set, EncSet) }); n != 0 {
		t.Fatalf("InflatedLen of a value without blobs: %v allocations", n) // it runs for every key restored
	}
	if inflated[EncString] == 0 || inflated[EncListQuicklist2] == 0 {
		t.Fatalf("inflated %v: the test misses what it checks", inflated)
	}
	t.Logf("payloads inflated, by encoding: %v", inflated)
}

// lzfRDBString returns the RDB string of LZF data c that expands to n bytes.
func lzfRDBString(c []byte, n int) []byte {
	b := append([]byte{0xC0 | encLZF}, AppendLength(nil, uint64(len(c)))...)
	b = AppendLength(b, uint64(n))
	return append(b, c...)
}

// lzfLiterals returns the LZF data of b as literal runs only.
func lzfLiterals(b []byte) []byte {
	var c []byte
	for len(b) > 0 {
		n := min(len(b), 32)
		c = append(append(c, byte(n-1)), b[:n]...)
		b = b[n:]
	}
	return c
}

// lzfRepeat8 returns the LZF data of the 8 bytes s repeated times times:
// a literal run, then back references of 264 bytes at most.
func lzfRepeat8(s []byte, times int) []byte {
	c := append([]byte{7}, s...)
	for left := 8 * (times - 1); left > 0; {
		n := min(left, 264)
		c = append(c, 7<<5, byte(n-9), 7) // length n, distance 8
		left -= n
	}
	return c
}

// FuzzInflate stores plain the compressed blobs of arbitrary payloads:
// never a panic, and a payload that decodes holds the same value after.
func FuzzInflate(f *testing.F) {
	for _, path := range fixtureFiles(f) {
		eachKeyUntilError(f, path, func(r *Reader, e *Entry) {
			if len(e.Payload) <= 4<<10 && r.Version() <= 12 {
				f.Add(bytes.Clone(e.Payload))
			}
		})
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) == 0 {
			return
		}
		enc := Encoding(p[0])
		if _, ok := InflatedLen(p, enc); !ok {
			return
		}
		out, err := AppendInflated(nil, p, enc)
		want, _, werr := tcDecode(p, 12)
		if err != nil || werr != nil {
			return
		}
		got, _, gerr := tcDecode(out, 12)
		if gerr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%v: %s, want %s", gerr, tcShow(got), tcShow(want))
		}
	})
}
