package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rdbkit/rdbkit/loader"
)

// syncReport is the summary of a sync; it is also its --json output.
type syncReport struct {
	Source      string  `json:"source"`      // redacted
	Destination string  `json:"destination"` // redacted
	Server      string  `json:"server"`
	Version     string  `json:"version"`
	Cluster     bool    `json:"cluster"`
	Mode        string  `json:"mode"`
	OK          bool    `json:"ok"`
	Synced      bool    `json:"synced"` // the destination holds a whole snapshot and the stream applied after it
	Elapsed     float64 `json:"elapsed_seconds"`

	Snapshot struct {
		Bytes      int64 `json:"bytes_read"`
		Read       int64 `json:"keys_read"`
		Filtered   int64 `json:"filtered"`
		Written    int64 `json:"written"`
		Restored   int64 `json:"restored"`
		Set        int64 `json:"set"` // strings written many to an MSETNX
		Transcoded int64 `json:"transcoded"`
		Rewritten  int64 `json:"rewritten"`
		Expired    int64 `json:"expired"`
		Conflicts  int64 `json:"conflicts"`
		Skipped    int64 `json:"skipped"`
		Failed     int64 `json:"failed"`
		Functions  int64 `json:"functions_loaded"`
		FuncFailed int64 `json:"functions_failed"`
	} `json:"snapshot"`
	Stream struct {
		ReplID       string `json:"replid"`
		Offset       int64  `json:"offset"`         // read from the link
		Applied      int64  `json:"applied_offset"` // where --resume continues
		DB           int    `json:"db"`
		BytesRead    int64  `json:"bytes_read"`
		Commands     int64  `json:"commands_applied"`
		BytesApplied int64  `json:"bytes_applied"`
		Filtered     int64  `json:"filtered"`
		Dropped      int64  `json:"dropped"`
		Failed       int64  `json:"failed"`
		TxSplit      int64  `json:"transactions_split"`
		Reconnects   int64  `json:"reconnects"`
		Continued    int64  `json:"partial_resyncs"`
	} `json:"stream"`
	KeptAlive struct {
		Kept    int64 `json:"kept"`
		Expired int64 `json:"given_expiry"`
		Changed int64 `json:"changed_by_stream"`
		Pending int   `json:"pending"`
	} `json:"kept_alive"`
	ErrorClasses   map[string]int64 `json:"error_classes,omitempty"`
	FailedCommands []cmdFailure     `json:"failed_commands,omitempty"`
	FailedKeys     []restoreKeyErr  `json:"failed_keys,omitempty"`
	ConflictKeys   []restoreKeyErr  `json:"conflict_keys,omitempty"`
	FunctionErrs   []restoreKeyErr  `json:"function_errors,omitempty"`
	Lost           string           `json:"lost,omitempty"`
	Notes          []string         `json:"notes,omitempty"`
	Checkpoint     string           `json:"checkpoint,omitempty"`
	Error          string           `json:"error,omitempty"`
}

// report gathers the summary of a run.
func (run *syncRun) report(st *loader.Stats, err error) *syncReport {
	l := run.loader()
	info := l.Info()
	r := &syncReport{
		Source: run.src, Destination: run.dest, Server: info.Server, Version: info.Version,
		Cluster: l.IsCluster(), Mode: run.opts.mode.String(), Synced: run.ready.Load(),
		Elapsed: time.Since(run.start).Seconds(), Checkpoint: run.opts.checkpoint,
	}
	c := &run.counters
	s := &r.Snapshot
	s.Bytes = c.snapBytes.Load() + c.snapRead.Load()
	s.Read, s.Filtered = c.snapKeys.Load(), c.snapFiltered.Load()
	s.Written, s.Restored, s.Set, s.Transcoded, s.Rewritten = st.Written(), st.Restored, st.Set, st.Transcoded, st.Rewritten
	s.Expired, s.Conflicts, s.Skipped, s.Failed = st.Expired, st.Conflicts, st.Skipped, st.Failed
	s.Functions, s.FuncFailed = st.Functions+st.Scripts, st.FunctionsFailed+st.FunctionConflicts
	p := run.position()
	m := &r.Stream
	m.ReplID, m.Offset, m.Applied, m.DB = p.ReplID, max(p.Offset, run.applied.Load()), p.Applied, p.DB
	m.BytesRead, m.Commands, m.BytesApplied = run.streamRead(), c.applied.Load(), c.bytesApplied.Load()
	m.Filtered, m.Dropped, m.TxSplit = c.filtered.Load(), c.dropped.Load(), c.txSplit.Load()
	m.Reconnects, m.Continued = c.reconnects.Load(), c.partial.Load()
	var classes map[string]int64
	m.Failed, r.FailedCommands, classes = c.failedCommands()
	if len(classes) > 0 {
		r.ErrorClasses = classes
	}
	k := &r.KeptAlive
	run.keep.mu.Lock()
	k.Kept, k.Expired, k.Changed, k.Pending = run.keep.total, run.keep.expired, run.keep.changed, len(run.keep.keys)
	run.keep.mu.Unlock()
	r.FailedKeys, r.ConflictKeys, r.FunctionErrs = keyErrs(st.Failures), keyErrs(st.ConflictKeys), keyErrs(st.FunctionErrors)
	var lost []string
	if !st.Loss.IsZero() {
		lost = append(lost, st.Loss.String())
	}
	if !st.RewriteLoss.Zero() {
		lost = append(lost, st.RewriteLoss.String())
	}
	r.Lost = strings.Join(lost, "; ")
	run.outMu.Lock()
	r.Notes = slices.Clone(run.notes)
	run.outMu.Unlock()
	if err != nil {
		r.Error = err.Error()
	}
	r.OK = err == nil && r.Synced && st.OK() && m.Failed == 0
	return r
}

