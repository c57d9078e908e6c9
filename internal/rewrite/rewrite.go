// Package rewrite turns a decoded key (an [rdb.Entry] and its [rdb.Value])
// into the Redis commands that rebuild it: what a loader sends when RESTORE
// cannot carry a value (an encoding the target does not know, a payload
// larger than the target accepts, a value too large to hold in memory), and
// what a RESP exporter writes for redis-cli --pipe.
//
// The commands are plain argument lists ([][]byte), independent of any
// client library. Collections are written in batches of bounded size
// (RPUSH, SADD, ZADD, HSET), long strings in chunks (SET, then SETRANGE),
// streams entry by entry with their groups, consumers and pending entries
// (XADD, XGROUP CREATE, XGROUP CREATECONSUMER, XCLAIM ... FORCE JUSTID,
// XSETID). With Options.Temp the value is built under a temporary key in the
// same hash slot and renamed into place at the end, expiry already set, so
// that no reader ever sees it half written.
package rewrite

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/rdbkit/rdbkit/rdb"
)

// Errors returned by [Commands]; they are not wrapped.
var (
	// ErrModule: a module value has no commands that rebuild it.
	ErrModule = errors.New("rewrite: a module value cannot be rebuilt with commands")
	// ErrEmpty: nothing is left to write (every field of a hash had expired).
	ErrEmpty = errors.New("rewrite: nothing left to write: every field has expired")
	// ErrTooLarge: an element is larger than Options.MaxBulk, the largest
	// argument the server accepts, and cannot be split.
	ErrTooLarge = errors.New("rewrite: element larger than the server's proto-max-bulk-len")
	// ErrNaN: a sorted set score is NaN, which ZADD refuses.
	ErrNaN = errors.New("rewrite: NaN score, which ZADD refuses")
)

// Default limits of Options.
const (
	DefaultMaxBytes = 1 << 20
	DefaultMaxArgs  = 1024
	DefaultMaxBulk  = 512 << 20
)

// Options control the commands [Commands] emits. The zero value writes the
// key in place (no temporary key), for a Redis 7.0 or later target without
// field expiry.
type Options struct {
	// Key is the name to write the value under; nil means the entry's key.
	Key []byte
	// Temp, if not nil, is the key the value is built under before it is
	// renamed to Key. It must hash to the same cluster slot as Key (see
	// [TempKey]). A string that fits in one command is still written with
	// one SET, never under Temp.
	Temp []byte
	// Replace overwrites an existing key: RENAME instead of RENAMENX, a SET
	// without NX, or, when writing in place, a DEL first. Without it, the
	// last command (RENAMENX or SET ... NX) fails to create the key if it
	// exists: RENAMENX replies 0, SET NX a nil; the caller should then
	// delete Temp. Writing in place without Replace merges into an existing
	// key of the same type.
	Replace bool
	// Now (Unix ms) leaves out hash fields whose expiry is at or before it;
	// 0 leaves out none.
	Now int64
	// MaxBytes bounds the bytes of the arguments of one command (elements
	// are batched, long strings chunked); 0 means DefaultMaxBytes.
	MaxBytes int
	// MaxArgs bounds the elements of one command; 0 means DefaultMaxArgs.
	MaxArgs int
	// MaxBulk is the largest single argument the server accepts (its
	// proto-max-bulk-len); 0 means DefaultMaxBulk. A string value is
	// chunked below it; a larger list element, set member or hash field or
	// value fails with ErrTooLarge.
	MaxBulk int
	// FieldTTL: the server has HPEXPIREAT (Redis 7.4+, Valkey 9+). Without
	// it hash field expiries are dropped (counted in Loss.FieldTTLs).
	FieldTTL bool
	// NoStreamMeta: the server is older than Redis 7.0 and lacks XSETID
	// ENTRIESADDED/MAXDELETEDID and XGROUP CREATE ENTRIESREAD.
	NoStreamMeta bool
	// TempTTL (ms), with Temp: the temporary key carries this expiry while
	// it is built, so that an interrupted run leaves no garbage behind; it
	// is replaced by the key's own expiry (or removed) before the rename.
	TempTTL int64
	// Loss, if not nil, is added to what the commands could not carry.
	Loss *Loss
}

