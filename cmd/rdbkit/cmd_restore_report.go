package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rdbkit/rdbkit/loader"
)

// restoreReport is the summary of a restore; it is also its --json output.
type restoreReport struct {
	File        string  `json:"file"`
	Destination string  `json:"destination"` // redacted
	Server      string  `json:"server"`
	Version     string  `json:"version"`
	RDBVersion  int     `json:"rdb_version"`
	Cluster     bool    `json:"cluster"`
	Mode        string  `json:"mode"`
	DryRun      bool    `json:"dry_run"`
	OK          bool    `json:"ok"`
	Complete    bool    `json:"complete"` // the whole file was read
	Elapsed     float64 `json:"elapsed_seconds"`
	Bytes       int64   `json:"bytes_read"`

	Keys struct {
		Read       int64 `json:"read"`
		Filtered   int64 `json:"filtered"`
		Resumed    int64 `json:"resumed"` // settled by the interrupted run
		Written    int64 `json:"written"`
		Restored   int64 `json:"restored"`
		Set        int64 `json:"set"` // strings written many to an MSETNX
		Transcoded int64 `json:"transcoded"`
		Rewritten  int64 `json:"rewritten"`
		Expired    int64 `json:"expired"`
		Conflicts  int64 `json:"conflicts"`
		Skipped    int64 `json:"skipped"`
		Failed     int64 `json:"failed"`
		Recovered  int64 `json:"recovered"` // found written after a lost connection
		PerSecond  int64 `json:"per_second"`
	} `json:"keys"`
	Functions struct {
		Read      int64 `json:"read"`
		Loaded    int64 `json:"loaded"`
		Conflicts int64 `json:"conflicts"`
		Skipped   int64 `json:"skipped"`
		Failed    int64 `json:"failed"`
		Scripts   int64 `json:"scripts"`
	} `json:"functions"`
	Lost         string          `json:"lost,omitempty"` // what transcoding or commands could not carry
	LostKeys     []restoreKeyErr `json:"lost_keys,omitempty"`
	FailedKeys   []restoreKeyErr `json:"failed_keys,omitempty"`
	ConflictKeys []restoreKeyErr `json:"conflict_keys,omitempty"`
	FunctionErrs []restoreKeyErr `json:"function_errors,omitempty"`
	Plan         *loader.Plan    `json:"plan,omitempty"`
	Error        string          `json:"error,omitempty"` // why the run stopped early
}

type restoreKeyErr struct {
	DB     int       `json:"db"`
	Key    jsonBytes `json:"key"`
	Reason string    `json:"reason"`
}

func keyErrs(ks []loader.KeyError) []restoreKeyErr {
	out := make([]restoreKeyErr, len(ks))
	for i, k := range ks {
		out[i] = restoreKeyErr{k.DB, jsonBytes(k.Key), k.Reason}
	}
	return out
}

