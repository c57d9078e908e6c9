package rdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Loss tells what Transcode left out of a value: what the target cannot
// hold, and hash fields that had already expired. The zero Loss means
// nothing was lost.
type Loss struct {
	// ExpiredFields counts hash fields whose expiry had passed at the
	// transcoding time: they are left out whatever the target.
	ExpiredFields int
	// Expired is set when every field of a hash had expired: nothing was
	// appended, and the key should be treated as expired.
	Expired bool
	// FieldTTLs counts hash field expiries the target cannot hold (Redis
	// before 7.4, Valkey before 9): the fields are kept without them.
	FieldTTLs int
	// ActiveTimes counts stream consumers whose active time, when it
	// differs from their seen time, was dropped (targets before RDB 11).
	ActiveTimes int
	// EntriesRead counts consumer groups whose entries-read counter was
	// dropped (targets before RDB 10).
	EntriesRead int
	// StreamMeta counts streams whose first id, max deleted id and
	// entries-added counter were dropped (targets before RDB 10).
	StreamMeta int
	// IDMPStreams counts streams whose idempotent-producer (IDMP) state was
	// dropped (targets before RDB 13); IDMPIDs counts the idempotency ids
	// it held.
	IDMPStreams int
	IDMPIDs     int
}

// IsZero reports whether nothing was lost.
func (l Loss) IsZero() bool { return l == Loss{} }

// Add adds the counts of m to l, for totals over many keys.
func (l *Loss) Add(m Loss) {
	l.ExpiredFields += m.ExpiredFields
	l.Expired = l.Expired || m.Expired
	l.FieldTTLs += m.FieldTTLs
	l.ActiveTimes += m.ActiveTimes
	l.EntriesRead += m.EntriesRead
	l.StreamMeta += m.StreamMeta
	l.IDMPStreams += m.IDMPStreams
	l.IDMPIDs += m.IDMPIDs
}

// String describes the loss for a human: "nothing lost", or a list such as
// "2 expired fields left out; 3 field TTLs dropped".
func (l Loss) String() string {
	if l.IsZero() {
		return "nothing lost"
	}
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, strconv.Itoa(n)+" "+many)
		}
	}
	if l.Expired {
		parts = append(parts, "every field expired")
	}
	add(l.ExpiredFields, "expired field left out", "expired fields left out")
	add(l.FieldTTLs, "field TTL dropped", "field TTLs dropped")
	add(l.ActiveTimes, "consumer active time dropped", "consumer active times dropped")
	add(l.EntriesRead, "group entries-read counter dropped", "group entries-read counters dropped")
	add(l.StreamMeta, "stream's first id, max deleted id and entries-added dropped",
		"streams' first id, max deleted id and entries-added dropped")
	if l.IDMPStreams > 0 || l.IDMPIDs > 0 {
		parts = append(parts, fmt.Sprintf("IDMP state of %d streams dropped (%d idempotency ids)", l.IDMPStreams, l.IDMPIDs))
	}
	return strings.Join(parts, "; ")
}

// String names the target: "Redis RDB 10", "Valkey RDB 80".
func (t Target) String() string {
	if t.Valkey {
		return "Valkey RDB " + strconv.Itoa(t.Version)
	}
	return "Redis RDB " + strconv.Itoa(t.Version)
}

// knowsRedisFieldTTLs reports whether the target keeps hash field
// expiries as Redis 7.4+ (RDB 12) does: HASH_METADATA, HASH_LISTPACK_EX.
func (t Target) knowsRedisFieldTTLs() bool { return !t.Valkey && t.Knows(EncHashMetadata) }

// knowsHash2 reports whether the target keeps hash field expiries as
// Valkey 9 does: HASH_2. (Target.Knows says yes for any Valkey target,
// even one below RDB 80.)
func (t Target) knowsHash2() bool {
	return t.Valkey && t.Version >= MinValkeyVersion && t.Knows(EncValkeyHash2)
}

// ziplists reports whether the target reads the ziplist entry encodings of
// RDB 6 (Redis 2.6) and later; older targets get the plain encodings.
func (t Target) ziplists() bool { return t.Version >= 6 }

// Encoding thresholds: a value this small gets a compact encoding, as the
// default configuration of the target would give it. See redis.conf
// hash-max-listpack-*, zset-max-listpack-*, set-max-intset-entries.
const (
	hashMaxEntries   = 512
	hashMaxValue     = 64
	zsetMaxEntries   = 128
	zsetMaxValue     = 64
	setMaxIntEntries = 512
)