// ForTarget returns o with FieldTTL and NoStreamMeta set for a server of
// RDB version t.
func (o Options) ForTarget(t rdb.Target) Options {
	o.FieldTTL = t.Valkey && t.Version >= 80 || !t.Valkey && t.Version >= 12
	o.NoStreamMeta = !t.Valkey && t.Version < 10
	return o
}

// Loss counts what commands could not carry.
type Loss struct {
	FieldTTLs      int64 // hash field expiries dropped: the server has no HPEXPIREAT
	ExpiredFields  int64 // hash fields left out because they had expired (Options.Now)
	ConsumerTimes  int64 // stream consumers whose seen/active time became the time of writing
	DeletedPending int64 // pending entries whose message was deleted and that could not be recreated
	IDMP           int64 // streams whose idempotent-producer state (Redis 8.6) was dropped
}

// Add adds l2 to l.
func (l *Loss) Add(l2 Loss) {
	l.FieldTTLs += l2.FieldTTLs
	l.ExpiredFields += l2.ExpiredFields
	l.ConsumerTimes += l2.ConsumerTimes
	l.DeletedPending += l2.DeletedPending
	l.IDMP += l2.IDMP
}

// Zero reports whether nothing was lost.
func (l Loss) Zero() bool { return l == Loss{} }

// String describes the loss: "nothing lost", or a list such as "2 field
// TTLs dropped; 1 consumer's seen/active time set to the time of writing".
func (l Loss) String() string {
	if l.Zero() {
		return "nothing lost"
	}
	var parts []string
	add := func(n int64, what string) {
		if n > 0 {
			parts = append(parts, strconv.FormatInt(n, 10)+" "+what)
		}
	}
	add(l.FieldTTLs, "field TTLs dropped (no HPEXPIREAT)")
	add(l.ExpiredFields, "expired fields left out")
	add(l.ConsumerTimes, "stream consumers' seen/active times set to the time of writing")
	add(l.DeletedPending, "pending entries without a consumer dropped")
	add(l.IDMP, "streams' IDMP state dropped")
	return strings.Join(parts, "; ")
}

// Commands calls emit with each command that rebuilds the key e, whose
// value v (from e.Value(), not yet read) it reads to the end. The key gets
// e's expiry (PEXPIREAT, or PXAT on a single SET); LRU/LFU information is
// not carried. The arguments passed to emit, and their bytes, are valid
// only during the call: emit must copy what it keeps. An error from emit
// stops Commands and is returned as is; so are the errors of v and this
// package's sentinel errors.
//
// For a stream whose Payload is in memory, v is read twice (the second
// time through e.Value()) so that pending entries whose message was
// deleted can be recreated in order; a streamed one is read once, and
// those at or below its last entry are recreated by EVAL steps that the
// server runs (Lua, cmsgpack) on side keys in the key's hash slot.
func Commands(e *rdb.Entry, v *rdb.Value, opts Options, emit func(args [][]byte) error) error {
	w := newWriter(e, opts, emit)
	switch e.Type {
	case rdb.TypeString:
		return w.str(v)
	case rdb.TypeList:
		return w.members(v, "RPUSH")
	case rdb.TypeSet:
		return w.members(v, "SADD")
	case rdb.TypeZSet:
		return w.zset(v)
	case rdb.TypeHash:
		return w.hash(v)
	case rdb.TypeStream:
		return w.stream(e, v)
	}
	return ErrModule
}

// writer accumulates one command at a time and emits the sequence.
type writer struct {
	o          Options
	e          *rdb.Entry
	emit       func([][]byte) error
	key        []byte // the final name
	dst        []byte // the key being built: Temp or key
	loss       Loss
	cmd        cmdBuf
	hdr        int          // header arguments of the pending command (name, key, ...)
	elems      int          // elements in the pending command
	size       int          // bytes of the pending command's elements
	began      bool         // the prologue was emitted
	made       bool         // a command that creates dst was emitted
	n          int          // commands emitted
	sinceTTL   int          // commands since the temporary key's expiry was set
	aux        cmdBuf       // a command outside batches
	afterBatch func() error // called after each batched command is emitted
	args       [][]byte
	num        []byte // scratch for numbers
	idBuf      []byte // scratch for stream ids
}

