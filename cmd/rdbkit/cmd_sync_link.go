package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/rdbkit/rdbkit/source"
)

// A linkError is an error of the replication link, after which sync
// connects again.
type linkError struct{ err error }

func (e *linkError) Error() string { return e.err.Error() }
func (e *linkError) Unwrap() error { return e.err }

// errSynced ends the loop: --until-synced and the destination caught up.
var errSynced = errors.New("sync: caught up")

// loop connects to the source, loads a snapshot when it sends one, and
// applies the stream, connecting again (with PSYNC) when the link drops.
// It returns nil when stopped by ctx once the destination holds a whole
// snapshot (the normal end), or by --until-synced; errInterrupted when
// stopped before.
func (run *syncRun) loop(ctx context.Context) error {
	pos := run.cp.prev // --resume: where the interrupted run stopped
	switch {
	case run.opts.resume && pos == nil:
		run.note("no checkpoint in %s: starting with a full sync", run.opts.checkpoint)
	case pos != nil && !pos.resumable():
		run.note("the checkpoint %s is of a run stopped before its snapshot was loaded: starting with a full sync", run.opts.checkpoint)
		pos = nil
	case pos != nil:
		if err := run.resumeFromMark(ctx, pos); err != nil {
			return err
		}
		run.replID, run.appliedDB = pos.ReplID, pos.DB
		run.applied.Store(pos.Applied)
		run.keep.restore(pos.KeepAlive)
		run.ready.Store(true)
	}
	stopped := func() error {
		if run.ready.Load() {
			return nil
		}
		return errInterrupted
	}
	var failing time.Time // since when the source cannot be reached
	for attempt := 0; ; attempt++ {
		run.phase.Store(phaseConnecting)
		run.lag.lastCmd, run.lag.confirmed = time.Now(), -1
		conn, snap, err := run.connect(ctx, pos)
		if err == nil {
			failing, attempt = time.Time{}, 0
			err = run.follow(ctx, conn, snap, pos)
			conn.Close()
			run.counters.streamBytes.Add(max(conn.Offset()-run.linkBase.Load(), 0))
			run.link.Store(nil)
		}
		var le *linkError
		switch {
		case errors.Is(err, errSynced):
			return nil
		case ctx.Err() != nil:
			return stopped()
		case err == nil:
			return nil
		case !errors.As(err, &le):
			return err
		}
		if failing.IsZero() {
			failing = time.Now()
		} else if time.Since(failing) > run.opts.reconnectFor {
			return fmt.Errorf("sync: the source has been unreachable for %v: %w", run.opts.reconnectFor, err)
		}
		run.counters.reconnects.Add(1)
		run.counters.classify("link")
		wait := min(100*time.Millisecond<<min(attempt, 6), 5*time.Second)
		if run.ready.Load() && len(run.replID) == 40 {
			p := run.position()
			pos = &p
			run.logf("link lost (%v); reconnecting in %v to continue from offset %d", le.err, wait, p.Applied)
		} else {
			pos = nil
			run.logf("link lost (%v); reconnecting in %v for a new full sync", le.err, wait)
		}
		if !sleepCtx(ctx, wait) {
			return stopped()
		}
	}
}

// sleepCtx waits for d or until ctx ends, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// connect dials the source and asks for a full sync, or, with pos, to
// continue from it. A refusal that trying again will not help (a wrong
// password, PSYNC not allowed) is returned as is; other failures as a
// *linkError.
func (run *syncRun) connect(ctx context.Context, pos *syncPosition) (*source.Conn, *source.Snapshot, error) {
	conn, err := source.Dial(ctx, run.ep, run.sopts)
	if err != nil {
		return nil, nil, run.sourceErr(err)
	}
	var snap *source.Snapshot
	if pos != nil {
		snap, err = conn.PartialSync(ctx, pos.ReplID, pos.Applied, pos.DB)
	} else {
		snap, err = conn.FullSync(ctx)
	}
	if err != nil {
		conn.Close()
		return nil, nil, run.sourceErr(err)
	}
	run.link.Store(conn)
	return conn, snap, nil
}

// sourceErr classifies an error of the source: a refusal that will not
// change (authentication, permission, no replication) is returned
// wrapped for the user; anything else is a *linkError.
func (run *syncRun) sourceErr(err error) error {
	var se *source.ServerError
	if errors.As(err, &se) && !errors.Is(se, source.ErrTryLater) {
		return fmt.Errorf("sync from %s: %w", run.src, err)
	}
	return &linkError{err}
}

