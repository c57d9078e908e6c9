package loader

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/rdbkit/rdbkit/internal/resp"
	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/redis/go-redis/v9"
)

// An Applier applies commands, such as those of a replication stream, to
// the destination of a Loader: in order, over the Loader's connections
// (one pipeline per node and call), with every reply checked. Get one with
// [Loader.Applier]. It caches what the destination's COMMAND INFO says of
// each command (see [Applier.Keys]).
//
// An Applier is meant for one goroutine. It must not be used once the
// Loader is closed. Keys given to [Loader.Write] are written by the
// Loader's workers in no particular order: call [Loader.Flush] before
// applying commands that must follow them.
type Applier struct {
	l    *Loader
	cmds commandSpecs
}

// Applier returns a new Applier that sends commands through l.
func (l *Loader) Applier() *Applier { return &Applier{l: l} }

// A Command is one command for [Applier.Apply].
type Command struct {
	// DB is the source's database; Options.DBMap (and DefaultDB) map it
	// as they map the keys given to Write.
	DB   int
	Args [][]byte // the command name first
	// Keys are the command's keys (see Applier.Keys), which route it on a
	// cluster; a command without keys goes to every master of a cluster.
	// They are not used on a standalone destination.
	Keys [][]byte
	// Err is set by Apply: the command's error reply, or why it was not
	// sent (keys in several slots of a cluster, a database a cluster
	// lacks); nil when it succeeded (a nil reply included).
	Err error
	// Reply is set by Apply: the reply when it succeeded (as go-redis
	// reads it: int64, string, []any, nil), the first master's for a
	// command sent to every master.
	Reply any

	// mark is set on the SET of a Mark, whose database (markDB) is the
	// destination's, not mapped.
	mark   bool
	markDB int
}

// cmdDB returns the destination database of c.
func (l *Loader) cmdDB(c *Command) int {
	if c.mark {
		return c.markDB
	}
	return l.destDB(c.DB)
}

// An Op is a unit of [Applier.Apply]: one command, or several applied as
// a transaction (MULTI, the commands, EXEC) on one connection.
type Op struct {
	Cmds []*Command
	Tx   bool
	// Split is set by Apply when a transaction could not be applied as
	// one on a cluster (its keys are in several slots): its commands were
	// sent one by one, each to its slot's node, in order.
	Split bool
}

// ErrInDoubt is the error of Apply when a connection failed while
// commands were in flight: they may or may not have run. Commands are
// never sent twice, since most are not idempotent (INCR, LPUSH, ...).
var ErrInDoubt = errors.New("loader: connection to the destination lost while commands were in flight: they may or may not have been applied")

// A CrossSlotError is the error of a command whose keys are in several
// hash slots of a cluster destination: it is not sent.
type CrossSlotError struct {
	Keys  [][]byte
	Slots []int
}

func (e *CrossSlotError) Error() string {
	var b strings.Builder
	b.WriteString("CROSSSLOT keys in different slots of the cluster destination:")
	for i, k := range e.Keys {
		fmt.Fprintf(&b, " %q (slot %d)", k, e.Slots[i])
		if i == 4 && len(e.Keys) > 5 {
			fmt.Fprintf(&b, " and %d more", len(e.Keys)-5)
			break
		}
	}
	return b.String()
}

// A unit is what one node receives of an Op: the whole Op, one command of
// a split transaction, or a copy of a keyless command for each master.
type unit struct {
	op     *Op
	cmds   []*Command
	tx     bool
	slot   int    // -1: keyless (any node of a standalone destination; a fixed master of a cluster)
	addr   string // where to send it: a cluster master for a keyless unit, a redirection, "" for the slot's owner
	asking bool
	errs   []error // the reply of each command, merged into Command.Err at the end
	vals   []any   // the successful replies, merged into Command.Reply
}

