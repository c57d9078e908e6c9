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
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			keys := 0
			start := cpuTime()
			for b.Loop() {
				keys = scan(b, data, verify)
			}
			reportCPU(b, start)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(keys), "ns/key")
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
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			keys := 0
			start := cpuTime()
			for b.Loop() {
				keys, _ = decodeValues(b, data, verify, false)
			}
			reportCPU(b, start)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(keys), "ns/key")
		})
	}
}

// BenchmarkDecodeElems is BenchmarkDecode/verify=off with a look at every
// element: Value leaves integers of compact encodings unformatted until
// Elem is called, which BenchmarkDecode never does.
func BenchmarkDecodeElems(b *testing.B) {
	data := benchFile(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	keys := 0
	start := cpuTime()
	for b.Loop() {
		keys, _ = decodeValues(b, data, false, true)
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
