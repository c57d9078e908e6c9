package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/rdbkit/rdbkit/rdb"
)

// jobKind tells how a job is sent.
type jobKind int

const (
	jobRestore jobKind = iota // one RESTORE of j.dump
	jobRewrite                // commands made by the worker from j.entry
	jobChunk                  // a batch of commands of a streamed key
	jobExists                 // a dry run: EXISTS
	jobSet                    // a string without expiry, in its batch's MSET
)

// A job is one key to write, or one batch of commands of a key too large
// to hold in memory.
type job struct {
	kind jobKind
	seq  uint64
	db   int
	key  []byte
	slot int     // hash slot on a Redis Cluster, 0 otherwise
	out  outcome // how the key counts once written

	dump       []byte // jobRestore: DUMP payload
	inflated   int    // jobRestore: the payload's length with its blobs stored plain (see encode), 0 if as it is
	enc        rdb.Encoding
	value      []byte // jobSet: the string
	expireAt   int64
	idle, freq int64
	entry      *rdb.Entry // jobRewrite: a clone, with its payload

	cmds  [][]any   // jobChunk: the commands
	final bool      // jobChunk: the last batch of the key
	sk    *chunkKey // jobChunk: what the batches of one key share

	size    int64 // bytes written when it succeeds (Stats.Bytes)
	held    int64 // bytes held from the semaphore
	inDoubt bool  // may have been written by an interrupted run
	loss    rdb.Loss
	rwLoss  rewrite.Loss
}

// chunkKey is the state of a streamed key shared by its batches.
type chunkKey struct {
	failed atomic.Bool
	mu     sync.Mutex
	reason string
	netErr bool
	last   *pcmd
	genErr error // set on the final batch: what rewrite.Commands returned
	temp   []byte
}

var errKeyFailed = errors.New("loader: key failed")

// Write sends the key e (other kinds of entries are ignored). It copies
// what it needs, so e may change once Write returns; for a streamed entry
// (nil Payload) it reads the value from the Reader first. It blocks while
// the bytes in flight are at their bound. Its error is only ever the
// Loader's fatal error (ErrStopped: stop writing and Close) or ctx's; the
// fate of each key is in Stats.
func (l *Loader) Write(ctx context.Context, e *rdb.Entry) error {
	if err := l.Err(); err != nil {
		return err
	}
	if e.Kind != rdb.KindKey {
		return nil
	}
	l.statsMu.Lock()
	l.stats.Read++
	l.statsMu.Unlock()
	j := &job{
		seq:      l.track.add(e.Offset),
		db:       l.destDB(e.DB),
		key:      e.Key, // until the job is queued: see dispatch
		expireAt: e.ExpireAt,
		idle:     e.Idle,
		freq:     e.Freq,
	}
	if l.slots != nil { // a standalone server has one owner for every key
		j.slot = rewrite.Slot(e.Key)
	}
	j.inDoubt = l.o.InDoubt != nil && l.o.InDoubt(e.Offset)
	if l.slots != nil && j.db != 0 {
		l.settle(j, outFailed, fmt.Sprintf("a Redis Cluster has only database 0 (key of database %d; use --db-map %d=0)", e.DB, e.DB))
		return nil
	}
	if err := l.checkDB(ctx, j.db); err != nil {
		l.settle(j, outFailed, err.Error())
		return nil
	}
	// The clock is read only where it matters: it is not free on every
	// machine (a tenth of a second per million keys here).
	if e.ExpireAt != 0 && e.ExpireAt <= l.now() {
		l.settle(j, outExpired, "")
		return nil
	}
	if l.o.DryRun {
		return l.plan(ctx, e, j, l.now())
	}
	if val, ok := l.setValue(e, j); ok {
		return l.queueSet(ctx, e, j, val)
	}
	switch {
	case e.Payload == nil && l.o.Mode == ModeRestore:
		l.settle(j, outFailed, "value larger than the read buffer: RESTORE needs it whole (use --mode auto or a larger --max-buffer)")
		return nil
	case e.Payload == nil:
		return l.writeStreamed(ctx, e, j)
	case l.o.Mode == ModeRewrite:
		return l.queueRewrite(ctx, e, j)
	case l.o.Mode == ModeRestore || l.knowsEnc(e.Encoding):
		switch {
		case int64(len(e.Payload))+10 <= l.maxArg:
			return l.queueRestore(ctx, e, j)
		case l.o.Mode == ModeAuto:
			return l.queueRewrite(ctx, e, j)
		}
		// The server would drop the connection ("invalid bulk length").
		l.settle(j, outFailed, fmt.Sprintf("payload of %d bytes over the server's limit of %d (proto-max-bulk-len): use --mode auto", len(e.Payload)+10, l.maxArg))
		return nil
	}
	return l.writeTranscoded(ctx, e, j, l.now())
}

// writeTranscoded sends a payload in an encoding the target does not know
// as one it knows, or, where none can carry it, as commands.
func (l *Loader) writeTranscoded(ctx context.Context, e *rdb.Entry, j *job, now int64) error {
	held, err := l.acquire(ctx, j, int64(len(e.Payload))*2)
	if err != nil {
		return err
	}
	out, loss, err := rdb.Transcode(l.getBuf(len(e.Payload)+64), e.Payload, e.Encoding, l.target, now)
	switch {
	case err != nil:
		l.putBuf(out)
		l.sem.Release(held)
		return l.queueRewrite(ctx, e, j) // a type the target lacks: commands may still do
	case loss.Expired:
		l.putBuf(out)
		l.sem.Release(held)
		j.loss = loss
		l.settle(j, outExpired, "")
		return nil
	case int64(len(out))+10 > l.maxArg:
		l.putBuf(out)
		l.sem.Release(held)
		return l.queueRewrite(ctx, e, j)
	}
	j.loss = loss
	j.kind, j.out, j.held = jobRestore, outTranscoded, held
	l.dispatch(j, out)
	l.putBuf(out)
	return nil
}

