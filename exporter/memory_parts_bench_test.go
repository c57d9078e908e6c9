package exporter_test

import (
	"testing"

	"github.com/rdbkit/rdbkit/exporter"
	"github.com/rdbkit/rdbkit/internal/benchdata"
	"github.com/rdbkit/rdbkit/rdb"
)

// BenchmarkEstimator measures the two parts of the memory report apart,
// each added to a key-only scan of the benchmark file as in BenchmarkMemory
// (so that the values are as warm in the caches as the Reader leaves
// them): scan+estimate calls Estimate for every key, scan+report adds every
// key to a MemoryReport with a made-up estimate. Their cost is what they
// add to scan (cpu-part/scan: the part's CPU time over the scan's).
func BenchmarkEstimator(b *testing.B) {
	data := benchdata.Load(b)
	loop := func(b *testing.B, fn func(e *rdb.Entry)) (cpuNs float64) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			eachKey(b, data, fn)
		}
		return float64(cpuTime()-cpu) / float64(b.N)
	}
	var scanCPU float64
	b.Run("scan", func(b *testing.B) {
		scanCPU = loop(b, func(*rdb.Entry) {})
		b.ReportMetric(scanCPU/1e6, "cpu-ms/op")
	})
	part := func(b *testing.B, fn func(e *rdb.Entry)) {
		cpu := loop(b, fn)
		b.ReportMetric(cpu/1e6, "cpu-ms/op")
		if scanCPU > 0 {
			b.ReportMetric((cpu-scanCPU)/scanCPU, "cpu-part/scan")
		}
	}
	b.Run("scan+estimate", func(b *testing.B) {
		est := exporter.NewMemoryEstimator(exporter.MemoryOptions{})
		part(b, func(e *rdb.Entry) {
			if _, err := est.Estimate(e); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("scan+report", func(b *testing.B) {
		rep := exporter.NewMemoryReport(exporter.MemoryReportOptions{})
		part(b, func(e *rdb.Entry) {
			rep.Add(e, exporter.KeyMemory{Bytes: int64(len(e.Payload)), Elements: 1, Encoding: "raw"})
		})
	})
}

// BenchmarkEstimateHot estimates the first 50 keys of each encoding of
// the benchmark file, cloned, over and over: the estimator's own CPU cost
// by encoding (cpu-ns/key), the values hot in the caches.
func BenchmarkEstimateHot(b *testing.B) {
	data := benchdata.Load(b)
	byEnc := map[rdb.Encoding][]*rdb.Entry{}
	eachKey(b, data, func(e *rdb.Entry) {
		if len(byEnc[e.Encoding]) < 50 {
			byEnc[e.Encoding] = append(byEnc[e.Encoding], e.Clone())
		}
	})
	for enc := rdb.Encoding(0); enc < 64; enc++ {
		entries := byEnc[enc]
		if len(entries) == 0 {
			continue
		}
		b.Run(enc.String(), func(b *testing.B) {
			b.ReportAllocs()
			est := exporter.NewMemoryEstimator(exporter.MemoryOptions{})
			cpu := cpuTime()
			for b.Loop() {
				for _, e := range entries {
					if _, err := est.Estimate(e); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/float64(len(entries)), "cpu-ns/key")
		})
	}
}
