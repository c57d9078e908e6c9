package loader

import (
	"context"
	"strings"

	"github.com/rdbkit/rdbkit/internal/resp"
	"github.com/rdbkit/rdbkit/rdb"
)

// Strings without expiry go to a standalone server many to a command:
// MSETNX (MSET under ConflictReplace) of a batch's strings. A RESTORE is
// the most expensive command a server runs per byte restored: it parses
// the command, checks the payload's CRC64, decompresses it and decodes
// it, for what is most often a short string. Measured on Redis 7.0.15
// (cachegrind, the first 100,000 keys of the benchmark file, 53% of them
// strings), the server runs 18% fewer instructions for the same keys when
// the strings come by MSETNX: as few as it runs to load them from its own
// RDB file. The value the server keeps is the same: it picks a string's
// encoding (int, embstr, raw) from its bytes whichever command brings it.
//
// A key with an expiry, an LRU or LFU hint, a value of more than
// maxSetValue bytes, a key an interrupted run may have written, a Redis
// Cluster (MSET takes the keys of one slot) and Mode other than ModeAuto
// keep RESTORE. When MSETNX fails (a key exists, the connection dropped,
// the server refused it), the keys of its batch are sent again one
// RESTORE each, which says what became of each of them; a server that
// refuses the command itself (an ACL without it, a proxy that lacks it)
// gets no other.

// maxSetValue bounds the strings sent by MSET. Past a few KiB, the
// command's cost is the bytes, not the command; and Redis reads an
// argument of 32 KiB or more (PROTO_MBULK_BIG_ARG) into a buffer of its
// own, which a value may then keep with room to spare.
const maxSetValue = 16 << 10

// setValue returns the value of e if it goes by MSET.
func (l *Loader) setValue(e *rdb.Entry, j *job) ([]byte, bool) {
	if l.o.Mode != ModeAuto || l.slots != nil || e.Encoding != rdb.EncString || e.Payload == nil ||
		e.ExpireAt != 0 || e.Idle >= 0 || e.Freq >= 0 || j.inDoubt || l.noSet.Load() {
		return nil, false
	}
	var s rdb.StringLayout
	if s.ParseBlob(e.Payload, rdb.EncString) != nil || len(s.Span())+1 != len(e.Payload) || s.Len > maxSetValue {
		return nil, false // a payload the server will say is bad, or too long
	}
	val, err := s.AppendTo(l.setBuf[:0])
	if err != nil {
		return nil, false
	}
	l.setBuf = val // reused: Write copies val before it returns
	return val, true
}

// setCommand is the command that sets many strings.
func (l *Loader) setCommand() string {
	if l.o.Conflict == ConflictReplace {
		return "MSET"
	}
	return "MSETNX"
}

// queueSet sends the string e, whose value is val, by MSET.
func (l *Loader) queueSet(ctx context.Context, e *rdb.Entry, j *job, val []byte) error {
	held, err := l.acquire(ctx, j, int64(len(e.Key)+len(val)))
	if err != nil {
		return err
	}
	j.kind, j.out, j.held = jobSet, outSet, held
	l.dispatch(j, val)
	return nil
}

// encodeSet appends the key and value of j, a string, to b, the arguments
// of an MSET; j's key and value become views of them.
func encodeSet(b *batch, j *job, val []byte) {
	b.buf, j.key = appendKey(b.buf, j.key)
	b.buf, j.value = appendKey(b.buf, val)
	j.size = int64(len(j.key) + len(j.value))
}

// processSet sends b, a batch of strings of one database, in one MSETNX
// (MSET), after a SELECT. Every job of b is settled when it returns.
func (l *Loader) processSet(b *batch) {
	if err := l.Err(); err != nil {
		for i := range b.jobs {
			l.finish(&b.jobs[i], outFailed, notSent(err))
		}
		return
	}
	head := resp.AppendCommand(b.head[:0], 2)
	head = resp.AppendArgString(head, "SELECT")
	head = resp.AppendArgInt(head, int64(b.db))
	head = resp.AppendCommand(head, 1+2*len(b.jobs))
	b.head = resp.AppendArgString(head, l.setCommand())
	replies, netErr := l.roundTrip(l.ctx, b.addr, func(c *resp.Conn) {
		c.AppendEncoded(b.head, 1)
		c.AppendEncoded(b.buf, 1)
	})
	val, err := replyAt(replies, 1, netErr)
	if err == nil && (val == "OK" || val == int64(1)) {
		for i := range b.jobs {
			b.written = append(b.written, &b.jobs[i])
		}
		l.finishWritten(b.written)
		return
	}
	msg, isReply := isRedisError(err)
	if isReply && (hasCode(err, "NOPERM") || strings.Contains(msg, "unknown command")) {
		l.noSet.Store(true)
	}
	l.restoreEach(b, err != nil && !isReply)
}

// restoreEach sends the strings of b, whose MSETNX did not write them
// all, one RESTORE each: they say which exist (the reason MSETNX writes
// none), and the errors of each. resent: the MSETNX may have run before
// its connection dropped, so a key found written with the same value
// counts as written.
func (l *Loader) restoreEach(b *batch, resent bool) {
	ps, cmds := b.ps[:0], b.cmds[:0]
	if cap(ps) < len(b.jobs) {
		ps = make([]pcmd, 0, len(b.jobs)) // never grown: cmds point into it
	}
	ver := l.target.DumpVersion()
	for i := range b.jobs {
		j := &b.jobs[i]
		payload := rdb.AppendString([]byte{byte(rdb.EncString)}, j.value)
		j.kind, j.dump = jobRestore, rdb.AppendDumpFooter(payload, 0, ver)
		ps = append(ps, pcmd{j: j, db: j.db, resent: resent})
		cmds = append(cmds, &ps[len(ps)-1])
	}
	b.ps, b.cmds = ps, cmds
	l.sendRestores(b, cmds, nil)
}