// The IDMP settings of a stream that never configured them.
// See redis/src/t_stream.c (CONFIG_STREAM_IDMP_* defaults).
const (
	idmpDefaultDuration = 100
	idmpDefaultMax      = 100
)

// Transcode appends to dst a payload (type byte and value, without the
// DUMP footer) that target t's RESTORE accepts and that carries the value
// of payload p (as in Entry.Payload; enc is its encoding, as Entry.Encoding
// gives it, so that Valkey's type numbers are told apart from Redis's).
//
// If t knows enc and nothing has to be dropped, p itself is appended. Else
// the value is decoded and written again in an encoding t knows, the one
// Redis would choose for it under the default thresholds: a listpack set
// becomes an intset or a plain set, a listpack zset or hash a ziplist or a
// plain one, a QUICKLIST_2 list a QUICKLIST of ziplists (RDB 7-9) or a
// plain list, a stream the newest stream layout t knows. Hash fields whose
// expiry is before now (Unix ms; now <= 0 expires nothing) are left out
// whatever the target; if none is left, loss.Expired is set and nothing
// is appended. What t cannot hold (field TTLs, stream metadata, IDMP
// state) is dropped and counted in loss.
//
// Transcode fails with an error wrapping ErrUnknown if t cannot hold the
// type at all (a module value or a stream for a target that lacks them),
// and with an *Error (offset relative to p) if p is corrupt. Send the
// result with AppendDump(..., t.DumpVersion()). The result does not alias
// p unless it is p itself appended to dst.
func Transcode(dst, p []byte, enc Encoding, t Target, now int64) (out []byte, loss Loss, err error) {
	if len(p) == 0 || p[0] != byte(enc) {
		return dst, loss, &Error{Field: "payload", Detail: "type byte does not match encoding " + enc.String(), Err: ErrCorrupt}
	}
	if t.Knows(enc) && (!enc.hasFieldTTLs() || now <= 0) {
		return append(dst, p...), loss, nil
	}
	tc := &transcoder{out: dst, p: p, enc: enc, t: t, now: now}
	switch {
	case enc.hasFieldTTLs():
		err = tc.hashTTL()
	case enc == EncSetListpack:
		err = tc.set()
	case enc == EncZSetListpack, enc == EncZSet2:
		err = tc.zset()
	case enc == EncHashListpack:
		err = tc.hash()
	case enc == EncListQuicklist2 && t.Knows(EncListQuicklist) && t.ziplists():
		err = tc.quicklist()
	case enc == EncListQuicklist2, enc == EncListQuicklist:
		err = tc.list()
	case enc.Type() == TypeStream:
		err = tc.stream()
	default:
		err = tc.cannot()
	}
	if err != nil {
		return dst, Loss{}, err
	}
	return tc.out, tc.loss, nil
}

// PayloadEncoding returns the encoding of a payload (type byte first, as
// in Entry.Payload or from ParseDump) written by a server of RDB version
// ver: Valkey's type numbers for ver >= MinValkeyVersion, as
// NewPayloadValue reads them. It is what Transcode takes for a DUMP reply.
func PayloadEncoding(payload []byte, ver int) Encoding {
	if len(payload) == 0 {
		return EncString
	}
	enc := Encoding(payload[0])
	if ver >= MinValkeyVersion && payload[0] >= 22 {
		enc += valkeyBase
	}
	return enc
}

func (e Encoding) hasFieldTTLs() bool {
	switch e {
	case EncHashMetadataPreGA, EncHashListpackExPreGA, EncHashMetadata, EncHashListpackEx, EncValkeyHash2:
		return true
	}
	return false
}

// A transcoder rewrites one payload.
type transcoder struct {
	out  []byte
	p    []byte
	enc  Encoding
	t    Target
	now  int64
	loss Loss

	el elems
	lp listpackBuilder
	zl ziplistBuilder
	is intsetBuilder
}

func (tc *transcoder) cannot() error {
	return fmt.Errorf("rdb: %v (%v) cannot be restored into %v: %w", tc.enc, tc.enc.Type(), tc.t, ErrUnknown)
}

// elems holds the decoded elements of a value; their bytes are in one
// arena.
type elems struct {
	arena []byte
	items []elemRef
}

type elemRef struct {
	m0, m1, v0, v1 int
	score          float64
	exp            int64
}

