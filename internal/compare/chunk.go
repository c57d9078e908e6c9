package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// windowBytes is the size of a GETRANGE window of a big string.
const windowBytes = 1 << 20

// typeNames are the replies of TYPE for each type.
var typeNames = map[rdb.Type]string{
	rdb.TypeString: "string", rdb.TypeList: "list", rdb.TypeSet: "set",
	rdb.TypeZSet: "zset", rdb.TypeHash: "hash", rdb.TypeStream: "stream",
}

// A windowCmp compares a big key in windows: the source's elements as its
// Value gives them, the destination's with a command per window.
type windowCmp struct {
	c   *Comparer
	ctx context.Context
	cl  conn
	key []byte
	now int64
	err error // a network error: fatal
}

// compareWindows compares a key too big to DUMP whole: TYPE and PTTL
// first, then its content window by window, then its length. It reads
// e's value, so it runs before Add returns.
func (c *Comparer) compareWindows(ctx context.Context, e *rdb.Entry, db int) error {
	key := bytes.Clone(e.Key)
	cl := c.d.client(db)
	if e.Type == rdb.TypeModule {
		return c.compareModule(ctx, e, db)
	}
	pipe := cl.Pipeline()
	typ := pipe.Type(ctx, string(key))
	ttl := pipe.Do(ctx, "PTTL", key)
	if _, err := pipe.Exec(ctx); err != nil && !isReply(err) {
		c.setFatal(fmt.Errorf("compare: destination db %d: %w", db, err))
		return c.Err()
	}
	now := c.o.Now().UnixMilli()
	c.mu.Lock()
	c.rep.Chunked++
	c.mu.Unlock()
	pttl, err := ttl.Int64()
	switch {
	case typ.Err() != nil || err != nil:
		c.record(e.DB, key, Failed, fmt.Sprintf("destination TYPE/PTTL: %v", errors.Join(typ.Err(), err)))
		return nil
	case typ.Val() == "none" || pttl == -2:
		o, why := c.absent(&item{key: key, typ: e.Type, expireAt: e.ExpireAt}, now)
		c.record(e.DB, key, o, why)
		return nil
	case typ.Val() != typeNames[e.Type]:
		c.record(e.DB, key, TypeDiffers, fmt.Sprintf("source %v, destination %s", e.Type, typ.Val()))
		return nil
	}
	w := &windowCmp{c: c, ctx: ctx, cl: cl, key: key, now: now}
	o, why := w.compare(e.Value(), e.Type)
	if w.err != nil {
		c.setFatal(fmt.Errorf("compare: destination db %d: key %q: %w", db, key, w.err))
		return c.Err()
	}
	if o == Equal {
		var exp int64
		if pttl >= 0 {
			exp = now + pttl
		}
		if d := diffExpiry(e.ExpireAt, exp, c.tol); d != "" {
			o, why = TTLDiffers, d
		}
	}
	c.record(e.DB, key, o, why)
	return nil
}

// compareModule compares a big module value with one DUMP: module data
// has no element commands.
func (c *Comparer) compareModule(ctx context.Context, e *rdb.Entry, db int) error {
	if e.Payload == nil {
		c.record(e.DB, e.Key, Failed, "module value too large to buffer (raise the read buffer)")
		return nil
	}
	b := &batch{db: db, items: []*item{{db: e.DB, key: bytes.Clone(e.Key), typ: e.Type, enc: e.Encoding,
		payload: bytes.Clone(e.Payload), expireAt: e.ExpireAt}}}
	c.compareBatch(b)
	return c.Err()
}

// compare walks the source value and compares each window.
func (w *windowCmp) compare(v *rdb.Value, t rdb.Type) (Outcome, string) {
	switch t {
	case rdb.TypeString:
		return w.str(v)
	case rdb.TypeStream:
		return w.stream(v)
	}
	var win []elem
	n := int64(0)
	more := false // the last element of win continues
	for v.Next() {
		el := v.Elem()
		if more { // the next piece of an element longer than ChunkSize
			cur := &win[len(win)-1]
			cur.a = append(cur.a, el.Member...)
			cur.b = append(cur.b, el.Value...)
			cur.exp = el.ExpireAt
		} else {
			win = append(win, elem{a: bytes.Clone(el.Member), b: bytes.Clone(el.Value), score: el.Score, exp: el.ExpireAt})
		}
		if more = el.More; more {
			continue
		}
		if last := &win[len(win)-1]; t == rdb.TypeHash && last.exp != 0 && last.exp <= w.now {
			win = win[:len(win)-1] // an expired field
			continue
		}
		if len(win) == w.c.o.Window {
			if o, why := w.window(t, win, n); o != Equal {
				return o, why
			}
			n += int64(len(win))
			win = win[:0]
		}
	}
	if err := v.Err(); err != nil {
		return Failed, "source value: " + err.Error()
	}
	if len(win) > 0 {
		if o, why := w.window(t, win, n); o != Equal {
			return o, why
		}
		n += int64(len(win))
	}
	return w.length(t, n)
}

