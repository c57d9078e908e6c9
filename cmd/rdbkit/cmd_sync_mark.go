package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/rdbkit/rdbkit/loader"
	"github.com/redis/go-redis/v9"
)

// Sync applies each batch of the stream in transactions that also set a
// position mark: a key holding the replication ID, the offset and the
// database just after the batch. On a standalone destination the batch is
// one transaction with one mark; on a cluster, which refuses transactions
// over several slots, each slot the batch touches gets a transaction of
// its commands and a mark of its own, in that slot (a keyless command,
// sent to every master, stays outside of them). When the connection to
// the destination is lost with a batch in flight, or the destination
// restarts or fails over, the marks read back once it answers again say
// which transactions ran (whole) and which did not run at all, so no
// command is applied twice or lost. A mark older than the last value set
// means the destination lost acknowledged writes (a restart without
// persistence, a replica promoted before it had them), which only a new
// full sync mends. The marks are deleted when sync stops (after its final
// checkpoint); on a standalone destination, one left by a killed run tells
// --resume where the destination really is.

// markPrefix starts the key of the mark, followed by the source's address.
const markPrefix = "rdbkit:sync:position:"

// syncMark is a run's position marks and their last acknowledged values.
type syncMark struct {
	key     loader.Mark       // standalone: the mark
	cluster bool              // one mark per slot, named after key.Key
	last    map[string]string // by key: the last value set or read ("" until then)
	// On a cluster after --resume: the slots whose marks (left by a
	// killed run) are past the checkpoint, with their offsets. A command
	// of such a slot at or before its offset was applied (appliedBefore).
	ahead    map[int]int64
	aheadMax int64
}

// appliedBefore reports whether the command c of the stream, which ends
// at offset, was applied by a killed run before this one resumed (see
// syncMark.ahead).
func (run *syncRun) appliedBefore(c *loader.Command, offset int64) bool {
	m := run.mark
	if m == nil || len(m.ahead) == 0 {
		return false
	}
	if offset > m.aheadMax {
		m.ahead = nil // the stream is past every mark
		return false
	}
	slot := run.applier().SlotOf(c)
	return slot >= 0 && offset <= m.ahead[slot]
}

func newSyncMark(addr string, cluster bool) *syncMark {
	m := &syncMark{key: loader.Mark{Key: markPrefix + addr}, cluster: cluster, last: map[string]string{}}
	if cluster {
		m.key.Key += ":"
	}
	return m
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
var errDestinationLost = errors.New("the destination lost writes it had acknowledged (it restarted without persisting them, failed over to a replica that lacked them, or was flushed): start a new sync")

// setMark sets the mark to the current position: after a snapshot is
// loaded, before the stream is applied. A cluster's marks are set with
// the first batch of each slot.
func (run *syncRun) setMark(ctx context.Context) error {
	if run.mark == nil || run.mark.cluster {
		return nil
	}
	return run.applyMarked(ctx, nil, markValue(run.replID, run.applied.Load(), run.appliedDB))
}

// markedTxs makes the transactions of a batch: one on a standalone
// destination; on a cluster, a step per run of keyed commands (one
// transaction per slot) and a step per keyless command (an op sent to
// every master, unmarked). A transaction op over several slots is split
// into its commands, as Apply does; a command that cannot be sent keeps
// its error.
func (run *syncRun) markedTxs(ap *loader.Applier, ops []*loader.Op, value string) (steps [][]*loader.MarkedTx, keyless []*loader.Op) {
	m := run.mark
	if !m.cluster {
		tx := &loader.MarkedTx{Mark: m.key, Value: value}
		for _, op := range ops {
			tx.Cmds = append(tx.Cmds, op.Cmds...)
		}
		return [][]*loader.MarkedTx{{tx}}, []*loader.Op{nil}
	}
	var cur []*loader.MarkedTx
	bySlot := map[int]*loader.MarkedTx{}
	add := func(c *loader.Command, slot int) {
		switch {
		case slot == -1: // keyless: a step of its own
			steps, keyless = append(steps, cur), append(keyless, nil)
			steps, keyless = append(steps, nil), append(keyless, &loader.Op{Cmds: []*loader.Command{c}})
			cur, bySlot = nil, map[int]*loader.MarkedTx{}
		case slot >= 0:
			tx := bySlot[slot]
			if tx == nil {
				tx = &loader.MarkedTx{Mark: loader.SlotMark(m.key.Key, slot), Value: value}
				bySlot[slot] = tx
				cur = append(cur, tx)
			}
			tx.Cmds = append(tx.Cmds, c)
		}
	}
	for _, op := range ops {
		slots := make([]int, len(op.Cmds))
		common := -2
		for i, c := range op.Cmds {
			slots[i] = ap.SlotOf(c)
			if i == 0 || slots[i] == common {
				common = slots[i]
			} else {
				common = -3
			}
		}
		if op.Tx && slices.Contains(slots, -2) {
			for i, c := range op.Cmds {
				if slots[i] != -2 {
					c.Err = errors.New("not sent: another command of its transaction could not be")
				}
			}
			continue
		}
		if op.Tx && common < 0 {
			op.Split = true
		}
		for i, c := range op.Cmds {
			add(c, slots[i])
		}
	}
	return append(steps, cur), append(keyless, nil)
}

// applyMarked applies ops in transactions that set the marks to value,
// exactly once: when the connection is lost with some in flight, it waits
// for the destination, reads their marks and sends again only those that
// did not run.
func (run *syncRun) applyMarked(ctx context.Context, ops []*loader.Op, value string) error {
	ap := run.applier()
	steps, keyless := run.markedTxs(ap, ops, value)
	for i, txs := range steps {
		if keyless[i] != nil {
			if err := ap.Apply(ctx, []*loader.Op{keyless[i]}); err != nil {
				return err
			}
			continue
		}
		if err := run.applyTxs(ctx, ap, txs); err != nil {
			return err
		}
	}
	return nil
}

// applyTxs applies marked transactions exactly once (see applyMarked).
func (run *syncRun) applyTxs(ctx context.Context, ap *loader.Applier, txs []*loader.MarkedTx) error {
	last := run.mark.last
	for {
		err := ap.ApplyMarkedTxs(ctx, txs)
		for _, tx := range txs {
			if !tx.Done || last[tx.Mark.Key] == tx.Value {
				continue
			}
			if l := last[tx.Mark.Key]; l != "" && tx.Prev != l {
				return run.lostErr(tx.Mark.Key, tx.Prev)
			}
			last[tx.Mark.Key] = tx.Value
		}
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, loader.ErrInDoubt):
			return err
		}
		run.counters.classify("destination_lost")
		run.logf("connection to the destination lost with a batch in flight (%v): waiting for it to tell whether the batch ran", err)
		for _, tx := range txs {
			if tx.Done {
				continue
			}
			got, err := run.waitMark(ctx, ap, tx.Mark)
			if err != nil {
				return err
			}
			switch {
			case got == tx.Value:
				for _, c := range tx.Cmds {
					c.Err, c.Reply = nil, nil // it ran; its replies are lost
				}
				run.logf("the destination is back and applied the batch (mark %s): continuing after offset %s", tx.Mark.Key, strings.Fields(tx.Value)[1])
				run.note("a batch of %d commands ran on the destination but its replies were lost with the connection: an error reply among them, if any, could not be reported", len(tx.Cmds))
				tx.Done, last[tx.Mark.Key] = true, tx.Value
			case got == last[tx.Mark.Key]:
				run.logf("the destination is back without the batch (mark %s): sending it again", tx.Mark.Key)
			default:
				return run.lostErr(tx.Mark.Key, got)
			}
		}
	}
}