func (es *elems) member(i int) []byte { r := &es.items[i]; return es.arena[r.m0:r.m1:r.m1] }
func (es *elems) value(i int) []byte  { r := &es.items[i]; return es.arena[r.v0:r.v1:r.v1] }

// maxLen returns the length of the longest member or value.
func (es *elems) maxLen() int {
	n := 0
	for _, r := range es.items {
		n = max(n, r.m1-r.m0, r.v1-r.v0)
	}
	return n
}

// collect decodes every element of the payload.
func (tc *transcoder) collect() error {
	v := new(Value)
	v.init(tc.p, tc.enc, nil, 0, nil)
	es := &tc.el
	es.arena = make([]byte, 0, len(tc.p))
	es.items = make([]elemRef, 0, min(max(v.Len(), 0), int64(len(tc.p))))
	for v.Next() {
		el := v.Elem()
		r := elemRef{m0: len(es.arena), score: el.Score, exp: el.ExpireAt}
		es.arena = append(es.arena, el.Member...)
		r.m1, r.v0 = len(es.arena), len(es.arena)
		es.arena = append(es.arena, el.Value...)
		r.v1 = len(es.arena)
		es.items = append(es.items, r)
	}
	return v.Err()
}

// hashTTL transcodes a hash whose encoding carries field expiries.
func (tc *transcoder) hashTTL() error {
	t := tc.t
	if err := tc.collect(); err != nil {
		return err
	}
	es := &tc.el
	kept := es.items[:0]
	ttls := 0
	for _, r := range es.items {
		if r.exp != 0 && tc.now > 0 && r.exp < tc.now {
			tc.loss.ExpiredFields++
			continue
		}
		if r.exp != 0 {
			ttls++
		}
		kept = append(kept, r)
	}
	es.items = kept
	switch {
	case len(kept) == 0:
		tc.loss.Expired = true
		return nil
	case tc.loss.ExpiredFields == 0 && t.Knows(tc.enc):
		tc.out = append(tc.out, tc.p...)
		return nil
	case ttls > 0 && t.knowsRedisFieldTTLs():
		if len(kept) <= hashMaxEntries && es.maxLen() <= hashMaxValue {
			return tc.hashListpackEx()
		}
		tc.hashMetadata()
		return nil
	case ttls > 0 && t.knowsHash2():
		tc.hash2()
		return nil
	}
	tc.loss.FieldTTLs = ttls
	return tc.plainHash()
}

// hash transcodes a listpack hash for a target before RDB 10.
func (tc *transcoder) hash() error {
	if err := tc.collect(); err != nil {
		return err
	}
	return tc.plainHash()
}

// plainHash writes the collected fields without expiries: a listpack
// (RDB 10+) or ziplist when small, else a hashtable (RDB_TYPE_HASH).
func (tc *transcoder) plainHash() error {
	es := &tc.el
	if len(es.items) <= hashMaxEntries && es.maxLen() <= hashMaxValue && tc.t.ziplists() {
		enc := EncHashZiplist
		if tc.t.Knows(EncHashListpack) {
			enc = EncHashListpack
		}
		return tc.packed(enc, func(add func([]byte)) {
			for i := range es.items {
				add(es.member(i))
				add(es.value(i))
			}
		})
	}
	out := append(tc.out, byte(EncHash))
	out = AppendLength(out, uint64(len(es.items)))
	for i := range es.items {
		out = AppendString(out, es.member(i))
		out = AppendString(out, es.value(i))
	}
	tc.out = out
	return nil
}

// packed writes a value of encoding enc held in one listpack or ziplist
// blob, whose entries fill calls add for.
func (tc *transcoder) packed(enc Encoding, fill func(add func([]byte))) error {
	var b []byte
	var err error
	switch enc {
	case EncHashZiplist, EncZSetZiplist, EncListZiplist:
		tc.zl.reset()
		fill(tc.zl.appendString)
		b, err = tc.zl.finish()
	default:
		tc.lp.reset()
		fill(tc.lp.appendString)
		b, err = tc.lp.finish()
	}
	if err != nil {
		return err
	}
	tc.out = appendBlob(append(tc.out, byte(enc)), b)
	return nil
}