// follow loads the snapshot, if the source sent one, then applies the
// stream until the link drops, ctx ends or the destination caught up.
func (run *syncRun) follow(ctx context.Context, conn *source.Conn, snap *source.Snapshot, pos *syncPosition) error {
	stopWatch := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopWatch()
	switch {
	case snap != nil && pos != nil:
		run.note("the source could not continue from offset %d of %s (backlog gone or another replication ID): full resync", pos.Applied, pos.ReplID)
	case snap == nil:
		run.logf("continuing from offset %d of %s (PSYNC +CONTINUE)", pos.Applied, pos.ReplID)
		run.counters.partial.Add(1)
	}
	if conn.ReplID() != "" && conn.ReplID() != run.replID && snap == nil {
		run.note("the source's replication ID is now %s (failover): continuing", conn.ReplID())
	}
	if snap != nil {
		if err := run.loadSnapshot(ctx, conn, snap); err != nil {
			return err
		}
	} else if conn.ReplID() != "" {
		run.replID = conn.ReplID()
	}
	run.linkBase.Store(conn.Offset())
	rd := startStreamReader(conn)
	defer rd.stop()
	if snap != nil {
		if err := run.loader().Flush(ctx); err != nil {
			return run.stopErr(ctx, err)
		}
		if err := run.setMark(ctx); err != nil {
			return run.stopErr(ctx, err)
		}
		if run.opts.beforeStream != nil {
			run.opts.beforeStream()
		}
		run.ready.Store(true)
		run.lag.lastCP = time.Time{} // save the new position at once
	}
	run.phase.Store(phaseStream)
	return run.applyStream(ctx, rd)
}

// stopErr returns errInterrupted for an error caused by ctx's end, err
// otherwise.
func (run *syncRun) stopErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errInterrupted
	}
	return err
}

// loadSnapshot gives the keys, functions and scripts of the snapshot to
// the loader as they arrive.
func (run *syncRun) loadSnapshot(ctx context.Context, conn *source.Conn, snap *source.Snapshot) error {
	run.phase.Store(phaseSnapshot)
	if run.snapshot || run.cp.prev != nil {
		// The keys there are those of an earlier snapshot of this source
		// (of this run, or of the run the checkpoint is of).
		run.note("loading a snapshot again, overwriting the keys of the earlier one (keys deleted on the source meanwhile may remain on the destination)")
		if err := run.replaceLoader(ctx); err != nil {
			return err
		}
	}
	run.snapshot = true
	run.ready.Store(false)
	run.keep.reset()
	if err := run.cp.markSnapshot(); err != nil {
		run.logf("%v", err)
	}
	run.counters.snapSize.Store(snap.Size)
	run.counters.snapBytes.Add(run.counters.snapRead.Swap(0))
	cr := &snapCounter{r: snap, n: &run.counters.snapRead}
	r := rdb.NewReader(cr)
	if run.opts.maxBuffer > 0 {
		r.MaxPayload = int(run.opts.maxBuffer)
	}
	l := run.loader()
	now := time.Now()
	for {
		if ctx.Err() != nil {
			return errInterrupted
		}
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if isFormatErr(err) {
				return fmt.Errorf("sync: the snapshot of %s: %w", run.src, err)
			}
			return run.stopErr(ctx, &linkError{fmt.Errorf("snapshot: %w", err)})
		}
		if err := run.loadEntry(ctx, l, e, now); err != nil {
			return run.stopErr(ctx, err)
		}
	}
	run.replID = snap.ReplID
	run.applied.Store(max(snap.Offset, 0))
	run.appliedDB = 0
	run.counters.snapOffset.Store(snap.Offset)
	if snap.ReplID == "" {
		run.note("the source answered SYNC (no PSYNC): a dropped link means a new full sync, and there is no checkpoint to resume")
	}
	run.logf("snapshot read: %d keys (%s) at offset %d of %s; %d keys about to expire held until sync ends",
		run.counters.snapKeys.Load(), byteSize(snap.N()), snap.Offset, snap.ReplID, run.keep.len())
	return nil
}

// loadEntry gives a record of the snapshot to the loader: a key (with
// the filters and the keep-alive placeholder), a function library, or a
// Lua script; the ctime aux field dates the snapshot. The error is the
// loader's fatal one or ctx's.
func (run *syncRun) loadEntry(ctx context.Context, l *loader.Loader, e *rdb.Entry, now time.Time) error {
	var err error
	switch e.Kind {
	case rdb.KindKey:
		run.counters.snapKeys.Add(1)
		if !run.f.match(e, now) {
			run.counters.snapFiltered.Add(1)
			return nil
		}
		exp := e.ExpireAt
		e.ExpireAt = run.keep.hold(e, time.Now())
		err = l.Write(ctx, e)
		e.ExpireAt = exp
		if run.opts.afterKey != nil {
			run.opts.afterKey(run.counters.snapKeys.Load())
		}
	case rdb.KindFunction:
		run.counters.functions.Add(1)
		if !run.opts.noFuncs {
			err = l.Function(ctx, e.Aux.Name, e.Aux.Value)
		}
	case rdb.KindAux:
		switch string(e.Aux.Name) {
		case "lua":
			if !run.opts.noFuncs {
				err = l.Script(ctx, e.Aux.Value)
			}
		case "ctime":
			if t, perr := strconv.ParseInt(string(e.Aux.Value), 10, 64); perr == nil {
				run.keep.snapshotTime(t * 1000)
			}
		}
	}
	return err
}

// isFormatErr reports whether err is a fault of the RDB itself, which
// reading it again will not mend.
func isFormatErr(err error) bool {
	for _, s := range []error{rdb.ErrCorrupt, rdb.ErrChecksum, rdb.ErrNotRDB, rdb.ErrVersion, rdb.ErrTooLarge} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// snapCounter counts the bytes of a snapshot read.
type snapCounter struct {
	r io.Reader
	n *atomic.Int64
}

func (c *snapCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