// window compares source elements n.. with the destination.
func (w *windowCmp) window(t rdb.Type, win []elem, n int64) (Outcome, string) {
	switch t {
	case rdb.TypeList:
		return w.list(win, n)
	case rdb.TypeSet:
		return w.set(win)
	case rdb.TypeZSet:
		return w.zset(win)
	case rdb.TypeHash:
		return w.hash(win)
	}
	return Failed, "no window comparison for " + t.String()
}

// do runs a command and returns its reply; a network error is kept in
// w.err, an error reply returned.
func (w *windowCmp) do(args ...any) (any, error) {
	v, err := w.cl.Do(w.ctx, args...).Result()
	if err != nil && !isReply(err) && w.err == nil {
		w.err = err
	}
	return v, err
}

func (w *windowCmp) list(win []elem, n int64) (Outcome, string) {
	r, err := w.do("LRANGE", w.key, n, n+int64(len(win))-1)
	if err != nil {
		return Failed, "destination LRANGE: " + err.Error()
	}
	got, _ := r.([]any)
	for i := range win {
		if i >= len(got) {
			return ValueDiffers, fmt.Sprintf("length: destination has %d elements, source more", n+int64(i))
		}
		if s, _ := got[i].(string); s != string(win[i].a) {
			return ValueDiffers, fmt.Sprintf("element %d: source %s, destination %s", n+int64(i), show(win[i].a), show([]byte(s)))
		}
	}
	return Equal, ""
}

func (w *windowCmp) set(win []elem) (Outcome, string) {
	args := []any{"SMISMEMBER", w.key}
	for _, e := range win {
		args = append(args, e.a)
	}
	var got []any
	if w.c.d.atLeast(6, 2) {
		r, err := w.do(args...)
		if err != nil {
			return Failed, "destination SMISMEMBER: " + err.Error()
		}
		got, _ = r.([]any)
	} else {
		var err error
		if got, err = w.each("SISMEMBER", win); err != nil {
			return Failed, "destination SISMEMBER: " + err.Error()
		}
	}
	for i, e := range win {
		if i >= len(got) || got[i] != int64(1) {
			return ValueDiffers, fmt.Sprintf("member %s missing on the destination", show(e.a))
		}
	}
	return Equal, ""
}

