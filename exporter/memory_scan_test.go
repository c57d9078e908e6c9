package exporter

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/rdb"
)

// sharedRDBFiles returns every .rdb file of the shared fixtures; it skips
// the test (fails it on CI) without them.
func sharedRDBFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(fixtures.Shared(t, ""), func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".rdb") {
			files = append(files, path)
		}
		return nil
	})
	return files
}

// memoryJSON returns the JSON report of rep.
func memoryJSON(t testing.TB, rep *MemoryReport, model MemoryModel) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.Summary(model).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var scanNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// serialMemory returns the JSON report and the error of estimating and
// adding each key of the RDB file data in turn, on one goroutine.
func serialMemory(t testing.TB, data []byte, maxPayload int) (string, string) {
	r := rdb.NewReader(bytes.NewReader(data))
	r.MaxPayload = maxPayload
	rep := NewMemoryReport(MemoryReportOptions{Now: scanNow})
	m := NewMemoryEstimator(MemoryOptions{})
	var err error
	for {
		var e *rdb.Entry
		if e, err = r.Next(); err != nil {
			if err == io.EOF {
				err = nil
			}
			break
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		var km KeyMemory
		if km, err = m.Estimate(e); err != nil {
			break
		}
		rep.Add(e, km)
	}
	return memoryJSON(t, rep, ModelOf(m)), errString(err)
}

// scanMemory returns the JSON report and the error of ScanMemory over the
// RDB file data, given input as Input.
func scanMemory(t testing.TB, data, input []byte, maxPayload int) (string, string) {
	r := rdb.NewReader(bytes.NewReader(data))
	r.MaxPayload = maxPayload
	rep := NewMemoryReport(MemoryReportOptions{Now: scanNow})
	model, err := ScanMemory(context.Background(), r, MemoryScanOptions{Input: input}, rep)
	return memoryJSON(t, rep, model), errString(err)
}

// TestScanMemoryFixtures checks that ScanMemory, with the input in memory
// (values estimated on the second goroutine) or not (on the reading one),
// gives the report and the error of estimating and adding each key in
// turn on one goroutine, for every shared fixture, the corrupt ones too,
// and with values streamed (MaxPayload 100) or not.
func TestScanMemoryFixtures(t *testing.T) {
	files := sharedRDBFiles(t)
	big := filepath.Join(t.TempDir(), "big.rdb")
	writeCopies(t, fixtures.Shared(t, "generated/redis-7.0.15/all-in-one.rdb"), big, 25_000)
	compared := 0
	for _, file := range append(files, big) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, mp := range []int{0, 100} {
			want, wantErr := serialMemory(t, data, mp)
			for _, input := range [][]byte{nil, data} {
				if got, gotErr := scanMemory(t, data, input, mp); got != want || gotErr != wantErr {
					t.Errorf("%s, MaxPayload %d, Input %v: ScanMemory and the loop differ:\n%s\n%s\n%s\n%s",
						file, mp, input != nil, gotErr, wantErr, got, want)
				}
				compared++
			}
		}
	}
	t.Logf("%d scans compared", compared)
}

// FuzzScanMemory checks ScanMemory against the one-goroutine loop on any
// input, as TestScanMemoryFixtures does on the fixtures.
func FuzzScanMemory(f *testing.F) {
	for _, file := range sharedRDBFiles(f) {
		if data, err := os.ReadFile(file); err == nil && len(data) <= 16<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mp := range []int{0, 100} {
			want, wantErr := serialMemory(t, data, mp)
			for _, input := range [][]byte{nil, data} {
				if got, gotErr := scanMemory(t, data, input, mp); got != want || gotErr != wantErr {
					t.Fatalf("MaxPayload %d, Input %v: ScanMemory and the loop differ:\n%s\n%s\n%s\n%s",
						mp, input != nil, gotErr, wantErr, got, want)
				}
			}
		}
	})
}

// TestScanMemoryInputMismatch checks that an Input that is not what the
// Reader reads is an error, not a wrong report.
func TestScanMemoryInputMismatch(t *testing.T) {
	data, err := os.ReadFile("../testdata/dump.rdb")
	if err != nil {
		t.Fatal(err)
	}
	for name, input := range map[string][]byte{
		"other bytes": bytes.Repeat([]byte{'x'}, len(data)),
		"too short":   data[:len(data)/4],
	} {
		r := rdb.NewReader(bytes.NewReader(data))
		_, err := ScanMemory(context.Background(), r, MemoryScanOptions{Input: input}, NewMemoryReport(MemoryReportOptions{}))
		if err == nil || !strings.Contains(err.Error(), "does not hold the value of key") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// writeCopies writes to dst an RDB file of at least n keys: the keys of
// src again and again, each time under a new prefix, so that a scan has
// many batches and its two goroutines share the work.
func writeCopies(t *testing.T, src, dst string, n int) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := rdb.NewWriter(f, 10, false)
	var key []byte
	for copies := 0; n > 0; copies++ {
		fixtures.EachKey(t, src, func(e *rdb.Entry) {
			if e.DB != 0 {
				return
			}
			key = append(strconv.AppendInt(append(key[:0], "copy:"...), int64(copies), 10), ':')
			if err := w.WriteKey(append(key, e.Key...), e.Payload, e.ExpireAt, -1, -1); err != nil {
				t.Fatal(err)
			}
			n--
		})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
