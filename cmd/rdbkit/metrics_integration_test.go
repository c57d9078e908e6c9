package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// scrapeMetrics reads http://addr/metrics and returns its samples by
// name{label="value",...} (labels sorted), counters and gauges only.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %s, Content-Type %q", resp.Status, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	got := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			}
		}
	}
	return got
}

// checkMetrics reports each metric of want whose value differs from
// got's (a missing one included).
func checkMetrics(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present: %v), want %v", k, g, ok, v)
		}
	}
}

// checkStandardMetrics reports the lack of the Go runtime's and the
// process's metrics.
func checkStandardMetrics(t *testing.T, got map[string]float64) {
	t.Helper()
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}

// checkMetricsStopped reports a metrics server still answering on addr.
func checkMetricsStopped(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Errorf("the metrics server on %s still listens after the command", addr)
	}
}

// TestRestoreMetrics scrapes the metrics of a restore in the middle of
// the run and at its end, and checks them against its summary.
func TestRestoreMetrics(t *testing.T) {
	const keys, others = 3000, 200
	path, _ := saveDump(t, func(ctx context.Context, p redis.Pipeliner) {
		for i := range keys {
			p.Set(ctx, fmt.Sprintf("k:%05d", i), strings.Repeat("v", i%100), 0)
		}
		for i := range others {
			p.HSet(ctx, fmt.Sprintf("other:%d", i), "f", i)
		}
	})
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := redistest.Start(t)
	dc := dst.Client(t)
	if err := dc.Set(context.Background(), "k:00007", "here before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	var mid, end map[string]float64
	var endAddr string
	opts := restoreOptions{
		file: path, dest: destOptions{url: "redis://" + dst.Addr}, now: time.Now(),
		filter:       filterOptions{regex: "^k:"},
		writeOptions: writeOptions{workers: 2, pipeline: 50, retries: 1}, json: true, metricsAddr: addr,
		afterKey: func(n int64) {
			if n == (keys+others)/2 {
				mid = scrapeMetrics(t, addr)
			}
		},
		atEnd: func(a string) {
			endAddr = a
			end = scrapeMetrics(t, a)
		},
	}
	var out, errb bytes.Buffer
	err = runRestore(context.Background(), opts, &out, &errb)
	var reported *reportedError
	if !errors.As(err, &reported) { // the conflict
		t.Fatalf("restore: %v\n%s\n%s", err, out.String(), errb.String())
	}
	var rep restoreReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Keys.Read != keys+others || rep.Keys.Written != keys-1 || rep.Keys.Conflicts != 1 || rep.Keys.Filtered != others {
		t.Fatalf("report: %s", out.String())
	}
	if !strings.Contains(errb.String(), "restore: metrics on http://"+addr+"/metrics") || endAddr != addr {
		t.Errorf("metrics address %q; stderr:\n%s", endAddr, errb.String())
	}

	if mid == nil {
		t.Fatal("no scrape in the middle of the run")
	}
	checkMetrics(t, mid, map[string]float64{
		`rdbkit_restore_phase{phase="reading"}`: 1, `rdbkit_restore_phase{phase="done"}`: 0,
		"rdbkit_restore_keys_read_total": (keys + others) / 2, "rdbkit_restore_file_size_bytes": float64(st.Size()),
	})
	if w := mid["rdbkit_restore_keys_written_total"]; w > (keys+others)/2 {
		t.Errorf("in the middle: %v keys written, more than read", w)
	}
	if b := mid["rdbkit_restore_bytes_read_total"]; b <= 0 || b >= float64(st.Size()) {
		t.Errorf("in the middle: %v bytes read of %d", b, st.Size())
	}

	checkMetrics(t, end, map[string]float64{
		`rdbkit_restore_phase{phase="reading"}`: 0, `rdbkit_restore_phase{phase="writing"}`: 0, `rdbkit_restore_phase{phase="done"}`: 1,
		"rdbkit_restore_keys_read_total":                       float64(rep.Keys.Read),
		"rdbkit_restore_keys_written_total":                    float64(rep.Keys.Written),
		"rdbkit_restore_keys_filtered_total":                   others,
		"rdbkit_restore_keys_expired_total":                    0,
		"rdbkit_restore_keys_skipped_total":                    0,
		"rdbkit_restore_keys_resumed_total":                    0,
		"rdbkit_restore_bytes_read_total":                      float64(rep.Bytes),
		"rdbkit_restore_file_size_bytes":                       float64(st.Size()),
		`rdbkit_restore_errors_total{class="key_conflict"}`:    1,
		`rdbkit_restore_errors_total{class="key_failed"}`:      0,
		`rdbkit_restore_errors_total{class="function_failed"}`: 0,
	})
	if rep.Bytes != st.Size() {
		t.Errorf("%d bytes read of %d", rep.Bytes, st.Size())
	}
	if b := end["rdbkit_restore_bytes_written_total"]; b < 2*(keys-1) { // a payload has 2 bytes at least
		t.Errorf("%v bytes written", b)
	}
	checkStandardMetrics(t, end)
	checkMetricsStopped(t, addr)

	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		code, stdout, stderr := runCLI(t, "restore", path, "--to", "redis://"+dst.Addr, "--replace", "--metrics-addr", ln.Addr().String())
		if code != exitFailure || !strings.Contains(stderr, "restore: --metrics-addr "+ln.Addr().String()) || stdout != "" {
			t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
	})
}

