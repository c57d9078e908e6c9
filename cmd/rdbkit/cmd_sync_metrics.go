package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rdbkit/rdbkit/source"
)

// syncCounters are the counters of a run, read by the progress line, the
// metrics and the summary.
type syncCounters struct {
	snapKeys     atomic.Int64 // keys read from snapshots
	snapFiltered atomic.Int64
	snapRead     atomic.Int64 // bytes of the current snapshot read
	snapBytes    atomic.Int64 // bytes of the snapshots done before it
	snapSize     atomic.Int64 // size of the current snapshot, -1 if diskless
	snapOffset   atomic.Int64
	functions    atomic.Int64

	applied      atomic.Int64 // stream commands applied
	bytesApplied atomic.Int64 // their argument bytes
	filtered     atomic.Int64
	dropped      atomic.Int64
	txSplit      atomic.Int64
	streamBytes  atomic.Int64 // stream bytes read on the links closed so far
	reconnects   atomic.Int64
	partial      atomic.Int64 // PSYNC +CONTINUE

	mu       sync.Mutex
	failed   int64
	classes  map[string]int64
	failures []cmdFailure // the first maxFailuresLogged
}

// A cmdFailure is a command of the stream that failed.
type cmdFailure struct {
	Offset  int64     `json:"offset"`
	DB      int       `json:"db"`
	Key     jsonBytes `json:"key,omitempty"`
	Command string    `json:"command"`
	Class   string    `json:"class"`
	Error   string    `json:"error"`
}

// fail counts a failed command and returns how many have failed.
func (c *syncCounters) fail(f cmdFailure) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed++
	if c.classes == nil {
		c.classes = map[string]int64{}
	}
	c.classes[f.Class]++
	if len(c.failures) < maxFailuresLogged {
		c.failures = append(c.failures, f)
	}
	return c.failed
}

// classify counts an error that is not a command's.
func (c *syncCounters) classify(class string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.classes == nil {
		c.classes = map[string]int64{}
	}
	c.classes[class]++
}

func (c *syncCounters) failedCommands() (int64, []cmdFailure, map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed, slices.Clone(c.failures), maps.Clone(c.classes)
}

// lagState is how far the destination is behind the link.
type lagState struct {
	oldest atomic.Int64 // Unix ns when the oldest command not yet applied was read; 0: none
	caught atomic.Bool  // every command read is applied and the link is quiet
	// Of the applying goroutine only:
	prevLink  int64
	since     time.Time // caught up since; zero when not
	lastCmd   time.Time // when the last command was taken, or the sync asked for
	confirmed int64     // a link offset the source's own offset did not pass; -1: none
	noInfo    bool      // the source's offset cannot be read (INFO refused)
	lastCP    time.Time
	lastPrune time.Time
}

// pruneEvery is how often kept keys the stream changed are forgotten.
const pruneEvery = 10 * time.Second

// streamRead returns the stream bytes read over every link.
func (run *syncRun) streamRead() int64 {
	n := run.counters.streamBytes.Load()
	if c := run.link.Load(); c != nil {
		n += max(c.Offset()-run.linkBase.Load(), 0)
	}
	return n
}

// lagNow returns the lag: bytes read from the link and not applied, and
// the age of the oldest command not applied.
func (run *syncRun) lagNow() (int64, time.Duration) {
	if run.phase.Load() != phaseStream || run.lag.caught.Load() {
		return 0, 0
	}
	var n int64
	if c := run.link.Load(); c != nil {
		n = max(c.Offset()-run.applied.Load(), 0)
	}
	var d time.Duration
	if o := run.lag.oldest.Load(); o != 0 {
		d = max(time.Since(time.Unix(0, o)), 0)
	}
	return n, d
}

