package bytesem

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSem(t *testing.T) {
	s := New(100)
	ctx := context.Background()
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.Acquire(ctx, int64(10+i%40))
			if err != nil {
				t.Error(err)
				return
			}
			if h := held.Add(n); h > peak.Load() {
				peak.Store(h)
			}
			time.Sleep(time.Millisecond)
			held.Add(-n)
			s.Release(n)
		}()
	}
	wg.Wait()
	if peak.Load() > 100 {
		t.Errorf("peak %d bytes held, capacity 100", peak.Load())
	}
	// a request over the capacity goes alone
	if n, err := s.Acquire(ctx, 1000); err != nil || n != 100 {
		t.Fatalf("Acquire(1000) = %d, %v", n, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.Acquire(cctx, 1); err == nil {
		t.Fatal("Acquire on a full semaphore did not wait for its context")
	}
	s.Release(100)
	if n, err := s.Acquire(ctx, 0); err != nil || n != 1 {
		t.Fatalf("Acquire(0) = %d, %v", n, err)
	}
}

func TestSemBounds(t *testing.T) {
	s := New(100)
	ctx := context.Background()
	a, err := s.Acquire(ctx, 60)
	if err != nil || a != 60 {
		t.Fatal(a, err)
	}
	got := make(chan int64)
	go func() {
		n, _ := s.Acquire(ctx, 1000)
		got <- n
	}()
	select {
	case <-got:
		t.Fatal("acquired past the bound")
	case <-time.After(20 * time.Millisecond):
	}
	s.Release(a)
	if n := <-got; n != 100 {
		t.Fatalf("took %d, want the capacity", n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Acquire(cctx, 1); err == nil {
		t.Fatal("acquire with a cancelled context while full")
	}
}
