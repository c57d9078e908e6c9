package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/redis/go-redis/v9"
)

// A Mark is a key of the destination that [Applier.ApplyMarked] sets in
// the same transaction as a batch of commands. When the connection is
// lost with the transaction in flight (ErrInDoubt), the mark's value read
// afterwards ([Applier.ReadMark]) tells whether the batch ran, whole, or
// not at all: so a batch is applied exactly once even across a restart of
// the destination, as long as the destination keeps what it acknowledged.
// On a cluster, a transaction holds the commands of one slot, and its
// mark must be in that slot ([SlotMark]).
type Mark struct {
	DB  int    // the destination's database (DBMap does not apply)
	Key string // the key
}

// SlotMark returns the mark of slot on a cluster: prefix followed by a
// hash tag of the slot.
func SlotMark(prefix string, slot int) Mark {
	return Mark{Key: prefix + "{" + rewrite.SlotTag(slot) + "}"}
}

// A MarkedTx is a transaction of [Applier.ApplyMarkedTxs]: commands, then
// SET Mark.Key Value GET.
type MarkedTx struct {
	Mark  Mark
	Value string
	Cmds  []*Command
	// Done is set once the transaction ran (or by the caller, once it
	// found the mark set to Value after ErrInDoubt); Prev is then the
	// mark's value before it ("" when it did not exist).
	Done bool
	Prev string
}

// ApplyMarked applies ops as one transaction that sets mark to value, on
// a standalone destination, and returns the mark's value before. See
// ApplyMarkedTxs.
func (a *Applier) ApplyMarked(ctx context.Context, ops []*Op, mark Mark, value string) (prev string, err error) {
	tx := &MarkedTx{Mark: mark, Value: value}
	for _, op := range ops {
		tx.Cmds = append(tx.Cmds, op.Cmds...)
	}
	err = a.ApplyMarkedTxs(ctx, []*MarkedTx{tx})
	return tx.Prev, err
}

// ApplyMarkedTxs applies the transactions of txs that are not Done, each
// as MULTI, its commands in order (the commands of a transaction op among
// them), SET of its mark GET, EXEC: either they all run or none does. On
// a cluster, the commands and the mark of a transaction must be in one
// slot. The mark's value before, which the caller compares with the value
// it last set, shows a destination that lost earlier batches.
//
// Commands the destination refuses when queued (an unknown command, a
// wrong number of arguments: EXECABORT) keep their error, and the others
// are sent again as a new transaction. Errors are as Apply's; after
// ErrInDoubt, ReadMark says whether each transaction not Done ran.
func (a *Applier) ApplyMarkedTxs(ctx context.Context, txs []*MarkedTx) error {
	for {
		var ops []*Op
		var todo []*MarkedTx
		var sets []*Command
		for _, tx := range txs {
			if tx.Done {
				continue
			}
			set := markCommand(tx.Mark, "SET", tx.Value, "GET")
			ops = append(ops, &Op{Tx: true, Cmds: append(slices.Clip(tx.Cmds), set)})
			todo, sets = append(todo, tx), append(sets, set)
		}
		if len(ops) == 0 {
			return nil
		}
		err := a.Apply(ctx, ops)
		for i, tx := range todo {
			if sets[i].Err == nil { // its EXEC reply came, even if others did not
				tx.Done = true
				tx.Prev, _ = sets[i].Reply.(string)
			}
		}
		if err != nil {
			return err
		}
		for i, tx := range todo {
			set := sets[i]
			if tx.Done {
				continue
			}
			// The transaction did not run. Leave out the commands that
			// were refused when queued, and try the others again.
			var rest []*Command
			for _, c := range tx.Cmds {
				var ee *execError
				if c.Err == nil || errors.As(c.Err, &ee) {
					rest = append(rest, c)
				}
			}
			if len(rest) == len(tx.Cmds) {
				return fmt.Errorf("loader: SET of the mark %q: %w", tx.Mark.Key, set.Err)
			}
			tx.Cmds = rest
		}
	}
}

// markCommand returns a command on mark's key, in mark's database.
func markCommand(mark Mark, name string, args ...string) *Command {
	c := &Command{Args: [][]byte{[]byte(name), []byte(mark.Key)}, Keys: [][]byte{[]byte(mark.Key)}, mark: true, markDB: mark.DB}
	for _, a := range args {
		c.Args = append(c.Args, []byte(a))
	}
	return c
}

// ReadMark returns the value of the mark, "" when it does not exist.
// Transport errors are returned as they are (wrapped in ErrInDoubt): the
// caller decides how long to wait for the destination.
func (a *Applier) ReadMark(ctx context.Context, mark Mark) (string, error) {
	get := markCommand(mark, "GET")
	if err := a.Apply(ctx, []*Op{{Cmds: []*Command{get}}}); err != nil {
		return "", err
	}
	if get.Err != nil {
		return "", get.Err
	}
	v, _ := get.Reply.(string)
	return v, nil
}

// DeleteMarks deletes marks.
func (a *Applier) DeleteMarks(ctx context.Context, marks []Mark) error {
	ops := make([]*Op, len(marks))
	for i, m := range marks {
		ops[i] = &Op{Cmds: []*Command{markCommand(m, "DEL")}}
	}
	if err := a.Apply(ctx, ops); err != nil {
		return err
	}
	for _, op := range ops {
		if err := op.Cmds[0].Err; err != nil {
			return err
		}
	}
	return nil
}

// ReadMarks returns the marks whose keys start with prefix, by key: on a
// cluster, those of every master (SCAN MATCH in database 0, where slot
// marks are).
func (a *Applier) ReadMarks(ctx context.Context, prefix string) (map[string]string, error) {
	var marks []Mark
	for _, addr := range a.l.masters() {
		iter := a.l.client(addr).Scan(ctx, 0, globEscape(prefix)+"*", 1000).Iterator()
		for iter.Next(ctx) {
			marks = append(marks, Mark{Key: iter.Val()})
		}
		if err := iter.Err(); err != nil {
			return nil, fmt.Errorf("loader: %s: SCAN for the marks %s*: %w", addr, prefix, err)
		}
	}
	ops := make([]*Op, len(marks))
	for i, m := range marks {
		ops[i] = &Op{Cmds: []*Command{markCommand(m, "GET")}}
	}
	if err := a.Apply(ctx, ops); err != nil {
		return nil, err
	}
	values := make(map[string]string, len(marks))
	for i, op := range ops {
		get := op.Cmds[0]
		if get.Err != nil && get.Err != redis.Nil {
			return nil, fmt.Errorf("loader: GET %s: %w", marks[i].Key, get.Err)
		}
		if v, ok := get.Reply.(string); ok {
			values[marks[i].Key] = v
		}
	}
	return values, nil
}

// globEscape escapes the characters special to SCAN MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