// hashListpackEx writes RDB_TYPE_HASH_LISTPACK_EX: the smallest expiry,
// then a listpack of field, value, expiry (0 = none), ordered by expiry
// with the fields without one last, as Redis keeps it (t_hash.c
// listpackExGetMinExpire reads the first triplet's).
func (tc *transcoder) hashListpackEx() error {
	es := &tc.el
	slices.SortStableFunc(es.items, func(a, b elemRef) int {
		switch {
		case a.exp == b.exp:
			return 0
		case a.exp == 0:
			return 1
		case b.exp == 0:
			return -1
		case a.exp < b.exp:
			return -1
		}
		return 1
	})
	tc.lp.reset()
	for i, r := range es.items {
		tc.lp.appendString(es.member(i))
		tc.lp.appendString(es.value(i))
		tc.lp.appendInt(r.exp)
	}
	b, err := tc.lp.finish()
	if err != nil {
		return err
	}
	out := append(tc.out, byte(EncHashListpackEx))
	out = binary.LittleEndian.AppendUint64(out, uint64(es.items[0].exp))
	tc.out = appendBlob(out, b)
	return nil
}

// hashMetadata writes RDB_TYPE_HASH_METADATA: the smallest expiry m, then
// per field its expiry as e-m+1 (0 = none), field and value. See
// redis/src/rdb.c rdbSaveObject.
func (tc *transcoder) hashMetadata() {
	es := &tc.el
	minExp := int64(math.MaxInt64)
	for _, r := range es.items {
		if r.exp != 0 {
			minExp = min(minExp, r.exp)
		}
	}
	out := binary.LittleEndian.AppendUint64(append(tc.out, byte(EncHashMetadata)), uint64(minExp))
	out = AppendLength(out, uint64(len(es.items)))
	for i, r := range es.items {
		var ttl uint64
		if r.exp != 0 {
			ttl = uint64(r.exp-minExp) + 1
		}
		out = AppendLength(out, ttl)
		out = AppendString(out, es.member(i))
		out = AppendString(out, es.value(i))
	}
	tc.out = out
}

// hash2 writes Valkey's RDB_TYPE_HASH_2: per field, field, value and the
// expiry as 8 bytes, -1 for none.
func (tc *transcoder) hash2() {
	es := &tc.el
	out := append(tc.out, byte(EncValkeyHash2-valkeyBase))
	out = AppendLength(out, uint64(len(es.items)))
	for i, r := range es.items {
		out = AppendString(out, es.member(i))
		out = AppendString(out, es.value(i))
		exp := r.exp
		if exp == 0 {
			exp = -1
		}
		out = binary.LittleEndian.AppendUint64(out, uint64(exp))
	}
	tc.out = out
}

// set transcodes a listpack set for a target before RDB 11: an intset if
// every member is an integer and there are few, else a plain set. See
// redis/src/t_set.c setTypeCreate.
func (tc *transcoder) set() error {
	if err := tc.collect(); err != nil {
		return err
	}
	es := &tc.el
	tc.is.reset()
	for i := range es.items {
		v, ok := canonicalInt(es.member(i))
		if !ok {
			break
		}
		tc.is.add(v)
	}
	if tc.is.len() == len(es.items) && len(es.items) <= setMaxIntEntries {
		var b []byte
		b = tc.is.appendTo(b)
		tc.out = appendBlob(append(tc.out, byte(EncSetIntset)), b)
		return nil
	}
	out := append(tc.out, byte(EncSet))
	out = AppendLength(out, uint64(len(es.items)))
	for i := range es.items {
		out = AppendString(out, es.member(i))
	}
	tc.out = out
	return nil
}

// zset transcodes a listpack zset for a target before RDB 10, or a ZSET_2
// for one before RDB 8: a ziplist when small, else ZSET_2 or, before
// RDB 8, ZSET with scores as text.
func (tc *transcoder) zset() error {
	if err := tc.collect(); err != nil {
		return err
	}
	es := &tc.el
	t := tc.t
	if len(es.items) <= zsetMaxEntries && es.maxLen() <= zsetMaxValue && t.ziplists() {
		var score []byte
		return tc.packed(EncZSetZiplist, func(add func([]byte)) {
			for i, r := range es.items {
				add(es.member(i))
				score = appendScoreText(score[:0], r.score)
				add(score)
			}
		})
	}
	enc := EncZSet
	if t.Knows(EncZSet2) {
		enc = EncZSet2
	}
	out := append(tc.out, byte(enc))
	out = AppendLength(out, uint64(len(es.items)))
	for i, r := range es.items {
		out = AppendString(out, es.member(i))
		if enc == EncZSet2 {
			out = AppendBinaryDouble(out, r.score)
		} else {
			out = appendStringDouble(out, r.score)
		}
	}
	tc.out = out
	return nil
}