func newWriter(e *rdb.Entry, o Options, emit func([][]byte) error) *writer {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxArgs <= 0 {
		o.MaxArgs = DefaultMaxArgs
	}
	if o.MaxBulk <= 0 {
		o.MaxBulk = DefaultMaxBulk
	}
	o.MaxBytes = min(o.MaxBytes, o.MaxBulk)
	w := &writer{o: o, e: e, emit: emit, key: o.Key}
	if w.key == nil {
		w.key = e.Key
	}
	w.dst = w.key
	if o.Temp != nil {
		w.dst = o.Temp
	}
	return w
}

// cmdBuf holds the arguments of one command in one arena, so that element
// bytes (valid only until the next Value.Next) can be kept until the
// command is emitted.
type cmdBuf struct {
	arena []byte
	ends  []int
}

func (c *cmdBuf) reset() { c.arena, c.ends = c.arena[:0], c.ends[:0] }

func (c *cmdBuf) add(b []byte) {
	c.arena = append(c.arena, b...)
	c.ends = append(c.ends, len(c.arena))
}

func (c *cmdBuf) addString(s string) {
	c.arena = append(c.arena, s...)
	c.ends = append(c.ends, len(c.arena))
}

// truncate drops the arguments from index n on.
func (c *cmdBuf) truncate(n int) {
	if n == 0 {
		c.reset()
		return
	}
	c.arena = c.arena[:c.ends[n-1]]
	c.ends = c.ends[:n]
}

func (c *cmdBuf) appendArgs(dst [][]byte) [][]byte {
	start := 0
	for _, end := range c.ends {
		dst = append(dst, c.arena[start:end:end])
		start = end
	}
	return dst
}

// send emits the command in c.
func (w *writer) send(c *cmdBuf) error {
	w.args = c.appendArgs(w.args[:0])
	if err := w.emit(w.args); err != nil {
		return err
	}
	w.n++
	return nil
}

// one emits a command of its own, after the pending batch.
func (w *writer) one(name string, args ...[]byte) error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.single(name, args...)
}

// single emits a command of its own without flushing the pending batch.
func (w *writer) single(name string, args ...[]byte) error {
	w.aux.reset()
	w.aux.addString(name)
	for _, a := range args {
		w.aux.add(a)
	}
	return w.send(&w.aux)
}

// prologue emits what comes before the value: DEL of the temporary key (a
// leftover of an earlier attempt), or of the key itself with Replace when
// writing in place.
func (w *writer) prologue() error {
	if w.began {
		return nil
	}
	w.began = true
	if w.o.Temp != nil || w.o.Replace {
		return w.one("DEL", w.dst)
	}
	return nil
}

// begin starts a batched command: name, the destination key, then extra
// header arguments; elements follow with add.
func (w *writer) begin(name string, extra ...[]byte) error {
	if err := w.flush(); err != nil {
		return err
	}
	w.cmd.reset()
	w.cmd.addString(name)
	w.cmd.add(w.dst)
	for _, a := range extra {
		w.cmd.add(a)
	}
	w.hdr = len(w.cmd.ends)
	w.elems, w.size = 0, 0
	return nil
}

// add adds one element (its parts: member, or score and member, ...) to the
// pending command, emitting the command first when the element would take
// it over the limits.
func (w *writer) add(parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
		if len(p) > w.o.MaxBulk {
			return ErrTooLarge
		}
	}
	if w.elems > 0 && (w.elems >= w.o.MaxArgs || w.size+n > w.o.MaxBytes) {
		if err := w.sendBatch(); err != nil {
			return err
		}
	}
	for _, p := range parts {
		w.cmd.add(p)
	}
	w.elems++
	w.size += n
	return nil
}

// sendBatch emits the pending batched command and keeps its header for
// the next batch.
func (w *writer) sendBatch() error {
	if err := w.send(&w.cmd); err != nil {
		return err
	}
	if err := w.wrote(); err != nil {
		return err
	}
	if w.afterBatch != nil {
		if err := w.afterBatch(); err != nil {
			return err
		}
	}
	w.cmd.truncate(w.hdr)
	w.elems, w.size = 0, 0
	return nil
}

// wrote records that a command wrote to dst; on the temporary key it sets
// the safety expiry after the first such command and every 1000 commands.
func (w *writer) wrote() error {
	first := !w.made
	w.made = true
	if w.o.Temp == nil || w.o.TempTTL <= 0 {
		return nil
	}
	if w.sinceTTL++; !first && w.sinceTTL < 1000 {
		return nil
	}
	w.sinceTTL = 0
	return w.single("PEXPIRE", w.dst, w.int(w.o.TempTTL))
}

