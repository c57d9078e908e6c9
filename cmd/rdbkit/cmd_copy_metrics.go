package main

import (
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rdbkit/rdbkit/loader"
)

// The phases of a copy, as the metrics name them.
const (
	copyReading   = iota // SCAN and DUMP, writing the keys as they come
	copyWriting          // the scan is done: writing the keys in flight, or the file
	copyVerifying        // --verify
	copyDone
)

var copyPhases = []string{"reading", "writing", "verifying", "done"}

// copyMetrics are the metrics of copy (--metrics-addr).
var copyMetrics = []metricSpec{
	{"rdbkit_copy_phase", prometheus.GaugeValue, "phase", "The phase the copy is in (1) and those it is not in (0)."},
	{"rdbkit_copy_keys_scanned_total", prometheus.CounterValue, "", "Keys SCAN returned."},
	{"rdbkit_copy_keys_duplicates_total", prometheus.CounterValue, "", "Keys SCAN returned again, left out."},
	{"rdbkit_copy_keys_read_total", prometheus.CounterValue, "", "Keys read from the source (DUMP)."},
	{"rdbkit_copy_keys_vanished_total", prometheus.CounterValue, "", "Keys deleted or expired on the source between SCAN and DUMP."},
	{"rdbkit_copy_keys_filtered_total", prometheus.CounterValue, "", "Keys read left out by a filter."},
	{"rdbkit_copy_keys_written_total", prometheus.CounterValue, "", "Keys written to the destination (restored, transcoded or rewritten with commands), or spooled for -o FILE."},
	{"rdbkit_copy_keys_expired_total", prometheus.CounterValue, "", "Keys left out because their expiry had passed."},
	{"rdbkit_copy_keys_skipped_total", prometheus.CounterValue, "", "Keys left alone because they existed (--skip-existing)."},
	{"rdbkit_copy_bytes_read_total", prometheus.CounterValue, "", "Payload bytes read from the source (DUMP)."},
	{"rdbkit_copy_bytes_written_total", prometheus.CounterValue, "", "Bytes written to the destination (payloads of RESTORE, arguments of commands), or payload bytes spooled for -o FILE."},
	{"rdbkit_copy_errors_total", prometheus.CounterValue, "class", "Errors by class: source_failed (bad DUMP payload), key_failed (not written), key_conflict (existed: neither --replace nor --skip-existing), function_failed."},
	{"rdbkit_copy_retries_total", prometheus.CounterValue, "", "Commands sent again to the destination after a lost connection, a failover or a busy server."},
}

// metricSamples reads the counters of copyMetrics.
func (run *copyRun) metricSamples() samples {
	var s samples
	ss := run.s.Stats()
	var st loader.Stats
	written, bytes := run.fileKeys.Load(), run.fileBytes.Load()
	if run.l != nil {
		st = run.l.Stats()
		written, bytes = st.Written(), st.Bytes
	}
	s.addPhase("rdbkit_copy_phase", copyPhases, int(run.phase.Load()))
	s.add("rdbkit_copy_keys_scanned_total", ss.Scanned)
	s.add("rdbkit_copy_keys_duplicates_total", ss.Duplicates)
	s.add("rdbkit_copy_keys_read_total", ss.Read)
	s.add("rdbkit_copy_keys_vanished_total", ss.Vanished)
	s.add("rdbkit_copy_keys_filtered_total", run.filtered.Load())
	s.add("rdbkit_copy_keys_written_total", written)
	s.add("rdbkit_copy_keys_expired_total", st.Expired)
	s.add("rdbkit_copy_keys_skipped_total", st.Skipped)
	s.add("rdbkit_copy_bytes_read_total", ss.Bytes)
	s.add("rdbkit_copy_bytes_written_total", bytes)
	s.addLabel("rdbkit_copy_errors_total", "source_failed", ss.Failed)
	s.addLabel("rdbkit_copy_errors_total", "key_failed", st.Failed)
	s.addLabel("rdbkit_copy_errors_total", "key_conflict", st.Conflicts)
	s.addLabel("rdbkit_copy_errors_total", "function_failed", st.FunctionsFailed+st.FunctionConflicts)
	s.add("rdbkit_copy_retries_total", st.Retries)
	return s
}

// serveMetrics serves copyMetrics on --metrics-addr, if given.
func (run *copyRun) serveMetrics(stderr io.Writer) (*metricsServer, error) {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "copy: "+format+"\n", args...) }
	return serveMetrics("copy", run.opts.metricsAddr, logf, newRunCollector(copyMetrics, run.metricSamples))
}