// TestCopyMetrics checks the metrics of a copy at its end against its
// summary: into a server, with keys vanishing during the scan and keys
// filtered out, and into a file.
func TestCopyMetrics(t *testing.T) {
	src, dst := redistest.Start(t), redistest.Start(t)
	sc := src.Client(t)
	ctx := context.Background()
	const keep, del, others = 2000, 1000, 100
	pipe := sc.Pipeline()
	for i := range keep {
		pipe.Set(ctx, fmt.Sprint("keep:", i), i, 0)
	}
	for i := range del {
		pipe.Set(ctx, fmt.Sprint("del:", i), i, 0)
	}
	for i := range others {
		pipe.SAdd(ctx, fmt.Sprint("other:", i), i)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, opts copyOptions) (copyReport, map[string]float64) {
		t.Helper()
		var end map[string]float64
		var addr string
		opts.src = liveSourceOptions{conn: destOptions{url: copyTestURL(src.Addr)}, scanCount: 10000, batch: 20}
		opts.now, opts.json, opts.metricsAddr = time.Now(), true, "127.0.0.1:0"
		opts.filter = filterOptions{regex: "^(keep|del):"}
		opts.writeOptions = writeOptions{workers: 2, pipeline: 64, retries: 2}
		opts.atEnd = func(a string) {
			addr = a
			end = scrapeMetrics(t, a)
		}
		var out, errb bytes.Buffer
		if err := runCopy(ctx, opts, &out, &errb); err != nil {
			t.Fatalf("%v\n%s\n%s", err, out.String(), errb.String())
		}
		var rep copyReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if end == nil {
			t.Fatalf("no scrape at the end; stderr:\n%s", errb.String())
		}
		if !strings.Contains(errb.String(), "copy: metrics on http://"+addr+"/metrics") {
			t.Errorf("stderr:\n%s", errb.String())
		}
		k := rep.Keys
		checkMetrics(t, end, map[string]float64{
			`rdbkit_copy_phase{phase="done"}`: 1, `rdbkit_copy_phase{phase="reading"}`: 0,
			`rdbkit_copy_phase{phase="writing"}`: 0, `rdbkit_copy_phase{phase="verifying"}`: 0,
			"rdbkit_copy_keys_scanned_total":                    float64(k.Scanned),
			"rdbkit_copy_keys_duplicates_total":                 float64(k.Duplicates),
			"rdbkit_copy_keys_read_total":                       float64(k.Read),
			"rdbkit_copy_keys_vanished_total":                   float64(k.Vanished),
			"rdbkit_copy_keys_filtered_total":                   others,
			"rdbkit_copy_keys_written_total":                    float64(k.Written),
			"rdbkit_copy_bytes_read_total":                      float64(k.Bytes),
			`rdbkit_copy_errors_total{class="source_failed"}`:   0,
			`rdbkit_copy_errors_total{class="key_failed"}`:      0,
			`rdbkit_copy_errors_total{class="key_conflict"}`:    0,
			`rdbkit_copy_errors_total{class="function_failed"}`: 0,
		})
		if k.Read+k.Vanished+k.Duplicates != k.Scanned || k.Written != k.Read-others || !rep.OK {
			t.Errorf("keys %+v", k)
		}
		if end["rdbkit_copy_bytes_written_total"] <= 0 {
			t.Errorf("%v bytes written", end["rdbkit_copy_bytes_written_total"])
		}
		checkStandardMetrics(t, end)
		checkMetricsStopped(t, addr)
		return rep, end
	}

	t.Run("server", func(t *testing.T) {
		var once sync.Once
		rep, end := run(t, copyOptions{
			dest: destOptions{url: copyTestURL(dst.Addr)},
			afterKey: func(int64) {
				// The first SCAN reply has every key: delete those of
				// del: before they are DUMPed.
				once.Do(func() {
					p := src.Client(t).Pipeline()
					for i := range del {
						p.Del(ctx, fmt.Sprint("del:", i))
					}
					if _, err := p.Exec(ctx); err != nil {
						t.Error(err)
					}
				})
			},
		})
		if rep.Keys.Vanished < del/2 || end["rdbkit_copy_keys_written_total"] < keep {
			t.Errorf("keys %+v", rep.Keys)
		}
	})
	t.Run("file", func(t *testing.T) { // of what server left: keep: and other:
		rep, end := run(t, copyOptions{output: filepath.Join(t.TempDir(), "copy.rdb")})
		if rep.File == nil || end["rdbkit_copy_keys_written_total"] != float64(rep.File.Keys) || rep.File.Keys != keep {
			t.Errorf("file %+v, keys %+v", rep.File, rep.Keys)
		}
	})
}
