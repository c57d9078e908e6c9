package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/source"
)

// copyNotSnapshot is the note every copy summary carries.
const copyNotSnapshot = "a scan is not a point-in-time snapshot: keys written or deleted on the source during the copy may or may not be in it"

// copyReport is the summary of a copy; also its --json output.
type copyReport struct {
	Source        string  `json:"source"` // redacted
	SourceServer  string  `json:"source_server"`
	SourceVersion string  `json:"source_version"`
	SourceCluster bool    `json:"source_cluster"`
	Masters       int     `json:"source_masters"`
	Destination   string  `json:"destination"` // redacted URL, or the file
	Server        string  `json:"server,omitempty"`
	Version       string  `json:"version,omitempty"`
	RDBVersion    int     `json:"rdb_version,omitempty"`
	Cluster       bool    `json:"cluster"`
	Mode          string  `json:"mode,omitempty"`
	OK            bool    `json:"ok"`
	Complete      bool    `json:"complete"` // the whole source was scanned and written
	Elapsed       float64 `json:"elapsed_seconds"`
	Note          string  `json:"note"`

	Keys struct {
		Scanned      int64 `json:"scanned"`    // keys SCAN returned
		Duplicates   int64 `json:"duplicates"` // returned again by SCAN, dropped
		Read         int64 `json:"read"`
		Vanished     int64 `json:"vanished"` // deleted or expired between SCAN and DUMP
		SourceFailed int64 `json:"source_failed"`
		Filtered     int64 `json:"filtered"`
		Bytes        int64 `json:"bytes"` // payload bytes read
		Written      int64 `json:"written"`
		Restored     int64 `json:"restored"`
		Set          int64 `json:"set"` // strings written many to an MSETNX
		Transcoded   int64 `json:"transcoded"`
		Rewritten    int64 `json:"rewritten"`
		Expired      int64 `json:"expired"`
		Conflicts    int64 `json:"conflicts"`
		Skipped      int64 `json:"skipped"`
		Failed       int64 `json:"failed"`
		PerSecond    int64 `json:"per_second"`
	} `json:"keys"`
	Functions struct {
		Read      int    `json:"read"`
		Loaded    int64  `json:"loaded"`
		Conflicts int64  `json:"conflicts"`
		Skipped   int64  `json:"skipped"`
		Failed    int64  `json:"failed"`
		Error     string `json:"error,omitempty"` // the source refused FUNCTION LIST
	} `json:"functions"`
	Lost           string          `json:"lost,omitempty"`
	LostKeys       []restoreKeyErr `json:"lost_keys,omitempty"`
	FailedKeys     []restoreKeyErr `json:"failed_keys,omitempty"`
	ConflictKeys   []restoreKeyErr `json:"conflict_keys,omitempty"`
	SourceFailures []restoreKeyErr `json:"source_failures,omitempty"`
	FunctionErrs   []restoreKeyErr `json:"function_errors,omitempty"`
	File           *copyFileResult `json:"file,omitempty"`
	Verify         *compareReport  `json:"verify,omitempty"`
	Error          string          `json:"error,omitempty"`
}

// report fills in the summary of a run.
func (run *copyRun) report(r *copyReport, st *loader.Stats, err error) {
	info := run.s.Info()
	ss := run.s.Stats()
	r.Source, r.SourceServer, r.SourceVersion = run.src.Redacted(), info.Server, info.Version
	r.SourceCluster, r.Masters = info.Cluster, len(info.Masters)
	r.Destination, r.Note = run.dest, copyNotSnapshot
	el := time.Since(run.start)
	r.Elapsed = el.Seconds()
	k := &r.Keys
	k.Scanned, k.Duplicates, k.Read, k.Vanished = ss.Scanned, ss.Duplicates, ss.Read, ss.Vanished
	k.SourceFailed, k.Filtered, k.Bytes = ss.Failed, run.filtered.Load(), ss.Bytes
	if el > 0 {
		k.PerSecond = int64(float64(ss.Read) / el.Seconds())
	}
	r.SourceFailures = sourceKeyErrs(ss.Failures)
	r.Functions.Read = len(run.libs)
	if run.funcErr != nil {
		r.Functions.Error = run.funcErr.Error()
	}
	if err != nil {
		r.Error = err.Error()
	}
	r.Complete = err == nil
	if run.l != nil {
		run.loaderReport(r, st)
		r.OK = r.Complete && st.OK() && ss.Failed == 0
		return
	}
	k.Written = ss.Read - run.filtered.Load()
	if r.File != nil {
		r.RDBVersion = r.File.Version
		k.Written = int64(r.File.Keys)
		r.Functions.Loaded = int64(len(run.libs))
	}
	r.OK = r.Complete && ss.Failed == 0
}

// loaderReport fills in what the loader did.
func (run *copyRun) loaderReport(r *copyReport, st *loader.Stats) {
	info := run.l.Info()
	r.Server, r.Version, r.RDBVersion = info.Server, info.Version, run.l.Target().Version
	r.Cluster, r.Mode = run.l.IsCluster(), run.opts.mode.String()
	k := &r.Keys
	k.Written, k.Restored, k.Set, k.Transcoded, k.Rewritten = st.Written(), st.Restored, st.Set, st.Transcoded, st.Rewritten
	k.Expired, k.Conflicts, k.Skipped, k.Failed = st.Expired, st.Conflicts, st.Skipped, st.Failed
	fn := &r.Functions
	fn.Loaded, fn.Conflicts, fn.Skipped, fn.Failed = st.Functions, st.FunctionConflicts, st.FunctionsSkipped, st.FunctionsFailed
	var lost []string
	if !st.Loss.IsZero() {
		lost = append(lost, st.Loss.String())
	}
	if !st.RewriteLoss.Zero() {
		lost = append(lost, st.RewriteLoss.String())
	}
	r.Lost = strings.Join(lost, "; ")
	r.LostKeys, r.FailedKeys = keyErrs(st.LossKeys), keyErrs(st.Failures)
	r.ConflictKeys, r.FunctionErrs = keyErrs(st.ConflictKeys), keyErrs(st.FunctionErrors)
}