// report gathers the summary of a run.
func (run *restoreRun) report(st *loader.Stats, fatal, runErr error, complete bool) *restoreReport {
	info := run.l.Info()
	r := &restoreReport{
		File: run.opts.file, Destination: run.dest, Server: info.Server, Version: info.Version,
		RDBVersion: run.l.Target().Version, Cluster: run.l.IsCluster(), Mode: run.opts.mode.String(),
		DryRun: run.opts.dryRun, Complete: complete, Bytes: run.offset.Load(),
	}
	el := time.Since(run.start)
	r.Elapsed = el.Seconds()
	k := &r.Keys
	k.Read, k.Filtered, k.Resumed = run.read.Load(), run.filtered.Load(), run.resumed.Load()
	k.Written, k.Restored, k.Set, k.Transcoded, k.Rewritten = st.Written(), st.Restored, st.Set, st.Transcoded, st.Rewritten
	k.Expired, k.Conflicts, k.Skipped, k.Failed, k.Recovered = st.Expired, st.Conflicts, st.Skipped, st.Failed, st.Recovered
	if el > 0 {
		k.PerSecond = int64(float64(st.Done()) / el.Seconds())
	}
	fn := &r.Functions
	fn.Read, fn.Loaded, fn.Conflicts, fn.Skipped, fn.Failed, fn.Scripts =
		run.functions, st.Functions, st.FunctionConflicts, st.FunctionsSkipped, st.FunctionsFailed, st.Scripts
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
	r.Plan = st.Plan
	if err := firstErr(runErr, fatal); err != nil {
		r.Error = err.Error()
	}
	r.OK = complete && st.OK()
	return r
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// write prints the report: text, or indented JSON.
func (r *restoreReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	var b strings.Builder
	verb := "restore"
	if r.DryRun {
		verb = "restore --dry-run (nothing written)"
	}
	topo := "standalone"
	if r.Cluster {
		topo = "cluster"
	}
	fmt.Fprintf(&b, "%s: %s -> %s (%s %s, RDB %d, %s, mode %s)\n", verb, r.File, r.Destination, r.Server, r.Version, r.RDBVersion, topo, r.Mode)
	k := r.Keys
	would := ""
	if r.DryRun {
		would = "would be "
	}
	fmt.Fprintf(&b, "keys: %d read in %s (%s, %d keys/s)\n", k.Read, time.Duration(r.Elapsed*float64(time.Second)).Round(time.Millisecond), byteSize(r.Bytes), k.PerSecond)
	fmt.Fprintf(&b, "  %d %swritten: %d restored, %d strings set (MSET), %d transcoded, %d rewritten with commands\n", k.Written, would, k.Restored, k.Set, k.Transcoded, k.Rewritten)
	fmt.Fprintf(&b, "  %d filtered, %d expired, %d skipped (existing), %d conflicts, %d failed", k.Filtered, k.Expired, k.Skipped, k.Conflicts, k.Failed)
	if k.Resumed > 0 {
		fmt.Fprintf(&b, ", %d done by the interrupted run", k.Resumed)
	}
	if k.Recovered > 0 {
		fmt.Fprintf(&b, ", %d found written after a lost connection", k.Recovered)
	}
	b.WriteString("\n")
	if f := r.Functions; f.Read > 0 || f.Scripts > 0 || f.Failed > 0 {
		fmt.Fprintf(&b, "functions: %d read, %d loaded, %d conflicts, %d skipped, %d failed; %d Lua scripts\n", f.Read, f.Loaded, f.Conflicts, f.Skipped, f.Failed, f.Scripts)
	}
	if r.Lost != "" {
		fmt.Fprintf(&b, "lost: %s\n", r.Lost)
		writeKeyErrs(&b, "  ", r.LostKeys)
	}
	if len(r.ConflictKeys) > 0 {
		fmt.Fprintf(&b, "conflicts (existing keys left alone; --replace overwrites, --skip-existing skips):\n")
		writeKeyErrs(&b, "  ", r.ConflictKeys)
		if n := k.Conflicts - int64(len(r.ConflictKeys)); n > 0 {
			fmt.Fprintf(&b, "  ... and %d more, not named\n", n)
		}
	}
	if len(r.FailedKeys) > 0 {
		fmt.Fprintf(&b, "failed:\n")
		writeKeyErrs(&b, "  ", r.FailedKeys)
		if n := k.Failed - int64(len(r.FailedKeys)); n > 0 {
			fmt.Fprintf(&b, "  ... and %d more, not named\n", n)
		}
	}
	for _, f := range r.FunctionErrs {
		fmt.Fprintf(&b, "function %s: %s\n", appendKeyText(nil, f.Key), f.Reason)
	}
	if p := r.Plan; p != nil {
		writePlan(&b, p)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "stopped: %s\n", r.Error)
	}
	switch {
	case r.OK && r.DryRun:
		b.WriteString("ok: every selected key can be written\n")
	case r.OK:
		b.WriteString("ok: every selected key was written or deliberately skipped\n")
	case !r.Complete:
		b.WriteString("not ok: the run stopped before the end of the file\n")
	default:
		b.WriteString("not ok: some keys were not written\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// textKeys is the number of keys of each list the text summary shows (the
// JSON summary has them all).
const textKeys = 20

func writeKeyErrs(b *strings.Builder, indent string, ks []restoreKeyErr) {
	for i, k := range ks {
		if i == textKeys {
			fmt.Fprintf(b, "%s... (%d listed with --json)\n", indent, len(ks))
			return
		}
		fmt.Fprintf(b, "%sdb %d %s: %s\n", indent, k.DB, appendKeyText(nil, k.Key), k.Reason)
	}
}

// writePlan prints a dry run's findings.
func writePlan(b *strings.Builder, p *loader.Plan) {
	b.WriteString("plan:\n")
	for _, enc := range slices.Sorted(maps.Keys(p.Transcode)) {
		fmt.Fprintf(b, "  transcode %d keys of encoding %s\n", p.Transcode[enc], enc)
	}
	for _, why := range slices.Sorted(maps.Keys(p.Rewrite)) {
		fmt.Fprintf(b, "  write %d keys with commands: %s\n", p.Rewrite[why], why)
	}
	if p.OverLimitCount > 0 {
		fmt.Fprintf(b, "  %d keys over the destination's proto-max-bulk-len:\n", p.OverLimitCount)
		for _, k := range p.OverLimit {
			fmt.Fprintf(b, "    db %d %s: %s\n", k.DB, appendKeyText(nil, k.Key), k.Reason)
		}
	}
	fmt.Fprintf(b, "  %d keys exist already\n", p.Existing)
	mem := "no maxmemory"
	if p.MaxMemory > 0 {
		mem = fmt.Sprintf("maxmemory %s, used %s, headroom %s", byteSize(p.MaxMemory), byteSize(p.UsedMemory), byteSize(p.MaxMemory-p.UsedMemory))
	} else if p.UsedMemory > 0 {
		mem += fmt.Sprintf(" (used %s)", byteSize(p.UsedMemory))
	}
	fmt.Fprintf(b, "  memory: %s; %s of payloads to write (serialized; loaded values take more)\n", mem, byteSize(p.PayloadBytes))
	var perms []string
	for _, pm := range p.Permissions {
		perms = append(perms, pm.Command+" "+pm.Allowed)
	}
	fmt.Fprintf(b, "  commands needed: %s\n", strings.Join(perms, ", "))
	for _, n := range p.Notes {
		fmt.Fprintf(b, "  warning: %s\n", n)
	}
}

// failedKeys writes every key not written to a file, as JSON Lines:
// {"db":0,"key":"k","reason":"...","conflict":false}.
type failedKeys struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error
}

func newFailedKeys(path string) (*failedKeys, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &failedKeys{f: f, w: bufio.NewWriter(f)}, nil
}

func (fk *failedKeys) add(k loader.KeyError, conflict bool) {
	line, err := json.Marshal(struct {
		DB       int       `json:"db"`
		Key      jsonBytes `json:"key"`
		Reason   string    `json:"reason"`
		Conflict bool      `json:"conflict"`
	}{k.DB, jsonBytes(k.Key), k.Reason, conflict})
	fk.mu.Lock()
	defer fk.mu.Unlock()
	if err == nil {
		_, err = fk.w.Write(append(line, '\n'))
	}
	if fk.err == nil {
		fk.err = err
	}
}

func (fk *failedKeys) close(stderr io.Writer) {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	err := fk.w.Flush()
	if cerr := fk.f.Close(); err == nil {
		err = cerr
	}
	if fk.err == nil {
		fk.err = err
	}
	if fk.err != nil {
		fmt.Fprintf(stderr, "restore: --failed-keys: %v\n", fk.err)
	}
}
