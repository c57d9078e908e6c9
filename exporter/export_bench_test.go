package exporter

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/rdbkit/rdbkit/internal/benchdata"
	"github.com/rdbkit/rdbkit/rdb"
)

// exportJSONL writes data as JSON Lines to w with r and returns the keys.
func exportJSONL(r *rdb.Reader, data []byte, w io.Writer) (keys int, err error) {
	r.Reset(bytes.NewReader(data))
	j := NewJSONL(w)
	for {
		e, err := r.Next()
		if err == io.EOF {
			return keys, j.Close()
		}
		if err != nil {
			return keys, err
		}
		if e.Kind == rdb.KindKey {
			keys++
		}
		if err := j.Write(e); err != nil {
			return keys, err
		}
	}
}

// BenchmarkExportJSONL exports the 1M-key file as JSON Lines to
// io.Discard, checksum verified, as `rdbkit export --format jsonl` does.
func BenchmarkExportJSONL(b *testing.B) {
	data := benchdata.Load(b)
	r := rdb.NewReader(bytes.NewReader(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	keys := 0
	for b.Loop() {
		var err error
		if keys, err = exportJSONL(r, data, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(keys), "ns/key")
}

// TestJSONLAllocs checks that exporting small keys as JSON Lines does not
// allocate per key: a run over dump.rdb (356 small keys of every type but
// streams with groups) allocates only the writer and what the stream
// decoder keeps, a fixed number of times.
func TestJSONLAllocs(t *testing.T) {
	data, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	r := rdb.NewReader(bytes.NewReader(data))
	keys, err := exportJSONL(r, data, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := exportJSONL(r, data, io.Discard); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%v allocations for %d keys", allocs, keys)
	if allocs > 10 {
		t.Errorf("%v allocations for %d keys, want a few per run, none per key", allocs, keys)
	}
}
