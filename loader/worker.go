package loader

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/rdbkit/rdbkit/internal/resp"
	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// runWorker sends its node's batches and its own jobs until the node is
// closed and nothing is left.
func (l *Loader) runWorker(w *worker) {
	defer l.wg.Done()
	for {
		b, j := w.node.next(w)
		switch {
		case b != nil:
			l.process(b)
			w.node.recycle(b)
		case j != nil:
			l.chunk(j)
		default:
			return
		}
	}
}

// process sends a batch: its RESTOREs (EXISTS) in one round trip, then
// its other jobs one at a time; or its strings in one MSET. Every job of b
// is settled when it returns.
func (l *Loader) process(b *batch) {
	if b.set {
		l.processSet(b)
		return
	}
	if cap(b.ps) < len(b.at) {
		b.ps = make([]pcmd, 0, len(b.at)) // never grown: cmds point into it
	}
	ps, cmds := b.ps, b.cmds
	for i := range b.jobs {
		j := &b.jobs[i]
		if j.kind == jobRestore || j.kind == jobExists {
			if err := l.Err(); err != nil {
				l.finish(j, outFailed, notSent(err))
				continue
			}
			ps = append(ps, pcmd{j: j, db: j.db}) // no args: appendJob
			cmds = append(cmds, &ps[len(ps)-1])
		}
	}
	b.ps, b.cmds = ps, cmds
	if len(cmds) > 0 {
		l.sendRestores(b, cmds, b)
	}
	for i := range b.jobs {
		if j := &b.jobs[i]; j.kind == jobRewrite {
			l.rewriteKey(j)
		}
	}
}

// sendRestores sends cmds, the RESTOREs (EXISTS) of jobs of b, encoded in
// pre if it is not nil, and settles their jobs.
func (l *Loader) sendRestores(b *batch, cmds []*pcmd, pre *batch) {
	l.execBatch(l.ctx, cmds, true, pre)
	written := b.written // settled together
	for _, p := range cmds {
		switch {
		case p.j.kind == jobExists:
			l.existsDone(p)
		case p.err == nil:
			written = append(written, p.j)
		default:
			l.restoreDone(p)
		}
	}
	b.written = written
	l.finishWritten(written)
}

func notSent(err error) string { return "not sent: " + err.Error() }

// appendJob appends the command of j, a RESTORE or an EXISTS, to dst.
func (l *Loader) appendJob(dst []byte, j *job) []byte {
	if j.kind == jobExists {
		dst, _ = appendExists(dst, j.key)
		return dst
	}
	dst, _ = l.appendRestoreHead(dst, j, len(j.dump))
	dst = append(dst, j.dump...)
	return l.appendRestoreTail(dst, j)
}

// appendExists appends EXISTS key to dst, and returns where key is in it.
func appendExists(dst, key []byte) ([]byte, []byte) {
	dst = resp.AppendCommand(dst, 2)
	dst = resp.AppendArgString(dst, "EXISTS")
	return appendKey(dst, key)
}

// appendKey appends key as an argument to dst, and returns where it is in
// it.
func appendKey(dst, key []byte) ([]byte, []byte) {
	dst = resp.AppendArgHeader(dst, len(key))
	at := len(dst)
	dst = append(dst, key...)
	return append(dst, '\r', '\n'), dst[at : at+len(key) : at+len(key)]
}

// appendRestoreHead appends RESTORE key ttl and the header of a payload of
// n bytes (with the DUMP footer) to dst, and returns where the key is in
// it. The payload and appendRestoreTail follow.
func (l *Loader) appendRestoreHead(dst []byte, j *job, n int) ([]byte, []byte) {
	args := 4
	if j.expireAt != 0 {
		args++
	}
	if j.idle >= 0 || j.freq >= 0 {
		args += 2
	}
	if l.o.Conflict == ConflictReplace {
		args++
	}
	dst = resp.AppendCommand(dst, args)
	dst = resp.AppendArgString(dst, "RESTORE")
	dst, key := appendKey(dst, j.key)
	dst = resp.AppendArgInt(dst, j.expireAt)
	return resp.AppendArgHeader(dst, n), key
}

// appendRestoreTail ends the payload argument of a RESTORE and appends
// [ABSTTL] [IDLETIME n | FREQ n] [REPLACE] to dst: ABSTTL only for a key
// with an expiry (a TTL of 0 is none either way), an argument less for
// the server to parse for most keys.
func (l *Loader) appendRestoreTail(dst []byte, j *job) []byte {
	dst = append(dst, '\r', '\n')
	if j.expireAt != 0 {
		dst = resp.AppendArgString(dst, "ABSTTL")
	}
	switch {
	case j.idle >= 0:
		dst = resp.AppendArgString(dst, "IDLETIME")
		dst = resp.AppendArgInt(dst, j.idle)
	case j.freq >= 0:
		dst = resp.AppendArgString(dst, "FREQ")
		dst = resp.AppendArgInt(dst, j.freq)
	}
	if l.o.Conflict == ConflictReplace {
		dst = resp.AppendArgString(dst, "REPLACE")
	}
	return dst
}

