package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
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
}

// ScanMemory reads r to its end, estimates every key Keep selects and adds
// it to rep, and returns the model it used. It reads on the calling
// goroutine and reports on another, so that on a machine with two cores
// the report costs little more time than the read: values estimated from
// their headers (strings, listpacks, quicklists) and values too large for
// the Reader's MaxPayload (which stream) or for a batch are estimated while
// reading; the others (hashtables, skiplists, streams) are copied with the
// keys in batches of about 1 MiB and estimated by the other goroutine,
// which adds every key to rep in file order. Three batches at most exist. It returns r's first error, an
// estimate's error, or ctx.Err().
func ScanMemory(ctx context.Context, r *rdb.Reader, opts MemoryScanOptions, rep *MemoryReport) (MemoryModel, error) {
	s := &memoryScan{
		ctx: ctx, r: r, opts: opts, rep: rep,
		full: make(chan *memoryBatch, 2), free: make(chan *memoryBatch, 3),
		done: make(chan error, 1),
	}
	for range 3 {
		s.free <- new(memoryBatch)
	}
	var est *MemoryEstimator // the worker's, made with the first key
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
			s.inline = NewMemoryEstimator(s.opts.Model)
			go s.work(est)
		}
		if err = s.add(e); err != nil {
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
	if werr := <-s.done; err == nil || err == errScanStopped {
		err = werr
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
	ctx     context.Context
	r       *rdb.Reader
	opts    MemoryScanOptions
	rep     *MemoryReport
	inline  *MemoryEstimator // for streamed values, on the reading goroutine
	batch   *memoryBatch     // being filled
	full    chan *memoryBatch
	free    chan *memoryBatch
	done    chan error
	stopped atomic.Bool // the worker met an error
}

// A memoryBatch carries keys from the reader to the worker: their fields,
// and key and payload bytes in one arena.
type memoryBatch struct {
	items []memoryItem
	arena []byte
}

type memoryItem struct {
	db       int
	typ      rdb.Type
	enc      rdb.Encoding
	expireAt int64
	key      [2]int // arena offsets
	payload  [2]int // arena offsets; unused when estimated inline
	km       KeyMemory
	inline   bool
}

const memoryBatchBytes = 1 << 20

var errScanStopped = errors.New("exporter: memory scan stopped")

// add queues the key e for the worker.
func (s *memoryScan) add(e *rdb.Entry) error {
	if s.stopped.Load() {
		return errScanStopped
	}
	if s.batch == nil {
		s.batch = <-s.free
		s.batch.items, s.batch.arena = s.batch.items[:0], s.batch.arena[:0]
	}
	b := s.batch
	it := memoryItem{db: e.DB, typ: e.Type, enc: e.Encoding, expireAt: e.ExpireAt}
	it.key[0] = len(b.arena)
	b.arena = append(b.arena, e.Key...)
	it.key[1] = len(b.arena)
	if e.Payload == nil || headerOnly(e.Encoding) || len(e.Payload) > memoryBatchBytes/4 {
		km, err := s.inline.Estimate(e)
		if err != nil {
			return err
		}
		it.km, it.inline = km, true
	} else {
		it.payload[0] = len(b.arena)
		b.arena = append(b.arena, e.Payload...)
		it.payload[1] = len(b.arena)
	}
	b.items = append(b.items, it)
	if len(b.arena) >= memoryBatchBytes {
		s.full <- b
		s.batch = nil
	}
	return nil
}

// headerOnly reports whether values of encoding enc are estimated from
// their headers (a string's, a blob's, a quicklist's nodes'): cheap enough
// to do while reading, which spares copying the payload. The others (every
// element of a hashtable, a skiplist, a stream's groups) go to the worker.
func headerOnly(enc rdb.Encoding) bool {
	switch enc {
	case rdb.EncString, rdb.EncListQuicklist2, rdb.EncSetIntset, rdb.EncSetListpack,
		rdb.EncZSetListpack, rdb.EncHashListpack, rdb.EncModule2:
		return true
	}
	return false
}

// work estimates and reports the keys of full batches until the channel
// closes or an estimate fails; it then drains the channel.
func (s *memoryScan) work(est *MemoryEstimator) {
	var err error
	for b := range s.full {
		if err == nil {
			if err = s.process(est, b); err != nil {
				s.stopped.Store(true)
			}
		}
		s.free <- b // never blocks: there are as many places as batches
	}
	s.done <- err
}

func (s *memoryScan) process(est *MemoryEstimator, b *memoryBatch) error {
	e := rdb.Entry{Kind: rdb.KindKey, Idle: -1, Freq: -1}
	for i := range b.items {
		it := &b.items[i]
		e.DB, e.Type, e.Encoding, e.ExpireAt = it.db, it.typ, it.enc, it.expireAt
		e.Key = b.arena[it.key[0]:it.key[1]]
		km := it.km
		if !it.inline {
			e.Payload = b.arena[it.payload[0]:it.payload[1]]
			var err error
			if km, err = est.Estimate(&e); err != nil {
				return err
			}
		} else {
			e.Payload = nil
		}
		s.rep.Add(&e, km)
	}
	return nil
}
