package source

import (
	"github.com/rdbkit/rdbkit/internal/bytesem"

	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// Defaults of ScanOptions.
const (
	DefaultScanCount   = 1000     // SCAN ... COUNT
	DefaultScanBatch   = 256      // keys per DUMP pipeline
	DefaultScanFlight  = 4        // pipelines in flight per master
	DefaultScanMaxHeld = 64 << 20 // payload bytes fetched and not yet consumed
	DefaultScanRetries = 5
)

// ScanOptions configure a [Scanner]. Only Redis is required.
type ScanOptions struct {
	// Redis is how to reach the source, or any node of a cluster:
	// address, credentials, TLS. It is copied; its DB, pool and retry
	// settings are the Scanner's own.
	Redis *redis.Options
	// Cluster forces the cluster mode; by default INFO decides.
	Cluster bool
	// DBs are the databases to read. nil: those INFO keyspace lists (0 on
	// a cluster, or when INFO is refused).
	DBs []int
	// Match is a glob for SCAN MATCH ("" or "*": every key).
	Match string
	// Type is a type name for SCAN TYPE (string, list, set, zset, hash,
	// stream; Redis 6.0+, left out on older servers); "" for every type.
	Type string
	// Count is SCAN's COUNT hint; 0 means DefaultScanCount.
	Count int
	// Batch is the most keys fetched in one pipeline; 0 means
	// DefaultScanBatch. Batches shrink when values are large (see
	// MaxHeld) or the rate is low.
	Batch int
	// InFlight is the number of pipelines in flight per master; 0 means
	// DefaultScanFlight.
	InFlight int
	// MaxHeld bounds the payload bytes fetched and not yet consumed by
	// Next; 0 means DefaultScanMaxHeld. A single larger value is still
	// read, alone: DUMP returns it in one reply.
	MaxHeld int64
	// Rate is the most keys read per second over all masters; 0: no limit.
	Rate float64
	// Idle and Freq read OBJECT IDLETIME and OBJECT FREQ of each key,
	// before its DUMP touches it. The server refuses IDLETIME under an LFU
	// maxmemory-policy and FREQ under any other: Next then fails.
	Idle, Freq bool
	// KeysOnly makes SCAN the only command: entries carry DB and Key, no
	// value, type or expiry.
	KeysOnly bool
	// Keys, if not nil, are the keys to read instead of scanning (keys
	// that no longer exist count as vanished); DBs, Match and Type are
	// then ignored.
	Keys []ScanKey
	// NoDedupe turns off the check that each key is read once: SCAN may
	// return a key twice while the server resizes its table. The check
	// costs about 16 bytes per key.
	NoDedupe bool
	// Retries is how many times a command is sent again after a
	// network error (every command here is read-only); 0 means
	// DefaultScanRetries, -1 none.
	Retries int
	// Now is the clock that turns PTTL into an absolute expiry; nil means
	// time.Now.
	Now func() time.Time
}

// A ScanKey names a key for ScanOptions.Keys.
type ScanKey struct {
	DB  int
	Key []byte
}

// A ScanEntry is one key read from a live source.
type ScanEntry struct {
	// Entry is the key as an RDB stream has it: Kind KindKey, DB, Key,
	// Type and Encoding from the payload, ExpireAt (absolute, Unix ms,
	// computed from PTTL when the reply arrived; 0 for none), Idle and
	// Freq (-1 unless asked for), Payload (the DUMP payload without its
	// footer, checked with rdb.ParseDump). Offset is the entry's number,
	// from 0. With KeysOnly only Kind, DB, Key and Offset are set.
	rdb.Entry
	Version uint16 // the RDB version in the DUMP payload's footer
	Node    string // address of the master it was read from
}

// ScanStats counts what a Scanner did.
type ScanStats struct {
	Scanned    int64 // keys SCAN returned (or given in Keys)
	Duplicates int64 // keys SCAN returned again, left out
	Read       int64 // keys handed out by Next
	Vanished   int64 // keys gone (deleted or expired) between SCAN and DUMP
	Failed     int64 // keys whose DUMP payload failed its check
	Bytes      int64 // payload bytes read
	Batches    int64 // pipelines sent
	Failures   []ScanKeyError
}

// A ScanKeyError names a key that could not be read, and why.
type ScanKeyError struct {
	DB     int
	Key    []byte
	Reason string
}

// maxScanFailures bounds ScanStats.Failures.
const maxScanFailures = 100

// ScanInfo is what the source said about itself.
type ScanInfo struct {
	Server    string   // "redis" or "valkey"
	Version   string   // redis_version, or valkey_version for Valkey
	Cluster   bool     // a Redis Cluster
	Masters   []string // the addresses read: every master of a cluster, or the server
	DBs       []int    // databases read (nil with Keys)
	Bits      int      // arch_bits, 0 if unknown
	UsedMem   int64    // used_memory, 0 if unknown
	MaxPolicy string   // maxmemory-policy, "" if unknown
	HasType   bool     // SCAN TYPE is used
}

// A Scanner reads the keys of a live Redis or Redis Cluster with SCAN,
// and their values with pipelined DUMP and PTTL (and OBJECT IDLETIME or
// FREQ when asked): a sequence of MATCH/TYPE-filtered SCAN calls per
// database on every master in parallel, the keys cut into batches, each
// batch one pipeline, several batches in flight per master, never a round
// trip per key. Next hands the keys out, in no particular order.
//
// A scan is not a point-in-time snapshot: a key that exists for the whole
// scan is read once; one written or deleted during it may be read or not,
// and its value is the one at its DUMP. A key deleted (or expired)
// between SCAN and DUMP is counted in ScanStats.Vanished, not an error.
//
// Next is for one goroutine; Stats and Info may be called from any.
type Scanner struct {
	o     ScanOptions
	info  ScanInfo
	ctx   context.Context
	stop  context.CancelFunc
	now   func() time.Time
	nodes []*scanNode
	// owners maps each hash slot to its master, for ScanOptions.Keys on
	// a cluster.
	owners []*scanNode
	held   *bytesem.Sem
	rate   *limiter
	// dbKeys are the keys INFO keyspace counts in each database of a
	// server that is not a cluster: how many the scan should see.
	dbKeys map[int]int64

	results chan *scanBatch
	wg      sync.WaitGroup

	errMu sync.Mutex
	err   error

	statsMu sync.Mutex
	stats   ScanStats
	read    atomic.Int64 // keys handed out by Next

	cur    *scanBatch
	pos    int
	closed bool
}

// NewScanner connects to the source, reads what it is (INFO: version,
// cluster, databases), finds the masters of a cluster (CLUSTER SLOTS),
// and starts reading. It fails if the source cannot be reached or refuses
// the credentials. ctx bounds the whole scan: once it ends, Next fails.
func NewScanner(ctx context.Context, o ScanOptions) (*Scanner, error) {
	if o.Redis == nil {
		return nil, errors.New("source: ScanOptions.Redis is nil")
	}
	o = o.withDefaults()
	s := &Scanner{o: o, now: o.Now, held: bytesem.New(o.MaxHeld)}
	if o.Rate > 0 {
		s.rate = newLimiter(o.Rate)
	}
	s.ctx, s.stop = context.WithCancel(ctx)
	if err := s.discover(ctx); err != nil {
		s.stop()
		s.closeClients()
		return nil, err
	}
	s.results = make(chan *scanBatch, len(s.nodes)*o.InFlight)
	var fetchers sync.WaitGroup
	for _, n := range s.nodes {
		work := make(chan *scanBatch, o.InFlight)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer close(work)
			if err := s.produce(n, work); err != nil {
				s.fail(err)
			}
		}()
		for range o.InFlight {
			fetchers.Add(1)
			go func() {
				defer fetchers.Done()
				s.fetchAll(n, work)
			}()
		}
	}
	go func() {
		fetchers.Wait()
		s.wg.Wait()
		close(s.results)
	}()
	return s, nil
}