// restoreDone settles a key from the error its RESTORE met.
func (l *Loader) restoreDone(p *pcmd) {
	j := p.j
	err := p.err
	switch {
	case hasCode(err, "BUSYKEY"):
		if (j.inDoubt || p.resent) && l.sameValue(j) {
			l.statsMu.Lock()
			l.stats.Recovered++
			l.statsMu.Unlock()
			l.finish(j, j.out, "")
			return
		}
		l.conflict(j)
	case p.netErr:
		l.setFatal(fmt.Errorf("%s: RESTORE %q: %w", l.owner(j.slot), j.key, err))
		l.finish(j, outFailed, "connection lost, may or may not be written: "+err.Error())
	case isPayloadRefused(err) && j.dump[0] == byte(rdb.EncModule2):
		v := rdb.NewPayloadValue(j.dump[:len(j.dump)-10], l.target.Version)
		v.Next()
		l.finish(j, outFailed, fmt.Sprintf("RESTORE: %v (module type %s, encoding version %d: the server may lack the module)",
			err, v.ModuleName, v.ModuleVersion))
	case l.o.Mode == ModeAuto && isPayloadRefused(err):
		// The server refused the payload (a version or an encoding it does
		// not know after all): commands may still do.
		raw := j.dump[:len(j.dump)-10]
		enc := rdb.NewPayloadValue(raw, l.target.Version).Encoding
		j.entry = &rdb.Entry{Kind: rdb.KindKey, DB: j.db, Key: j.key, Type: enc.Type(), Encoding: enc,
			ExpireAt: j.expireAt, Idle: -1, Freq: -1, Payload: raw}
		j.out = outRewritten
		why := strings.TrimPrefix(err.Error(), "ERR ")
		l.rewriteKeyAfter(j, "RESTORE refused it ("+why+")")
	default:
		l.finish(j, outFailed, "RESTORE: "+err.Error())
	}
}

// isPayloadRefused reports whether RESTORE failed on the payload itself.
func isPayloadRefused(err error) bool {
	msg, ok := isRedisError(err)
	return ok && (strings.Contains(msg, "DUMP payload version or checksum are wrong") ||
		strings.Contains(msg, "Bad data format"))
}

// conflict settles a key that exists in the destination.
func (l *Loader) conflict(j *job) {
	if l.o.Conflict == ConflictSkip {
		l.finish(j, outSkipped, "")
		return
	}
	why := "key exists (BUSYKEY)"
	if j.inDoubt {
		why = "key exists with another value (the interrupted run may have been first)"
	}
	l.finish(j, outConflict, why)
}

// finish settles j and gives back what it holds.
func (l *Loader) finish(j *job, out outcome, reason string) {
	l.settle(j, out, reason)
	l.sem.Release(j.held)
	j.held = 0
	j.dump, j.entry = nil, nil // the dump is in its batch's buffer
}

// finishWritten settles keys written by RESTORE and gives back what they
// hold, all at once.
func (l *Loader) finishWritten(js []*job) {
	if len(js) == 0 {
		return
	}
	l.settleWritten(js)
	var held int64
	for _, j := range js {
		held += j.held
		j.held, j.dump = 0, nil
	}
	l.sem.Release(held)
}

// rewriteKey writes a key with commands made from its payload. A lost
// connection starts the key over (the first command deletes the
// temporary key), up to Options.Retries times.
func (l *Loader) rewriteKey(j *job) { l.rewriteKeyAfter(j, "") }

func (l *Loader) rewriteKeyAfter(j *job, why string) {
	for attempt := 0; ; attempt++ {
		if err := l.Err(); err != nil {
			l.finish(j, outFailed, notSent(err))
			return
		}
		out, reason, retry := l.rewriteOnce(j, attempt > 0)
		if retry && attempt < l.o.Retries && l.ctx.Err() == nil {
			l.retries.Add(1)
			sleep(l.ctx, l.backoff(attempt))
			if l.slots != nil {
				_ = l.refreshSlots(l.ctx, false) // the node may have failed over
			}
			continue
		}
		if retry {
			l.setFatal(fmt.Errorf("%s: key %q: %s", l.owner(j.slot), j.key, reason))
		}
		if out == outFailed && why != "" {
			reason = why + "; " + reason
		}
		l.finish(j, out, reason)
		return
	}
}

// keyError is a failed command of a key.
type keyError struct{ p *pcmd }

func (e *keyError) Error() string {
	return e.p.name() + ": " + e.p.err.Error()
}