// Apply sends ops in order and sets the Err of each command. On a
// standalone destination every op goes down one pipeline, with SELECT
// before the commands of each database. On a cluster each op goes to the
// master owning the slot of its keys (its commands' keys must all be in
// one slot; a transaction over several slots is split, see Op.Split), a
// keyless command to every master, each master's pipeline in order.
// MOVED and ASK are followed; TRYAGAIN, LOADING, BUSY, CLUSTERDOWN and
// MASTERDOWN are waited out and sent again (up to Options.Retries).
//
// Its error is ErrInDoubt (wrapped, with the cause), ctx's, or the
// Loader's fatal error: commands failing on their own are reported in
// their Err only.
func (a *Applier) Apply(ctx context.Context, ops []*Op) error {
	l := a.l
	if err := l.Err(); err != nil {
		return err
	}
	units := a.route(ctx, ops)
	todo := units
	for attempt := 0; len(todo) > 0; attempt++ {
		var again []*unit
		wait := false
		var inDoubt error
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, g := range a.groupUnits(todo) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ag, w, err := a.execNode(ctx, g.addr, g.units)
				mu.Lock()
				defer mu.Unlock()
				again = append(again, ag...)
				wait = wait || w
				if err != nil && inDoubt == nil {
					inDoubt = fmt.Errorf("%w: %s: %w", ErrInDoubt, g.addr, err)
				}
			}()
		}
		wg.Wait()
		if inDoubt != nil {
			a.merge(units)
			return inDoubt
		}
		if len(again) == 0 || ctx.Err() != nil ||
			attempt >= l.o.Retries+maxRedirects || wait && attempt >= l.o.Retries {
			break
		}
		if wait {
			sleep(ctx, l.backoff(attempt))
			if l.slots != nil {
				_ = l.refreshSlots(ctx, false)
			}
		}
		todo = keepOrder(units, again)
	}
	a.merge(units)
	return ctx.Err()
}

// keepOrder returns the units of again in the order of all.
func keepOrder(all, again []*unit) []*unit {
	in := make(map[*unit]bool, len(again))
	for _, u := range again {
		in[u] = true
	}
	out := again[:0:0]
	for _, u := range all {
		if in[u] {
			out = append(out, u)
		}
	}
	return out
}

// merge sets Command.Err and Reply from the replies of the units: the
// first error of a command sent to several masters, with the master
// named.
func (a *Applier) merge(units []*unit) {
	var seen map[*Command]bool // on a cluster, a keyless command is in a unit per master
	if a.l.slots != nil {
		seen = make(map[*Command]bool, len(units))
	}
	for _, u := range units {
		for i, c := range u.cmds {
			if seen == nil || !seen[c] {
				if seen != nil {
					seen[c] = true
				}
				c.Reply = u.vals[i]
			}
			err := u.errs[i]
			if err == nil || c.Err != nil {
				continue
			}
			if u.slot < 0 && a.l.slots != nil {
				err = fmt.Errorf("%s: %w", u.addr, err)
			}
			c.Err = err
		}
	}
}

// route makes the units of ops, and sets the Err of the commands that
// cannot be sent.
func (a *Applier) route(ctx context.Context, ops []*Op) []*unit {
	l := a.l
	var units []*unit
	for _, op := range ops {
		for _, c := range op.Cmds {
			c.Err, c.Reply = nil, nil
		}
		if l.slots == nil {
			if a.checkDBs(ctx, op) {
				units = append(units, newUnit(op, op.Cmds, op.Tx, 0, ""))
			}
			continue
		}
		slots := make([]int, len(op.Cmds))
		ok, common := true, -2
		for i, c := range op.Cmds {
			slots[i] = a.slotOf(c)
			switch {
			case slots[i] == -2:
				ok = false
			case common == -2:
				common = slots[i]
			case common != slots[i]:
				common = -3 // several
			}
		}
		if !ok {
			if op.Tx {
				for i, c := range op.Cmds {
					if c.Err == nil && slots[i] != -2 {
						c.Err = errors.New("not sent: another command of its transaction could not be")
					}
				}
			}
			continue
		}
		switch {
		case op.Tx && common >= 0:
			units = append(units, newUnit(op, op.Cmds, true, common, ""))
		default:
			op.Split = op.Tx
			for i, c := range op.Cmds {
				if slots[i] >= 0 {
					units = append(units, newUnit(op, []*Command{c}, false, slots[i], ""))
					continue
				}
				for _, addr := range l.masters() {
					units = append(units, newUnit(op, []*Command{c}, false, -1, addr))
				}
			}
		}
	}
	return units
}