func (o ScanOptions) withDefaults() ScanOptions {
	if o.Count <= 0 {
		o.Count = DefaultScanCount
	}
	if o.Batch <= 0 {
		o.Batch = DefaultScanBatch
	}
	if o.InFlight <= 0 {
		o.InFlight = DefaultScanFlight
	}
	if o.MaxHeld <= 0 {
		o.MaxHeld = DefaultScanMaxHeld
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultScanRetries
	case o.Retries < 0:
		o.Retries = -1 // go-redis: no retry
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rate > 0 {
		// Batches of about a twentieth of a second keep the pace even.
		o.Batch = max(1, min(o.Batch, int(o.Rate/20)))
	}
	if o.Match == "*" {
		o.Match = ""
	}
	return o
}

// Info returns what the source said about itself.
func (s *Scanner) Info() *ScanInfo { return &s.info }

// Stats returns a copy of the counters so far.
func (s *Scanner) Stats() ScanStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.stats
	st.Read = s.read.Load()
	st.Failures = append([]ScanKeyError(nil), s.stats.Failures...)
	return st
}

// Next returns the next key read. It returns io.EOF once every key has
// been handed out, or the error that stopped the scan: the source
// refused a command (an ACL without DUMP, OBJECT FREQ without an LFU
// policy), could not be reached after the retries, or ctx ended. The
// entry and its slices are valid until the next call to Next.
func (s *Scanner) Next() (*ScanEntry, error) {
	for {
		if s.cur != nil && s.pos < len(s.cur.entries) {
			e := &s.cur.entries[s.pos]
			s.pos++
			e.Offset = s.read.Add(1) - 1
			return e, nil
		}
		if s.cur != nil {
			s.held.Release(s.cur.held)
			s.cur = nil
		}
		if s.closed {
			return nil, errors.New("source: Next after Close")
		}
		b, ok := <-s.results
		if !ok {
			if err := s.Err(); err != nil {
				return nil, err
			}
			if err := s.ctx.Err(); err != nil {
				return nil, fmt.Errorf("source: scan: %w", context.Cause(s.ctx))
			}
			return nil, io.EOF
		}
		s.cur, s.pos = b, 0
	}
}