// each sends cmd key member for each element in one pipeline and returns
// the replies (before SMISMEMBER and ZMSCORE, Redis 6.2).
func (w *windowCmp) each(cmd string, win []elem) ([]any, error) {
	pipe := w.cl.Pipeline()
	cmds := make([]*redis.Cmd, len(win))
	for i, e := range win {
		cmds[i] = pipe.Do(w.ctx, cmd, w.key, e.a)
	}
	if _, err := pipe.Exec(w.ctx); err != nil && !isReply(err) {
		w.err = err
		return nil, err
	}
	out := make([]any, len(win))
	for i, c := range cmds {
		v, err := c.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (w *windowCmp) zset(win []elem) (Outcome, string) {
	var got []any
	if w.c.d.atLeast(6, 2) {
		args := []any{"ZMSCORE", w.key}
		for _, e := range win {
			args = append(args, e.a)
		}
		r, err := w.do(args...)
		if err != nil {
			return Failed, "destination ZMSCORE: " + err.Error()
		}
		got, _ = r.([]any)
	} else {
		var err error
		if got, err = w.each("ZSCORE", win); err != nil {
			return Failed, "destination ZSCORE: " + err.Error()
		}
	}
	for i, e := range win {
		var s string
		if i < len(got) {
			s, _ = got[i].(string)
		}
		if s == "" {
			return ValueDiffers, fmt.Sprintf("member %s missing on the destination", show(e.a))
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !sameScore(f, e.score) {
			return ValueDiffers, fmt.Sprintf("score of %s: source %s, destination %s", show(e.a), fmtScore(e.score), s)
		}
	}
	return Equal, ""
}

func (w *windowCmp) hash(win []elem) (Outcome, string) {
	pipe := w.cl.Pipeline()
	args := []any{"HMGET", w.key}
	for _, e := range win {
		args = append(args, e.a)
	}
	vals := pipe.Do(w.ctx, args...)
	var exps *redis.Cmd
	if w.c.d.fieldTTLs() {
		args := []any{"HPEXPIRETIME", w.key, "FIELDS", len(win)}
		for _, e := range win {
			args = append(args, e.a)
		}
		exps = pipe.Do(w.ctx, args...)
	}
	if _, err := pipe.Exec(w.ctx); err != nil && !isReply(err) {
		w.err = err
		return Failed, err.Error()
	}
	vr, err := vals.Slice()
	if err != nil {
		return Failed, "destination HMGET: " + err.Error()
	}
	for i, e := range win {
		s, ok := vr[i].(string)
		if !ok {
			return ValueDiffers, fmt.Sprintf("field %s missing on the destination", show(e.a))
		}
		if s != string(e.b) {
			return ValueDiffers, fmt.Sprintf("field %s: source %s, destination %s", show(e.a), show(e.b), show([]byte(s)))
		}
	}
	var er []any
	if exps != nil {
		if er, err = exps.Slice(); err != nil {
			return Failed, "destination HPEXPIRETIME: " + err.Error()
		}
	}
	for i, e := range win {
		var exp int64
		if i < len(er) {
			if n, _ := er[i].(int64); n > 0 {
				exp = n
			}
		}
		if why := diffExpiry(e.exp, exp, w.c.tol); why != "" {
			return TTLDiffers, "field " + show(e.a) + ": " + why
		}
	}
	return Equal, ""
}

// length compares the number of elements.
func (w *windowCmp) length(t rdb.Type, n int64) (Outcome, string) {
	cmd := map[rdb.Type]string{rdb.TypeList: "LLEN", rdb.TypeSet: "SCARD", rdb.TypeZSet: "ZCARD", rdb.TypeHash: "HLEN", rdb.TypeStream: "XLEN", rdb.TypeString: "STRLEN"}[t]
	r, err := w.do(cmd, w.key)
	if err != nil {
		return Failed, "destination " + cmd + ": " + err.Error()
	}
	if got, _ := r.(int64); got != n {
		what := "length"
		if t == rdb.TypeString {
			what = "bytes"
		}
		return ValueDiffers, fmt.Sprintf("%s: source %d, destination %d", what, n, got)
	}
	return Equal, ""
}

// str compares a big string in GETRANGE windows.
func (w *windowCmp) str(v *rdb.Value) (Outcome, string) {
	var buf []byte
	off := int64(0)
	flush := func() (Outcome, string) {
		for len(buf) > 0 {
			k := min(len(buf), windowBytes)
			r, err := w.do("GETRANGE", w.key, off, off+int64(k)-1)
			if err != nil {
				return Failed, "destination GETRANGE: " + err.Error()
			}
			s, _ := r.(string)
			if s != string(buf[:k]) {
				o, why := diffBytes("value", buf[:k], []byte(s))
				if o == Equal { // cannot be: s differs
					o = ValueDiffers
				}
				return o, strings.Replace(why, "value: ", fmt.Sprintf("value at offset %d: ", off), 1)
			}
			off += int64(k)
			buf = buf[k:]
		}
		buf = nil
		return Equal, ""
	}
	for v.Next() {
		buf = append(buf, v.Elem().Value...)
		if len(buf) >= windowBytes {
			if o, why := flush(); o != Equal {
				return o, why
			}
		}
	}
	if err := v.Err(); err != nil {
		return Failed, "source value: " + err.Error()
	}
	if o, why := flush(); o != Equal {
		return o, why
	}
	return w.length(rdb.TypeString, off)
}

// stream compares a big stream: its entries in XRANGE windows, then its
// length, last id, and groups with XINFO (pending entries by count: the
// pending list of each entry is compared only when the stream is DUMPed).
func (w *windowCmp) stream(v *rdb.Value) (Outcome, string) {
	var win []elem
	n := int64(0)
	for v.Next() {
		el := v.Elem()
		fs := make([][]byte, len(el.Fields))
		for i, f := range el.Fields {
			fs[i] = bytes.Clone(f)
		}
		win = append(win, elem{id: el.ID, fields: fs})
		if len(win) == w.c.o.Window {
			if o, why := w.entries(win); o != Equal {
				return o, why
			}
			n += int64(len(win))
			win = win[:0]
		}
	}
	if err := v.Err(); err != nil {
		return Failed, "source value: " + err.Error()
	}
	if len(win) > 0 {
		if o, why := w.entries(win); o != Equal {
			return o, why
		}
		n += int64(len(win))
	}
	if o, why := w.length(rdb.TypeStream, n); o != Equal {
		return o, why
	}
	return w.streamInfo(newStreamMeta(v.Stream(), v.Encoding))
}

// entries compares a window of stream entries with XRANGE from the first.
func (w *windowCmp) entries(win []elem) (Outcome, string) {
	r, err := w.do("XRANGE", w.key, win[0].id.String(), "+", "COUNT", len(win))
	if err != nil {
		return Failed, "destination XRANGE: " + err.Error()
	}
	got, _ := r.([]any)
	for i, e := range win {
		if i >= len(got) {
			return ValueDiffers, fmt.Sprintf("entry %v missing on the destination", e.id)
		}
		ent, _ := got[i].([]any)
		if len(ent) != 2 {
			return Failed, "destination XRANGE: unexpected reply"
		}
		if id, _ := ent[0].(string); id != e.id.String() {
			return ValueDiffers, fmt.Sprintf("entry id: source %v, destination %s", e.id, id)
		}
		fs, _ := ent[1].([]any)
		same := len(fs) == len(e.fields)
		for j := 0; same && j < len(fs); j++ {
			s, _ := fs[j].(string)
			same = s == string(e.fields[j])
		}
		if !same {
			return ValueDiffers, fmt.Sprintf("entry %v: fields differ", e.id)
		}
	}
	return Equal, ""
}

// streamInfo compares a stream's metadata and groups with XINFO STREAM,
// XINFO GROUPS and XINFO CONSUMERS.
func (w *windowCmp) streamInfo(m *streamMeta) (Outcome, string) {
	si, err := w.cl.XInfoStream(w.ctx, string(w.key)).Result()
	if err != nil {
		w.keepNetErr(err)
		return Failed, "destination XINFO STREAM: " + err.Error()
	}
	switch {
	case si.LastGeneratedID != m.lastID.String():
		return ValueDiffers, fmt.Sprintf("last id: source %v, destination %s", m.lastID, si.LastGeneratedID)
	case m.hasMeta && w.c.d.atLeast(7, 0) && si.MaxDeletedEntryID != m.maxDeleted.String():
		return ValueDiffers, fmt.Sprintf("max deleted id: source %v, destination %s", m.maxDeleted, si.MaxDeletedEntryID)
	case m.hasMeta && w.c.d.atLeast(7, 0) && uint64(si.EntriesAdded) != m.entriesAdded:
		return ValueDiffers, fmt.Sprintf("entries added: source %d, destination %d", m.entriesAdded, si.EntriesAdded)
	case int(si.Groups) != len(m.groups):
		return ValueDiffers, fmt.Sprintf("consumer groups: source %d, destination %d", len(m.groups), si.Groups)
	}
	if len(m.groups) == 0 {
		return Equal, ""
	}
	gs, err := w.cl.XInfoGroups(w.ctx, string(w.key)).Result()
	if err != nil {
		w.keepNetErr(err)
		return Failed, "destination XINFO GROUPS: " + err.Error()
	}
	byName := map[string]redis.XInfoGroup{}
	for _, g := range gs {
		byName[g.Name] = g
	}
	for _, g := range m.groups {
		d, ok := byName[string(g.name)]
		why := ""
		switch {
		case !ok:
			why = "missing on the destination"
		case d.LastDeliveredID != g.lastID.String():
			why = fmt.Sprintf("last delivered id: source %v, destination %s", g.lastID, d.LastDeliveredID)
		case g.entriesRead >= 0 && w.c.d.atLeast(7, 0) && d.EntriesRead >= 0 && d.EntriesRead != g.entriesRead:
			why = fmt.Sprintf("entries read: source %d, destination %d", g.entriesRead, d.EntriesRead)
		case d.Pending != int64(len(g.pending)):
			why = fmt.Sprintf("pending entries: source %d, destination %d", len(g.pending), d.Pending)
		case d.Consumers != int64(len(g.consumers)):
			why = fmt.Sprintf("consumers: source %d, destination %d", len(g.consumers), d.Consumers)
		default:
			why = w.consumers(g)
		}
		if why != "" {
			return ValueDiffers, "group " + show(g.name) + ": " + why
		}
	}
	return Equal, ""
}

func (w *windowCmp) consumers(g group) string {
	cs, err := w.cl.XInfoConsumers(w.ctx, string(w.key), string(g.name)).Result()
	if err != nil {
		w.keepNetErr(err)
		return "destination XINFO CONSUMERS: " + err.Error()
	}
	byName := map[string]int64{}
	for _, c := range cs {
		byName[c.Name] = c.Pending
	}
	for _, c := range g.consumers {
		if p, ok := byName[string(c.name)]; !ok || p != int64(c.pending) {
			return fmt.Sprintf("consumer %s: source %d pending, destination %d (present: %v)", show(c.name), c.pending, p, ok)
		}
	}
	return ""
}

func (w *windowCmp) keepNetErr(err error) {
	if !isReply(err) && w.err == nil {
		w.err = err
	}
}
