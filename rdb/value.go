package rdb

import (
	"encoding/binary"
	"math"
	"strconv"
)

// A Value is a typed, lazy view of a key's value: a pull iterator over its
// elements, decoded on request from the payload, or read straight from the
// input for a streamed value.
//
//	v := e.Value()
//	for v.Next() {
//		el := v.Elem()
//		...
//	}
//	if err := v.Err(); err != nil { ... }
//
// What an element holds depends on the type: a string's value is in Value
// (one element); a list element or set member in Member; a zset member in
// Member and its score in Score; a hash field in Member, its value in Value
// and its expiry (hashes with field TTLs) in ExpireAt; a stream entry in ID
// and Fields (see Stream for the rest of the stream); a module value's raw
// data in Value.
//
// While a value is streamed, a string longer than Reader.ChunkSize (a
// string value, a list element, a set member or a hash value) comes in
// several elements with More set on all but the last; the continuations
// carry only the next piece, in the same field.
type Value struct {
	Type     Type
	Encoding Encoding
	// ModuleName and ModuleVersion identify the module type of a module
	// value (TypeModule); ModuleID is the 64-bit id they come from.
	ModuleName    string
	ModuleVersion int
	ModuleID      uint64

	valueState // cleared for every value

	// Kept from value to value: set before they are read, or buffers to
	// reuse.
	c         *cursor
	own       cursor
	live      bool // reading from a Reader's input, not from memory
	key       []byte
	limit     int // MaxAlloc
	chunk     int // ChunkSize
	step      func(*Value) (bool, error)
	elem      Elem
	bl        blob
	scratch   [3][]byte
	fieldInts []lazyField // integers of a stream entry's Fields, formatted by Elem on demand
	blobBuf   []byte
	stream    *streamState
	// Elements decoded ahead by fillBatch (from listpacks, intsets and
	// counted encodings in memory); only their Member, Value and Score are
	// ever set, with the integers that Elem formats on demand in batchInt.
	batch     [batchSize]Elem
	batchLazy [batchSize]uint8
	batchInt  [batchSize][2]int64
}

// valueState is the part of a Value that starts at zero for every value:
// kept apart so that reset clears only it, not the buffers and cursor
// around it.
type valueState struct {
	err   error
	done  bool
	phase int

	n         uint64 // elements or nodes left
	length    int64  // elements, -1 if unknown
	minExpire int64
	inBlob    bool
	per       int      // blob entries per element
	fast      fastKind // what fillBatch may decode from bl
	batched   int      // elements in batch; 0: the current element is elem
	cur       int      // with batched: the current element's index in batch

	big       uint64 // bytes of a chunked string still in the input
	pend      []byte // bytes of a chunked string still in memory
	bigMember bool   // the chunked string is Member (else Value)
	tailTTL   bool   // an 8-byte field expiry follows the chunked string
	bigTTL    int64  // field expiry for the last piece of the chunked string

	lazy    uint8    // what Elem still has to format: lazyMember, lazyValue, lazyFields
	lazyInt [2]int64 // integer blob entries of Member and Value, formatted by Elem on demand
}

// An Elem is one element of a Value; its slices are valid until the next
// call to Value.Next.
type Elem struct {
	Member   []byte   // list element, set member, zset member, hash field
	Value    []byte   // string value, hash value, module data
	Score    float64  // zset score
	ExpireAt int64    // hash field expiry, Unix ms; 0 = none; on the last piece of a chunked value
	More     bool     // Member or Value continues in the next element
	ID       StreamID // stream entry id
	Fields   [][]byte // stream entry: name, value, name, value, ...
}

func (v *Value) reset(enc Encoding, key []byte, r *Reader) {
	v.valueState = valueState{length: -1}
	v.Type, v.Encoding, v.ModuleName, v.ModuleVersion, v.ModuleID = enc.Type(), enc, "", 0, 0
	v.c, v.live, v.key = nil, false, key
	v.limit, v.chunk = DefaultMaxAlloc, DefaultChunkSize
	if r != nil {
		v.limit, v.chunk = r.maxAlloc(), r.chunkSize()
	}
	v.step = stepFor(enc)
	v.elem.set(nil, nil, 0)
	v.fieldInts = v.fieldInts[:0]
}