// lostErr is the error of a destination whose mark key is got, not the
// last value set.
func (run *syncRun) lostErr(key, got string) error {
	return fmt.Errorf("sync: %s: %w (its mark %s is %q, want %q)", run.dest, errDestinationLost, key, got, run.mark.last[key])
}

// waitMark reads a mark, waiting (up to --reconnect-for) for a
// destination that cannot be reached.
func (run *syncRun) waitMark(ctx context.Context, ap *loader.Applier, mark loader.Mark) (v string, err error) {
	err = run.untilReachable(ctx, func() (err error) {
		v, err = ap.ReadMark(ctx, mark)
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

// resumeFromMark reconciles a checkpoint with the mark on a standalone
// destination. A run that stopped cleanly deleted its mark, its final
// checkpoint being exact; a mark left behind is of a run that was killed,
// and is ahead of its checkpoint (saved every second) or equal to it.
// Behind it, the destination lost acknowledged writes.
func (run *syncRun) resumeFromMark(ctx context.Context, pos *syncPosition) error {
	if run.mark == nil {
		return nil
	}
	ap := run.applier()
	if run.mark.cluster {
		return run.resumeFromSlotMarks(ctx, ap, pos)
	}
	v, err := run.waitMark(ctx, ap, run.mark.key)
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
	run.mark.last[run.mark.key.Key] = v
	return nil
}

// resumeFromSlotMarks reads the marks a killed run left on a cluster: a
// slot's mark past the checkpoint means the commands of that slot up to
// its offset were applied, and are not sent again (see appliedBefore).
// A slot's mark may be behind the checkpoint (no later batch touched the
// slot); one of another replication ID is of another sync.
func (run *syncRun) resumeFromSlotMarks(ctx context.Context, ap *loader.Applier, pos *syncPosition) error {
	var marks map[string]string
	err := run.untilReachable(ctx, func() (err error) {
		marks, err = ap.ReadMarks(ctx, run.mark.key.Key)
		return err
	})
	if err != nil {
		return err
	}
	for key, v := range marks {
		replID, offset, _, ok := parseMark(v)
		if !ok || replID != pos.ReplID {
			return fmt.Errorf("sync: %s: %w (its mark %s is %q, the checkpoint's replication ID is %s)", run.dest, errDestinationLost, key, v, pos.ReplID)
		}
		run.mark.last[key] = v
		if offset > pos.Applied {
			if run.mark.ahead == nil {
				run.mark.ahead = map[int]int64{}
			}
			run.mark.ahead[rewrite.Slot([]byte(key))] = offset
			run.mark.aheadMax = max(run.mark.aheadMax, offset)
		}
	}
	if n := len(run.mark.ahead); n > 0 {
		run.logf("the destination applied commands of %d slots past the checkpoint's offset %d (up to %d): they are not sent again", n, pos.Applied, run.mark.aheadMax)
	}
	return nil
}

// dropMark deletes the marks at the end of a run, once the checkpoint
// (if any) holds the same position, so that the destination is left with
// the source's keys only.
func (run *syncRun) dropMark() {
	if run.mark == nil || len(run.mark.last) == 0 {
		return
	}
	if err := run.saveCheckpoint(); err != nil {
		run.logf("%v; the position marks %s... stay on the destination", err, run.mark.key.Key)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ap := run.applier()
	var marks []loader.Mark
	for key := range run.mark.last {
		marks = append(marks, loader.Mark{Key: key})
	}
	if err := ap.DeleteMarks(ctx, marks); err != nil {
		run.logf("deleting the position marks %s...: %v", run.mark.key.Key, err)
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