// checkDB makes sure database db exists on a standalone destination (a
// failed SELECT in a pipeline would let the next commands run in the
// database selected before).
func (l *Loader) checkDB(ctx context.Context, db int) error {
	if l.slots != nil || db == 0 {
		return nil
	}
	l.dbMu.Lock()
	defer l.dbMu.Unlock()
	if err, ok := l.dbs[db]; ok {
		return err
	}
	if l.dbs == nil {
		l.dbs = map[int]error{}
	}
	pipe := l.client(l.base.Addr).Pipeline()
	sel := pipe.Do(ctx, "SELECT", db)
	pipe.Do(ctx, "SELECT", 0) // leave the pooled connection as it was
	_, _ = pipe.Exec(ctx)
	err := sel.Err()
	if _, isReply := isRedisError(err); isReply {
		err = fmt.Errorf("database %d: SELECT: %w", db, err)
		l.dbs[db] = err
		return err
	}
	if err == nil {
		l.dbs[db] = nil
	}
	return err
}

// queueRestore sends payload with RESTORE.
func (l *Loader) queueRestore(ctx context.Context, e *rdb.Entry, j *job) error {
	size := len(e.Payload)
	if l.o.Mode == ModeAuto && !l.o.KeepCompressed {
		if n, ok := rdb.InflatedLen(e.Payload, e.Encoding); ok && int64(n)+10 <= l.maxArg {
			j.inflated, j.enc, size = n, e.Encoding, n
		}
	}
	held, err := l.acquire(ctx, j, int64(size)+10)
	if err != nil {
		return err
	}
	j.kind, j.out, j.held = jobRestore, outRestored, held
	l.dispatch(j, e.Payload)
	return nil
}

// queueRewrite has a worker write the key with commands, from a copy of
// its payload.
func (l *Loader) queueRewrite(ctx context.Context, e *rdb.Entry, j *job) error {
	held, err := l.acquire(ctx, j, int64(len(e.Payload)))
	if err != nil {
		return err
	}
	j.kind, j.out, j.held = jobRewrite, outRewritten, held
	j.entry = e.Clone()
	j.key = j.entry.Key
	l.dispatch(j, nil)
	return nil
}

// acquire takes n bytes in flight for j; if ctx ends first, j is settled
// as not sent.
func (l *Loader) acquire(ctx context.Context, j *job, n int64) (int64, error) {
	held, err := l.sem.Acquire(ctx, n)
	if err != nil {
		l.settle(j, outFailed, notSent(err))
	}
	return held, err
}

// dispatch hands a copy of j to the node that owns its slot, with the
// payload of a RESTORE; j itself (Write's, with the caller's Entry.Key)
// is done with. The copy lives in its batch, and holds a copy of its key.
func (l *Loader) dispatch(j *job, payload []byte) {
	l.add(l.nodeFor(j.slot), j, payload)
}

// chunkBytes is the size of the batches of commands of a streamed key.
const chunkBytes = 4 << 20

// writeStreamed writes a key too large to hold in memory: the commands
// that rebuild it are made here, as its value is read, and sent in
// batches, in order, by one worker.
func (l *Loader) writeStreamed(ctx context.Context, e *rdb.Entry, wj *job) error {
	l.statsMu.Lock()
	l.stats.Streamed++
	l.statsMu.Unlock()
	j := new(job) // the key's own, for its batches: Write's stays on its stack
	*j = *wj
	j.key = bytes.Clone(wj.key)
	w := l.pickWorker(j.slot)
	sk := &chunkKey{}
	opts := l.rewriteOptions(j.key, j.seq)
	sk.temp = opts.Temp
	var loss rewrite.Loss
	opts.Loss = &loss
	batch := l.newChunk(j, sk)
	limit := min(chunkBytes, l.o.MaxInFlight/2) // a batch never holds all the bytes in flight
	var size int64
	emit := func(args [][]byte) error {
		if sk.failed.Load() {
			return errKeyFailed
		}
		if err := l.Err(); err != nil {
			return err
		}
		n := int64(0)
		for _, a := range args {
			n += int64(len(a))
		}
		if len(batch.cmds) > 0 && batch.size+n > limit {
			w.node.pushOwn(w, batch) // send what it holds before it waits for more
			batch = l.newChunk(j, sk)
		}
		held, err := l.sem.Acquire(ctx, n)
		if err != nil {
			return err
		}
		batch.held += held
		batch.size += n
		size += n
		cmd := make([]any, len(args))
		for i, a := range args {
			cmd[i] = bytes.Clone(a)
		}
		batch.cmds = append(batch.cmds, cmd)
		if batch.size >= limit || len(batch.cmds) >= l.o.Pipeline {
			w.node.pushOwn(w, batch)
			batch = l.newChunk(j, sk)
		}
		return nil
	}
	err := rewrite.Commands(e, e.Value(), opts, emit)
	batch.final = true
	batch.size = size
	batch.rwLoss = loss
	sk.genErr = err
	w.node.pushOwn(w, batch)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func (l *Loader) newChunk(j *job, sk *chunkKey) *job {
	c := *j
	c.kind, c.out, c.sk = jobChunk, outRewritten, sk
	c.cmds, c.held, c.size = nil, 0, 0
	return &c
}

func (l *Loader) getBuf(n int) []byte {
	if p, ok := l.bufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

func (l *Loader) putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > 4<<20 {
		return
	}
	b = b[:0]
	l.bufs.Put(&b)
}