// init prepares v to decode payload (type byte first), found at input
// offset off.
func (v *Value) init(payload []byte, enc Encoding, key []byte, off int64, r *Reader) {
	v.reset(enc, key, r)
	// own's other fields are zero and stay so: without a source, it never
	// reads, keeps a checksum or bounds a record.
	o := &v.own
	o.buf, o.pos, o.end, o.base, o.mark = payload, 1, len(payload), off, -1
	v.c = &v.own
	if len(payload) == 0 {
		v.fail(corrupt("empty payload"))
	}
}

// initStream prepares v to read a value from c, positioned after the key.
func (v *Value) initStream(c *cursor, enc Encoding, key []byte, r *Reader) {
	v.reset(enc, key, r)
	v.c, v.live = c, true
	r.streamed = true
}

// NewPayloadValue returns a Value that decodes a payload (type byte and
// value, as in Entry.Payload or from ParseDump) written by a server whose
// RDB version is ver (Valkey type numbers when ver >= 80).
func NewPayloadValue(payload []byte, ver int) *Value {
	v := new(Value)
	enc := EncString
	if len(payload) > 0 {
		enc = Encoding(payload[0])
		if ver >= MinValkeyVersion && payload[0] >= 22 {
			enc += valkeyBase
		}
	}
	v.init(payload, enc, nil, 0, nil)
	if !enc.Known() {
		v.fail(&detailError{"object type " + strconv.Itoa(int(payload[0])), ErrUnknown})
	}
	return v
}

func (v *Value) fail(err error) {
	if v.err == nil {
		v.err = wrapErr(v.c, v.c.offset(), string(v.key), "value", err)
	}
	v.done, v.fast = true, fastNone
}

// Next advances to the next element and reports whether there is one. It
// returns false at the end of the value or on an error (see Err).
func (v *Value) Next() bool {
	if v.cur+1 < v.batched { // small enough to be inlined in the caller's loop
		v.cur++
		return true
	}
	return v.next()
}

func (v *Value) next() bool {
	// fast is set only while a blob or a value in memory is being read,
	// which chunked strings never are; at the end, fillBatch finds nothing.
	v.batched = 0
	if v.fast != fastNone {
		if v.batched = v.fillBatch(); v.batched > 0 {
			v.cur = 0
			return true
		}
	}
	if v.done {
		return false
	}
	if v.big > 0 || v.pend != nil {
		if err := v.continueBig(); err != nil {
			v.fail(err)
			return false
		}
		return true
	}
	v.elem.set(nil, nil, 0)
	v.lazy = 0
	ok, err := v.step(v)
	if err != nil {
		v.fail(err)
		return false
	}
	if !ok {
		v.done, v.fast = true, fastNone
		if !v.live && v.c.pos != v.c.end {
			v.fail(corrupt("%d bytes after the value", v.c.end-v.c.pos))
		}
	}
	return ok
}

// Elem returns the current element, valid until the next call to Next.
func (v *Value) Elem() *Elem {
	if v.batched > 0 || v.lazy != 0 { // small enough to be inlined
		return v.formatted()
	}
	return &v.elem
}

// What Elem still has to format into the element.
const (
	lazyMember = 1 << iota // lazyInt[0] into Member
	lazyValue              // lazyInt[1] into Value
	lazyFields             // fieldInts into Fields
	lazyBare               // a batch slot left as it was: Value and Score to clear too
)

// formatted returns the current element, of batch or elem, with the
// integers left for Elem formatted into it.
func (v *Value) formatted() *Elem {
	if v.batched == 0 {
		v.formatInts(&v.elem, v.lazy, &v.lazyInt)
		v.lazy = 0
		return &v.elem
	}
	i := v.cur
	e := &v.batch[i]
	if lazy := v.batchLazy[i]; lazy != 0 {
		if lazy&lazyBare != 0 {
			e.Value, e.Score = nil, 0
		}
		v.formatInts(e, lazy, &v.batchInt[i])
		v.batchLazy[i] = 0
	}
	return e
}

