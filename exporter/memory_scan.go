package exporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync/atomic"

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
	// Input, when not nil, is all that the Reader reads, from its first
	// byte: a file mapped in memory, say. The second goroutine then
	// estimates values from Input itself (see rdb.Entry.PayloadOffset)
	// while the reading one reads on.
	Input []byte
	// InputDone, if not nil, is called now and then on the second
	// goroutine with an offset of Input before which the scan reads no
	// more: a caller that mapped a file can unmap the pages before it.
	InputDone func(off int64)
}

// ScanMemory reads r to its end, estimates every key Keep selects and adds
// it to rep, and returns the model it used.
//
// It uses two goroutines. The calling one reads; the keys go from it to
// the other in batches of up to 2,048 keys (three at most exist), in file
// order, and the other counts them in the report. Each value is estimated
// where it is in memory already, as copying it to the other goroutine
// would cost as much as estimating it: from opts.Input on the second
// goroutine, or from the Reader's buffer on the reading one. With Input,
// the reading goroutine estimates the keys that it reads while the second
// is behind (a whole batch waits for it), so that the two share the work;
// without Input, it estimates them all.
//
// It returns the first estimate's error, else r's first error or
// ctx.Err().
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
		if e.Kind == rdb.KindAux && opts.AutoServer && est == nil {
			if srv, ok := serverOfAux(e.Aux.Name, e.Aux.Value); ok {
				s.opts.Model.Server = srv
			}
			continue
		}
		if e.Kind != rdb.KindKey || opts.Keep != nil && !opts.Keep(e) {
			continue
		}
		if est == nil {
			est = NewMemoryEstimator(s.opts.Model)
			go s.work(NewMemoryEstimator(s.opts.Model))
		}
		if err = s.add(est, e); err != nil {
			break
		}
	}
	if est == nil {
		return ModelOf(NewMemoryEstimator(s.opts.Model)), err
	}
	if s.batch != nil && len(s.batch.items) > 0 {
		s.full <- s.batch
	}
	close(s.full)
	<-s.done
	if s.err != nil {
		err = s.err // about a key read before whatever stopped the reading
	}
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
	opts   MemoryScanOptions
	rep    *MemoryReport
	batch  *memoryBatch // being filled
	full   chan *memoryBatch
	free   chan *memoryBatch
	done   chan struct{}
	failed atomic.Bool // the worker has met an error
	err    error       // the worker's first error, read once done is closed
	// checked is set once a payload has been found in Input as the
	// Reader read it.
	checked bool
}

// A memoryBatch carries keys from the reader to the worker: the keys one
// after the other in arena, the rest in items, and in ests the estimates
// of the keys the reader estimated.
type memoryBatch struct {
	items []memoryItem
	arena []byte
	ests  []KeyMemory
	_     [64]byte // no cache line shared with another batch
}

// A memoryItem is a key of a batch: what the estimate and the report need
// of its entry. It holds no pointer, for its copies to cost little.
type memoryItem struct {
	end       int32 // of the key in arena
	db        int32
	typ       rdb.Type
	estimated bool // its estimate is the next of ests; else its value is in Input
	enc       rdb.Encoding
	expireAt  int64
	payOff    int64 // the payload's place in Input (rdb.Entry.PayloadOffset)
	payLen    int64
}

// A batch holds at most memoryBatchBytes of keys and memoryBatchItems
// keys (80 KiB of items): small batches share the work finely, and stay
// in the caches.
const (
	memoryBatchBytes = 256 << 10
	memoryBatchItems = 2048
)

// errWorkerFailed stops the reading when the worker has met an error,
// which ScanMemory returns instead.
var errWorkerFailed = errors.New("exporter: memory estimate failed")

