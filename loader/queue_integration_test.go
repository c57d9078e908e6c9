package loader

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/verify"
	"github.com/redis/go-redis/v9"
)

// TestBatches restores files whose keys fill batches in every way: one
// key at a time with nothing after it (an idle worker must take the open
// batch: nothing else will close it), batches of a few keys over one
// connection, databases changing inside a batch, and keys larger than a
// batch's buffer.
func TestBatches(t *testing.T) {
	srv := redistest.Start(t)
	fixtures(t)
	c := srv.Client(t)
	vs := verify.Standalone(&redis.Options{Addr: srv.Addr})
	defer verify.Close(vs)
	dir := filepath.Join(generated, "redis-7.0.15")
	tests := []struct {
		name     string
		file     string
		workers  int
		pipeline int
		wait     bool // after each key, wait until it is written
	}{
		{"one at a time", "all-in-one.rdb", 0, 0, true},
		{"small batches", "multidb.rdb", 1, 3, false},
		{"one worker", "all-in-one.rdb", 1, 0, false},
		{"keys larger than a buffer", "strings.rdb", 2, 0, false},
		{"keys filling a buffer", "lists.rdb", 2, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flush(t, c)
			path := filepath.Join(dir, tt.file)
			o := Options{Redis: &redis.Options{Addr: srv.Addr}, Workers: tt.workers, Pipeline: tt.pipeline}
			var afterKey func(l *Loader, n int)
			if tt.wait {
				afterKey = func(l *Loader, n int) { waitDone(t, l, int64(n)) }
			}
			start := time.Now()
			st, err := loadWith(t, path, o, 0, afterKey)
			if err != nil {
				t.Fatal(err)
			}
			if !st.OK() || st.Done() != st.Read {
				t.Fatalf("read %d, settled %d, failures %v", st.Read, st.Done(), st.Failures)
			}
			compareWith(t, vs, path, verify.Options{Now: start, Functions: true, ConsumerTimes: true})
		})
	}
}

// waitDone waits until n keys given to l are settled.
func waitDone(t *testing.T, l *Loader, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := l.Stats()
		if st.Done() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %d not written after 10 s (%d settled)", n, st.Done())
		}
		time.Sleep(time.Millisecond)
	}
}