// formatInts puts the decimal text of the integer entries that blobText,
// lpStr and fillBatch left unformatted into e: lazy tells which, n holds
// those of Member and Value. Integers are formatted only when the caller
// looks at the element: an iterator that is only counting or skipping
// elements needs none of them.
func (v *Value) formatInts(e *Elem, lazy uint8, n *[2]int64) {
	if lazy&lazyMember != 0 {
		e.Member = v.decimal(0, n[0])
	}
	if lazy&lazyValue != 0 {
		e.Value = v.decimal(1, n[1])
	}
	if lazy&lazyFields != 0 {
		for _, f := range v.fieldInts {
			e.Fields[f.i] = appendField(&v.scratch[1], f.n)
		}
	}
}

// decimal formats n into scratch slot i.
func (v *Value) decimal(i int, n int64) []byte {
	s := appendDecimal(v.scratch[i], n)
	if n < 0 || n > smallDecimalMax { // formatted into the slot, not a view of smallDecimals
		v.scratch[i] = s
	}
	return s
}

// Err returns the first error met, nil at a clean end.
func (v *Value) Err() error { return v.err }

// Len returns the number of elements (entries for a stream) if the
// encoding stores it before the elements, else -1.
func (v *Value) Len() int64 {
	if v.phase == 0 && !v.done && v.err == nil {
		v.start()
	}
	return v.length
}

// start reads the value's header by running its first step lazily: the
// count of hashtable encodings, the blob of compact ones.
func (v *Value) start() {
	if v.phase != 0 {
		return
	}
	if err := v.header(); err != nil {
		v.fail(err)
	}
}

func stepFor(enc Encoding) func(*Value) (bool, error) {
	switch enc {
	case EncString:
		return stepString
	case EncList, EncSet:
		return stepMembers
	case EncZSet, EncZSet2:
		return stepZSet
	case EncHash, EncHashMetadata, EncHashMetadataPreGA, EncValkeyHash2:
		return stepHash
	case EncListQuicklist, EncListQuicklist2:
		return stepQuicklist
	case EncModule2:
		return stepModule
	case EncStreamListpacks, EncStreamListpacks2, EncStreamListpacks3, EncStreamListpacks4:
		return stepStream
	}
	return stepBlob
}

// header reads what comes before the elements (counts, the blob of a
// compact encoding) and sets phase to 1.
func (v *Value) header() error {
	v.phase = 1
	c := v.c
	var err error
	switch v.Encoding {
	case EncString, EncModule2:
		return nil
	case EncStreamListpacks, EncStreamListpacks2, EncStreamListpacks3, EncStreamListpacks4:
		return v.streamHeader()
	case EncHashMetadata, EncHashListpackEx:
		var u uint64
		u, err = c.uint64LE()
		v.minExpire = int64(u)
		if err != nil || v.Encoding == EncHashListpackEx {
			break
		}
		fallthrough
	case EncList, EncSet, EncZSet, EncZSet2, EncHash, EncHashMetadataPreGA, EncValkeyHash2,
		EncListQuicklist, EncListQuicklist2:
		v.n, err = c.plainLen()
		if err == nil && v.Encoding != EncListQuicklist && v.Encoding != EncListQuicklist2 {
			v.length = int64(min(v.n, math.MaxInt64))
		}
		if !v.live {
			v.fast = fastForCounted(v.Encoding)
		}
		return err
	}
	if err != nil {
		return err
	}
	return v.openBlob()
}

// openBlob reads the single blob of a compact encoding.
func (v *Value) openBlob() error {
	kind, per := blobListpack, 1
	switch v.Encoding {
	case EncHashZipmap:
		kind, per = blobZipmap, 2
	case EncListZiplist:
		kind = blobZiplist
	case EncSetIntset:
		kind = blobIntset
	case EncZSetZiplist, EncHashZiplist:
		kind, per = blobZiplist, 2
	case EncHashListpack, EncZSetListpack:
		per = 2
	case EncHashListpackExPreGA, EncHashListpackEx:
		per = 3
	}
	b, err := v.c.str(&v.blobBuf, v.limit)
	if err != nil {
		return err
	}
	if err := v.bl.init(kind, b); err != nil {
		return err
	}
	v.per = per
	v.fast = fastFor(kind, per)
	if v.bl.count >= 0 {
		if v.bl.count%per != 0 {
			return corrupt("%v of %d entries for elements of %d", kind, v.bl.count, per)
		}
		v.length = int64(v.bl.count / per)
	}
	return nil
}