// Err returns the error that stopped the scan, nil if none.
func (s *Scanner) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// fail records the first fatal error and stops every goroutine.
func (s *Scanner) fail(err error) {
	s.errMu.Lock()
	if s.err == nil && s.ctx.Err() == nil {
		s.err = err
	}
	s.errMu.Unlock()
	s.stop()
}

// Close stops the scan, waits for its goroutines and closes the
// connections. It may be called at any time, also before Next returned
// io.EOF, and more than once.
func (s *Scanner) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.stop()
	if s.cur != nil {
		s.held.Release(s.cur.held)
		s.cur = nil
	}
	for b := range s.results {
		s.held.Release(b.held)
	}
	s.closeClients()
	return nil
}

func (s *Scanner) closeClients() {
	for _, n := range s.nodes {
		n.close()
	}
}

// addFailure counts a key that could not be read.
func (s *Scanner) addFailure(db int, key []byte, reason string) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.Failed++
	if len(s.stats.Failures) < maxScanFailures {
		s.stats.Failures = append(s.stats.Failures, ScanKeyError{db, append([]byte(nil), key...), reason})
	}
}

// A limiter spaces out keys to a rate: each call to wait books its keys
// after those booked before.
type limiter struct {
	mu   sync.Mutex
	per  time.Duration // time of one key
	next time.Time     // when the next key may go
}

func newLimiter(rate float64) *limiter {
	return &limiter{per: time.Duration(float64(time.Second) / rate)}
}

// wait books n keys and sleeps until their turn.
func (l *limiter) wait(ctx context.Context, n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = at.Add(time.Duration(n) * l.per)
	l.mu.Unlock()
	return sleepCtx(ctx, time.Until(at))
}

// sleepCtx waits for d, or returns ctx.Err() once ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// counter is an atomic running mean of payload sizes, for batch sizing.
type counter struct{ n, sum atomic.Int64 }

func (c *counter) add(bytes, keys int64) {
	c.sum.Add(bytes)
	c.n.Add(keys)
}

func (c *counter) mean() int64 {
	n := c.n.Load()
	if n == 0 {
		return 0
	}
	return c.sum.Load() / n
}