func newUnit(op *Op, cmds []*Command, tx bool, slot int, addr string) *unit {
	return &unit{op: op, cmds: cmds, tx: tx, slot: slot, addr: addr, errs: make([]error, len(cmds)), vals: make([]any, len(cmds))}
}

// slotOf returns the slot of the keys of c on a cluster, -1 for a keyless
// command, -2 when it cannot be sent (its Err says why).
// SlotOf returns the slot of the keys of c on a cluster, -1 for a
// keyless command (sent to every master), -2 when it cannot be sent
// (keys in several slots, a database other than 0), its Err then saying
// why. On a standalone destination it returns 0.
func (a *Applier) SlotOf(c *Command) int {
	if a.l.slots == nil {
		return 0
	}
	return a.slotOf(c)
}

func (a *Applier) slotOf(c *Command) int {
	if db := a.l.cmdDB(c); db != 0 {
		c.Err = fmt.Errorf("not sent: a Redis Cluster has only database 0 (command of database %d; use --db-map %d=0)", c.DB, c.DB)
		return -2
	}
	if len(c.Keys) == 0 {
		return -1
	}
	slot := rewrite.Slot(c.Keys[0])
	for _, k := range c.Keys[1:] {
		if rewrite.Slot(k) != slot {
			e := &CrossSlotError{}
			for _, k := range c.Keys {
				e.Keys, e.Slots = append(e.Keys, k), append(e.Slots, rewrite.Slot(k))
			}
			c.Err = e
			return -2
		}
	}
	return slot
}

// checkDBs makes sure the databases of op exist on a standalone
// destination (a failed SELECT in a pipeline would let the next commands
// run in another database); if one does not, no command of op is sent.
func (a *Applier) checkDBs(ctx context.Context, op *Op) bool {
	for _, c := range op.Cmds {
		if err := a.l.checkDB(ctx, a.l.cmdDB(c)); err != nil {
			for _, c2 := range op.Cmds {
				c2.Err = fmt.Errorf("not sent: %w", err)
			}
			return false
		}
	}
	return true
}

type nodeUnits struct {
	addr  string
	units []*unit
}

// groupUnits splits units by node, keeping their order.
func (a *Applier) groupUnits(units []*unit) []nodeUnits {
	var groups []nodeUnits
	idx := map[string]int{}
	for _, u := range units {
		addr := u.addr
		if addr == "" {
			addr = a.l.owner(max(u.slot, 0))
		}
		i, ok := idx[addr]
		if !ok {
			i = len(groups)
			idx[addr] = i
			groups = append(groups, nodeUnits{addr: addr})
		}
		groups[i].units = append(groups[i].units, u)
	}
	return groups
}

// sentUnit holds where the replies of a unit are in its round trip.
type sentUnit struct {
	u      *unit
	multi  int   // the MULTI of a transaction
	queued []int // one per command (QUEUED for a transaction)
	execAt []int // for a transaction: the EXEC reply's index of each command
	exec   int   // the EXEC of a transaction
}