// str reads a string that is not the last one of its element.
func (v *Value) str(slot int) ([]byte, error) {
	if v.live {
		return v.c.strCopy(&v.scratch[slot], v.limit)
	}
	return v.c.str(&v.scratch[slot], v.limit)
}

// last reads the last string of an element into Member or Value: when
// streaming, one longer than the chunk size is returned piece by piece.
func (v *Value) last(slot int, member bool) error {
	dst := &v.elem.Value
	if member {
		dst = &v.elem.Member
	}
	if !v.live {
		s, err := v.c.str(&v.scratch[slot], v.limit)
		*dst = s
		return err
	}
	n, enc, err := v.c.length()
	if err != nil {
		return err
	}
	if enc {
		s, err := v.c.encodedStr(n, &v.scratch[slot], v.limit)
		if err != nil {
			return err
		}
		if len(s) <= v.chunk {
			*dst = s
			return nil
		}
		v.pend = s
	} else if n <= uint64(v.chunk) {
		s, err := v.c.next(int(n))
		*dst = append(v.scratch[slot][:0], s...)
		v.scratch[slot] = *dst
		return err
	} else {
		v.big = n
	}
	v.bigMember = member
	return v.piece(slot)
}

// piece puts the next piece of a chunked string into the element.
func (v *Value) piece(slot int) error {
	var s []byte
	if v.pend != nil {
		k := min(len(v.pend), v.chunk)
		s, v.pend = v.pend[:k], v.pend[k:]
		if len(v.pend) == 0 {
			v.pend = nil
		}
	} else {
		k := int(min(v.big, uint64(v.chunk)))
		p, err := v.c.next(k)
		if err != nil {
			return err
		}
		v.big -= uint64(k)
		s = append(v.scratch[slot][:0], p...)
		v.scratch[slot] = s
	}
	if v.bigMember {
		v.elem.Member = s
	} else {
		v.elem.Value = s
	}
	v.elem.More = v.big > 0 || v.pend != nil
	return nil
}

// continueBig returns the next piece of a chunked string as an element of
// its own, with the field expiry that may follow the string's last piece.
func (v *Value) continueBig() error {
	v.elem.set(nil, nil, 0)
	v.lazy = 0
	if err := v.piece(2); err != nil {
		return err
	}
	if v.elem.More {
		return nil
	}
	v.elem.ExpireAt = v.bigTTL
	if v.tailTTL {
		v.tailTTL = false
		return v.valkeyTTL()
	}
	return nil
}

func stepString(v *Value) (bool, error) {
	if v.phase > 0 {
		return false, nil
	}
	v.phase = 1
	return true, v.last(0, false)
}

// countdown consumes one element of a counted encoding; false at the end.
func (v *Value) countdown() (bool, error) {
	if v.phase == 0 {
		if err := v.header(); err != nil {
			return false, err
		}
	}
	if v.n == 0 {
		return false, nil
	}
	v.n--
	return true, nil
}

func stepMembers(v *Value) (bool, error) {
	if ok, err := v.countdown(); !ok {
		return false, err
	}
	return true, v.last(0, true)
}

func stepZSet(v *Value) (bool, error) {
	if ok, err := v.countdown(); !ok {
		return false, err
	}
	m, err := v.str(0)
	if err != nil {
		return false, err
	}
	v.elem.Member = m
	if v.Encoding == EncZSet2 {
		u, err := v.c.uint64LE()
		v.elem.Score = math.Float64frombits(u)
		return true, err
	}
	v.elem.Score, err = v.c.strDouble()
	return true, err
}

