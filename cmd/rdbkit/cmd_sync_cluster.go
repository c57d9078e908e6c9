package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/rdbkit/rdbkit/source"
)

// A Cluster source is synced with one run per master: its own replication
// link, snapshot, loader, position, keep-alive and checkpoint
// (FILE.<node id>), all into the same destination, in parallel. A master's
// stream holds the writes of its own slots only, so the runs need no
// common order.

// sourceMasters returns the masters of a Cluster source, or nil for a
// standalone one. A source that does not answer CLUSTER NODES (an ACL
// user without it) is synced as one server, with a note.
func (run *syncRun) sourceMasters(ctx context.Context) ([]source.Master, error) {
	masters, err := source.ClusterMasters(ctx, run.ep, run.sopts)
	switch {
	case errors.Is(err, source.ErrNotCluster):
		return nil, nil
	case errors.Is(err, source.ErrClusterNotWhole):
		return nil, fmt.Errorf("sync: %w", err)
	case err != nil:
		run.logf("could not tell whether the source is a Cluster (%v): syncing %s alone", err, run.src)
		return nil, nil
	}
	return masters, nil
}

// A syncGroup is the runs of the masters of a Cluster source: with
// --until-synced they end once every one has caught up at the same time.
type syncGroup struct {
	mu     sync.Mutex
	caught []bool
}

// synced records whether member i has caught up, and reports whether
// every member has. A nil group is a run of its own.
func (g *syncGroup) synced(i int, caught bool) bool {
	if g == nil {
		return caught
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.caught[i] = caught
	for _, c := range g.caught {
		if !c {
			return false
		}
	}
	return true
}

// syncClusterReport is the summary of the sync of a Cluster source; also
// its --json output.
type syncClusterReport struct {
	Source      string              `json:"source"`
	Destination string              `json:"destination"`
	OK          bool                `json:"ok"`
	Synced      bool                `json:"synced"`
	Masters     []syncMasterSummary `json:"masters"`
	Notes       []string            `json:"notes,omitempty"`
}

// syncMasterSummary is the summary of one master's run.
type syncMasterSummary struct {
	ID    string   `json:"id"`
	Addr  string   `json:"addr"`
	Slots [][2]int `json:"slots"`
	syncReport
}

// runSyncCluster syncs every master of a Cluster source, one run each,
// in parallel. The first run to fail stops the others: a Cluster is
// migrated whole or reported as not.
func runSyncCluster(ctx context.Context, parent *syncRun, masters []source.Master, stdout io.Writer) error {
	opts := parent.opts
	stderr := newLockedWriter(parent.stderr)
	parent.stderr = stderr
	group := &syncGroup{caught: make([]bool, len(masters))}
	runs := make([]*syncRun, len(masters))
	for i, m := range masters {
		o := opts
		o.metricsAddr = ""
		if o.checkpoint != "" {
			o.checkpoint += "." + m.ID
		}
		if i > 0 {
			// The masters of a Cluster hold the same function libraries:
			// they are loaded once, from the first master.
			o.noFuncs = true
		}
		r := &syncRun{opts: o, stderr: stderr, start: parent.start, name: "sync " + m.Endpoint.Addr, group: group, member: i}
		if err := r.setup(); err != nil {
			return err
		}
		r.useEndpoint(m.Endpoint)
		runs[i] = r
	}
	parent.logf("%s is a Redis Cluster: one replication link per master (%d)", parent.src, len(masters))
	if !opts.noFuncs && len(masters) > 1 {
		parent.note("function libraries and FUNCTION commands are taken from the master of slot 0 only")
	}
	ms, err := serveMetrics("sync", opts.metricsAddr, parent.logf, newRunCollector(syncMetrics, mergedSamples(runs)))
	if err != nil {
		return err
	}
	defer ms.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	reps := make([]*syncReport, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Go(func() {
			reps[i], errs[i] = r.execute(ctx)
			if errs[i] != nil && !errors.Is(errs[i], context.Canceled) {
				cancel(errs[i])
			}
		})
	}
	wg.Wait()

	rep := &syncClusterReport{Source: parent.src, Destination: parent.dest, OK: true, Synced: true, Notes: parent.notes}
	for i, m := range masters {
		if reps[i] == nil {
			reps[i] = &syncReport{Source: runs[i].src, Destination: runs[i].dest}
			if errs[i] != nil {
				reps[i].Error = errs[i].Error()
			}
		}
		rep.OK = rep.OK && reps[i].OK
		rep.Synced = rep.Synced && reps[i].Synced
		rep.Masters = append(rep.Masters, syncMasterSummary{ID: m.ID, Addr: m.Endpoint.Addr, Slots: m.Slots, syncReport: *reps[i]})
	}
	if err := rep.write(stdout, opts.json); err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// useEndpoint makes the run read the master ep of a Cluster source.
func (run *syncRun) useEndpoint(ep source.Endpoint) {
	run.ep = ep
	run.src = ep.Redacted()
	run.cp.source = run.src
}

// mergedSamples adds up the metrics of the runs: counters, bytes and the
// number of runs in each phase; the lag in seconds is the largest.
func mergedSamples(runs []*syncRun) func() samples {
	return func() samples {
		var out samples
		at := map[[2]string]int{}
		for _, r := range runs {
			if r.loader() == nil {
				continue // not started yet
			}
			for _, s := range r.metricSamples() {
				k := [2]string{s.name, s.label}
				i, ok := at[k]
				switch {
				case !ok:
					at[k] = len(out)
					out = append(out, s)
				case s.name == "rdbkit_sync_lag_seconds":
					out[i].v = max(out[i].v, s.v)
				default:
					out[i].v += s.v
				}
			}
		}
		return out
	}
}

// write prints the report of every master, then the verdict.
func (r *syncClusterReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	for _, m := range r.Masters {
		if _, err := fmt.Fprintf(w, "master %s (%s, %d slot ranges):\n", m.ID, m.Addr, len(m.Slots)); err != nil {
			return err
		}
		if err := m.syncReport.write(w, false); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
			return err
		}
	}
	verdict := fmt.Sprintf("ok: every master's keys and commands were applied (%d masters)\n", len(r.Masters))
	if !r.OK {
		verdict = "not ok: see the masters above\n"
	}
	_, err := io.WriteString(w, verdict)
	return err
}
