package compare

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/rdbkit/rdbkit/rdb"
)

// A value is the content of a key in a form that does not depend on its
// encoding: a listpack hash and a hashtable hash with the same fields
// give the same value. Sets, zsets and hashes are sorted by member; lists
// and streams keep their order.
type value struct {
	typ    rdb.Type
	enc    rdb.Encoding
	str    []byte // string
	elems  []elem // list, set, zset, hash, stream entries
	stream *streamMeta
	module string // module type name and version, module data in str
	modVer int
}

// An elem is one element of a value.
type elem struct {
	a, b   []byte  // list element, set member, zset member, hash field; hash value
	score  float64 // zset
	exp    int64   // hash field expiry, Unix ms, 0 = none
	id     rdb.StreamID
	fields [][]byte // stream entry
}

// streamMeta is what a stream holds besides its entries.
type streamMeta struct {
	length       uint64
	lastID       rdb.StreamID
	maxDeleted   rdb.StreamID
	entriesAdded uint64
	hasMeta      bool // the encoding stores maxDeleted and entriesAdded (RDB 10+)
	groups       []group
}

type group struct {
	name        []byte
	lastID      rdb.StreamID
	entriesRead int64 // -1 if unknown
	pending     []pending
	consumers   []consumer
}

type pending struct {
	id       rdb.StreamID
	consumer []byte
	count    uint64
}

type consumer struct {
	name    []byte
	pending int
}