// list writes a list as RDB_TYPE_LIST, for targets before RDB 7.
func (tc *transcoder) list() error {
	if !tc.t.Knows(EncList) {
		return tc.cannot()
	}
	if err := tc.collect(); err != nil {
		return err
	}
	es := &tc.el
	out := append(tc.out, byte(EncList))
	out = AppendLength(out, uint64(len(es.items)))
	for i := range es.items {
		out = AppendString(out, es.member(i))
	}
	tc.out = out
	return nil
}

// quicklist rewrites a QUICKLIST_2 list as a QUICKLIST (RDB 7-9) whose
// nodes are ziplists: one per PACKED node, with its elements, and one per
// PLAIN node, with its single element. See redis/src/rdb.c rdbSaveObject
// (OBJ_LIST, Redis 6.2).
func (tc *transcoder) quicklist() error {
	c := cursor{buf: tc.p, pos: 1, end: len(tc.p), mark: -1}
	var body, scratch []byte
	var bl blob
	nodes := 0
	n, err := c.plainLen()
	for ; err == nil && n > 0; n-- {
		var container uint64
		var b []byte
		if container, err = c.plainLen(); err != nil {
			break
		}
		if b, err = c.str(&scratch, DefaultMaxAlloc); err != nil {
			break
		}
		tc.zl.reset()
		switch container {
		case quicklistPlain:
			tc.zl.appendString(b)
		case quicklistPacked:
			err = copyEntries(&bl, b, tc.zl.appendEntry)
		default:
			err = corrupt("quicklist container %d", container)
		}
		if err != nil {
			break
		}
		if tc.zl.len() == 0 {
			continue
		}
		var zl []byte
		if zl, err = tc.zl.finish(); err != nil {
			break
		}
		body = appendBlob(body, zl)
		nodes++
	}
	if err == nil && c.pos != c.end {
		err = corrupt("%d bytes after the value", c.end-c.pos)
	}
	if err == nil && nodes == 0 {
		err = corrupt("empty list")
	}
	if err != nil {
		return wrapErr(&c, c.offset(), "", "quicklist", err)
	}
	out := AppendLength(append(tc.out, byte(EncListQuicklist)), uint64(nodes))
	tc.out = append(out, body...)
	return nil
}

// copyEntries passes every entry of listpack b to add.
func copyEntries(bl *blob, b []byte, add func(s []byte, v int64, isInt bool)) error {
	if err := bl.init(blobListpack, b); err != nil {
		return err
	}
	for {
		s, v, isInt, done, err := bl.next()
		if err != nil || done {
			return err
		}
		add(s, v, isInt)
	}
}

// stream rewrites a stream in the newest layout the target knows: v3
// (RDB_TYPE_STREAM_LISTPACKS_3, RDB 11), v2 (RDB 10) or v1 (RDB 9). The
// listpack nodes are copied as they are; what the older layout lacks is
// dropped and counted: IDMP state (v4), consumers' active time (v3), the
// first id, max deleted id, entries added and the groups' entries-read
// counters (v2). See redis/src/rdb.c rdbSaveObject (OBJ_STREAM).
func (tc *transcoder) stream() error {
	var to Encoding
	switch t := tc.t; {
	case t.Knows(EncStreamListpacks3):
		to = EncStreamListpacks3
	case t.Knows(EncStreamListpacks2):
		to = EncStreamListpacks2
	case t.Knows(EncStreamListpacks):
		to = EncStreamListpacks
	default:
		return tc.cannot()
	}
	s := &streamCopy{tc: tc, from: tc.enc, to: to, c: cursor{buf: tc.p, pos: 1, end: len(tc.p), mark: -1}}
	tc.out = append(tc.out, byte(to))
	err := s.copy()
	if err == nil && s.c.pos != s.c.end {
		err = corrupt("%d bytes after the value", s.c.end-s.c.pos)
	}
	if err != nil {
		return wrapErr(&s.c, s.c.offset(), "", "stream", err)
	}
	return nil
}

// A streamCopy copies a stream payload from one layout to an older one.
type streamCopy struct {
	tc       *transcoder
	from, to Encoding
	c        cursor
}

// raw copies what fn reads from the input to the output, unchanged.
func (s *streamCopy) raw(fn func() error) error {
	start := s.c.pos
	err := fn()
	s.tc.out = append(s.tc.out, s.c.buf[start:s.c.pos]...)
	return err
}

