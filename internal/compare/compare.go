// Package compare checks a live Redis (or Redis Cluster) against a source
// of keys, key by key: that each source key is present, of the same type,
// with the same value by content (so that a listpack hash and a hashtable
// hash with the same fields are equal), and with the same expiry within a
// tolerance, hash field expiries included; and, optionally, that the
// destination holds no key the source lacks.
//
// The source is a sequence of rdb.Entry values: from an rdb.Reader (a
// dump.rdb) or a source.Scanner (a live server). Small keys are compared
// in batches, on several connections, each batch one pipeline of DUMP and
// PTTL whose payloads are decoded with rdb.NewPayloadValue. A key whose
// payload is larger than Options.BigKey (or that the Reader streams) is
// compared in windows: GETRANGE, LRANGE, SMISMEMBER, ZMSCORE, HMGET (and
// HPEXPIRETIME), XRANGE, so that neither side is held whole.
//
//	c, err := compare.New(ctx, compare.Options{Redis: &redis.Options{Addr: addr}})
//	for each key entry e of the source {
//		if err := c.Add(ctx, e); err != nil { ... } // the destination is gone
//	}
//	rep, err := c.Close(ctx)
package compare

import (
	"github.com/rdbkit/rdbkit/internal/bytesem"

	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// An Outcome is what a comparison found for a key.
type Outcome int

// The outcomes. Missing, Extra, TypeDiffers, ValueDiffers and TTLDiffers
// are differences; Failed means the key could not be compared.
const (
	Equal        Outcome = iota
	Missing              // in the source, not in the destination
	Extra                // in the destination, not in the source (Options.BothWays)
	TypeDiffers          // of another type in the destination
	ValueDiffers         // same type, other content
	TTLDiffers           // same value, expiry (of the key or a hash field) differs by more than the tolerance
	Expired              // expired in the source and absent from the destination: not a difference
	Failed               // could not be compared (a corrupt payload, a refused command)
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{"equal", "missing", "extra", "type_differs", "value_differs", "ttl_differs", "expired", "failed"}

func (o Outcome) String() string {
	if o >= 0 && o < NumOutcomes {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// IsDifference reports whether o is a difference between the two sides.
func (o Outcome) IsDifference() bool { return o >= Missing && o <= TTLDiffers }

// A Diff is a key that is not equal on both sides, and why.
type Diff struct {
	DB      int // the source's database (the destination's for Extra)
	Key     []byte
	Outcome Outcome
	Reason  string
}

// Report is the result of a comparison.
type Report struct {
	Counts  [NumOutcomes]int64
	Diffs   []Diff // the first Options.MaxDiffs differences and failures
	Chunked int64  // keys compared in windows
	Scanned int64  // destination keys scanned for extra keys
}

// Differences returns the number of keys that differ.
func (r *Report) Differences() int64 {
	n := int64(0)
	for o := Missing; o <= TTLDiffers; o++ {
		n += r.Counts[o]
	}
	return n
}

// Compared returns the number of source keys compared.
func (r *Report) Compared() int64 {
	n := int64(0)
	for o, c := range r.Counts {
		if Outcome(o) != Extra {
			n += c
		}
	}
	return n
}

// Options configure a Comparer. Only Redis is required.
type Options struct {
	// Redis is how to reach the destination, or any node of a cluster.
	// It is copied; its DB is ignored (see DBMap).
	Redis *redis.Options
	// Cluster forces the cluster mode; by default INFO decides.
	Cluster bool
	// DBMap maps a source database to a destination one; a database it
	// does not name keeps its number or, with UseDefaultDB, goes to
	// DefaultDB (as loader.Options).
	DBMap        map[int]int
	DefaultDB    int
	UseDefaultDB bool
	// TTLTolerance is how far two expiries may be apart; 0 means 2 s.
	TTLTolerance time.Duration
	// BothWays also looks for destination keys the source lacks: Close
	// scans the destination (SCAN with Match and Type) in ExtraDBs.
	BothWays bool
	// ExtraDBs are the destination databases scanned for extra keys; nil:
	// those the destination's INFO keyspace lists.
	ExtraDBs []int
	// Match (a glob), Types and KeyFilter select the destination keys
	// that may be extra, as the source's filters select its keys.
	Match     string
	Types     []rdb.Type
	KeyFilter func(key []byte) bool
	// MaxDiffs is the number of differences kept in Report.Diffs; 0 means
	// 100.
	MaxDiffs int
	// Workers is the number of batches compared at once; 0 means 4.
	Workers int
	// Batch is the number of keys of a pipeline; 0 means 256.
	Batch int
	// BigKey is the payload size above which a key is compared in
	// windows; 0 means 1 MiB.
	BigKey int64
	// Window is the number of elements of a window; 0 means 512.
	Window int
	// MaxHeld bounds the source payload bytes waiting in batches; 0 means
	// 64 MiB.
	MaxHeld int64
	// Now is the clock (expiries); nil means time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultTolerance = 2 * time.Second
	DefaultMaxDiffs  = 100
	DefaultWorkers   = 4
	DefaultBatch     = 256
	DefaultBigKey    = 1 << 20
	DefaultWindow    = 512
	DefaultMaxHeld   = 64 << 20
)

func (o Options) withDefaults() Options {
	if o.TTLTolerance <= 0 {
		o.TTLTolerance = DefaultTolerance
	}
	if o.MaxDiffs <= 0 {
		o.MaxDiffs = DefaultMaxDiffs
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.BigKey <= 0 {
		o.BigKey = DefaultBigKey
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.MaxHeld <= 0 {
		o.MaxHeld = DefaultMaxHeld
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Match == "*" {
		o.Match = ""
	}
	return o
}

// A Comparer compares source keys with a destination. Add and Note are
// for one goroutine; Report may be called from any.
type Comparer struct {
	o    Options
	d    *dest
	tol  int64 // ms
	work chan *batch
	wg   sync.WaitGroup
	held *bytesem.Sem

	pending map[int]*batch // by destination database
	fatal   atomic.Pointer[error]

	mu  sync.Mutex
	rep Report

	seed   maphash.Seed
	hashes []uint64 // BothWays: hashes of the source keys, by destination database
	closed bool
}

// A batch is keys of one destination database compared in one pipeline.
type batch struct {
	db    int
	items []*item
	held  int64
}

// An item is a source key waiting in a batch.
type item struct {
	db       int // source database
	key      []byte
	typ      rdb.Type
	enc      rdb.Encoding
	payload  []byte
	expireAt int64
}

// New connects to the destination, reads what it is (INFO), and starts
// the workers.
func New(ctx context.Context, o Options) (*Comparer, error) {
	if o.Redis == nil {
		return nil, errors.New("compare: Options.Redis is nil")
	}
	o = o.withDefaults()
	d, err := dial(ctx, o)
	if err != nil {
		return nil, err
	}
	c := &Comparer{
		o: o, d: d, tol: o.TTLTolerance.Milliseconds(),
		work:    make(chan *batch, o.Workers),
		held:    bytesem.New(o.MaxHeld),
		pending: map[int]*batch{},
		seed:    maphash.MakeSeed(),
	}
	for range o.Workers {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for b := range c.work {
				c.compareBatch(b)
			}
		}()
	}
	return c, nil
}

// Server returns the destination's name ("redis" or "valkey") and version.
func (c *Comparer) Server() (name, version string) { return c.d.server, c.d.version }

// IsCluster reports whether the destination is a Redis Cluster.
func (c *Comparer) IsCluster() bool { return c.d.cc != nil }

// Err returns the error that stopped the comparison (the destination
// could not be reached), nil if none.
func (c *Comparer) Err() error {
	if p := c.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *Comparer) setFatal(err error) { c.fatal.CompareAndSwap(nil, &err) }

// destDB returns the destination database of a source database.
func (c *Comparer) destDB(db int) int {
	if d, ok := c.o.DBMap[db]; ok {
		return d
	}
	if c.o.UseDefaultDB {
		return c.o.DefaultDB
	}
	return db
}

// Add compares the source key e (entries of other kinds are ignored). It
// copies what it needs, so e may change once Add returns; a key whose
// value is larger than Options.BigKey or streamed (nil Payload) is
// compared before Add returns, reading its value from e. Its error is
// only ever the fatal one (see Err) or ctx's: the outcome of each key is
// in the Report.
func (c *Comparer) Add(ctx context.Context, e *rdb.Entry) error {
	if err := c.Err(); err != nil {
		return err
	}
	if e.Kind != rdb.KindKey {
		return nil
	}
	db := c.destDB(e.DB)
	c.Note(e.DB, e.Key)
	if c.d.cc != nil && db != 0 {
		c.record(e.DB, e.Key, Failed, fmt.Sprintf("a Redis Cluster has only database 0 (key of database %d)", e.DB))
		return nil
	}
	if e.Payload == nil || int64(len(e.Payload)) > c.o.BigKey {
		return c.compareWindows(ctx, e, db)
	}
	held, err := c.held.Acquire(ctx, int64(len(e.Payload)+len(e.Key)))
	if err != nil {
		return err
	}
	b := c.pending[db]
	if b == nil {
		b = &batch{db: db}
		c.pending[db] = b
	}
	b.held += held
	b.items = append(b.items, &item{
		db: e.DB, key: bytes.Clone(e.Key), typ: e.Type, enc: e.Encoding,
		payload: bytes.Clone(e.Payload), expireAt: e.ExpireAt,
	})
	if len(b.items) >= c.o.Batch {
		delete(c.pending, db)
		return c.dispatch(ctx, b)
	}
	return nil
}

func (c *Comparer) dispatch(ctx context.Context, b *batch) error {
	select {
	case c.work <- b:
		return nil
	case <-ctx.Done():
		c.held.Release(b.held)
		return ctx.Err()
	}
}

// Note records a source key that is not compared (one left out of a
// sample) so that BothWays does not take it for an extra key. Add notes
// the keys it compares.
func (c *Comparer) Note(db int, key []byte) {
	if c.o.BothWays {
		c.hashes = append(c.hashes, keyHash(c.seed, c.destDB(db), key))
	}
}

// Close compares the keys still waiting, then, with BothWays, scans the
// destination for extra keys, and returns the report. The error is the
// fatal one or ctx's; the report is valid either way.
func (c *Comparer) Close(ctx context.Context) (*Report, error) {
	if !c.closed {
		c.closed = true
		for _, db := range sortedKeys(c.pending) {
			if err := c.dispatch(ctx, c.pending[db]); err != nil {
				c.setFatal(err)
				break
			}
		}
		c.pending = nil
		close(c.work)
		c.wg.Wait()
		if c.o.BothWays && c.Err() == nil && ctx.Err() == nil {
			if err := c.findExtra(ctx); err != nil {
				c.setFatal(err)
			}
		}
		c.d.close()
	}
	rep := c.Report()
	if err := c.Err(); err != nil {
		return rep, err
	}
	return rep, ctx.Err()
}

// Report returns a copy of the report so far.
func (c *Comparer) Report() *Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rep
	r.Diffs = slices.Clone(c.rep.Diffs)
	return &r
}

// record counts the outcome of a key, and keeps it if it is a difference
// or a failure.
func (c *Comparer) record(db int, key []byte, o Outcome, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rep.Counts[o]++
	if (o.IsDifference() || o == Failed) && len(c.rep.Diffs) < c.o.MaxDiffs {
		c.rep.Diffs = append(c.rep.Diffs, Diff{DB: db, Key: bytes.Clone(key), Outcome: o, Reason: reason})
	}
}

// compareBatch compares the keys of b: one pipeline of DUMP and PTTL.
func (c *Comparer) compareBatch(b *batch) {
	defer c.held.Release(b.held)
	if c.Err() != nil {
		return
	}
	ctx := context.Background()
	pipe := c.d.client(b.db).Pipeline()
	dumps := make([]*redis.StringCmd, len(b.items))
	ttls := make([]*redis.Cmd, len(b.items))
	for i, it := range b.items {
		dumps[i] = pipe.Dump(ctx, string(it.key))
		ttls[i] = pipe.Do(ctx, "PTTL", it.key)
	}
	_, err := pipe.Exec(ctx)
	if err != nil && !isReply(err) {
		c.setFatal(fmt.Errorf("compare: destination db %d: %w", b.db, err))
		return
	}
	now := c.o.Now().UnixMilli()
	for i, it := range b.items {
		o, why := c.compareItem(it, dumps[i], ttls[i], now)
		c.record(it.db, it.key, o, why)
	}
}

// compareItem compares a source key with the destination's DUMP and PTTL
// replies, received at now.
func (c *Comparer) compareItem(it *item, dump *redis.StringCmd, ttl *redis.Cmd, now int64) (Outcome, string) {
	raw, err := dump.Result()
	if errors.Is(err, redis.Nil) {
		return c.absent(it, now)
	}
	if err != nil {
		return Failed, "destination DUMP: " + err.Error()
	}
	pttl, err := ttl.Int64()
	if err != nil {
		return Failed, "destination PTTL: " + err.Error()
	}
	if pttl == -2 {
		return c.absent(it, now)
	}
	payload, ver, err := rdb.ParseDump([]byte(raw))
	if err != nil {
		return Failed, "destination DUMP payload: " + err.Error()
	}
	if o, why := c.compareValues(it, payload, ver, now); o != Equal {
		return o, why
	}
	var exp int64
	if pttl >= 0 {
		exp = now + pttl
	}
	if why := diffExpiry(it.expireAt, exp, c.tol); why != "" {
		return TTLDiffers, why
	}
	return Equal, ""
}

// compareValues compares the item's value with a destination payload of
// RDB version ver. The same bytes are the same value (both servers chose
// the same encoding: the common case, and no decoding is needed; field
// TTLs are then the same too); else
// both are decoded and compared by content.
func (c *Comparer) compareValues(it *item, payload []byte, ver uint16, now int64) (Outcome, string) {
	denc := rdb.PayloadEncoding(payload, int(ver))
	if denc.Type() != it.typ {
		return TypeDiffers, fmt.Sprintf("source %v, destination %v", it.typ, denc.Type())
	}
	if denc == it.enc && bytes.Equal(payload, it.payload) {
		return Equal, ""
	}
	src, err := decode(it.value(), now)
	if err != nil {
		return Failed, "source value: " + err.Error()
	}
	dst, err := decode(rdb.NewPayloadValue(payload, int(ver)), now)
	if err != nil {
		return Failed, "destination value: " + err.Error()
	}
	return diff(src, dst, c.tol)
}

// value returns a Value that decodes the item's payload.
func (it *item) value() *rdb.Value {
	e := rdb.Entry{Kind: rdb.KindKey, Key: it.key, Type: it.typ, Encoding: it.enc, Payload: it.payload}
	return e.Value()
}

// absent is the outcome of a source key the destination does not have:
// Expired if its expiry (or that of every field of a hash) has passed,
// or passes within the tolerance, Missing otherwise.
func (c *Comparer) absent(it *item, now int64) (Outcome, string) {
	if it.expireAt != 0 && it.expireAt <= now+c.tol {
		return Expired, ""
	}
	if it.typ == rdb.TypeHash {
		if v, err := decode(it.value(), now+c.tol); err == nil && len(v.elems) == 0 {
			return Expired, "" // every field expired
		}
	}
	return Missing, "not on the destination"
}

// keyHash hashes a key of database db for BothWays.
func keyHash(seed maphash.Seed, db int, key []byte) uint64 {
	return maphash.Bytes(seed, key) ^ uint64(db+1)*0x9e3779b97f4a7c15
}

func sortedKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// isReply reports whether err is a server's reply (an error reply or a
// nil), not a network or context error.
func isReply(err error) bool {
	var re redis.Error
	return errors.Is(err, redis.Nil) || errors.As(err, &re)
}

// fmtTime formats an absolute time in Unix ms.
func fmtTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// fmtMS formats a duration in ms.
func fmtMS(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }
