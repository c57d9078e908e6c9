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
// it to rep, and returns the model it used. It reads and estimates on the
// calling goroutine, while the values are in the caches, and reports on
// another: the keys and their estimates go there in batches of about
// 1 MiB (three at most exist), and it adds every key to rep in file order.
// With a second core free the report then costs no time; on one core, the
// batches cost a few percent more CPU than adding each key as it is read.
// It returns r's first error, an estimate's error, or ctx.Err().
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

// A memoryBatch carries keys and their estimates from the reader to the
// worker: their fields, and the key bytes in one arena.
type memoryBatch struct {
	items []memoryItem
	arena []byte
}

type memoryItem struct {
	db       int
	typ      rdb.Type
	expireAt int64
	key      [2]int // arena offsets
	km       KeyMemory
}

// A batch holds at most memoryBatchBytes of keys and memoryBatchItems
// keys (about 600 KiB of items).
const (
	memoryBatchBytes = 1 << 20
	memoryBatchItems = 8192
)

// add estimates the key e and queues it for the worker.
func (s *memoryScan) add(est *MemoryEstimator, e *rdb.Entry) error {
	km, err := est.Estimate(e)
	if err != nil {
		return err
	}
	if s.batch == nil {
		s.batch = <-s.free
		s.batch.items, s.batch.arena = s.batch.items[:0], s.batch.arena[:0]
	}
	b := s.batch
	it := memoryItem{db: e.DB, typ: e.Type, expireAt: e.ExpireAt, km: km}
	it.key[0] = len(b.arena)
	b.arena = append(b.arena, e.Key...)
	it.key[1] = len(b.arena)
	b.items = append(b.items, it)
	if len(b.arena) >= memoryBatchBytes || len(b.items) >= memoryBatchItems {
		s.full <- b
		s.batch = nil
	}
	return nil
}

// work adds the keys of full batches to the report until the channel
// closes.
func (s *memoryScan) work() {
	e := rdb.Entry{Kind: rdb.KindKey, Idle: -1, Freq: -1}
	for b := range s.full {
		for i := range b.items {
			it := &b.items[i]
			e.DB, e.Type, e.ExpireAt = it.db, it.typ, it.expireAt
			e.Key = b.arena[it.key[0]:it.key[1]]
			s.rep.Add(&e, it.km)
		}
		s.free <- b // never blocks: there are as many places as batches
	}
	close(s.done)
}
