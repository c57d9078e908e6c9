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
	var n, ht, lp, maxLen int64
	width := int64(2)
	allInt := true
	lp = lpHeader + lpEnd
	var it elemIter
	it.init(e)
	// A set too long for a listpack needs no listpack size.
	wantLP := m.opt.Server == Redis72 && it.len() <= int64(m.opt.SetMaxListpackEntries)
	for it.next() {
		n++
		ht += sizeDictEntry + m.a.sds(it.mlen)
		if wantLP {
			lp += m.lpSize(it.member, it.mlen)
		}
		maxLen = max(maxLen, it.mlen)
		if allInt {
			if v, ok := parseInt(it.member); ok && int64(len(it.member)) == it.mlen {
				width = max(width, intsetWidth(v))
			} else {
				allInt = false
			}
		}
	}
	if err := it.err(); err != nil {
		return KeyMemory{}, err
	}
	o := &m.opt
	switch {
	case allInt && n <= int64(o.SetMaxIntsetEntries):
		return KeyMemory{Bytes: sizeRobj + m.a.class(8+n*width), Elements: n, Encoding: "intset"}, nil
	case o.Server == Redis72 && n <= int64(o.SetMaxListpackEntries) && maxLen <= int64(o.SetMaxListpackValue):
		return KeyMemory{Bytes: sizeRobj + m.a.class(lp), Elements: n, Encoding: "listpack"}, nil
	}
	// Loading presizes the dict (rdbLoadObject); a set built by SADD
	// grew from an intset converted past set-max-intset-entries, or from
	// the start.
	presize := n
	if !o.Loaded {
		presize = 0
		if allInt {
			presize = int64(o.SetMaxIntsetEntries) + 1
		}
	}
	return KeyMemory{Bytes: sizeRobj + sizeDict + sizeBucket*dictSlots(n, presize) + ht, Elements: n, Encoding: "hashtable"}, nil
}

// zsetElems models a sorted set from its members: a listpack of member and
// score (as d2string writes it) when few and short, else a skiplist with
// its dict. Skiplist nodes have random levels; their expected allocation
// is used.
func (m *MemoryEstimator) zsetElems(e *rdb.Entry) (KeyMemory, error) {
	var n, lp, maxLen int64
	var skip float64
	lp = lpHeader + lpEnd
	var it elemIter
	it.init(e)
	// A sorted set too long for a listpack needs no listpack size.
	wantLP := it.len() <= int64(m.opt.ZSetMaxListpackEntries)
	for it.next() {
		n++
		if wantLP {
			lp += m.lpSize(it.member, it.mlen)
			m.scratch = appendD2String(m.scratch[:0], it.score)
			lp += lpEntrySize(m.scratch)
		}
		maxLen = max(maxLen, it.mlen)
		skip += float64(m.a.sds(it.mlen)+sizeDictEntry) + m.zslNode
	}
	if err := it.err(); err != nil {
		return KeyMemory{}, err
	}
	o := &m.opt
	if e.Encoding == rdb.EncZSetZiplist || e.Encoding == rdb.EncZSetListpack {
		maxLen = 0 // converted by count only
	}
	if n <= int64(o.ZSetMaxListpackEntries) && maxLen <= int64(o.ZSetMaxListpackValue) {
		return KeyMemory{Bytes: sizeRobj + m.a.class(lp), Elements: n, Encoding: "listpack"}, nil
	}
	presize := int64(0) // zsetConvert does not presize
	if o.Loaded && e.Encoding != rdb.EncZSetZiplist && e.Encoding != rdb.EncZSetListpack {
		presize = n
	}
	fixed := sizeRobj + sizeZSet + sizeZSkiplist + sizeDict + sizeBucket*dictSlots(n, presize) +
		m.a.class(sizeZSLNodeBase+sizeZSLLevel*zslMaxLevel)
	return KeyMemory{Bytes: fixed + int64(math.Round(skip)), Elements: n, Encoding: "skiplist"}, nil
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
	var n, ht, lp, maxLen int64
	firstLong := int64(-1) // index of the first field or value too long for a listpack
	lp = lpHeader + lpEnd
	var it elemIter
	it.init(e)
	o := &m.opt
	// A hash too long for a listpack needs no listpack size.
	wantLP := it.len() <= int64(o.HashMaxListpackEntries)
	for it.next() {
		if firstLong < 0 && max(it.mlen, it.vlen) > int64(o.HashMaxListpackValue) {
			firstLong = n
		}
		n++
		ht += sizeDictEntry + m.a.sds(it.mlen) + m.a.sds(it.vlen)
		if wantLP {
			lp += m.lpSize(it.member, it.mlen) + m.lpSize(it.value, it.vlen)
		}
		maxLen = max(maxLen, it.mlen, it.vlen)
	}
	if err := it.err(); err != nil {
		return KeyMemory{}, err
	}
	if e.Encoding == rdb.EncHashZiplist || e.Encoding == rdb.EncHashListpack {
		maxLen, firstLong = 0, -1 // converted by count only
	}
	if n <= int64(o.HashMaxListpackEntries) && maxLen <= int64(o.HashMaxListpackValue) {
		return KeyMemory{Bytes: sizeRobj + m.a.class(lp), Elements: n, Encoding: "listpack"}, nil
	}
	// A hash converted for its size was presized (hashTypeConvertListpack,
	// or rdbLoadObject for a long hash); one converted for a long value
	// grew from where that value came.
	presize := int64(o.HashMaxListpackEntries) + 1
	switch {
	case o.Loaded && n > int64(o.HashMaxListpackEntries):
		presize = n
	case firstLong >= 0:
		presize = 0
		if o.Loaded {
			presize = firstLong
		}
	}
	return KeyMemory{Bytes: sizeRobj + sizeDict + sizeBucket*dictSlots(n, presize) + ht, Elements: n, Encoding: "hashtable"}, nil
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
