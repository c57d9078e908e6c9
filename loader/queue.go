package loader

import (
	"sync"

	"github.com/rdbkit/rdbkit/internal/resp"
	"github.com/rdbkit/rdbkit/rdb"
)

// Keys go to the workers of their node in batches. Write encodes the
// command of a key (RESTORE, EXISTS in a dry run) into its batch's buffer
// as it adds it, the DUMP footer appended as the payload is copied in, and
// the worker writes the buffer as it is: a key costs one copy of its
// payload and no hand-off of its own, and a batch one write.

// batchBytes is the size of the buffer of a batch: a batch is closed when
// it holds Options.Pipeline keys, or when its next key would not fit (a
// key larger than a buffer goes alone, in one of its size).
const batchBytes = 256 << 10

// cmdOverhead bounds what a key's command adds to its key and payload: the
// headers, the other arguments, a SELECT before it.
const cmdOverhead = 256

// A batch is jobs for one node, sent by one worker: the RESTOREs (EXISTS)
// in one round trip, then the other jobs one by one; or strings of one
// database, sent by one MSET (see mset.go).
type batch struct {
	jobs []job  // with room for Options.Pipeline: never moved
	buf  []byte // the commands of the jobs with one, SELECTs included; the arguments of an MSET
	at   []int  // the index of each encoded job's command among those of buf
	n    int    // commands in buf
	db   int    // database selected at the end of buf, -1 if none; of an MSET, its database
	addr string // the node buf is for
	set  bool   // an MSET of strings
	head []byte // SELECT and the MSET's header, made when it is sent

	// What process sends it with, kept for the next batch.
	ps      []pcmd
	cmds    []*pcmd
	written []*job
}

// node is a master with its workers. Write adds keys to the node's open
// batch; a worker takes the full batches in order, or the open batch when
// there is none, so that a key never waits for its batch to fill while a
// worker has nothing to do. The batches of commands of a streamed key go
// to one worker's own queue, to be sent in order.
type node struct {
	addr    string
	workers []*worker

	mu      sync.Mutex
	work    sync.Cond // a batch or an own job is there, or the node closed
	room    sync.Cond // a full batch or an own job was taken
	open    *batch    // nil when empty
	openSet *batch    // strings for an MSET, nil when empty
	full    []*batch  // oldest first, at most one per worker
	free    []*batch  // sent batches with a buffer of batchBytes, for reuse
	idle    int       // workers waiting for work
	waking  int       // of them, signalled and not yet running
	closing bool
}

// worker is a goroutine that sends its node's batches and its own jobs.
type worker struct {
	node *node
	own  []*job // batches of commands of streamed keys, under node.mu
}

// maxOwn bounds the jobs queued for one worker.
const maxOwn = 4

func newNode(addr string) *node {
	n := &node{addr: addr}
	n.work.L, n.room.L = &n.mu, &n.mu
	return n
}