// rewriteOnce writes j with commands once; resent says an earlier attempt
// lost its connection, perhaps after its last command ran. retry: it
// failed on a lost connection and may be started over.
func (l *Loader) rewriteOnce(j *job, resent bool) (out outcome, reason string, retry bool) {
	opts := l.rewriteOptions(j.key, j.seq)
	var loss rewrite.Loss
	opts.Loss = &loss
	var buf []*pcmd
	var size, total int64
	var last *pcmd
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		l.exec(l.ctx, buf, false)
		for _, p := range buf {
			if p.err != nil && p.err != redis.Nil {
				return &keyError{p}
			}
		}
		last, buf, size = buf[len(buf)-1], buf[:0], 0
		return nil
	}
	emit := func(args [][]byte) error {
		cmd := make([]any, len(args))
		for i, a := range args {
			cmd[i] = bytes.Clone(a)
			size += int64(len(a))
		}
		buf = append(buf, &pcmd{args: cmd, j: j, db: j.db})
		if len(buf) >= l.o.Pipeline || size >= chunkBytes {
			total += size
			return flush()
		}
		return nil
	}
	err := rewrite.Commands(j.entry, j.entry.Value(), opts, emit)
	total += size
	if err == nil {
		err = flush()
	}
	var ke *keyError
	switch {
	case err == rewrite.ErrEmpty:
		return outExpired, "", false
	case errors.As(err, &ke):
		if ke.p.netErr {
			return outFailed, "connection lost while writing commands: " + ke.p.err.Error(), true
		}
		l.dropTemp(j, opts.Temp)
		return outFailed, ke.Error(), false
	case err != nil:
		l.dropTemp(j, opts.Temp)
		return outFailed, err.Error(), false
	}
	j.size, j.rwLoss = total, loss
	if isRefusal(last) {
		l.dropTemp(j, opts.Temp)
		if (j.inDoubt || resent) && l.sameValue(j) {
			l.statsMu.Lock()
			l.stats.Recovered++
			l.statsMu.Unlock()
			return outRewritten, "", false
		}
		if l.o.Conflict == ConflictSkip {
			return outSkipped, "", false
		}
		return outConflict, "key exists", false
	}
	return outRewritten, "", false
}

// isRefusal reports whether the last command of a rewrite did not create
// the key because it exists: RENAMENX replied 0, SET ... NX a nil.
func isRefusal(p *pcmd) bool {
	if p == nil {
		return false
	}
	switch p.name() {
	case "RENAMENX":
		n, ok := p.val.(int64)
		return p.err == nil && ok && n == 0
	case "SET":
		return p.err == redis.Nil
	}
	return false
}

// dropTemp deletes the temporary key of a rewrite that did not end in a
// rename (best effort: it expires anyway).
func (l *Loader) dropTemp(j *job, temp []byte) {
	if temp == nil {
		return
	}
	p := &pcmd{args: []any{"DEL", temp}, j: j, db: j.db}
	l.exec(l.ctx, []*pcmd{p}, true)
}

// chunk sends a batch of commands of a streamed key; the final batch
// settles the key.
func (l *Loader) chunk(j *job) {
	sk := j.sk
	if len(j.cmds) > 0 && !sk.failed.Load() {
		if err := l.Err(); err != nil {
			sk.fail(notSent(err), true)
		} else {
			cmds := make([]*pcmd, len(j.cmds))
			for i, c := range j.cmds {
				cmds[i] = &pcmd{args: c, j: j, db: j.db}
			}
			l.exec(l.ctx, cmds, false)
			for _, p := range cmds {
				if p.err != nil && p.err != redis.Nil {
					sk.fail((&keyError{p}).Error(), p.netErr)
					break
				}
			}
			sk.last = cmds[len(cmds)-1]
		}
	}
	j.cmds = nil
	if !j.final {
		l.sem.Release(j.held)
		return
	}
	switch {
	case sk.failed.Load():
		if sk.netErr {
			l.setFatal(fmt.Errorf("%s: key %q: %s", l.owner(j.slot), j.key, sk.reason))
		} else {
			l.dropTemp(j, sk.temp)
		}
		l.finish(j, outFailed, sk.reason+" (a key too large to buffer is not retried)")
	case sk.genErr == rewrite.ErrEmpty:
		l.finish(j, outExpired, "")
	case sk.genErr != nil:
		l.dropTemp(j, sk.temp)
		l.finish(j, outFailed, sk.genErr.Error())
	case isRefusal(sk.last):
		l.dropTemp(j, sk.temp)
		l.conflict(j)
	default:
		l.finish(j, outRewritten, "")
	}
}

func (sk *chunkKey) fail(reason string, netErr bool) {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if sk.failed.Load() {
		return
	}
	sk.reason, sk.netErr = reason, netErr
	sk.failed.Store(true)
}