// execNode sends units to the node at addr in one pipeline and reads the
// replies: it returns the units to send again (redirected, or refused for
// now: wait), and the transport error if the connection failed.
func (a *Applier) execNode(ctx context.Context, addr string, units []*unit) (again []*unit, wait bool, netErr error) {
	l := a.l
	sent := make([]sentUnit, len(units))
	for i, u := range units {
		sent[i] = sentUnit{u: u, multi: -1, exec: -1}
	}
	replies, cut := l.roundTrip(ctx, addr, func(c *resp.Conn) {
		db := -1
		for i, u := range units {
			s := &sent[i]
			if u.asking {
				c.Append("ASKING")
			}
			if u.tx {
				if l.slots == nil && db != l.cmdDB(u.cmds[0]) {
					db = l.cmdDB(u.cmds[0])
					c.Append("SELECT", db)
				}
				s.multi = c.Queued()
				c.Append("MULTI")
				n := 0
				for _, cmd := range u.cmds {
					if d := l.cmdDB(cmd); l.slots == nil && d != db {
						db = d
						c.Append("SELECT", db)
						n++
					}
					s.execAt = append(s.execAt, n)
					s.queued = append(s.queued, c.Queued())
					c.AppendArgs(cmd.Args)
					n++
				}
				s.exec = c.Queued()
				c.Append("EXEC")
				if n != len(u.cmds) {
					db = -1 // a SELECT inside: an aborted EXEC would not have run it
				}
				continue
			}
			cmd := u.cmds[0]
			if d := l.cmdDB(cmd); l.slots == nil && d != db {
				db = d
				c.Append("SELECT", db)
			}
			s.queued = append(s.queued, c.Queued())
			c.AppendArgs(cmd.Args)
		}
	})
	for i := range sent {
		s := &sent[i]
		u := s.u
		u.asking = false
		var err error
		switch {
		case s.queued == nil: // not even sent: no connection
			err = cut
			for i := range u.errs {
				u.errs[i] = err
			}
		case u.tx:
			err = a.txReplies(s, replies, cut)
		default:
			var val any
			val, err = replyAt(replies, s.queued[0], cut)
			if err == redis.Nil {
				err = nil
			}
			u.errs[0], u.vals[0] = err, val
		}
		if err == nil {
			continue
		}
		msg, isReply := isRedisError(err)
		switch {
		case !isReply:
			if netErr == nil {
				netErr = err
			}
		case hasCode(err, "MOVED", "ASK"):
			to, asking, ok := l.follow(msg)
			if !ok {
				continue
			}
			u.addr, u.asking = to, asking
			again = append(again, u)
		case isRefusedForNow(err):
			l.retries.Add(1)
			again = append(again, u)
			wait = true
		}
	}
	return again, wait, netErr
}

// txReplies reads the replies of a transaction into its unit's errs and
// returns the error that decides its fate: a transport error, a
// redirection or a refusal for now (the whole transaction is sent again),
// or nil once each command has its own reply.
func (a *Applier) txReplies(s *sentUnit, replies []resp.Reply, netErr error) error {
	u := s.u
	if _, err := replyAt(replies, s.multi, netErr); err != nil {
		for i := range u.errs {
			u.errs[i] = fmt.Errorf("MULTI: %w", err)
		}
		return err
	}
	var decisive error
	queuedErr := false
	for i, q := range s.queued {
		_, err := replyAt(replies, q, netErr)
		u.errs[i] = err
		if err == nil {
			continue
		}
		queuedErr = true
		if _, isReply := isRedisError(err); !isReply || hasCode(err, "MOVED", "ASK") || isRefusedForNow(err) {
			if decisive == nil {
				decisive = err
			}
		}
	}
	val, err := replyAt(replies, s.exec, netErr)
	res, _ := val.([]any)
	switch {
	case decisive != nil:
		return decisive
	case err != nil:
		if _, isReply := isRedisError(err); !isReply {
			return err
		}
		for i := range u.errs {
			if u.errs[i] == nil {
				u.errs[i] = &execError{err}
			}
		}
		return nil
	case queuedErr:
		return nil // EXEC ran the others: possible only on very old servers
	}
	for i, at := range s.execAt {
		if at < len(res) {
			if e, ok := res[at].(error); ok {
				u.errs[i] = e
			} else {
				u.vals[i] = res[at]
			}
		}
	}
	return nil
}

// An execError is the error of a command of a transaction that EXEC
// refused as a whole (EXECABORT: another command was refused when
// queued): the command itself did not run.
type execError struct{ err error }

func (e *execError) Error() string { return "EXEC: " + e.err.Error() }
func (e *execError) Unwrap() error { return e.err }
