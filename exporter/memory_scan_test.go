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

	"github.com/rdbkit/rdbkit/rdb"
)

// sharedRDBFiles returns every .rdb file under ../shared/testdata; it
// skips the test (fails it on CI) without them.
func sharedRDBFiles(t *testing.T) []string {
	t.Helper()
	root := "../../shared/testdata"
	if _, err := os.Stat(root); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared fixtures missing: %v", err)
		}
		t.Skipf("shared fixtures missing: %v", err)
	}
	var files []string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".rdb") {
			files = append(files, path)
		}
		return nil
	})
	return files
}

// memoryJSON returns the JSON report of rep.
func memoryJSON(t *testing.T, rep *MemoryReport, model MemoryModel) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.Summary(model).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestScanMemoryFixtures checks that ScanMemory, with the input in memory
// (values estimated on the second goroutine) or not (on the reading one),
// gives the report and the error of estimating and adding each key in
// turn on one goroutine, for every shared fixture, the corrupt ones too,
// and with values streamed (MaxPayload 100) or not.
func TestScanMemoryFixtures(t *testing.T) {
	files := sharedRDBFiles(t)
	big := filepath.Join(t.TempDir(), "big.rdb")
	writeCopies(t, "../../shared/testdata/generated/redis-7.0.15/all-in-one.rdb", big, 25_000)
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	errString := func(err error) string {
		if err == nil {
			return "<nil>"
		}
		return err.Error()
	}
	compared := 0
	for _, file := range append(files, big) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, mp := range []int{0, 100} {
			r := rdb.NewReader(bytes.NewReader(data))
			r.MaxPayload = mp
			rep := NewMemoryReport(MemoryReportOptions{Now: now})
			m := NewMemoryEstimator(MemoryOptions{})
			var serialErr error
			for {
				e, err := r.Next()
				if err != nil {
					if err != io.EOF {
						serialErr = err
					}
					break
				}
				if e.Kind != rdb.KindKey {
					continue
				}
				km, err := m.Estimate(e)
				if err != nil {
					serialErr = err
					break
				}
				rep.Add(e, km)
			}
			want, wantErr := memoryJSON(t, rep, ModelOf(m)), errString(serialErr)
			for _, input := range [][]byte{nil, data} {
				r := rdb.NewReader(bytes.NewReader(data))
				r.MaxPayload = mp
				rep := NewMemoryReport(MemoryReportOptions{Now: now})
				model, err := ScanMemory(context.Background(), r, MemoryScanOptions{Input: input}, rep)
				if got, gotErr := memoryJSON(t, rep, model), errString(err); got != want || gotErr != wantErr {
					t.Errorf("%s, MaxPayload %d, Input %v: ScanMemory and the loop differ:\n%s\n%s\n%s\n%s",
						file, mp, input != nil, gotErr, wantErr, got, want)
				}
				compared++
			}
		}
	}
	t.Logf("%d scans compared", compared)
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
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := rdb.NewWriter(f, 10, false)
	var key []byte
	for copies := 0; n > 0; copies++ {
		r := rdb.NewReader(bytes.NewReader(data))
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != rdb.KindKey || e.DB != 0 {
				continue
			}
			key = append(strconv.AppendInt(append(key[:0], "copy:"...), int64(copies), 10), ':')
			if err := w.WriteKey(append(key, e.Key...), e.Payload, e.ExpireAt, -1, -1); err != nil {
				t.Fatal(err)
			}
			n--
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
