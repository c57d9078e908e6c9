package exporter

import (
	"math"
	"strconv"

	"github.com/rdbkit/rdbkit/rdb"
)

// This file estimates sets, sorted sets and hashes from their elements.

// setElems models a set from its members: an intset when all are
// integers and few enough, a listpack (7.2) when few and short, else a
// hashtable of sds members.
func (m *MemoryEstimator) setElems(e *rdb.Entry) (KeyMemory, error) {
	st := setStats{width: 2, allInt: true, lp: lpHeader + lpEnd}
	var err error
	if e.Payload != nil && e.Encoding == rdb.EncSet {
		err = m.setWalk(e.Payload, &st)
	} else {
		err = m.setIter(e, &st)
	}
	if err != nil {
		return KeyMemory{}, err
	}
	o := &m.opt
	n := st.n
	switch {
	case st.allInt && n <= int64(o.SetMaxIntsetEntries):
		return KeyMemory{Bytes: sizeRobj + m.a.class(8+n*st.width), Elements: n, Encoding: "intset"}, nil
	case o.Server == Redis72 && n <= int64(o.SetMaxListpackEntries) && st.maxLen <= int64(o.SetMaxListpackValue):
		return KeyMemory{Bytes: sizeRobj + m.a.class(st.lp), Elements: n, Encoding: "listpack"}, nil
	}
	// Loading presizes the dict (rdbLoadObject); a set built by SADD
	// grew from an intset converted past set-max-intset-entries, or from
	// the start.
	presize := n
	if !o.Loaded {
		presize = 0
		if st.allInt {
			presize = int64(o.SetMaxIntsetEntries) + 1
		}
	}
	return KeyMemory{Bytes: sizeRobj + sizeDict + sizeBucket*dictSlots(n, presize) + n*sizeDictEntry + st.sds,
		Elements: n, Encoding: "hashtable"}, nil
}

// setStats are what setElems needs of a set's members.
type setStats struct {
	n, sds, lp, maxLen int64 // members, their sds allocations, listpack bytes, longest
	width              int64 // intset width while allInt
	allInt             bool
}

// setWantLP reports whether a set of n members (-1: unknown) needs its
// listpack size: one too long for a listpack does not.
func (m *MemoryEstimator) setWantLP(n int64) bool {
	return m.opt.Server == Redis72 && n <= int64(m.opt.SetMaxListpackEntries)
}

// setWalk reads the members of an EncSet payload: their lengths, and
// their bytes only while they may all be integers or when the listpack
// size is wanted.
func (m *MemoryEstimator) setWalk(payload []byte, st *setStats) error {
	l := &m.elems
	l.Reset(payload, rdb.EncSet)
	wantLP := m.setWantLP(l.Len())
	for (wantLP || st.allInt) && l.Next() {
		s := &l.Member
		st.n++
		st.sds += m.a.sds(s.Len)
		st.maxLen = max(st.maxLen, s.Len)
		if wantLP {
			st.lp += lpLayoutSize(s)
		}
		if st.allInt {
			v, ok := layoutInt(s)
			if ok {
				st.width = max(st.width, intsetWidth(v))
			}
			st.allInt = ok
		}
	}
	// The rest needs only lengths: no listpack size is wanted, and a
	// member that is no integer (in a set of strings, the first) settled
	// allInt.
	m.lens = l.AppendLens(m.lens[:0])
	for _, n := range m.lens {
		st.sds += m.a.sds(n)
		st.maxLen = max(st.maxLen, n)
	}
	st.n += int64(len(m.lens))
	return l.Err()
}

// setIter is setWalk for the other encodings, through rdb.Value.
func (m *MemoryEstimator) setIter(e *rdb.Entry, st *setStats) error {
	var it elemIter
	it.init(e)
	wantLP := m.setWantLP(it.len())
	for it.next() {
		st.n++
		st.sds += m.a.sds(it.mlen)
		if wantLP {
			st.lp += m.lpSize(it.member, it.mlen)
		}
		st.maxLen = max(st.maxLen, it.mlen)
		if st.allInt {
			if v, ok := parseInt(it.member); ok && int64(len(it.member)) == it.mlen {
				st.width = max(st.width, intsetWidth(v))
			} else {
				st.allInt = false
			}
		}
	}
	return it.err()
}

// layoutInt returns the integer value of an element when it is one (as
// string2ll reads it): an integer encoding, or plain canonical decimal.
// An LZF string is longer than any integer (rdbSaveRawString compresses
// only from 21 bytes).
func layoutInt(s *rdb.StringLayout) (int64, bool) {
	if s.IsInt() {
		return s.Int, true
	}
	return parseInt(s.Plain())
}

// lpLayoutSize is lpEntrySize for an element read as a layout.
func lpLayoutSize(s *rdb.StringLayout) int64 {
	if v, ok := layoutInt(s); ok {
		return lpIntSize(v)
	}
	return lpStrSize(s.Len)
}