// housekeep runs between batches of the stream: it finds whether the
// destination has caught up, prunes the kept-alive keys when it has,
// saves the checkpoint every second, and ends --until-synced (once the
// kept-alive keys are settled).
func (run *syncRun) housekeep(ctx context.Context, rd *streamReader) error {
	now := time.Now()
	link := rd.conn.Offset()
	applied := run.applied.Load()
	idle := len(rd.ch) == 0 && applied >= rd.handed.Load()
	// Once every command read is applied, the link offset is past the
	// applied one only by PINGs and REPLCONFs, which the stream consumes
	// itself: the offset not moving for a tick says so.
	caught := idle && (link == applied || link == run.lag.prevLink)
	run.lag.prevLink = link
	run.lag.caught.Store(caught)
	switch {
	case !caught:
		run.lag.since = time.Time{}
	case run.lag.since.IsZero():
		run.lag.since = now
	}
	synced := run.opts.untilSynced && run.group.synced(run.member, caught && run.settled(ctx, now, link))
	switch {
	case run.keep.len() == 0:
	case synced:
		if err := run.settleKeep(ctx, now, settleDue); err != nil {
			return err
		}
	case caught && now.Sub(run.lag.lastPrune) >= pruneEvery:
		run.lag.lastPrune = now
		if err := run.settleKeep(ctx, now, settlePrune); err != nil {
			return err
		}
	}
	if now.Sub(run.lag.lastCP) >= time.Second {
		run.lag.lastCP = now
		if err := run.saveCheckpoint(); err != nil {
			run.logf("%v", err)
		}
	}
	if synced && run.keep.len() == 0 {
		how := ""
		if run.lag.confirmed == link {
			how = " (the source's replication offset confirms it)"
		}
		run.logf("caught up: offset %d applied%s", applied, how)
		return errSynced
	}
	return nil
}

