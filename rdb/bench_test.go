package rdb_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/rdbkit/rdbkit/internal/benchdata"

	"github.com/rdbkit/rdbkit/rdb"
)

func benchFile(b *testing.B) []byte { return benchdata.Load(b) }

// scan reads every record without decoding values.
func scan(b *testing.B, data []byte, verify bool) (keys int) {
	r := rdb.NewReader(bytes.NewReader(data))
	r.VerifyChecksum = verify
	for {
		e, err := r.Next()
		if err == io.EOF {
			return keys
		}
		if err != nil {
			b.Fatal(err)
		}
		if e.Kind == rdb.KindKey {
			keys++
		}
	}
}

func BenchmarkScan(b *testing.B) {
	data := benchFile(b)
	for _, verify := range []bool{false, true} {
		b.Run(verifyName(verify), func(b *testing.B) {
			benchPasses(b, data, func() int { return scan(b, data, verify) })
		})
	}
}

// decodeValues reads every element of every value; with touch, it also
// looks at each one (Elem), as a caller that uses the elements does.
func decodeValues(b *testing.B, data []byte, verify, touch bool) (keys, elems int) {
	r := rdb.NewReader(bytes.NewReader(data))
	r.VerifyChecksum = verify
	for {
		e, err := r.Next()
		if err == io.EOF {
			return keys, elems
		}
		if err != nil {
			b.Fatal(err)
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		keys++
		v := e.Value()
		for v.Next() {
			elems++
			if touch {
				el := v.Elem()
				elems += len(el.Member) + len(el.Value) + len(el.Fields)
			}
		}
		if err := v.Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data := benchFile(b)
	for _, verify := range []bool{false, true} {
		b.Run(verifyName(verify), func(b *testing.B) {
			benchPasses(b, data, func() int {
				keys, _ := decodeValues(b, data, verify, false)
				return keys
			})
		})
	}
}

// BenchmarkDecodeElems is BenchmarkDecode/verify=off with a look at every
// element: Value leaves integers of compact encodings unformatted until
// Elem is called, which BenchmarkDecode never does.
func BenchmarkDecodeElems(b *testing.B) {
	data := benchFile(b)
	benchPasses(b, data, func() int {
		keys, _ := decodeValues(b, data, false, true)
		return keys
	})
}

// benchPasses runs pass, one pass over data that returns the keys it
// read, b.N times, and reports bytes/s, allocations, CPU time and time per
// key.
func benchPasses(b *testing.B, data []byte, pass func() int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	keys := 0
	start := cpuTime()
	for b.Loop() {
		keys = pass()
	}
	reportCPU(b, start)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(keys), "ns/key")
}

func verifyName(verify bool) string {
	if verify {
		return "verify=on"
	}
	return "verify=off"
}