// write prints the report: text, or indented JSON.
func (r *syncReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	var b strings.Builder
	topo := "standalone"
	if r.Cluster {
		topo = "cluster"
	}
	fmt.Fprintf(&b, "sync: %s -> %s (%s %s, %s, mode %s) in %s\n", r.Source, r.Destination, r.Server, r.Version, topo, r.Mode,
		time.Duration(r.Elapsed*float64(time.Second)).Round(time.Millisecond))
	s := r.Snapshot
	fmt.Fprintf(&b, "snapshot: %d keys read (%s): %d written (%d restored, %d strings set, %d transcoded, %d rewritten), %d filtered, %d expired, %d skipped, %d conflicts, %d failed\n",
		s.Read, byteSize(s.Bytes), s.Written, s.Restored, s.Set, s.Transcoded, s.Rewritten, s.Filtered, s.Expired, s.Skipped, s.Conflicts, s.Failed)
	if s.Functions > 0 || s.FuncFailed > 0 {
		fmt.Fprintf(&b, "functions: %d loaded, %d failed or conflicting\n", s.Functions, s.FuncFailed)
	}
	m := r.Stream
	fmt.Fprintf(&b, "stream: %d commands applied (%s), %d filtered, %d dropped, %d failed; %s read\n",
		m.Commands, byteSize(m.BytesApplied), m.Filtered, m.Dropped, m.Failed, byteSize(m.BytesRead))
	fmt.Fprintf(&b, "position: replid %s, offset %d, applied %d, db %d", orDash(m.ReplID), m.Offset, m.Applied, m.DB)
	if m.Reconnects > 0 {
		fmt.Fprintf(&b, "; %d reconnects, %d continued with PSYNC", m.Reconnects, m.Continued)
	}
	b.WriteString("\n")
	if m.TxSplit > 0 {
		fmt.Fprintf(&b, "transactions: %d over several slots of the cluster applied command by command\n", m.TxSplit)
	}
	if k := r.KeptAlive; k.Kept > 0 || k.Pending > 0 || k.Expired > 0 || k.Changed > 0 {
		fmt.Fprintf(&b, "kept alive: %d keys about to expire held until the end; %d given their expiry back, %d changed by the stream, %d pending",
			k.Kept, k.Expired, k.Changed, k.Pending)
		if k.Pending > 0 && r.Checkpoint != "" {
			b.WriteString(" (saved in the checkpoint)")
		}
		b.WriteString("\n")
	}
	if len(r.ErrorClasses) > 0 {
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(r.ErrorClasses)) {
			parts = append(parts, fmt.Sprintf("%s %d", c, r.ErrorClasses[c]))
		}
		fmt.Fprintf(&b, "errors: %s\n", strings.Join(parts, ", "))
	}
	for i, f := range r.FailedCommands {
		if i == textKeys {
			fmt.Fprintf(&b, "  ... (%d listed with --json)\n", len(r.FailedCommands))
			break
		}
		key := "-"
		if f.Key != nil {
			key = string(appendKeyText(nil, f.Key))
		}
		fmt.Fprintf(&b, "  failed: offset %d db %d key %s: %s: %s\n", f.Offset, f.DB, key, f.Command, f.Error)
	}
	if r.Lost != "" {
		fmt.Fprintf(&b, "lost: %s\n", r.Lost)
	}
	if len(r.ConflictKeys) > 0 {
		b.WriteString("conflicts (existing keys left alone; --replace overwrites, --skip-existing skips):\n")
		writeKeyErrs(&b, "  ", r.ConflictKeys)
	}
	if len(r.FailedKeys) > 0 {
		b.WriteString("failed keys:\n")
		writeKeyErrs(&b, "  ", r.FailedKeys)
	}
	for _, f := range r.FunctionErrs {
		fmt.Fprintf(&b, "function %s: %s\n", appendKeyText(nil, f.Key), f.Reason)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "stopped: %s\n", r.Error)
	}
	switch {
	case r.OK:
		b.WriteString("ok: every selected key and command was applied\n")
	case !r.Synced:
		b.WriteString("not ok: stopped before the snapshot was loaded\n")
	default:
		b.WriteString("not ok: some keys or commands were not applied\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