// zsetElems models a sorted set from its members: a listpack of member and
// score (as d2string writes it) when few and short, else a skiplist with
// its dict. Skiplist nodes have random levels; their expected allocation
// is used.
func (m *MemoryEstimator) zsetElems(e *rdb.Entry) (KeyMemory, error) {
	o := &m.opt
	var st elemStats
	var err error
	if e.Payload != nil && (e.Encoding == rdb.EncZSet2 || e.Encoding == rdb.EncZSet) {
		// Stored so, a sorted set is too big for a listpack (but with
		// another configuration): its lengths first, and its listpack
		// size only if it is one after all.
		err = m.lenStats(e, &st)
		if err == nil && st.n <= int64(o.ZSetMaxListpackEntries) && st.maxLen <= int64(o.ZSetMaxListpackValue) {
			st, err = m.zsetIter(e, true)
		}
	} else {
		st, err = m.zsetIter(e, false)
	}
	if err != nil {
		return KeyMemory{}, err
	}
	n := st.n
	if e.Encoding == rdb.EncZSetZiplist || e.Encoding == rdb.EncZSetListpack {
		st.maxLen = 0 // converted by count only
	}
	if n <= int64(o.ZSetMaxListpackEntries) && st.maxLen <= int64(o.ZSetMaxListpackValue) {
		return KeyMemory{Bytes: sizeRobj + m.a.class(st.lp), Elements: n, Encoding: "listpack"}, nil
	}
	presize := int64(0) // zsetConvert does not presize
	if o.Loaded && e.Encoding != rdb.EncZSetZiplist && e.Encoding != rdb.EncZSetListpack {
		presize = n
	}
	fixed := sizeRobj + sizeZSet + sizeZSkiplist + sizeDict + sizeBucket*dictSlots(n, presize) +
		m.a.class(sizeZSLNodeBase+sizeZSLLevel*zslMaxLevel)
	skip := float64(st.sds+n*sizeDictEntry) + float64(n)*m.zslNode
	return KeyMemory{Bytes: fixed + int64(math.Round(skip)), Elements: n, Encoding: "skiplist"}, nil
}

// elemStats are what the models of sorted sets and hashes need of their
// elements.
type elemStats struct {
	n, sds, lp, maxLen int64 // elements, sds allocations, listpack bytes, longest string
	firstLong          int64 // a hash's first element with a string longer than hash-max-listpack-value, or -1
}

// lenStats sets st from the string lengths of the elements of e's payload
// (EncZSet, EncZSet2 or EncHash), all but its listpack size.
func (m *MemoryEstimator) lenStats(e *rdb.Entry, st *elemStats) error {
	l := &m.elems
	l.Reset(e.Payload, e.Encoding)
	m.lens = l.AppendLens(m.lens[:0])
	if err := l.Err(); err != nil {
		return err
	}
	strs := 1
	if e.Type == rdb.TypeHash {
		strs = 2
	}
	*st = elemStats{n: int64(len(m.lens) / strs), lp: lpHeader + lpEnd, firstLong: -1}
	long := int64(m.opt.HashMaxListpackValue)
	for i, n := range m.lens {
		st.sds += m.a.sds(n)
		if n > st.maxLen {
			st.maxLen = n
			if st.firstLong < 0 && n > long {
				st.firstLong = int64(i / strs)
			}
		}
	}
	return nil
}

// zsetIter reads the members of a sorted set through an elemIter: their
// stats, the listpack size included when wantLP or when the header's count
// is small enough for a listpack.
func (m *MemoryEstimator) zsetIter(e *rdb.Entry, wantLP bool) (elemStats, error) {
	st := elemStats{lp: lpHeader + lpEnd, firstLong: -1}
	var it elemIter
	it.init(e)
	wantLP = wantLP || it.len() <= int64(m.opt.ZSetMaxListpackEntries)
	for it.next() {
		st.n++
		if wantLP {
			st.lp += m.lpSize(it.member, it.mlen)
			m.scratch = appendD2String(m.scratch[:0], it.score)
			st.lp += lpEntrySize(m.scratch)
		}
		st.maxLen = max(st.maxLen, it.mlen)
		st.sds += m.a.sds(it.mlen)
	}
	return st, it.err()
}

