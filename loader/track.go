package loader

import (
	"slices"
	"sync"
)

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
	mu      sync.Mutex
	next    uint64           // the number of the next key
	low     uint64           // every key numbered below low is settled
	lowOff  int64            // offset of key low-1, -1 if none
	offs    map[uint64]int64 // offsets of the keys from low on
	settled map[uint64]bool  // settled keys from low on (false: failed without an answer)
	last    int64
	keys    int64
}

// add numbers the key at input offset off.
func (t *tracker) add(off int64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.offs == nil {
		t.offs, t.settled, t.lowOff = map[uint64]int64{}, map[uint64]bool{}, -1
	}
	n := t.next
	t.next++
	t.offs[n] = off
	t.last = off
	return n
}

// done records that key n is settled (ok) or failed (not ok: it holds
// back the checkpoint).
func (t *tracker) done(n uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settled[n] = ok
	if ok {
		t.keys++
	}
	for {
		ok, settled := t.settled[t.low]
		if !settled || !ok {
			return
		}
		t.lowOff = t.offs[t.low]
		delete(t.settled, t.low)
		delete(t.offs, t.low)
		t.low++
	}
}

// checkpoint returns the progress so far.
func (t *tracker) checkpoint() Checkpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	cp := Checkpoint{Offset: t.lowOff, Last: -1, Keys: t.keys}
	if t.offs == nil {
		cp.Offset = -1
		return cp
	}
	if t.next > 0 {
		cp.Last = t.last
	}
	for n, ok := range t.settled {
		if ok && len(cp.Done) < maxDone {
			cp.Done = append(cp.Done, t.offs[n])
		}
	}
	slices.Sort(cp.Done)
	return cp
}

// Checkpoint returns how far the run got; safe to call at any time.
func (l *Loader) Checkpoint() Checkpoint { return l.track.checkpoint() }
