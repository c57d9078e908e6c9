package rdb

import (
	"cmp"
	"slices"
	"strconv"
)

// A StreamID is a stream entry id, ms-seq.
type StreamID struct{ MS, Seq uint64 }

func (id StreamID) String() string {
	return strconv.FormatUint(id.MS, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// StreamInfo is what a stream holds besides its entries. Value.Stream
// returns it once the entries have been read.
type StreamInfo struct {
	Length       uint64   // live entries (XLEN)
	LastID       StreamID // last generated id
	FirstID      StreamID // RDB_TYPE_STREAM_LISTPACKS_2 and later
	MaxDeletedID StreamID // idem
	EntriesAdded uint64   // idem
	Groups       []StreamGroup

	// IDMP (idempotent producers), RDB_TYPE_STREAM_LISTPACKS_4 (Redis 8.6).
	IDMP *StreamIDMP
}

// A StreamGroup is a consumer group.
type StreamGroup struct {
	Name        []byte
	LastID      StreamID
	EntriesRead int64 // -1 when unknown (SCG_INVALID_ENTRIES_READ) or not stored
	Pending     []StreamPending
	Consumers   []StreamConsumer
}

// A StreamPending is an entry of a group's pending entries list.
type StreamPending struct {
	ID            StreamID
	Consumer      []byte // the consumer whose PEL holds it, nil if none
	DeliveryTime  int64  // Unix ms
	DeliveryCount uint64
}

// A StreamConsumer is a consumer of a group.
type StreamConsumer struct {
	Name       []byte
	SeenTime   int64 // Unix ms
	ActiveTime int64 // Unix ms; -1 if never active or not stored (before RDB_TYPE_STREAM_LISTPACKS_3)
	Pending    []StreamID
}

// StreamIDMP is the idempotent-producer state of a stream (Redis 8.6).
type StreamIDMP struct {
	Duration, MaxEntries     uint64
	Producers                []StreamProducer
	IIDsAdded, IIDDuplicates uint64
}

// A StreamProducer is an idempotent producer with its recent ids.
type StreamProducer struct {
	PID     []byte
	Entries []StreamIID
}

// A StreamIID maps an idempotency id to the entry it added.
type StreamIID struct {
	IID []byte
	ID  StreamID
}

type streamState struct {
	nodes  uint64 // listpack nodes left
	inNode bool
	master StreamID
	mfield [][]byte // master fields of the current node
	arena  []byte   // integers formatted as text for the current node
	info   *StreamInfo
	meta   StreamInfo // what info points to, its memory reused from one stream to the next
}

// Stream entry flags. See redis/src/stream.h STREAM_ITEM_FLAG_*.
const (
	streamFlagDeleted    = 1
	streamFlagSameFields = 2
)

// Stream returns the metadata and consumer groups of a stream value once
// Next has returned false without error; nil before that or for other
// types. It is valid until the next call to Reader.Next (or to Entry.Value,
// which reuses the Value).
func (v *Value) Stream() *StreamInfo {
	if v.stream == nil || v.Type != TypeStream || !v.done || v.err != nil {
		return nil
	}
	return v.stream.info
}

func (v *Value) streamHeader() error {
	if v.stream == nil {
		v.stream = new(streamState)
	}
	st := v.stream
	*st = streamState{mfield: st.mfield[:0], arena: st.arena[:0], meta: st.meta}
	var err error
	st.nodes, err = v.c.plainLen()
	return err
}

// stepStream returns the next live entry of a stream, walking its listpack
// nodes; after the last node it reads the metadata and groups. See
// redis/src/t_stream.c (the comment above streamAppendItem) for a node.
func stepStream(v *Value) (bool, error) {
	if v.phase == 0 {
		if err := v.header(); err != nil {
			return false, err
		}
	}
	st := v.stream
	for {
		if !st.inNode {
			if st.nodes == 0 {
				return false, v.streamMeta()
			}
			st.nodes--
			if err := v.openNode(); err != nil {
				return false, err
			}
			continue
		}
		if done, live := v.streamEntryFast(); done {
			if live {
				return true, nil
			}
			continue
		}
		flags, err := v.lpInt()
		if err == errBlobEnd {
			st.inNode = false
			continue
		}
		if err != nil {
			return false, err
		}
		ok, err := v.streamEntry(flags)
		if ok || err != nil {
			return ok, err
		}
	}
}

// openNode reads a node: its master id (the radix tree key) and its
// listpack, up to the end of the master entry.
func (v *Value) openNode() error {
	st := v.stream
	key, err := v.c.str(&v.scratch[0], v.limit)
	if err != nil {
		return err
	}
	if len(key) != 16 {
		return corrupt("stream node key of %d bytes", len(key))
	}
	st.master = beID(key)
	lp, err := v.c.str(&v.blobBuf, v.limit)
	if err != nil {
		return err
	}
	if err := v.bl.init(blobListpack, lp); err != nil {
		return err
	}
	if v.bl.count == 0 {
		return corrupt("empty stream listpack")
	}
	st.arena = st.arena[:0]
	st.mfield = st.mfield[:0]
	var hdr [3]int64 // count, deleted, master fields
	for i := range hdr {
		if hdr[i], err = v.lpInt(); err != nil {
			return v.nodeErr(err)
		}
	}
	if hdr[2] < 0 || hdr[2] > int64(len(lp)) {
		return corrupt("stream node with %d master fields", hdr[2])
	}
	for range hdr[2] {
		f, err := v.lpStr(&st.arena, -1)
		if err != nil {
			return v.nodeErr(err)
		}
		st.mfield = append(st.mfield, f)
	}
	if end, err := v.lpInt(); err != nil || end != 0 {
		return v.nodeErr(err)
	}
	st.inNode = true
	return nil
}

func (v *Value) nodeErr(err error) error {
	if err == nil || err == errBlobEnd {
		return corrupt("stream node master entry")
	}
	return err
}

// streamEntry reads the rest of an entry whose flags were read; it returns
// false for a deleted entry.
func (v *Value) streamEntry(flags int64) (bool, error) {
	st := v.stream
	var d [2]int64 // ms, seq differences from the master id
	for i := range d {
		n, err := v.lpInt()
		if err != nil {
			return false, v.nodeErr(err)
		}
		d[i] = n
	}
	fields := v.elem.Fields[:0]
	arena := v.scratch[1][:0]
	v.fieldInts = v.fieldInts[:0]
	nf := int64(len(st.mfield))
	if flags&streamFlagSameFields == 0 {
		n, err := v.lpInt()
		if err != nil {
			return false, v.nodeErr(err)
		}
		if n < 0 || n > int64(len(v.bl.b)) {
			return false, corrupt("stream entry with %d fields", n)
		}
		nf = n
	}
	for i := range nf {
		if flags&streamFlagSameFields != 0 {
			fields = append(fields, st.mfield[i])
		} else {
			f, err := v.lpStr(&arena, len(fields))
			if err != nil {
				return false, v.nodeErr(err)
			}
			fields = append(fields, f)
		}
		val, err := v.lpStr(&arena, len(fields))
		if err != nil {
			return false, v.nodeErr(err)
		}
		fields = append(fields, val)
	}
	v.scratch[1] = arena
	if _, err := v.lpInt(); err != nil { // lp-count
		return false, v.nodeErr(err)
	}
	v.elem.Fields = fields
	return v.entryDone(flags, d), nil
}

// streamEntryFast reads the next entry of a node in one go if it has the
// master entry's fields and lpEntry decodes all its listpack entries, the
// usual case: done is false, having consumed nothing, for any other entry
// and at the node's end, which stepStream reads entry by entry. live is
// false for a deleted entry.
func (v *Value) streamEntryFast() (done, live bool) {
	st, bl := v.stream, &v.bl
	nf := len(st.mfield)
	if bl.left >= 0 && bl.left < nf+4 { // flags, ms, seq, values, lp-count
		return false, false
	}
	b, p := bl.b, bl.pos
	var hdr [3]int64 // flags, ms and seq differences from the master id
	for i := range hdr {
		s, n, next := lpEntry(b, p)
		if next == 0 || s != nil {
			return false, false
		}
		hdr[i], p = n, next
	}
	if hdr[0]&streamFlagSameFields == 0 {
		return false, false
	}
	fields := v.elem.Fields[:0]
	v.fieldInts = v.fieldInts[:0]
	for _, f := range st.mfield {
		s, n, next := lpEntry(b, p)
		if next == 0 {
			return false, false
		}
		if s == nil {
			s = v.intField(n, len(fields)+1)
		}
		fields, p = append(fields, f, s), next
	}
	s, _, next := lpEntry(b, p) // lp-count
	if next == 0 || s != nil {
		return false, false
	}
	bl.pos = next
	if bl.left > 0 {
		bl.left -= nf + 4
	}
	v.elem.Fields = fields
	return true, v.entryDone(hdr[0], [2]int64(hdr[1:]))
}

// entryDone finishes an entry whose Fields are read, with its flags and
// its id's differences from the master id; false for a deleted entry.
func (v *Value) entryDone(flags int64, d [2]int64) bool {
	if flags&streamFlagDeleted != 0 {
		return false
	}
	if len(v.fieldInts) > 0 {
		v.lazy |= lazyFields
	}
	master := v.stream.master
	v.elem.ID = StreamID{master.MS + uint64(d[0]), master.Seq + uint64(d[1])}
	return true
}

// errBlobEnd is lpInt's and lpStr's report of the end of the listpack.
var errBlobEnd = corrupt("end of blob")

// lpSlow returns the next listpack entry of a stream node, or errBlobEnd,
// for lpInt and lpStr when lpEntry leaves the entry to the blob (the end of
// the node, unusual or corrupt entries). They call lpEntry themselves, a
// call level less per entry on the common path.
func (v *Value) lpSlow() (s []byte, n int64, isInt bool, err error) {
	s, n, isInt, done, err := v.bl.next()
	if err == nil && done {
		err = errBlobEnd
	}
	return s, n, isInt, err
}

// lpInt returns the next listpack entry as an integer, or errBlobEnd.
func (v *Value) lpInt() (int64, error) {
	s, n, next := lpEntry(v.bl.b, v.bl.pos)
	isInt := s == nil
	if !v.bl.take(next) {
		var err error
		if s, n, isInt, err = v.lpSlow(); err != nil {
			return 0, err
		}
	}
	if isInt {
		return n, nil
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, corrupt("stream listpack: %q where an integer was expected", s)
	}
	return n, nil
}

// lpStr returns the next listpack entry as bytes; an integer is formatted
// into *arena, which only ever grows while its results are in use (an
// append that moves it leaves the earlier results in the old array). With
// field >= 0, an integer that is not in smallDecimals is left for Elem to
// format into Fields[field], and lpStr returns nil for it.
func (v *Value) lpStr(arena *[]byte, field int) ([]byte, error) {
	s, n, next := lpEntry(v.bl.b, v.bl.pos)
	isInt := s == nil
	if !v.bl.take(next) {
		var err error
		if s, n, isInt, err = v.lpSlow(); err != nil {
			return nil, err
		}
	}
	switch {
	case !isInt:
		return s, nil
	case field >= 0:
		return v.intField(n, field), nil
	case n >= 0 && n <= smallDecimalMax:
		return appendDecimal(nil, n), nil
	}
	return appendField(arena, n), nil
}

// intField returns the text of integer n, Fields[field] of a stream entry,
// if it is in smallDecimals; else nil, n being left for Elem to format.
func (v *Value) intField(n int64, field int) []byte {
	if n >= 0 && n <= smallDecimalMax {
		return appendDecimal(nil, n)
	}
	v.fieldInts = append(v.fieldInts, lazyField{field, n})
	return nil
}

// appendField formats n at the end of *arena and returns its text.
func appendField(arena *[]byte, n int64) []byte {
	start := len(*arena)
	*arena = strconv.AppendInt(*arena, n, 10)
	return (*arena)[start:len(*arena):len(*arena)]
}

// A lazyField is an integer of a stream entry that Elem formats into
// Fields[i] on demand.
type lazyField struct {
	i int
	n int64
}

// streamMeta reads what follows the nodes: length, ids, counters, groups
// and, for RDB_TYPE_STREAM_LISTPACKS_4, the IDMP state.
func (v *Value) streamMeta() error {
	c := v.c
	info := &v.stream.meta
	reuse := info.Groups[:0]
	*info = StreamInfo{}
	v.stream.info = info
	enc := v.Encoding
	err := readLens(c, &info.Length, &info.LastID.MS, &info.LastID.Seq)
	if err == nil && enc >= EncStreamListpacks2 {
		err = readLens(c, &info.FirstID.MS, &info.FirstID.Seq, &info.MaxDeletedID.MS,
			&info.MaxDeletedID.Seq, &info.EntriesAdded)
	}
	if err != nil {
		return err
	}
	v.length = int64(min(info.Length, 1<<62))
	groups, err := c.plainLen()
	if err != nil {
		return err
	}
	if groups > 0 {
		info.Groups = reuse
	}
	for ; groups > 0; groups-- {
		if err := v.streamGroup(grow1(&info.Groups)); err != nil {
			return err
		}
	}
	if enc >= EncStreamListpacks4 {
		info.IDMP, err = v.streamIDMP()
	}
	return err
}

func readLens(c *cursor, ps ...*uint64) error {
	for _, p := range ps {
		n, err := c.plainLen()
		if err != nil {
			return err
		}
		*p = n
	}
	return nil
}

// grow1 appends an element to *s and returns it: a zero value, or the
// element that was there before (in a reused slice), whose memory the
// caller may reuse.
func grow1[E any](s *[]E) *E {
	if len(*s) < cap(*s) {
		*s = (*s)[:len(*s)+1]
	} else {
		var zero E
		*s = append(*s, zero)
	}
	return &(*s)[len(*s)-1]
}

// streamGroup reads a consumer group into g, reusing the memory of the
// group that was there.
func (v *Value) streamGroup(g *StreamGroup) error {
	c := v.c
	name, pending, consumers := g.Name, g.Pending[:0], g.Consumers[:0]
	*g = StreamGroup{EntriesRead: -1}
	name, err := c.strCopy(&name, v.limit)
	if err != nil {
		return err
	}
	g.Name = name
	if err := readLens(c, &g.LastID.MS, &g.LastID.Seq); err != nil {
		return err
	}
	if v.Encoding >= EncStreamListpacks2 {
		var er uint64
		if err := readLens(c, &er); err != nil {
			return err
		}
		g.EntriesRead = int64(er)
	}
	pel, err := c.plainLen()
	if err != nil {
		return err
	}
	if pel > 0 {
		g.Pending = slices.Grow(pending, int(min(pel, uint64(c.end-c.pos)/25+1)))
	}
	sorted := true // as Redis writes it (a rax walk): then no index is needed
	for ; pel > 0; pel-- {
		p, err := c.next(16 + 8)
		if err != nil {
			return err
		}
		pe := StreamPending{ID: beID(p), DeliveryTime: int64(leUint64(p[16:]))}
		if pe.DeliveryCount, err = c.plainLen(); err != nil {
			return err
		}
		if n := len(g.Pending); n > 0 && !g.Pending[n-1].ID.less(pe.ID) {
			sorted = false
		}
		g.Pending = append(g.Pending, pe)
	}
	var index map[StreamID]int // the last pending entry of each id, for a PEL out of order
	if !sorted {
		index = make(map[StreamID]int, len(g.Pending))
		for i, pe := range g.Pending {
			index[pe.ID] = i
		}
	}
	n, err := c.plainLen()
	if err != nil {
		return err
	}
	if n > 0 {
		g.Consumers = consumers
	}
	for ; n > 0; n-- {
		if err := v.streamConsumer(g, grow1(&g.Consumers), index); err != nil {
			return err
		}
	}
	return nil
}

// streamConsumer reads a consumer of group g into cons, reusing the memory
// of the consumer that was there.
func (v *Value) streamConsumer(g *StreamGroup, cons *StreamConsumer, index map[StreamID]int) error {
	c := v.c
	name, pending := cons.Name, cons.Pending[:0]
	*cons = StreamConsumer{ActiveTime: -1}
	name, err := c.strCopy(&name, v.limit)
	if err != nil {
		return err
	}
	cons.Name = name
	seen, err := c.uint64LE()
	if err != nil {
		return err
	}
	cons.SeenTime = int64(seen)
	if v.Encoding >= EncStreamListpacks3 {
		at, err := c.uint64LE()
		if err != nil {
			return err
		}
		cons.ActiveTime = int64(at)
	}
	n, err := c.plainLen()
	if err != nil {
		return err
	}
	if n > 0 {
		cons.Pending = slices.Grow(pending, int(min(n, uint64(c.end-c.pos)/16+1)))
	}
	next := 0 // where the group's PEL most likely has the next id
	for ; n > 0; n-- {
		p, err := c.next(16)
		if err != nil {
			return err
		}
		id := beID(p)
		i, ok := pendingIndex(g.Pending, index, id, next)
		if !ok {
			return corrupt("consumer %q pending entry %v not in the group's PEL", name, id)
		}
		g.Pending[i].Consumer = name
		cons.Pending = append(cons.Pending, id)
		next = i + 1
	}
	return nil
}

// pendingIndex finds id in a group's PEL: at next, where it is when the
// consumer's PEL is a run of the group's (as with a single consumer), else
// by binary search when the PEL is in order (index nil), else in index.
func pendingIndex(pel []StreamPending, index map[StreamID]int, id StreamID, next int) (int, bool) {
	if index != nil {
		i, ok := index[id]
		return i, ok
	}
	if next < len(pel) && pel[next].ID == id {
		return next, true
	}
	i, ok := slices.BinarySearchFunc(pel, id, func(pe StreamPending, id StreamID) int {
		return pe.ID.compare(id)
	})
	return i, ok
}

func (id StreamID) less(o StreamID) bool { return id.compare(o) < 0 }

func (id StreamID) compare(o StreamID) int {
	if c := cmp.Compare(id.MS, o.MS); c != 0 {
		return c
	}
	return cmp.Compare(id.Seq, o.Seq)
}

// streamIDMP reads the idempotent-producer state of RDB_TYPE_STREAM_LISTPACKS_4.
// See redis/src/rdb.c rdbLoadStreamIdmpEntries.
func (v *Value) streamIDMP() (*StreamIDMP, error) {
	c := v.c
	m := &StreamIDMP{}
	var n uint64
	if err := readLens(c, &m.Duration, &m.MaxEntries, &n); err != nil {
		return nil, err
	}
	for ; n > 0; n-- {
		pid, err := c.strCopy(new([]byte), v.limit)
		if err != nil {
			return nil, err
		}
		p := StreamProducer{PID: pid}
		var k uint64
		if err := readLens(c, &k); err != nil {
			return nil, err
		}
		for ; k > 0; k-- {
			iid, err := c.strCopy(new([]byte), v.limit)
			if err != nil {
				return nil, err
			}
			e := StreamIID{IID: iid}
			if err := readLens(c, &e.ID.MS, &e.ID.Seq); err != nil {
				return nil, err
			}
			p.Entries = append(p.Entries, e)
		}
		m.Producers = append(m.Producers, p)
	}
	return m, readLens(c, &m.IIDsAdded, &m.IIDDuplicates)
}
