package loader

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rdbkit/rdbkit/internal/resp"
	"github.com/redis/go-redis/v9"
)

// A pcmd is one command to send for a job, with its reply.
type pcmd struct {
	args []any // nil: the job's RESTORE (or EXISTS in a dry run), see appendRestore
	j    *job
	db   int

	addr   string // where to send it next (MOVED/ASK), "" for the slot's owner
	asking bool   // precede it with ASKING (an ASK redirection)

	val    any   // the reply's value (see resp.Reply)
	err    error // the final reply error (redis.Nil included), or a transport error
	netErr bool  // err is a transport error: the command may or may not have run
	resent bool  // it was sent again after a transport error
}

// name returns the command's name in upper case. Arguments are strings or,
// for commands made by rewrite, byte slices (which fmt.Sprint would print
// as numbers).
func (p *pcmd) name() string {
	if p.args == nil {
		if p.j.kind == jobExists {
			return "EXISTS"
		}
		return "RESTORE"
	}
	switch a := p.args[0].(type) {
	case string:
		return strings.ToUpper(a)
	case []byte:
		return strings.ToUpper(string(a))
	}
	return strings.ToUpper(fmt.Sprint(p.args[0]))
}

// maxRedirects bounds the MOVED/ASK hops of one command on top of the
// retries.
const maxRedirects = 16

// exec sends cmds, pipelined per node, in order per node, and fills in
// their replies. It follows MOVED (updating the slot map) and ASK, and
// waits and sends again on TRYAGAIN, LOADING, CLUSTERDOWN, MASTERDOWN and
// BUSY. A command whose connection failed is sent again only if
// retryNet is set (RESTORE: a second one finds the key already there,
// which the caller checks); otherwise its err is the transport error.
func (l *Loader) exec(ctx context.Context, cmds []*pcmd, retryNet bool) {
	l.execBatch(ctx, cmds, retryNet, nil)
}

// execBatch is exec with, if b is not nil, the commands of cmds already
// encoded in it (see process): in the first round, when they all still
// go to the node b is for, its buffer is written as it is.
func (l *Loader) execBatch(ctx context.Context, cmds []*pcmd, retryNet bool, b *batch) {
	todo := cmds
	for attempt := 0; ; attempt++ {
		var again []*pcmd
		wait := false
		for _, grp := range l.groupByNode(todo) {
			pre := b
			if pre != nil && (grp.addr != pre.addr || len(grp.cmds) != len(pre.at)) {
				pre = nil
			}
			a, w := l.execNode(ctx, grp.addr, grp.cmds, retryNet, pre)
			again = append(again, a...)
			wait = wait || w
		}
		b = nil
		if len(again) == 0 {
			return
		}
		if attempt >= l.o.Retries+maxRedirects || wait && attempt >= l.o.Retries || ctx.Err() != nil {
			for _, p := range again {
				if p.err == nil {
					p.err = ctx.Err()
				}
			}
			return
		}
		if wait {
			if !sleep(ctx, l.backoff(attempt)) {
				continue // the next round fails them with ctx.Err()
			}
			if l.slots != nil {
				_ = l.refreshSlots(ctx, false)
			}
		}
		todo = again
	}
}

type nodeCmds struct {
	addr string
	cmds []*pcmd
}

// groupByNode splits cmds by destination, keeping their order.
func (l *Loader) groupByNode(cmds []*pcmd) []nodeCmds {
	same := 0 // the commands that go where the first one goes, as most do
	for same < len(cmds) && l.dest(cmds[same]) == l.dest(cmds[0]) {
		same++
	}
	if same == len(cmds) {
		return []nodeCmds{{addr: l.dest(cmds[0]), cmds: cmds}}
	}
	var groups []nodeCmds
	for _, p := range cmds {
		addr := l.dest(p)
		i := 0
		for i < len(groups) && groups[i].addr != addr {
			i++
		}
		if i == len(groups) {
			groups = append(groups, nodeCmds{addr: addr})
		}
		groups[i].cmds = append(groups[i].cmds, p)
	}
	return groups
}

// dest returns the address of the node to send p to.
func (l *Loader) dest(p *pcmd) string {
	if p.addr != "" {
		return p.addr
	}
	return l.owner(p.j.slot)
}

// execNode sends cmds to the node at addr in one pipeline and returns the
// commands to send again, and whether to wait before that. If pre is not
// nil, it holds cmds encoded.
func (l *Loader) execNode(ctx context.Context, addr string, cmds []*pcmd, retryNet bool, pre *batch) (again []*pcmd, wait bool) {
	var at []int // the index of each command's reply
	if pre != nil {
		at = pre.at
	} else {
		at = make([]int, len(cmds))
	}
	replies, netErr := l.roundTrip(ctx, addr, func(c *resp.Conn) {
		if pre != nil {
			c.AppendEncoded(pre.buf, pre.n)
			return
		}
		db := -1
		for i, p := range cmds {
			if l.slots == nil && p.db != db {
				db = p.db
				c.Append("SELECT", db)
			}
			if p.asking {
				c.Append("ASKING")
			}
			at[i] = c.Queued()
			if p.args == nil {
				c.AppendEncoded(l.appendJob(nil, p.j), 1)
			} else {
				c.Append(p.args...)
			}
		}
	})
	for i, p := range cmds {
		val, err := replyAt(replies, at[i], netErr)
		p.addr, p.asking, p.val, p.err, p.netErr = "", false, val, err, false
		if err == nil || err == redis.Nil {
			continue
		}
		msg, isReply := isRedisError(err)
		switch {
		case !isReply:
			p.netErr = true
			if retryNet && ctx.Err() == nil {
				l.retries.Add(1)
				p.resent = true
				again = append(again, p)
				wait = true
			}
		case hasCode(err, "MOVED", "ASK"):
			to, asking, ok := l.follow(msg)
			if !ok {
				continue
			}
			p.addr, p.asking = to, asking
			again = append(again, p)
		case isRefusedForNow(err):
			l.retries.Add(1)
			again = append(again, p)
			wait = true
		}
	}
	return again, wait
}

// roundTrip sends the commands that queue queues on a connection to the
// node at addr, and returns their replies and, if the replies were cut
// short, the transport error (see resp.Conn.Exec).
func (l *Loader) roundTrip(ctx context.Context, addr string, queue func(c *resp.Conn)) ([]resp.Reply, error) {
	pool := l.pool(addr)
	c, err := pool.Get(ctx)
	if err != nil {
		return nil, err
	}
	queue(c)
	replies, err := c.Exec(ctx)
	pool.Put(c)
	return replies, err
}

// replyAt returns reply i of a round trip, or its transport error if the
// replies stopped before it.
func replyAt(replies []resp.Reply, i int, netErr error) (any, error) {
	if i < len(replies) {
		return replies[i].Val, replies[i].Err
	}
	return nil, netErr
}

// backoff returns the wait before retry attempt+1.
func (l *Loader) backoff(attempt int) time.Duration {
	d := l.o.RetryBackoff << min(attempt, 10)
	return min(d, 2*time.Second)
}

// sleep waits for d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