// stepHash reads field and value, and the field's expiry where the encoding
// has one: before the field (HASH_METADATA, relative to the key's minimum
// expiry; its pre-GA form, absolute) or after the value (Valkey HASH_2).
func stepHash(v *Value) (bool, error) {
	if ok, err := v.countdown(); !ok {
		return false, err
	}
	c := v.c
	switch v.Encoding {
	case EncHashMetadata, EncHashMetadataPreGA:
		ttl, err := c.plainLen()
		if err != nil {
			return false, err
		}
		v.elem.ExpireAt = int64(ttl)
		if v.Encoding == EncHashMetadata && ttl != 0 {
			v.elem.ExpireAt = int64(ttl) + v.minExpire - 1
		}
	}
	f, err := v.str(0)
	if err != nil {
		return false, err
	}
	v.elem.Member = f
	if err := v.last(1, false); err != nil {
		return false, err
	}
	if v.elem.More { // the expiry goes with the last piece
		v.bigTTL, v.elem.ExpireAt = v.elem.ExpireAt, 0
	}
	if v.Encoding == EncValkeyHash2 {
		if v.elem.More {
			v.tailTTL = true
			return true, nil
		}
		return true, v.valkeyTTL()
	}
	return true, nil
}

// valkeyTTL reads the expiry that follows a field's value in Valkey's
// HASH_2: Unix ms, -1 for none.
func (v *Value) valkeyTTL() error {
	u, err := v.c.uint64LE()
	if int64(u) != -1 {
		v.elem.ExpireAt = int64(u)
	}
	return err
}

// stepBlob returns the elements of a value held in one blob: 1, 2 or 3
// blob entries an element (member; field and value or member and score;
// field, value and expiry).
func stepBlob(v *Value) (bool, error) {
	if v.phase == 0 {
		if err := v.header(); err != nil {
			return false, err
		}
	}
	m, ok, err := v.blobText(0)
	if !ok || err != nil {
		return false, err
	}
	v.elem.Member = m
	if v.per == 1 {
		return true, nil
	}
	if v.Type == TypeZSet {
		s, n, isInt, ok, err := v.blobEntry()
		if !ok || err != nil {
			return false, v.inElement(err)
		}
		v.elem.Score, err = blobScore(s, n, isInt)
		return true, err
	}
	if v.elem.Value, ok, err = v.blobText(1); !ok || err != nil {
		return false, v.inElement(err)
	}
	if v.per == 3 {
		s, n, isInt, ok, err := v.blobEntry()
		if !ok || err != nil {
			return false, v.inElement(err)
		}
		v.elem.ExpireAt, err = blobInt(s, n, isInt)
		return true, err
	}
	return true, nil
}

// inElement turns the end of a blob in the middle of an element into an
// error.
func (v *Value) inElement(err error) error {
	if err != nil {
		return err
	}
	return corrupt("%v ends inside an element", v.bl.kind)
}

// A fastKind tells which elements fillBatch decodes.
type fastKind uint8

const (
	fastNone   fastKind = iota
	fastMember          // listpack, one entry an element: list, set
	fastIntset          // intset
	fastPair            // listpack, two entries an element: hash field and value, zset member and score
	fastStrs            // strings in memory: list, set
	fastZSet2           // a string and a binary double in memory: zset_2
)

// fastForCounted is the fastKind of an encoding that stores a count and
// then elements, in memory.
func fastForCounted(enc Encoding) fastKind {
	switch enc {
	case EncList, EncSet:
		return fastStrs
	case EncZSet2:
		return fastZSet2
	}
	return fastNone
}

func fastFor(kind blobKind, per int) fastKind {
	switch {
	case kind == blobIntset:
		return fastIntset
	case kind != blobListpack:
		return fastNone
	case per == 1:
		return fastMember
	case per == 2:
		return fastPair
	}
	return fastNone
}

// batchSize is how many elements fillBatch decodes at most: enough for
// most listpacks and intsets to take one call.
const batchSize = 16

// fillBatch decodes the next elements of a listpack, an intset or a
// counted encoding in memory into batch, as the step would, and returns
// how many. It stops, having consumed nothing more, wherever the step has
// more to do: at the end of the value or blob, for unusual entries and for
// corrupt ones.
func (v *Value) fillBatch() int {
	switch kind := v.bl.kind; {
	case v.fast == fastStrs:
		return v.fillStrs()
	case v.fast == fastZSet2:
		return v.fillZSet2()
	case v.fast == fastIntset && kind == blobIntset:
		return v.fillIntset()
	case kind != blobListpack:
		return 0
	case v.fast == fastMember:
		return v.fillMembers()
	}
	return v.fillPairs()
}

