package exporter

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/rdbkit/rdbkit/rdb"
)

// MemoryScanOptions configure ScanMemory.
type MemoryScanOptions struct {
	// Model is the server modelled. With AutoServer, its Server is taken
	// from the file's redis-ver or valkey-ver aux field when there is one
	// (Redis 7.0 below 7.2, else 7.2).
	Model      MemoryOptions
	AutoServer bool
	// Keep selects the keys to report; nil keeps all. It is called on
	// the reading goroutine.
	Keep func(e *rdb.Entry) bool
}

// ScanMemory reads r to its end, estimates every key Keep selects and adds
// it to rep, and returns the model it used. It reads, estimates and counts
// the totals and top keys on the calling goroutine, while the values are
// in the caches, and counts the keys' prefixes on another, the report's
// biggest cost: the keys and their sizes go there in batches of about
// 1 MiB (three at most exist), in file order. Only what the prefix tree
// needs crosses, to cost little more than a call. It returns r's first
// error, an estimate's error, or ctx.Err().
func ScanMemory(ctx context.Context, r *rdb.Reader, opts MemoryScanOptions, rep *MemoryReport) (MemoryModel, error) {
	s := &memoryScan{
		opts: opts, rep: rep,
		full: make(chan *memoryBatch, 2), free: make(chan *memoryBatch, 3),
		done: make(chan struct{}),
	}
	for range 3 {
		s.free <- new(memoryBatch)
	}
	var est *MemoryEstimator // made with the first key
	started := false
	var err error
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			err = ctx.Err()
			break
		}
		e, rerr := r.Next()
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
		if e.Kind == rdb.KindAux && opts.AutoServer && !started {
			if srv, ok := serverOfAux(e.Aux.Name, e.Aux.Value); ok {
				s.opts.Model.Server = srv
			}
			continue
		}
		if e.Kind != rdb.KindKey || opts.Keep != nil && !opts.Keep(e) {
			continue
		}
		if !started {
			started = true
			est = NewMemoryEstimator(s.opts.Model)
			go s.work()
		}
		if err = s.add(est, e); err != nil {
			break
		}
	}
	if !started {
		return ModelOf(NewMemoryEstimator(s.opts.Model)), err
	}
	if s.batch != nil && len(s.batch.items) > 0 {
		s.full <- s.batch
	}
	close(s.full)
	<-s.done
	return ModelOf(est), err
}

// serverOfAux returns the model for the server named by a redis-ver or
// valkey-ver aux field: Redis 7.0 (and older) below 7.2, else 7.2.
func serverOfAux(name, value []byte) (MemoryServer, bool) {
	switch string(name) {
	case "valkey-ver":
		return Redis72, true
	case "redis-ver":
	default:
		return 0, false
	}
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(value)), "%d.%d", &major, &minor); err != nil {
		return 0, false
	}
	if major > 7 || major == 7 && minor >= 2 {
		return Redis72, true
	}
	return Redis70, true
}

type memoryScan struct {
	opts  MemoryScanOptions
	rep   *MemoryReport
	batch *memoryBatch // being filled
	full  chan *memoryBatch
	free  chan *memoryBatch
	done  chan struct{}
}

// A memoryBatch carries keys and their estimated bytes from the reader to
// the worker, for the prefix tree: the keys one after the other in arena,
// and where each ends.
type memoryBatch struct {
	items []memoryItem
	arena []byte
}

type memoryItem struct {
	end   int // of the key in arena
	bytes int64
}

// A batch holds at most memoryBatchBytes of keys and memoryBatchItems
// keys (128 KiB of items).
const (
	memoryBatchBytes = 1 << 20
	memoryBatchItems = 8192
)

// add estimates the key e, counts it in the report but for its prefixes,
// and queues it for the worker, which counts them.
func (s *memoryScan) add(est *MemoryEstimator, e *rdb.Entry) error {
	km, err := est.Estimate(e)
	if err != nil {
		return err
	}
	s.rep.addTotals(e, km)
	if s.batch == nil {
		s.batch = <-s.free
		s.batch.items, s.batch.arena = s.batch.items[:0], s.batch.arena[:0]
	}
	b := s.batch
	b.arena = append(b.arena, e.Key...)
	b.items = append(b.items, memoryItem{end: len(b.arena), bytes: km.Bytes})
	if len(b.arena) >= memoryBatchBytes || len(b.items) >= memoryBatchItems {
		s.full <- b
		s.batch = nil
	}
	return nil
}

// work adds the keys of full batches to the report's prefix tree until
// the channel closes.
func (s *memoryScan) work() {
	for b := range s.full {
		start := 0
		for _, it := range b.items {
			s.rep.prefixes.add(b.arena[start:it.end], it.bytes)
			start = it.end
		}
		s.free <- b // never blocks: there are as many places as batches
	}
	close(s.done)
}
