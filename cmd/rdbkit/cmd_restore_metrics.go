package main

import (
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
)

// The phases of a restore, as the metrics name them.
const (
	restoreReading = iota // reading the file, writing its keys as they come
	restoreWriting        // the file is read: writing the keys still in flight
	restoreDone
)

var restorePhases = []string{"reading", "writing", "done"}

// restoreMetrics are the metrics of restore (--metrics-addr).
var restoreMetrics = []metricSpec{
	{"rdbkit_restore_phase", prometheus.GaugeValue, "phase", "The phase the restore is in (1) and those it is not in (0)."},
	{"rdbkit_restore_keys_read_total", prometheus.CounterValue, "", "Keys read from the file, filtered and resumed ones included."},
	{"rdbkit_restore_keys_written_total", prometheus.CounterValue, "", "Keys written to the destination: restored, transcoded or rewritten with commands."},
	{"rdbkit_restore_keys_filtered_total", prometheus.CounterValue, "", "Keys of the file left out by a filter."},
	{"rdbkit_restore_keys_expired_total", prometheus.CounterValue, "", "Keys left out because their expiry had passed."},
	{"rdbkit_restore_keys_skipped_total", prometheus.CounterValue, "", "Keys left alone because they existed (--skip-existing)."},
	{"rdbkit_restore_keys_resumed_total", prometheus.CounterValue, "", "Keys left out because the interrupted run had written them (--resume)."},
	{"rdbkit_restore_bytes_read_total", prometheus.CounterValue, "", "Bytes of the file read."},
	{"rdbkit_restore_file_size_bytes", prometheus.GaugeValue, "", "Size of the file (absent when unknown: the standard input)."},
	{"rdbkit_restore_bytes_written_total", prometheus.CounterValue, "", "Bytes written to the destination: payloads of RESTORE, arguments of commands."},
	{"rdbkit_restore_errors_total", prometheus.CounterValue, "class", "Errors by class: key_failed (not written), key_conflict (existed: neither --replace nor --skip-existing), function_failed."},
	{"rdbkit_restore_retries_total", prometheus.CounterValue, "", "Commands sent again after a lost connection, a failover or a busy server."},
}

// metricSamples reads the counters of restoreMetrics.
func (run *restoreRun) metricSamples() samples {
	var s samples
	st := run.l.Stats()
	s.addPhase("rdbkit_restore_phase", restorePhases, int(run.phase.Load()))
	s.add("rdbkit_restore_keys_read_total", run.read.Load())
	s.add("rdbkit_restore_keys_written_total", st.Written())
	s.add("rdbkit_restore_keys_filtered_total", run.filtered.Load())
	s.add("rdbkit_restore_keys_expired_total", st.Expired)
	s.add("rdbkit_restore_keys_skipped_total", st.Skipped)
	s.add("rdbkit_restore_keys_resumed_total", run.resumed.Load())
	s.add("rdbkit_restore_bytes_read_total", run.offset.Load())
	if run.in.size >= 0 {
		s.add("rdbkit_restore_file_size_bytes", run.in.size)
	}
	s.add("rdbkit_restore_bytes_written_total", st.Bytes)
	s.addLabel("rdbkit_restore_errors_total", "key_failed", st.Failed)
	s.addLabel("rdbkit_restore_errors_total", "key_conflict", st.Conflicts)
	s.addLabel("rdbkit_restore_errors_total", "function_failed", st.FunctionsFailed+st.FunctionConflicts)
	s.add("rdbkit_restore_retries_total", st.Retries)
	return s
}

// serveMetrics serves restoreMetrics on --metrics-addr, if given.
func (run *restoreRun) serveMetrics(stderr io.Writer) (*metricsServer, error) {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "restore: "+format+"\n", args...) }
	return serveMetrics("restore", run.opts.metricsAddr, logf, newRunCollector(restoreMetrics, run.metricSamples))
}