// fillIntset decodes intset elements. It leaves their batch slots as they
// were, for Elem to fill: an element is its integer alone.
func (v *Value) fillIntset() int {
	bl := &v.bl
	k := min(bl.left, batchSize)
	for i := range k {
		v.batchLazy[i], v.batchInt[i][0] = lazyMember|lazyBare, bl.nextIntset()
	}
	bl.left -= k
	return k
}

// fillStrs decodes list and set elements stored as counted strings while
// they are short strings (the others are left to the step).
func (v *Value) fillStrs() int {
	k := 0
	for ; k < batchSize && v.n > 0; k++ {
		s, ok := v.c.shortStr(v.limit)
		if !ok {
			break
		}
		e := &v.batch[k]
		e.Member, e.Value, e.Score = s, nil, 0
		v.batchLazy[k] = 0
		v.n--
	}
	return k
}

// fillZSet2 decodes zset_2 elements, a string and a binary double, while
// the string is short.
func (v *Value) fillZSet2() int {
	c := v.c
	k := 0
	for ; k < batchSize && v.n > 0; k++ {
		start := c.pos
		m, ok := c.shortStr(v.limit)
		if !ok || c.end-c.pos < 8 {
			c.pos = start
			break
		}
		e := &v.batch[k]
		e.Member, e.Value = m, nil
		e.Score = math.Float64frombits(binary.LittleEndian.Uint64(c.buf[c.pos:]))
		v.batchLazy[k] = 0
		c.pos += 8
		v.n--
	}
	return k
}

// fillMembers decodes listpack elements of one entry: list, set.
func (v *Value) fillMembers() int {
	bl := &v.bl
	b, pos, left := bl.b, bl.pos, bl.left
	k := 0
	for ; k < batchSize && left != 0; k++ {
		m, n, p := lpEntry(b, pos)
		if p == 0 {
			break
		}
		e := &v.batch[k]
		e.Member, e.Value, e.Score = m, nil, 0
		v.batchLazy[k] = 0
		if m == nil {
			v.batchLazy[k], v.batchInt[k][0] = lazyMember, n
		}
		pos, left = p, max(left-1, -1) // left -1: unknown, stays so
	}
	bl.pos, bl.left = pos, left
	return k
}

// fillPairs decodes listpack elements of two entries: hash field and
// value, zset member and score.
func (v *Value) fillPairs() int {
	bl := &v.bl
	b, pos, left := bl.b, bl.pos, bl.left
	zset := v.Type == TypeZSet
	k := 0
	for ; k < batchSize && (left < 0 || left >= 2); k++ {
		m, mn, p := lpEntry(b, pos)
		if p == 0 {
			break
		}
		s, sn, p := lpEntry(b, p)
		if p == 0 {
			break
		}
		lazy := uint8(0)
		if m == nil {
			lazy, v.batchInt[k][0] = lazyMember, mn
		}
		var val []byte
		var score float64
		if zset {
			var err error
			if score, err = blobScore(s, sn, s == nil); err != nil {
				break
			}
		} else if s == nil {
			lazy |= lazyValue
			v.batchInt[k][1] = sn
		} else {
			val = s
		}
		e := &v.batch[k]
		e.Member, e.Value, e.Score = m, val, score
		v.batchLazy[k] = lazy
		pos, left = p, max(left-2, -1)
	}
	bl.pos, bl.left = pos, left
	return k
}

// set makes e the element with these fields and zero in the others. It
// stores field by field: building an Elem and copying it costs more (the
// copy reads back the stores that built it, and there is a write barrier
// check per pointer either way).
func (e *Elem) set(member, value []byte, score float64) {
	e.Member, e.Value, e.Score = member, value, score
	e.ExpireAt, e.More, e.ID = 0, false, StreamID{}
	e.Fields = e.Fields[:0]
}

// blobEntry returns the next entry of the current blob; ok is false at its
// end.
func (v *Value) blobEntry() (s []byte, n int64, isInt, ok bool, err error) {
	s, n, isInt, done, err := v.bl.next()
	return s, n, isInt, !done, err
}

