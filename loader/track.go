package loader

import "sync"

// A Checkpoint says how far a run got, in input offsets (Entry.Offset):
// every key at or before Offset is settled (written, or deliberately left
// out: expired, existing), and so is every key in Done. Keys after Offset,
// up to Last, that are not in Done failed or were sent without an answer:
// they may have been written. See Options.InDoubt.
type Checkpoint struct {
	Offset int64   `json:"offset"` // -1: no key settled yet
	Done   []int64 `json:"done,omitempty"`
	Last   int64   `json:"last"` // -1: no key given
	Keys   int64   `json:"keys"` // keys settled
}

// maxDone bounds Checkpoint.Done; keys past it are sent again on resume,
// where a BUSYKEY is checked against the value (see Options.InDoubt).
const maxDone = 100000

// tracker follows which keys, numbered in input order, are settled.
type tracker struct {
	mu     sync.Mutex
	low    uint64     // every key numbered below low is settled
	lowOff int64      // offset of key low-1, -1 if none
	win    []trackKey // the keys from low on: win[head+i] is key low+i
	head   int
	last   int64
	keys   int64
}

// trackKey is the state of one key from low on.
type trackKey struct {
	off   int64
	state uint8
}

// States of a trackKey.
const (
	keyPending uint8 = iota
	keySettled
	keyFailed // failed without an answer: holds back the checkpoint
)

// add numbers the key at input offset off.
func (t *tracker) add(off int64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.low == 0 && len(t.win) == 0 {
		t.lowOff = -1
	}
	t.win = append(t.win, trackKey{off: off, state: keyPending})
	t.last = off
	return t.low + uint64(len(t.win)-t.head) - 1
}

// done records that key n is settled (ok) or failed (not ok: it holds
// back the checkpoint).
func (t *tracker) done(n uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mark(n, ok)
	t.advance()
}

// doneAll records that the keys of js are settled.
func (t *tracker) doneAll(js []*job) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, j := range js {
		t.mark(j.seq, true)
	}
	t.advance()
}

// mark records the state of key n. t.mu is held.
func (t *tracker) mark(n uint64, ok bool) {
	k := &t.win[t.head+int(n-t.low)]
	k.state = keyFailed
	if ok {
		k.state = keySettled
		t.keys++
	}
}

// advance moves low past the settled keys. t.mu is held.
func (t *tracker) advance() {
	i := t.head
	for i < len(t.win) && t.win[i].state == keySettled {
		i++
	}
	if i == t.head {
		return
	}
	t.lowOff = t.win[i-1].off
	t.low += uint64(i - t.head)
	t.head = i
	switch {
	case t.head == len(t.win): // all settled: start the array over
		t.win, t.head = t.win[:0], 0
	case t.head >= 1024 && t.head >= len(t.win)/2: // move the unsettled keys to the front
		t.win, t.head = t.win[:copy(t.win, t.win[t.head:])], 0
	}
}

// checkpoint returns the progress so far.
func (t *tracker) checkpoint() Checkpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	cp := Checkpoint{Offset: t.lowOff, Last: -1, Keys: t.keys}
	if t.low == 0 && len(t.win) == 0 {
		cp.Offset = -1
		return cp
	}
	cp.Last = t.last
	for _, k := range t.win[t.head:] {
		if k.state == keySettled && len(cp.Done) < maxDone {
			cp.Done = append(cp.Done, k.off)
		}
	}
	return cp
}

// Checkpoint returns how far the run got; safe to call at any time.
func (l *Loader) Checkpoint() Checkpoint { return l.track.checkpoint() }
