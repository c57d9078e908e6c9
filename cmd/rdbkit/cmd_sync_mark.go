package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/redis/go-redis/v9"
)

// On a standalone destination, sync applies each batch of the stream as
// one transaction that also sets a position mark: a key holding the
// replication ID, the offset and the database just after the batch. When
// the connection to the destination is lost with a batch in flight, or
// the destination restarts, the mark read back once it answers again says
// whether the batch ran (whole) or not at all, so no command is applied
// twice or lost. A mark older than the last batch acknowledged means the
// destination lost acknowledged writes, which only a new full sync mends.
// The mark is deleted when sync stops (after its final checkpoint); one
// left by a killed run tells --resume where the destination really is.

// markPrefix starts the key of the mark, followed by the source's address.
const markPrefix = "rdbkit:sync:position:"

// syncMark is a run's position mark and its last acknowledged value.
type syncMark struct {
	key  loader.Mark
	last string // "" until set after the snapshot, or read on --resume
}

// markValue is the mark's value for a position.
func markValue(replID string, offset int64, db int) string {
	return replID + " " + strconv.FormatInt(offset, 10) + " " + strconv.Itoa(db)
}

// parseMark reads a mark's value.
func parseMark(v string) (replID string, offset int64, db int, ok bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return "", 0, 0, false
	}
	offset, err1 := strconv.ParseInt(f[1], 10, 64)
	db, err2 := strconv.Atoi(f[2])
	return f[0], offset, db, err1 == nil && err2 == nil
}

// errDestinationLost is the error of a destination that no longer holds
// what it acknowledged.
var errDestinationLost = errors.New("the destination lost writes it had acknowledged (it restarted without persisting them, or was flushed): start a new sync")

// setMark sets the mark to the current position: after a snapshot is
// loaded, before the stream is applied.
func (run *syncRun) setMark(ctx context.Context) error {
	if run.mark == nil {
		return nil
	}
	return run.applyMarked(ctx, nil, markValue(run.replID, run.applied.Load(), run.appliedDB))
}

// applyMarked applies ops in one transaction that sets the mark to value,
// exactly once: when the connection is lost with it in flight, it waits
// for the destination, reads the mark and sends the batch again only if
// it did not run.
func (run *syncRun) applyMarked(ctx context.Context, ops []*loader.Op, value string) error {
	run.lmu.Lock()
	ap := run.ap
	run.lmu.Unlock()
	for {
		prev, err := ap.ApplyMarked(ctx, ops, run.mark.key, value)
		switch {
		case err == nil && run.mark.last != "" && prev != run.mark.last:
			return run.lostErr(prev)
		case err == nil:
			run.mark.last = value
			return nil
		case !errors.Is(err, loader.ErrInDoubt):
			return err
		}
		run.counters.classify("destination_lost")
		run.logf("connection to the destination lost with a batch in flight (%v): waiting for it to tell whether the batch ran", err)
		got, err := run.waitMark(ctx, ap)
		if err != nil {
			return err
		}
		switch {
		case got == value:
			n := 0
			for _, op := range ops {
				for _, c := range op.Cmds {
					c.Err, c.Reply = nil, nil // it ran; its replies are lost
					n++
				}
			}
			run.logf("the destination is back and applied the batch: continuing after offset %s", strings.Fields(value)[1])
			run.note("a batch of %d commands ran on the destination but its replies were lost with the connection: an error reply among them, if any, could not be reported", n)
			run.mark.last = value
			return nil
		case got == run.mark.last:
			run.logf("the destination is back without the batch: sending it again")
		default:
			return run.lostErr(got)
		}
	}
}

// lostErr is the error of a destination whose mark is not the last one
// set.
func (run *syncRun) lostErr(got string) error {
	return fmt.Errorf("sync: %s: %w (its mark %s is %q, want %q)", run.dest, errDestinationLost, run.mark.key.Key, got, run.mark.last)
}

// waitMark reads the mark, waiting (up to --reconnect-for) for a
// destination that cannot be reached.
func (run *syncRun) waitMark(ctx context.Context, ap *loader.Applier) (v string, err error) {
	err = run.untilReachable(ctx, func() (err error) {
		v, err = ap.ReadMark(ctx, run.mark.key)
		return err
	})
	return v, err
}

// untilReachable calls f again while it fails for want of a connection
// to the destination, for up to --reconnect-for. f must be safe to call
// again after a lost connection.
func (run *syncRun) untilReachable(ctx context.Context, f func() error) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || !isConnErr(err) || ctx.Err() != nil {
			return err
		}
		if time.Since(start) > run.opts.reconnectFor {
			return fmt.Errorf("sync: the destination %s has been unreachable for %v: %w", run.dest, run.opts.reconnectFor, err)
		}
		if !sleepCtx(ctx, min(100*time.Millisecond<<min(attempt, 5), 2*time.Second)) {
			return ctx.Err()
		}
	}
}

// resumeFromMark reconciles a checkpoint with the mark on the
// destination. A run that stopped cleanly deleted its mark, its final
// checkpoint being exact; a mark left behind is of a run that was killed,
// and is ahead of its checkpoint (saved every second) or equal to it.
// Behind it, the destination lost acknowledged writes.
func (run *syncRun) resumeFromMark(ctx context.Context, pos *syncPosition) error {
	if run.mark == nil {
		return nil
	}
	run.lmu.Lock()
	ap := run.ap
	run.lmu.Unlock()
	v, err := run.waitMark(ctx, ap)
	if err != nil || v == "" {
		return err
	}
	replID, offset, db, ok := parseMark(v)
	switch {
	case !ok || replID != pos.ReplID || offset < pos.Applied:
		return fmt.Errorf("sync: %s: %w (its mark %s is %q, the checkpoint is at %s)", run.dest, errDestinationLost,
			run.mark.key.Key, v, markValue(pos.ReplID, pos.Applied, pos.DB))
	case offset > pos.Applied:
		run.logf("the destination applied up to offset %d, past the checkpoint's %d: continuing from there", offset, pos.Applied)
		pos.Applied, pos.DB = offset, db
	}
	run.mark.last = v
	return nil
}

// dropMark deletes the mark at the end of a run, once the checkpoint (if
// any) holds the same position, so that the destination is left with the
// source's keys only.
func (run *syncRun) dropMark() {
	if run.mark == nil || run.mark.last == "" {
		return
	}
	if err := run.saveCheckpoint(); err != nil {
		run.logf("%v; the position mark %s stays on the destination", err, run.mark.key.Key)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run.lmu.Lock()
	ap := run.ap
	run.lmu.Unlock()
	if err := ap.DeleteMark(ctx, run.mark.key); err != nil {
		run.logf("deleting the position mark %s: %v", run.mark.key.Key, err)
	}
}

// isConnErr reports whether err is a lost or refused connection, or a
// destination still loading its data after a restart.
func isConnErr(err error) bool {
	var ne net.Error
	var re redis.Error
	return errors.Is(err, loader.ErrInDoubt) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.As(err, &re) && strings.HasPrefix(re.Error(), "LOADING")
}