// blobText returns the next entry of the current blob as bytes; ok is
// false at the blob's end. An integer entry comes back as nil, with its
// value left in lazyInt[i] for Elem to format (i: 0 Member, 1 Value).
func (v *Value) blobText(i int) ([]byte, bool, error) {
	s, n, isInt, done, err := v.bl.next()
	if done || err != nil {
		return nil, false, err
	}
	if isInt {
		v.lazy |= lazyMember << i
		v.lazyInt[i] = n
		return nil, true, nil
	}
	return s, true, nil
}

// blobScore returns a zset score stored in a ziplist or listpack entry.
func blobScore(s []byte, n int64, isInt bool) (float64, error) {
	if isInt {
		return float64(n), nil
	}
	f, err := parseFloat(s)
	if err != nil {
		return 0, corrupt("zset score %q", s)
	}
	return f, nil
}

// blobInt returns a field expiry stored in a listpack entry.
func blobInt(s []byte, n int64, isInt bool) (int64, error) {
	if isInt {
		return n, nil
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, corrupt("field expiry %q", s)
	}
	return n, nil
}

// stepQuicklist walks quicklist nodes: ziplists (QUICKLIST), or PACKED
// listpacks and PLAIN single elements (QUICKLIST_2).
func stepQuicklist(v *Value) (bool, error) {
	for {
		if v.inBlob {
			s, ok, err := v.blobText(0)
			if ok || err != nil {
				v.elem.Member = s
				return ok, err
			}
			v.inBlob, v.fast = false, fastNone
		}
		if ok, err := v.countdown(); !ok {
			return false, err
		}
		kind := blobZiplist
		if v.Encoding == EncListQuicklist2 {
			container, err := v.c.plainLen()
			if err != nil {
				return false, err
			}
			switch container {
			case quicklistPlain:
				return true, v.last(0, true)
			case quicklistPacked:
				kind = blobListpack
			default:
				return false, corrupt("quicklist container %d", container)
			}
		}
		b, err := v.c.str(&v.blobBuf, v.limit)
		if err != nil {
			return false, err
		}
		if err := v.bl.init(kind, b); err != nil {
			return false, err
		}
		v.inBlob, v.fast = true, fastFor(kind, 1)
	}
}

// Quicklist node containers. See redis/src/quicklist.h QUICKLIST_NODE_CONTAINER_*.
const (
	quicklistPlain  = 1
	quicklistPacked = 2
)

// stepModule returns a module value as one element: its data in the module
// opcode format, raw, in Value.
func stepModule(v *Value) (bool, error) {
	if v.phase > 0 {
		return false, nil
	}
	v.phase = 1
	c := v.c
	id, err := c.plainLen()
	if err != nil {
		return false, err
	}
	var name []byte
	name, v.ModuleVersion = appendModuleName(nil, id)
	v.ModuleName, v.ModuleID = string(name), id
	c.mark = c.pos
	err = skipModuleData(c)
	start := c.mark
	c.mark = -1
	if err == errRetain {
		return false, overPayload("module value", c.limit-1)
	}
	v.elem.Value = c.buf[start:c.pos]
	return true, err
}

// moduleNameChars is ModuleTypeNameCharSet of redis/src/module.c.
const moduleNameChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// appendModuleName appends the 9-character module type name encoded in a
// module id and returns its encoding version. See moduleTypeNameByID.
func appendModuleName(dst []byte, id uint64) ([]byte, int) {
	var name [9]byte
	x := id >> 10
	for j := 8; j >= 0; j-- {
		name[j] = moduleNameChars[x&63]
		x >>= 6
	}
	return append(dst, name[:]...), int(id & 1023)
}

// strDouble reads a double stored as a string (RDB_TYPE_ZSET scores): a
// length byte, 253 NaN, 254 +inf, 255 -inf. See rdbLoadDoubleValue.
func (c *cursor) strDouble() (float64, error) {
	n, err := c.readByte()
	if err != nil {
		return 0, err
	}
	switch n {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	p, err := c.next(int(n))
	if err != nil {
		return 0, err
	}
	f, err := parseFloat(p)
	if err != nil {
		return 0, corrupt("double %q", p)
	}
	return f, nil
}

func beID(p []byte) StreamID {
	return StreamID{binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])}
}