// appendD2String appends a score as Redis 7.0's d2string writes it into a
// listpack: an integer when it is one (below 2^52), else %.17g.
func appendD2String(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	case f > -4503599627370495 && f < 4503599627370496 && f == math.Trunc(f):
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

// hashElems models a hash from its fields: a listpack when few and short,
// else a hashtable of sds fields and values.
func (m *MemoryEstimator) hashElems(e *rdb.Entry) (KeyMemory, error) {
	o := &m.opt
	long := int64(o.HashMaxListpackValue)
	var st elemStats
	var err error
	if e.Payload != nil && e.Encoding == rdb.EncHash {
		// As zsetElems: the listpack size only for a listpack.
		err = m.lenStats(e, &st)
		if err == nil && st.n <= int64(o.HashMaxListpackEntries) && st.maxLen <= long {
			st, err = m.hashIter(e, true)
		}
	} else {
		st, err = m.hashIter(e, false)
	}
	if err != nil {
		return KeyMemory{}, err
	}
	n := st.n
	if e.Encoding == rdb.EncHashZiplist || e.Encoding == rdb.EncHashListpack {
		st.maxLen, st.firstLong = 0, -1 // converted by count only
	}
	if n <= int64(o.HashMaxListpackEntries) && st.maxLen <= long {
		return KeyMemory{Bytes: sizeRobj + m.a.class(st.lp), Elements: n, Encoding: "listpack"}, nil
	}
	// A hash converted for its size was presized (hashTypeConvertListpack,
	// or rdbLoadObject for a long hash); one converted for a long value
	// grew from where that value came.
	presize := int64(o.HashMaxListpackEntries) + 1
	switch {
	case o.Loaded && n > int64(o.HashMaxListpackEntries):
		presize = n
	case st.firstLong >= 0:
		presize = 0
		if o.Loaded {
			presize = st.firstLong
		}
	}
	return KeyMemory{Bytes: sizeRobj + sizeDict + sizeBucket*dictSlots(n, presize) + n*sizeDictEntry + st.sds,
		Elements: n, Encoding: "hashtable"}, nil
}

// hashIter is zsetIter for a hash's fields and values.
func (m *MemoryEstimator) hashIter(e *rdb.Entry, wantLP bool) (elemStats, error) {
	st := elemStats{lp: lpHeader + lpEnd, firstLong: -1}
	long := int64(m.opt.HashMaxListpackValue)
	var it elemIter
	it.init(e)
	wantLP = wantLP || it.len() <= int64(m.opt.HashMaxListpackEntries)
	for it.next() {
		if st.firstLong < 0 && max(it.mlen, it.vlen) > long {
			st.firstLong = st.n
		}
		st.n++
		st.sds += m.a.sds(it.mlen) + m.a.sds(it.vlen)
		if wantLP {
			st.lp += m.lpSize(it.member, it.mlen) + m.lpSize(it.value, it.vlen)
		}
		st.maxLen = max(st.maxLen, it.mlen, it.vlen)
	}
	return st, it.err()
}

// elemIter reads the elements of a set, list, zset or hash: straight from
// the payload for the plain encodings (lengths only, nothing decompressed
// or copied), else from rdb.Value, joining the pieces of a chunked string
// (a streamed value) into one length.
type elemIter struct {
	v      *rdb.Value
	l      rdb.ElemLayout // when walking the payload
	walk   bool
	typ    rdb.Type
	member []byte // the member's bytes, complete only when len(member) == mlen
	value  []byte // idem for a hash value
	mlen   int64
	vlen   int64
	score  float64
	ibuf   [2][]byte // integers formatted as text (walk)
}

func (it *elemIter) init(e *rdb.Entry) {
	*it = elemIter{typ: e.Type}
	switch e.Encoding {
	case rdb.EncList, rdb.EncSet, rdb.EncZSet, rdb.EncZSet2, rdb.EncHash:
		if e.Payload != nil {
			it.l.Reset(e.Payload, e.Encoding)
			it.walk = true
			return
		}
	}
	it.v = e.Value()
}

// len returns the element count when the encoding stores it first, else
// -1.
func (it *elemIter) len() int64 {
	if it.walk {
		return it.l.Len()
	}
	return it.v.Len()
}

func (it *elemIter) next() bool {
	if it.walk {
		return it.walkNext()
	}
	if !it.v.Next() {
		return false
	}
	el := it.v.Elem()
	it.member, it.value = el.Member, el.Value
	it.mlen, it.vlen, it.score = int64(len(el.Member)), int64(len(el.Value)), el.Score
	for el.More {
		if !it.v.Next() {
			return false
		}
		el = it.v.Elem()
		if it.typ == rdb.TypeHash {
			it.vlen += int64(len(el.Value))
		} else {
			it.mlen += int64(len(el.Member))
		}
	}
	return true
}

func (it *elemIter) walkNext() bool {
	l := &it.l
	if !l.Next() {
		return false
	}
	it.member, it.mlen = it.text(&l.Member, 0)
	it.value, it.vlen = it.text(&l.Value, 1)
	it.score = l.Score
	return true
}

// text returns a string's bytes (when stored plainly, or an integer
// formatted into ibuf[slot]) and its length.
func (it *elemIter) text(s *rdb.StringLayout, slot int) ([]byte, int64) {
	if s.IsInt() {
		it.ibuf[slot] = strconv.AppendInt(it.ibuf[slot][:0], s.Int, 10)
		return it.ibuf[slot], s.Len
	}
	return s.Plain(), s.Len
}

func (it *elemIter) err() error {
	if it.walk {
		return it.l.Err()
	}
	return it.v.Err()
}