// settled reports, the destination having caught up, whether the source
// has been quiet for opts.settle (--until-synced then ends): the
// destination has stayed caught up that long; or, sooner, no command has
// come for that long (or since the sync was asked for, the snapshot's time
// included) and the source's own replication offset is not past the
// link's: nothing more is on its way. A source that refuses INFO is given
// the time.
func (run *syncRun) settled(ctx context.Context, now time.Time, link int64) bool {
	lag := &run.lag
	switch {
	case now.Sub(lag.since) >= run.opts.settle:
		return true
	case lag.noInfo || now.Sub(lag.lastCmd) < run.opts.settle:
		return false
	case lag.confirmed == link:
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	off, err := source.ReplOffset(ctx, run.ep, run.sopts)
	if err != nil {
		lag.noInfo = true
		run.logf("the source's replication offset cannot be read (%v): --until-synced ends after %v caught up", err, run.opts.settle)
		return false
	}
	if off > link {
		return false
	}
	lag.confirmed = link
	return true
}

// startProgress shows the progress on stderr until the returned function
// is called: a line redrawn in place on a terminal, else a line every
// 5 s.
func (run *syncRun) startProgress() func() {
	every := run.opts.progressEvery
	if every <= 0 {
		every = 5 * time.Second
		if run.term {
			every = 250 * time.Millisecond
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				line := run.progressLine()
				run.outMu.Lock()
				if run.term {
					fmt.Fprintf(run.stderr, "\r%s\x1b[K", line)
				} else {
					fmt.Fprintln(run.stderr, line)
				}
				run.outMu.Unlock()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if run.term {
			run.outMu.Lock()
			fmt.Fprint(run.stderr, "\r\x1b[K")
			run.outMu.Unlock()
		}
	}
}

// progressLine describes the current phase.
func (run *syncRun) progressLine() string {
	switch run.phase.Load() {
	case phaseSnapshot:
		st := run.loaderStats()
		n, size := run.counters.snapRead.Load(), run.counters.snapSize.Load()
		line := run.name + ": snapshot: " + byteSize(n)
		if size > 0 {
			line += fmt.Sprintf(" of %s (%d%%)", byteSize(size), n*100/size)
		}
		line += fmt.Sprintf(", %d keys read, %d written", run.counters.snapKeys.Load(), st.Written())
		if bad := st.Failed + st.Conflicts; bad > 0 {
			line += fmt.Sprintf(", %d failed or conflicting", bad)
		}
		return line
	case phaseStream:
		lb, ls := run.lagNow()
		var link int64
		if c := run.link.Load(); c != nil {
			link = c.Offset()
		}
		failed, _, _ := run.counters.failedCommands()
		line := fmt.Sprintf("%s: stream: source offset %d, applied %d, lag %s / %.3fs, %d commands applied",
			run.name, link, run.applied.Load(), byteSize(lb), ls.Seconds(), run.counters.applied.Load())
		if failed > 0 {
			line += fmt.Sprintf(", %d failed", failed)
		}
		if k := run.keep.len(); k > 0 {
			line += fmt.Sprintf(", %d keys kept alive", k)
		}
		return line
	}
	return run.name + ": connecting to " + run.src
}

// syncMetrics are the metrics of sync (--metrics-addr).
var syncMetrics = []metricSpec{
	{"rdbkit_sync_phase", prometheus.GaugeValue, "phase", "The phase the sync is in (1) and those it is not in (0)."},
	{"rdbkit_sync_keys_read_total", prometheus.CounterValue, "", "Keys read from snapshots."},
	{"rdbkit_sync_keys_written_total", prometheus.CounterValue, "", "Keys of snapshots written to the destination."},
	{"rdbkit_sync_bytes_read_total", prometheus.CounterValue, "stage", "Bytes read from the source."},
	{"rdbkit_sync_bytes_written_total", prometheus.CounterValue, "stage", "Bytes written to the destination: payloads or arguments of the snapshot's keys, arguments of the stream's commands."},
	{"rdbkit_sync_commands_applied_total", prometheus.CounterValue, "", "Commands of the stream applied."},
	{"rdbkit_sync_commands_filtered_total", prometheus.CounterValue, "", "Commands of the stream left out by a filter."},
	{"rdbkit_sync_commands_dropped_total", prometheus.CounterValue, "", "Commands of the stream that are not data (PUBLISH)."},
	{"rdbkit_sync_commands_failed_total", prometheus.CounterValue, "", "Commands of the stream that failed."},
	{"rdbkit_sync_errors_total", prometheus.CounterValue, "class", "Errors by class: the code of a command's error reply (WRONGTYPE, ...), key_failed and key_conflict for keys of snapshots."},
	{"rdbkit_sync_lag_bytes", prometheus.GaugeValue, "", "Bytes of the stream read from the source and not yet applied."},
	{"rdbkit_sync_lag_seconds", prometheus.GaugeValue, "", "Age of the oldest command of the stream read and not yet applied."},
	{"rdbkit_sync_source_offset", prometheus.GaugeValue, "", "The source's replication offset read from the link."},
	{"rdbkit_sync_applied_offset", prometheus.GaugeValue, "", "The replication offset applied to the destination."},
	{"rdbkit_sync_reconnects_total", prometheus.CounterValue, "", "Times the link to the source was lost and connected again."},
	{"rdbkit_sync_kept_alive_keys", prometheus.GaugeValue, "", "Keys of the snapshot held alive until the stream has caught up."},
}

// metricSamples reads the counters of syncMetrics.
func (run *syncRun) metricSamples() samples {
	var s samples
	c := &run.counters
	st := run.loaderStats()
	s.addPhase("rdbkit_sync_phase", phaseNames[:], int(run.phase.Load()))
	s.add("rdbkit_sync_keys_read_total", c.snapKeys.Load())
	s.add("rdbkit_sync_keys_written_total", st.Written())
	s.addLabel("rdbkit_sync_bytes_read_total", "snapshot", c.snapBytes.Load()+c.snapRead.Load())
	s.addLabel("rdbkit_sync_bytes_read_total", "stream", run.streamRead())
	s.addLabel("rdbkit_sync_bytes_written_total", "snapshot", st.Bytes)
	s.addLabel("rdbkit_sync_bytes_written_total", "stream", c.bytesApplied.Load())
	s.add("rdbkit_sync_commands_applied_total", c.applied.Load())
	s.add("rdbkit_sync_commands_filtered_total", c.filtered.Load())
	s.add("rdbkit_sync_commands_dropped_total", c.dropped.Load())
	failed, _, classes := c.failedCommands()
	s.add("rdbkit_sync_commands_failed_total", failed)
	if classes == nil {
		classes = map[string]int64{}
	}
	classes["key_failed"] += st.Failed
	classes["key_conflict"] += st.Conflicts
	classes["function_failed"] += st.FunctionsFailed + st.FunctionConflicts
	for _, k := range slices.Sorted(maps.Keys(classes)) {
		s.addLabel("rdbkit_sync_errors_total", k, classes[k])
	}
	lb, ls := run.lagNow()
	s.add("rdbkit_sync_lag_bytes", lb)
	s.addFloat("rdbkit_sync_lag_seconds", ls.Seconds())
	var link int64
	if cn := run.link.Load(); cn != nil {
		link = cn.Offset()
	}
	s.add("rdbkit_sync_source_offset", link)
	s.add("rdbkit_sync_applied_offset", run.applied.Load())
	s.add("rdbkit_sync_reconnects_total", c.reconnects.Load())
	s.add("rdbkit_sync_kept_alive_keys", int64(run.keep.len()))
	return s
}