// add queues the key e for the worker, with its value's place in Input,
// or with est's estimate of it: without Input, for a value the Reader
// streams, or while the worker is behind.
func (s *memoryScan) add(est *MemoryEstimator, e *rdb.Entry) error {
	if s.batch == nil {
		if s.failed.Load() {
			return errWorkerFailed
		}
		s.batch = <-s.free
		s.batch.items, s.batch.arena, s.batch.ests = s.batch.items[:0], s.batch.arena[:0], s.batch.ests[:0]
	}
	b := s.batch
	b.arena = append(b.arena, e.Key...)
	it := memoryItem{end: int32(len(b.arena)), db: int32(e.DB), typ: e.Type, enc: e.Encoding, expireAt: e.ExpireAt}
	if s.opts.Input != nil && e.Payload != nil && len(s.full) == 0 {
		it.payOff, it.payLen = e.PayloadOffset(), int64(len(e.Payload))
		if err := s.check(e); err != nil {
			return err
		}
	} else {
		km, err := est.Estimate(e)
		if err != nil {
			return err
		}
		it.estimated = true
		b.ests = append(b.ests, km)
	}
	b.items = append(b.items, it)
	if len(b.arena) >= memoryBatchBytes || len(b.items) >= memoryBatchItems {
		s.full <- b
		s.batch = nil
	}
	return nil
}

// check makes sure that Input holds e's payload: in bounds for every key,
// and byte for byte for the first.
func (s *memoryScan) check(e *rdb.Entry) (err error) {
	off, n := e.PayloadOffset(), int64(len(e.Payload))
	if off >= 0 && off+n <= int64(len(s.opts.Input)) {
		if s.checked {
			return nil
		}
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(&err)
		if bytes.Equal(s.opts.Input[off+1:off+n], e.Payload[1:]) {
			s.checked = true
			return nil
		}
	}
	return fmt.Errorf("exporter: the memory scan's input does not hold the value of key %q at offset %d", e.Key, off+1)
}

// catchFault, deferred with debug.SetPanicOnFault(true), returns in *err
// a fault reading Input (a mapped file truncated under the scan), and lets
// any other panic go on.
func catchFault(err *error) {
	if f, ok := recover().(interface{ Addr() uintptr }); ok {
		*err = fmt.Errorf("exporter: reading the memory scan's input: fault at address %#x (was the file truncated?)", f.Addr())
	} else if f != nil {
		panic(f)
	}
}

// work estimates (with est) and counts the keys of full batches until the
// channel closes. After an error it only hands the batches back.
func (s *memoryScan) work(est *MemoryEstimator) {
	for b := range s.full {
		if s.err == nil {
			if s.err = s.addBatch(est, b); s.err != nil {
				s.failed.Store(true)
			}
		}
		if s.opts.InputDone != nil && s.err == nil {
			if done := b.inputEnd(); done > 0 {
				s.opts.InputDone(done)
			}
		}
		s.free <- b // never blocks: there are as many places as batches
	}
	close(s.done)
}

// inputEnd returns the end in Input of the last payload that b takes
// from there, 0 if none.
func (b *memoryBatch) inputEnd() int64 {
	for i := len(b.items) - 1; i >= 0; i-- {
		if it := &b.items[i]; !it.estimated {
			return it.payOff + it.payLen
		}
	}
	return 0
}

// addBatch estimates the keys of b that need it and counts them all.
// Reading Input, which may be a mapped file, a fault (the file truncated
// under it) is returned as an error.
func (s *memoryScan) addBatch(est *MemoryEstimator, b *memoryBatch) (err error) {
	if s.opts.Input != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(&err)
	}
	e := &rdb.Entry{Kind: rdb.KindKey, Idle: -1, Freq: -1}
	items, arena, ests, input, rep := b.items, b.arena, b.ests, s.opts.Input, s.rep
	start := int32(0)
	for i := range items {
		it := &items[i]
		e.DB, e.Type, e.Encoding, e.ExpireAt, e.Key = int(it.db), it.typ, it.enc, it.expireAt, arena[start:it.end]
		var km KeyMemory
		if it.estimated {
			km, ests = ests[0], ests[1:]
		} else {
			e.SetPayload(input[it.payOff:it.payOff+it.payLen], it.payOff)
			if km, err = est.Estimate(e); err != nil {
				return err
			}
		}
		rep.Add(e, km)
		start = it.end
	}
	return nil
}