// maybe copies what fn reads if keep is set, else drops it.
func (s *streamCopy) maybe(keep bool, fn func() error) error {
	if keep {
		return s.raw(fn)
	}
	return fn()
}

func (s *streamCopy) lens(n int) func() error {
	return func() error { return skipLens(&s.c, n) }
}

func (s *streamCopy) copy() error {
	c, tc := &s.c, s.tc
	nodes := func() error {
		n, err := c.plainLen()
		for ; err == nil && n > 0; n-- {
			if err = c.skipStr(); err == nil { // master id
				err = c.skipStr() // listpack
			}
		}
		return err
	}
	if err := s.raw(nodes); err != nil {
		return err
	}
	if err := s.raw(s.lens(3)); err != nil { // length, last id
		return err
	}
	if s.from >= EncStreamListpacks2 {
		if s.to >= EncStreamListpacks2 {
			if err := s.raw(s.lens(5)); err != nil { // first id, max deleted id, entries added
				return err
			}
		} else {
			if err := skipLens(c, 5); err != nil {
				return err
			}
			tc.loss.StreamMeta++
		}
	}
	var groups uint64
	err := s.raw(func() (err error) { groups, err = c.plainLen(); return })
	for ; err == nil && groups > 0; groups-- {
		err = s.group()
	}
	if err == nil && s.from >= EncStreamListpacks4 {
		err = s.idmp()
	}
	return err
}

func (s *streamCopy) group() error {
	c, tc := &s.c, s.tc
	if err := s.raw(func() error {
		if err := c.skipStr(); err != nil { // name
			return err
		}
		return skipLens(c, 2) // last id
	}); err != nil {
		return err
	}
	if s.from >= EncStreamListpacks2 {
		var read uint64
		keep := s.to >= EncStreamListpacks2
		if err := s.maybe(keep, func() (err error) { read, err = c.plainLen(); return }); err != nil {
			return err
		}
		if !keep && read != math.MaxUint64 { // SCG_INVALID_ENTRIES_READ
			tc.loss.EntriesRead++
		}
	}
	pel := func() error {
		n, err := c.plainLen()
		for ; err == nil && n > 0; n-- {
			if err = c.skip(16 + 8); err == nil { // id, delivery time
				_, err = c.plainLen() // delivery count
			}
		}
		return err
	}
	if err := s.raw(pel); err != nil {
		return err
	}
	var consumers uint64
	err := s.raw(func() (err error) { consumers, err = c.plainLen(); return })
	for ; err == nil && consumers > 0; consumers-- {
		err = s.consumer()
	}
	return err
}

func (s *streamCopy) consumer() error {
	c, tc := &s.c, s.tc
	var seen uint64
	if err := s.raw(func() (err error) {
		if err = c.skipStr(); err == nil { // name
			seen, err = c.uint64LE()
		}
		return
	}); err != nil {
		return err
	}
	if s.from >= EncStreamListpacks3 {
		var active uint64
		keep := s.to >= EncStreamListpacks3
		if err := s.maybe(keep, func() (err error) { active, err = c.uint64LE(); return }); err != nil {
			return err
		}
		if !keep && active != seen {
			tc.loss.ActiveTimes++
		}
	}
	return s.raw(func() error {
		n, err := c.plainLen()
		if err == nil && n > 1<<40 {
			err = corrupt("consumer pel size %d", n)
		}
		if err == nil {
			err = c.skip(16 * n)
		}
		return err
	})
}

// idmp passes over the IDMP state of a v4 stream, which no older layout
// has, and counts it. See redis/src/rdb.c rdbLoadStreamIdmpEntries.
func (s *streamCopy) idmp() error {
	c, tc := &s.c, s.tc
	var duration, maxEntries, producers, added, dups uint64
	if err := readLens(c, &duration, &maxEntries, &producers); err != nil {
		return err
	}
	ids := uint64(0)
	for p := producers; p > 0; p-- {
		if err := c.skipStr(); err != nil {
			return err
		}
		n, err := c.plainLen()
		for ; err == nil && n > 0; n-- {
			ids++
			if err = c.skipStr(); err == nil {
				err = skipLens(c, 2)
			}
		}
		if err != nil {
			return err
		}
	}
	if err := readLens(c, &added, &dups); err != nil {
		return err
	}
	if producers > 0 || added > 0 || dups > 0 || duration != idmpDefaultDuration || maxEntries != idmpDefaultMax {
		tc.loss.IDMPStreams++
	}
	tc.loss.IDMPIDs += int(min(ids, math.MaxInt32))
	return nil
}