// decode reads a whole value into its canonical form. Hash fields whose
// expiry is at or before now (Unix ms) are left out, as Redis no longer
// shows them.
func decode(v *rdb.Value, now int64) (*value, error) {
	val := &value{typ: v.Type, enc: v.Encoding}
	for v.Next() {
		el := v.Elem()
		switch v.Type {
		case rdb.TypeString:
			val.str = append(val.str, el.Value...)
		case rdb.TypeModule:
			val.str = append(val.str, el.Value...)
		case rdb.TypeList, rdb.TypeSet:
			val.elems = append(val.elems, elem{a: bytes.Clone(el.Member)})
		case rdb.TypeZSet:
			val.elems = append(val.elems, elem{a: bytes.Clone(el.Member), score: el.Score})
		case rdb.TypeHash:
			if el.ExpireAt != 0 && el.ExpireAt <= now {
				continue
			}
			val.elems = append(val.elems, elem{a: bytes.Clone(el.Member), b: bytes.Clone(el.Value), exp: el.ExpireAt})
		case rdb.TypeStream:
			fs := make([][]byte, len(el.Fields))
			for i, f := range el.Fields {
				fs[i] = bytes.Clone(f)
			}
			val.elems = append(val.elems, elem{id: el.ID, fields: fs})
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch v.Type {
	case rdb.TypeSet, rdb.TypeZSet, rdb.TypeHash:
		slices.SortFunc(val.elems, func(x, y elem) int { return bytes.Compare(x.a, y.a) })
	case rdb.TypeStream:
		val.stream = newStreamMeta(v.Stream(), v.Encoding)
	case rdb.TypeModule:
		val.module, val.modVer = v.ModuleName, v.ModuleVersion
	}
	return val, nil
}

// newStreamMeta copies what the comparison needs of a stream's metadata.
func newStreamMeta(si *rdb.StreamInfo, enc rdb.Encoding) *streamMeta {
	m := &streamMeta{hasMeta: enc != rdb.EncStreamListpacks}
	if si == nil {
		return m
	}
	m.length, m.lastID = si.Length, si.LastID
	m.maxDeleted, m.entriesAdded = si.MaxDeletedID, si.EntriesAdded
	for _, g := range si.Groups {
		ng := group{name: bytes.Clone(g.Name), lastID: g.LastID, entriesRead: g.EntriesRead}
		for _, p := range g.Pending {
			ng.pending = append(ng.pending, pending{id: p.ID, consumer: bytes.Clone(p.Consumer), count: p.DeliveryCount})
		}
		for _, c := range g.Consumers {
			ng.consumers = append(ng.consumers, consumer{name: bytes.Clone(c.Name), pending: len(c.Pending)})
		}
		slices.SortFunc(ng.pending, func(x, y pending) int { return cmpID(x.id, y.id) })
		slices.SortFunc(ng.consumers, func(x, y consumer) int { return bytes.Compare(x.name, y.name) })
		m.groups = append(m.groups, ng)
	}
	slices.SortFunc(m.groups, func(x, y group) int { return bytes.Compare(x.name, y.name) })
	return m
}

func cmpID(a, b rdb.StreamID) int {
	switch {
	case a.MS != b.MS:
		return cmpU(a.MS, b.MS)
	default:
		return cmpU(a.Seq, b.Seq)
	}
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sameScore reports whether two zset scores are the same double: equal,
// and of the same sign for zeros.
func sameScore(a, b float64) bool {
	return a == b && math.Signbit(a) == math.Signbit(b) || math.IsNaN(a) && math.IsNaN(b)
}

// diff compares a source value with a destination value of the same
// type. It returns Equal, ValueDiffers with the first difference, or
// TTLDiffers for a hash field whose expiry differs by more than tol ms.
func diff(src, dst *value, tol int64) (Outcome, string) {
	switch src.typ {
	case rdb.TypeString:
		return diffBytes("value", src.str, dst.str)
	case rdb.TypeList:
		return diffList(src.elems, dst.elems)
	case rdb.TypeSet:
		return diffSorted(src.elems, dst.elems, "member", nil)
	case rdb.TypeZSet:
		return diffSorted(src.elems, dst.elems, "member", func(x, y *elem) (Outcome, string) {
			if !sameScore(x.score, y.score) {
				return ValueDiffers, fmt.Sprintf("score of %s: source %s, destination %s", show(x.a), fmtScore(x.score), fmtScore(y.score))
			}
			return Equal, ""
		})
	case rdb.TypeHash:
		return diffHash(src.elems, dst.elems, tol)
	case rdb.TypeStream:
		if o, why := diffEntries(src.elems, dst.elems); o != Equal {
			return o, why
		}
		return diffStreamMeta(src.stream, dst.stream)
	case rdb.TypeModule:
		if src.module != dst.module || src.modVer != dst.modVer {
			return ValueDiffers, fmt.Sprintf("module type: source %s v%d, destination %s v%d", src.module, src.modVer, dst.module, dst.modVer)
		}
		return diffBytes("module data", src.str, dst.str)
	}
	return Equal, ""
}

// diffBytes compares two strings.
func diffBytes(what string, a, b []byte) (Outcome, string) {
	if bytes.Equal(a, b) {
		return Equal, ""
	}
	if len(a) != len(b) {
		return ValueDiffers, fmt.Sprintf("%s: source %d bytes, destination %d bytes", what, len(a), len(b))
	}
	i := 0
	for a[i] == b[i] {
		i++
	}
	return ValueDiffers, fmt.Sprintf("%s: differs at byte %d (source %s, destination %s)", what, i, show(a[i:min(len(a), i+16)]), show(b[i:min(len(b), i+16)]))
}

// diffList compares two lists element by element.
func diffList(a, b []elem) (Outcome, string) {
	for i := range min(len(a), len(b)) {
		if !bytes.Equal(a[i].a, b[i].a) {
			return ValueDiffers, fmt.Sprintf("element %d: source %s, destination %s", i, show(a[i].a), show(b[i].a))
		}
	}
	if len(a) != len(b) {
		return ValueDiffers, fmt.Sprintf("length: source %d, destination %d", len(a), len(b))
	}
	return Equal, ""
}

// diffSorted compares two collections sorted by member: the members, then
// what same decides about each pair.
func diffSorted(a, b []elem, what string, same func(x, y *elem) (Outcome, string)) (Outcome, string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		c := 0
		switch {
		case i == len(a):
			c = 1
		case j == len(b):
			c = -1
		default:
			c = bytes.Compare(a[i].a, b[j].a)
		}
		switch {
		case c < 0:
			return ValueDiffers, fmt.Sprintf("%s %s missing on the destination (source %d, destination %d)", what, show(a[i].a), len(a), len(b))
		case c > 0:
			return ValueDiffers, fmt.Sprintf("%s %s only on the destination (source %d, destination %d)", what, show(b[j].a), len(a), len(b))
		}
		if same != nil {
			if o, why := same(&a[i], &b[j]); o != Equal {
				return o, why
			}
		}
		i++
		j++
	}
	return Equal, ""
}

// diffHash compares two hashes: fields and values first, then field TTLs.
func diffHash(a, b []elem, tol int64) (Outcome, string) {
	o, why := diffSorted(a, b, "field", func(x, y *elem) (Outcome, string) {
		if !bytes.Equal(x.b, y.b) {
			return ValueDiffers, fmt.Sprintf("field %s: source %s, destination %s", show(x.a), show(x.b), show(y.b))
		}
		return Equal, ""
	})
	if o != Equal {
		return o, why
	}
	for i := range a {
		if why := diffExpiry(a[i].exp, b[i].exp, tol); why != "" {
			return TTLDiffers, "field " + show(a[i].a) + ": " + why
		}
	}
	return Equal, ""
}

// diffExpiry compares two absolute expiries (Unix ms, 0 = none) and says
// how they differ, "" if by no more than tol ms.
func diffExpiry(src, dst, tol int64) string {
	switch {
	case src == 0 && dst == 0:
		return ""
	case dst == 0:
		return "TTL on the source only (expires " + fmtTime(src) + ")"
	case src == 0:
		return "TTL on the destination only (expires " + fmtTime(dst) + ")"
	}
	d := dst - src
	if d < 0 {
		d = -d
	}
	if d <= tol {
		return ""
	}
	return fmt.Sprintf("expiry differs by %s (source %s, destination %s)", fmtMS(d), fmtTime(src), fmtTime(dst))
}

// diffEntries compares the entries of two streams, in order.
func diffEntries(a, b []elem) (Outcome, string) {
	for i := range min(len(a), len(b)) {
		x, y := &a[i], &b[i]
		if x.id != y.id {
			return ValueDiffers, fmt.Sprintf("entry %d: id: source %v, destination %v", i, x.id, y.id)
		}
		if !slices.EqualFunc(x.fields, y.fields, bytes.Equal) {
			return ValueDiffers, fmt.Sprintf("entry %v: fields differ", x.id)
		}
	}
	if len(a) != len(b) {
		return ValueDiffers, fmt.Sprintf("entries: source %d, destination %d", len(a), len(b))
	}
	return Equal, ""
}

// diffStreamMeta compares the metadata and consumer groups of two
// streams: length, last id, max deleted id and entries added (when both
// encodings store them), groups with their last id, entries read (when
// both know it), pending entries (id, consumer, delivery count) and
// consumers (name, number of pending entries). Delivery times and the
// consumers' seen and active times are access times, not compared.
func diffStreamMeta(a, b *streamMeta) (Outcome, string) {
	if a == nil || b == nil {
		return Equal, ""
	}
	switch {
	case a.length != b.length:
		return ValueDiffers, fmt.Sprintf("stream length: source %d, destination %d", a.length, b.length)
	case a.lastID != b.lastID:
		return ValueDiffers, fmt.Sprintf("last id: source %v, destination %v", a.lastID, b.lastID)
	case a.hasMeta && b.hasMeta && a.maxDeleted != b.maxDeleted:
		return ValueDiffers, fmt.Sprintf("max deleted id: source %v, destination %v", a.maxDeleted, b.maxDeleted)
	case a.hasMeta && b.hasMeta && a.entriesAdded != b.entriesAdded:
		return ValueDiffers, fmt.Sprintf("entries added: source %d, destination %d", a.entriesAdded, b.entriesAdded)
	case len(a.groups) != len(b.groups):
		return ValueDiffers, fmt.Sprintf("consumer groups: source %d, destination %d", len(a.groups), len(b.groups))
	}
	for i := range a.groups {
		if why := diffGroup(&a.groups[i], &b.groups[i]); why != "" {
			return ValueDiffers, "group " + show(a.groups[i].name) + ": " + why
		}
	}
	return Equal, ""
}

func diffGroup(a, b *group) string {
	switch {
	case !bytes.Equal(a.name, b.name):
		return "only on the source (destination has " + show(b.name) + ")"
	case a.lastID != b.lastID:
		return fmt.Sprintf("last delivered id: source %v, destination %v", a.lastID, b.lastID)
	case a.entriesRead >= 0 && b.entriesRead >= 0 && a.entriesRead != b.entriesRead:
		return fmt.Sprintf("entries read: source %d, destination %d", a.entriesRead, b.entriesRead)
	case len(a.pending) != len(b.pending):
		return fmt.Sprintf("pending entries: source %d, destination %d", len(a.pending), len(b.pending))
	case len(a.consumers) != len(b.consumers):
		return fmt.Sprintf("consumers: source %d, destination %d", len(a.consumers), len(b.consumers))
	}
	for i := range a.pending {
		x, y := &a.pending[i], &b.pending[i]
		if x.id != y.id || !bytes.Equal(x.consumer, y.consumer) || x.count != y.count {
			return fmt.Sprintf("pending entry %d: source %v %s x%d, destination %v %s x%d", i, x.id, show(x.consumer), x.count, y.id, show(y.consumer), y.count)
		}
	}
	for i := range a.consumers {
		x, y := &a.consumers[i], &b.consumers[i]
		if !bytes.Equal(x.name, y.name) || x.pending != y.pending {
			return fmt.Sprintf("consumer %s (%d pending): destination has %s (%d pending)", show(x.name), x.pending, show(y.name), y.pending)
		}
	}
	return ""
}

// show quotes a byte string for a reason, cut to 48 bytes.
func show(b []byte) string {
	if len(b) > 48 {
		return strconv.Quote(string(b[:48])) + "..."
	}
	return strconv.Quote(string(b))
}

func fmtScore(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
