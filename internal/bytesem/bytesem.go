// Package bytesem bounds the bytes that goroutines hold at once: payloads
// in flight to a server, or read from one and not yet written.
package bytesem

import (
	"context"
	"sync"
)

// A Sem is a counting semaphore of bytes. A request larger than the whole
// capacity waits until nothing else is held and then goes alone. It is
// safe for concurrent use.
type Sem struct {
	mu      sync.Mutex
	cap     int64
	used    int64
	waiters int           // goroutines waiting on wake
	wake    chan struct{} // closed and replaced by a release while some wait
}

// New returns a Sem of n bytes.
func New(n int64) *Sem { return &Sem{cap: max(n, 1), wake: make(chan struct{})} }

// Acquire takes n bytes (at least 1, at most the capacity), waiting while
// they are not free or until ctx is done, and returns how many it took, to
// be given back to Release.
func (s *Sem) Acquire(ctx context.Context, n int64) (int64, error) {
	n = min(max(n, 1), s.cap)
	for {
		s.mu.Lock()
		if s.used+n <= s.cap {
			s.used += n
			s.mu.Unlock()
			return n, nil
		}
		s.waiters++
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.waiters--
		s.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// Release gives back n bytes taken by Acquire; 0 does nothing.
func (s *Sem) Release(n int64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.used -= n
	if s.waiters > 0 { // no channel per release when nobody waits
		close(s.wake)
		s.wake = make(chan struct{})
	}
	s.mu.Unlock()
}
