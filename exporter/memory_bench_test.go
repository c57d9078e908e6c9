package exporter_test

import (
	"bytes"
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/exporter"
	"github.com/rdbkit/rdbkit/internal/benchdata"
	"github.com/rdbkit/rdbkit/rdb"
)

// cpuTime returns the CPU time the process has used (user and system, all
// threads): unlike wall time, it barely moves when other processes
// compete for the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMemory measures, in the same run, a key-only scan of the
// benchmark file (a Next loop) and the memory report over it, as `rdbkit
// memory` makes it (ScanMemory: read on one goroutine, estimate and report
// on another), and the same done on one goroutine (memory-serial), all
// verifying the checksum as the commands do. memory/scan is the ratio of
// wall times the issue bounds at 1.5; cpu-memory/scan the ratio of CPU
// times (all threads), which shows the work the second core takes.
// eachKey decodes the RDB file data and calls fn for each of its keys.
func eachKey(b *testing.B, data []byte, fn func(e *rdb.Entry)) {
	r := rdb.NewReader(bytes.NewReader(data))
	for {
		e, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
		if e.Kind == rdb.KindKey {
			fn(e)
		}
	}
}

func BenchmarkMemory(b *testing.B) {
	data := benchdata.Load(b)
	var scanNs, scanCPU float64
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		keys := 0
		cpu := cpuTime()
		for b.Loop() {
			keys = 0
			eachKey(b, data, func(*rdb.Entry) { keys++ })
		}
		scanCPU = float64(cpuTime()-cpu) / float64(b.N)
		scanNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(scanNs/float64(keys), "ns/key")
		b.ReportMetric(scanCPU/1e6, "cpu-ms/op")
	})
	// memory is ScanMemory given the file's bytes, as rdbkit memory gives
	// it a mapped file; memory-stream without them, as for a pipe.
	for _, name := range []string{"memory", "memory-stream"} {
		opts := exporter.MemoryScanOptions{AutoServer: true}
		if name == "memory" {
			opts.Input = data
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu := cpuTime()
			keys := int64(0)
			for b.Loop() {
				r := rdb.NewReader(bytes.NewReader(data))
				rep := exporter.NewMemoryReport(exporter.MemoryReportOptions{})
				model, err := exporter.ScanMemory(context.Background(), r, opts, rep)
				if err != nil {
					b.Fatal(err)
				}
				keys = rep.Summary(model).Keys
			}
			reportVsScan(b, cpu, float64(keys), scanNs, scanCPU)
		})
	}
	b.Run("memory-serial", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		keys := 0
		cpu := cpuTime()
		for b.Loop() {
			keys = 0
			est := exporter.NewMemoryEstimator(exporter.MemoryOptions{})
			rep := exporter.NewMemoryReport(exporter.MemoryReportOptions{})
			eachKey(b, data, func(e *rdb.Entry) {
				keys++
				km, err := est.Estimate(e)
				if err != nil {
					b.Fatal(err)
				}
				rep.Add(e, km)
			})
			_ = rep.Summary(exporter.ModelOf(est))
		}
		reportVsScan(b, cpu, float64(keys), scanNs, scanCPU)
	})
}

// reportVsScan reports a run's time a key, its CPU time, and both against
// the scan's (wall and CPU ns an iteration), from cpu, the CPU time when
// it started.
func reportVsScan(b *testing.B, cpu time.Duration, keys, scanNs, scanCPU float64) {
	cpuNs := float64(cpuTime()-cpu) / float64(b.N)
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/keys, "ns/key")
	b.ReportMetric(cpuNs/1e6, "cpu-ms/op")
	if scanNs > 0 {
		b.ReportMetric(ns/scanNs, "memory/scan")
		b.ReportMetric(cpuNs/scanCPU, "cpu-memory/scan")
	}
}