// add adds a copy of j to the node's open batch, encoding its command
// (after payload, for a RESTORE) if it has one: the copy's key, and dump,
// are views of the batch's buffer. A full batch is queued for the
// workers, waiting while each of them has one.
func (l *Loader) add(n *node, j *job, payload []byte) {
	need := 0
	switch j.kind {
	case jobRestore, jobExists:
		need = len(j.key) + max(len(payload), j.inflated) + 10 + cmdOverhead
	case jobSet:
		need = len(j.key) + len(payload) + cmdOverhead
	}
	set := j.kind == jobSet
	open := &n.open
	if set {
		open = &n.openSet
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	b := *open
	if b != nil && (need > cap(b.buf)-len(b.buf) || set && b.db != j.db) {
		n.queue(b)
		b = nil
	}
	if b == nil {
		b = n.newBatch(need, l.o.Pipeline)
		b.set = set
		if set {
			b.db = j.db
		}
		*open = b
	}
	b.jobs = append(b.jobs, *j)
	j = &b.jobs[len(b.jobs)-1]
	switch {
	case set:
		encodeSet(b, j, payload)
	case need > 0:
		l.encode(b, j, payload)
	}
	if len(b.jobs) >= l.o.Pipeline {
		n.queue(b)
	}
	if n.idle > n.waking {
		n.waking++
		n.work.Signal()
	}
}

// queue moves the open batch b to the full ones, once there is room.
// n.mu is held.
func (n *node) queue(b *batch) {
	if b.set {
		n.openSet = nil
	} else {
		n.open = nil
	}
	for len(n.full) >= len(n.workers) && !n.closing {
		n.room.Wait()
	}
	n.full = append(n.full, b)
}

// newBatch returns an empty batch for up to keys keys, whose buffer holds
// need bytes. n.mu is held.
func (n *node) newBatch(need, keys int) *batch {
	if k := len(n.free); k > 0 && need <= batchBytes {
		b := n.free[k-1]
		n.free = n.free[:k-1]
		return b
	}
	return &batch{jobs: make([]job, 0, keys), buf: make([]byte, 0, max(need, batchBytes)), db: -1, addr: n.addr}
}

// recycle keeps b, sent and settled, for another batch.
func (n *node) recycle(b *batch) {
	if cap(b.buf) != batchBytes {
		return
	}
	clear(b.jobs)
	clear(b.ps)
	clear(b.cmds)
	clear(b.written)
	b.jobs, b.buf, b.at, b.n, b.db, b.set = b.jobs[:0], b.buf[:0], b.at[:0], 0, -1, false
	b.ps, b.cmds, b.written = b.ps[:0], b.cmds[:0], b.written[:0]
	n.mu.Lock()
	if len(n.free) <= 2*len(n.workers) {
		n.free = append(n.free, b)
	}
	n.mu.Unlock()
}

// encode appends j's command to b, after a SELECT if the database is not
// the one selected (on a standalone destination).
func (l *Loader) encode(b *batch, j *job, payload []byte) {
	if l.slots == nil && j.db != b.db {
		b.buf = resp.AppendCommand(b.buf, 2)
		b.buf = resp.AppendArgString(b.buf, "SELECT")
		b.buf = resp.AppendArgInt(b.buf, int64(j.db))
		b.n++
		b.db = j.db
	}
	b.at = append(b.at, b.n)
	b.n++
	if j.kind == jobExists {
		b.buf, j.key = appendExists(b.buf, j.key)
		return
	}
	b.buf = l.appendRestore(b.buf, j, payload)
}

// appendRestore appends the RESTORE of j to dst, with payload, or with it
// inflated (its compressed blobs stored plain, less work for the server:
// see rdb.InflatedLen) if j.inflated says so; j's key and dump become
// views of dst. A blob that does not decompress goes as it is, for the
// server to refuse.
func (l *Loader) appendRestore(dst []byte, j *job, payload []byte) []byte {
	for {
		size := len(payload)
		if j.inflated > 0 {
			size = j.inflated
		}
		out, key := l.appendRestoreHead(dst, j, size+10)
		start := len(out)
		var err error
		if j.inflated > 0 {
			out, err = rdb.AppendInflated(out, payload, j.enc)
		} else {
			out = append(out, payload...)
		}
		if err != nil {
			j.inflated = 0 // and again from dst, with the payload as it is
			continue
		}
		out = rdb.AppendDumpFooter(out, start, l.target.DumpVersion())
		j.key, j.dump = key, out[start:len(out):len(out)]
		j.size = int64(len(j.dump))
		return l.appendRestoreTail(out, j)
	}
}

// pushOwn queues j, a batch of commands of a streamed key, for worker w,
// waiting while w has maxOwn of them.
func (n *node) pushOwn(w *worker, j *job) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(w.own) >= maxOwn && !n.closing {
		n.room.Wait()
	}
	w.own = append(w.own, j)
	n.work.Broadcast() // w may not be the one a Signal would wake
}

// next waits for work for w: its own jobs first, then the oldest full
// batch, then the open batch. It returns nil, nil once the node is closed
// and nothing is left.
func (n *node) next(w *worker) (*batch, *job) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		switch {
		case len(w.own) > 0:
			j := w.own[0]
			w.own = w.own[:copy(w.own, w.own[1:])]
			n.room.Broadcast()
			return nil, j
		case len(n.full) > 0:
			b := n.full[0]
			n.full = n.full[:copy(n.full, n.full[1:])]
			n.room.Broadcast()
			return b, nil
		case n.open != nil:
			b := n.open
			n.open = nil
			return b, nil
		case n.openSet != nil:
			b := n.openSet
			n.openSet = nil
			return b, nil
		case n.closing:
			return nil, nil
		}
		n.idle++
		n.work.Wait()
		n.idle--
		n.waking = max(n.waking-1, 0)
	}
}

// close has the workers send what is queued and stop.
func (n *node) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, b := range []*batch{n.open, n.openSet} {
		if b != nil {
			n.full = append(n.full, b)
		}
	}
	n.open, n.openSet = nil, nil
	n.closing = true
	n.work.Broadcast()
	n.room.Broadcast()
}
