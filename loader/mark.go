package loader

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// A Mark is a key of a standalone destination that [Applier.ApplyMarked]
// sets in the same transaction as a batch of commands. When the
// connection is lost with the transaction in flight (ErrInDoubt), the
// mark's value read afterwards ([Applier.ReadMark]) tells whether the
// batch ran, whole, or not at all: so a batch is applied exactly once
// even across a restart of the destination, as long as the destination
// keeps what it acknowledged.
type Mark struct {
	DB  int    // the destination's database (DBMap does not apply)
	Key string // the key
}

// ErrMarkNeedsStandalone is the error of ApplyMarked on a cluster.
var ErrMarkNeedsStandalone = errors.New("loader: marked batches need a standalone destination")

// ApplyMarked applies ops as one transaction on a standalone destination:
// MULTI, every command of ops in order (the commands of a transaction op
// among them), SET mark.Key value GET, EXEC. Either they all run or none
// does. It returns the mark's value before ("" when it did not exist), by
// which the caller sees a destination that lost earlier batches.
// Commands the destination refuses when queued (an unknown command, a
// wrong number of arguments: EXECABORT) keep their error, and the others
// are sent again as a new transaction. Errors are as Apply's; after
// ErrInDoubt, ReadMark says whether the transaction ran.
func (a *Applier) ApplyMarked(ctx context.Context, ops []*Op, mark Mark, value string) (prev string, err error) {
	if a.l.slots != nil {
		return "", ErrMarkNeedsStandalone
	}
	set := &Command{Args: [][]byte{[]byte("SET"), []byte(mark.Key), []byte(value), []byte("GET")}, mark: true, markDB: mark.DB}
	var cmds []*Command
	for _, op := range ops {
		cmds = append(cmds, op.Cmds...)
	}
	for {
		tx := &Op{Tx: true, Cmds: append(cmds, set)}
		if err := a.Apply(ctx, []*Op{tx}); err != nil {
			return "", err
		}
		if set.Err == nil {
			prev, _ := set.Reply.(string)
			return prev, nil
		}
		// The transaction did not run. Leave out the commands that were
		// refused when queued, and try the others again.
		var rest []*Command
		for _, c := range cmds {
			var ee *execError
			if c.Err == nil || errors.As(c.Err, &ee) {
				rest = append(rest, c)
			}
		}
		if len(rest) == len(cmds) {
			return "", fmt.Errorf("loader: SET of the mark %q: %w", mark.Key, set.Err)
		}
		cmds = rest
	}
}

// ReadMark returns the value of the mark, "" when it does not exist.
// Transport errors are returned as they are: the caller decides how long
// to wait for the destination.
func (a *Applier) ReadMark(ctx context.Context, mark Mark) (string, error) {
	if a.l.slots != nil {
		return "", ErrMarkNeedsStandalone
	}
	c := a.l.client(a.l.masters()[0])
	pipe := c.Pipeline()
	pipe.Select(ctx, mark.DB)
	get := pipe.Get(ctx, mark.Key)
	_, _ = pipe.Exec(ctx)
	v, err := get.Result()
	if err == redis.Nil {
		return "", nil
	}
	return v, err
}

// DeleteMark deletes the mark.
func (a *Applier) DeleteMark(ctx context.Context, mark Mark) error {
	if a.l.slots != nil {
		return ErrMarkNeedsStandalone
	}
	del := &Command{Args: [][]byte{[]byte("DEL"), []byte(mark.Key)}, mark: true, markDB: mark.DB}
	if err := a.Apply(ctx, []*Op{{Cmds: []*Command{del}}}); err != nil {
		return err
	}
	return del.Err
}