// flush emits the pending batched command, if it has elements.
func (w *writer) flush() error {
	if w.hdr == 0 || w.elems == 0 {
		w.hdr = 0
		return nil
	}
	err := w.sendBatch()
	w.hdr = 0
	return err
}

// epilogue sets the expiry and renames the temporary key into place.
func (w *writer) epilogue() error {
	if err := w.flush(); err != nil {
		return err
	}
	if !w.made {
		return ErrEmpty
	}
	if w.o.Loss != nil {
		w.o.Loss.Add(w.loss)
	}
	switch {
	case w.e.ExpireAt != 0:
		if err := w.one("PEXPIREAT", w.dst, w.int(w.e.ExpireAt)); err != nil {
			return err
		}
	case w.o.Temp != nil && w.o.TempTTL > 0:
		if err := w.one("PERSIST", w.dst); err != nil {
			return err
		}
	}
	switch {
	case w.o.Temp == nil:
		return nil
	case w.o.Replace:
		return w.one("RENAME", w.dst, w.key)
	}
	return w.one("RENAMENX", w.dst, w.key)
}

// int formats n into the writer's scratch space; valid until the next call.
func (w *writer) int(n int64) []byte {
	w.num = strconv.AppendInt(w.num[:0], n, 10)
	return w.num
}

// str writes a string value: one SET when it fits in one command (NX
// unless Replace, PXAT for the expiry), else SET and SETRANGE chunks.
func (w *writer) str(v *rdb.Value) error {
	var off int64
	set := false // the first chunk was written with SET
	for v.Next() {
		el := v.Elem()
		p := el.Value
		if !set && !el.More && len(p) <= w.o.MaxBytes {
			return w.setOne(p)
		}
		if err := w.prologue(); err != nil {
			return err
		}
		for len(p) > 0 || !set {
			k := min(len(p), w.o.MaxBytes)
			var err error
			if !set {
				set = true
				err = w.one("SET", w.dst, p[:k])
			} else {
				err = w.one("SETRANGE", w.dst, w.int(off), p[:k])
			}
			if err != nil {
				return err
			}
			if err := w.wrote(); err != nil {
				return err
			}
			off += int64(k)
			p = p[k:]
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	return w.epilogue()
}

// setOne writes a whole string with one SET.
func (w *writer) setOne(p []byte) error {
	c := &w.aux
	c.reset()
	c.addString("SET")
	c.add(w.key)
	c.add(p)
	if !w.o.Replace {
		c.addString("NX")
	}
	if w.e.ExpireAt != 0 {
		c.addString("PXAT")
		c.add(w.int(w.e.ExpireAt))
	}
	if w.o.Loss != nil {
		w.o.Loss.Add(w.loss)
	}
	return w.send(c)
}

// members writes a list (RPUSH) or a set (SADD). A streamed element that
// comes in pieces is joined first (up to MaxBulk).
func (w *writer) members(v *rdb.Value, cmd string) error {
	if err := w.prologue(); err != nil {
		return err
	}
	if err := w.begin(cmd); err != nil {
		return err
	}
	var join []byte
	for v.Next() {
		el := v.Elem()
		m := el.Member
		if el.More || join != nil {
			if len(join)+len(m) > w.o.MaxBulk {
				return ErrTooLarge
			}
			join = append(join, m...)
			if el.More {
				continue
			}
			m, join = join, nil
		}
		if err := w.add(m); err != nil {
			return err
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	return w.epilogue()
}

// zset writes a sorted set with ZADD score member pairs.
func (w *writer) zset(v *rdb.Value) error {
	if err := w.prologue(); err != nil {
		return err
	}
	if err := w.begin("ZADD"); err != nil {
		return err
	}
	var score []byte
	for v.Next() {
		el := v.Elem()
		if math.IsNaN(el.Score) {
			return ErrNaN
		}
		score = AppendScore(score[:0], el.Score)
		if err := w.add(score, el.Member); err != nil {
			return err
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	return w.epilogue()
}

// AppendScore appends a sorted set score as ZADD reads it back exactly:
// the shortest decimal that parses to the same float64, "+inf", "-inf",
// and "-0" for negative zero.
func AppendScore(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "+inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}