// write prints the summary: text, or indented JSON.
func (r *copyReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "copy: %s (%s %s, %s) -> %s", r.Source, r.SourceServer, r.SourceVersion, copyTopology(r.SourceCluster, r.Masters), r.Destination)
	switch {
	case r.File != nil:
		fmt.Fprintf(&b, " (RDB %d, %s, %d databases, crc64 %s)", r.File.Version, byteSize(r.File.Bytes), r.File.DBs, r.File.Checksum)
	case r.Server != "":
		fmt.Fprintf(&b, " (%s %s, RDB %d, %s, mode %s)", r.Server, r.Version, r.RDBVersion, map[bool]string{false: "standalone", true: "cluster"}[r.Cluster], r.Mode)
	}
	b.WriteString("\n")
	k := r.Keys
	fmt.Fprintf(&b, "keys: %d scanned, %d read in %s (%s, %d keys/s), %d filtered\n", k.Scanned, k.Read,
		time.Duration(r.Elapsed*float64(time.Second)).Round(time.Millisecond), byteSize(k.Bytes), k.PerSecond, k.Filtered)
	fmt.Fprintf(&b, "  %d vanished (deleted or expired between SCAN and DUMP), %d returned twice by SCAN and dropped", k.Vanished, k.Duplicates)
	if k.SourceFailed > 0 {
		fmt.Fprintf(&b, ", %d unreadable (bad DUMP payload)", k.SourceFailed)
	}
	b.WriteString("\n")
	if r.File != nil || r.Server == "" {
		fmt.Fprintf(&b, "  %d written to the file\n", k.Written)
	} else {
		fmt.Fprintf(&b, "  %d written: %d restored, %d strings set (MSET), %d transcoded, %d rewritten with commands\n", k.Written, k.Restored, k.Set, k.Transcoded, k.Rewritten)
		fmt.Fprintf(&b, "  %d expired, %d skipped (existing), %d conflicts, %d failed\n", k.Expired, k.Skipped, k.Conflicts, k.Failed)
	}
	if f := r.Functions; f.Read > 0 || f.Error != "" {
		fmt.Fprintf(&b, "functions: %d read, %d written, %d conflicts, %d skipped, %d failed", f.Read, f.Loaded, f.Conflicts, f.Skipped, f.Failed)
		if f.Error != "" {
			fmt.Fprintf(&b, " (not copied: %s)", f.Error)
		}
		b.WriteString("\n")
	}
	if r.Lost != "" {
		fmt.Fprintf(&b, "lost: %s\n", r.Lost)
		writeKeyErrs(&b, "  ", r.LostKeys)
	}
	for _, l := range []struct {
		title string
		keys  []restoreKeyErr
	}{
		{"conflicts (existing keys left alone; --replace overwrites, --skip-existing skips):", r.ConflictKeys},
		{"failed:", r.FailedKeys},
		{"unreadable on the source:", r.SourceFailures},
	} {
		if len(l.keys) > 0 {
			b.WriteString(l.title + "\n")
			writeKeyErrs(&b, "  ", l.keys)
		}
	}
	for _, f := range r.FunctionErrs {
		fmt.Fprintf(&b, "function %s: %s\n", appendKeyText(nil, f.Key), f.Reason)
	}
	r.Verify.writeVerify(&b)
	fmt.Fprintf(&b, "note: %s\n", r.Note)
	if r.Error != "" {
		fmt.Fprintf(&b, "stopped: %s\n", r.Error)
	}
	switch {
	case r.OK:
		b.WriteString("ok: every key read was written or deliberately skipped\n")
	case !r.Complete:
		b.WriteString("not ok: the copy stopped before the end\n")
	case r.Verify != nil && !r.Verify.Equal:
		b.WriteString("not ok: the copy differs from the source\n")
	default:
		b.WriteString("not ok: some keys were not copied\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeVerify prints the result of copy --verify, if there is one.
func (v *compareReport) writeVerify(b *strings.Builder) {
	if v == nil {
		return
	}
	fmt.Fprintf(b, "verify: %d compared: %d equal, %d missing, %d type differs, %d value differs, %d ttl differs, %d expired, %d not compared\n",
		v.Compared, v.Counts["equal"], v.Counts["missing"], v.Counts["type_differs"], v.Counts["value_differs"], v.Counts["ttl_differs"], v.Counts["expired"], v.Failed)
	for i, d := range v.Diffs {
		if i == textKeys {
			fmt.Fprintf(b, "  ... (%d listed with --json)\n", len(v.Diffs))
			break
		}
		fmt.Fprintf(b, "  db %d %s: %s: %s\n", d.DB, appendKeyText(nil, d.Key), d.Outcome, d.Reason)
	}
	if v.Error != "" {
		fmt.Fprintf(b, "  verify stopped: %s\n", v.Error)
	}
}

// sourceKeyErrs converts the scanner's failures.
func sourceKeyErrs(fs []source.ScanKeyError) []restoreKeyErr {
	out := make([]restoreKeyErr, len(fs))
	for i, f := range fs {
		out[i] = restoreKeyErr{f.DB, jsonBytes(f.Key), f.Reason}
	}
	return out
}
