package rdb

import (
	"encoding/binary"
	"io"
	"math"
	"slices"
	"strconv"
)

// This file reports the layout of a payload, as serialized, without
// decoding it: the sizes and headers of its strings and blobs, its
// quicklist and stream nodes and a stream's consumer groups. Memory
// estimation needs these facts, which Value, handing out elements, hides.
// Nothing is decompressed (but Head) or copied: the results are views of
// the payload.

// A StringLayout describes an RDB string as serialized.
type StringLayout struct {
	Len  int64 // length once decoded (the decimal digits of an integer)
	Int  int64 // the value of an integer encoding
	span []byte
	hdr  int // bytes of span before the data (the LZF lengths included)
	kind uint8
}

// String kinds of a StringLayout.
const (
	strPlain = iota
	strInt
	strLZF
)

// Plain returns the bytes of a string stored plainly (non-nil, even
// empty), else nil.
func (s *StringLayout) Plain() []byte {
	if s.kind != strPlain || s.span == nil {
		return nil
	}
	return s.span[s.hdr:]
}

// IsInt reports whether the string is stored as an integer encoding
// (RDB_ENC_INT8/16/32), whose value is Int.
func (s *StringLayout) IsInt() bool { return s.kind == strInt }

// Compressed reports whether the string is LZF-compressed.
func (s *StringLayout) Compressed() bool { return s.kind == strLZF }

// Span returns the string as serialized, header included.
func (s *StringLayout) Span() []byte { return s.span }

// AppendTo appends the string to dst: its bytes as stored, its integer
// in decimal, or its LZF data decompressed (s.Len bytes, which the caller
// bounds first: the header says it).
func (s *StringLayout) AppendTo(dst []byte) ([]byte, error) {
	switch {
	case s.span == nil:
		return dst, corrupt("no string")
	case s.kind == strInt:
		return strconv.AppendInt(dst, s.Int, 10), nil
	case s.kind == strLZF:
		n := len(dst)
		dst = slices.Grow(dst, int(s.Len))[:n+int(s.Len)]
		if err := lzfDecompress(dst[n:], s.span[s.hdr:]); err != nil {
			return dst[:n], err
		}
		return dst, nil
	}
	return append(dst, s.span[s.hdr:]...), nil
}

// Head returns the first len(dst) (at most 8) bytes of the string once
// decoded: a view of Plain, or, for an LZF string, just those bytes
// decompressed into dst. It returns nil when the string is shorter, an
// integer encoding or malformed.
func (s *StringLayout) Head(dst []byte) []byte {
	n := len(dst)
	switch {
	case s.Len < int64(n):
		return nil
	case s.span == nil:
		return nil
	case s.kind == strPlain:
		return s.span[s.hdr : s.hdr+n]
	case s.kind == strLZF:
		return lzfHead(dst, s.span[s.hdr:])
	}
	return nil
}

// ListpackCount returns the entry count in the header of the listpack the
// string holds, -1 when the header does not say (65535 or more entries)
// or cannot be read.
func (s *StringLayout) ListpackCount() int64 {
	var buf [6]byte
	h := s.Head(buf[:])
	if h == nil {
		return -1
	}
	n := int64(binary.LittleEndian.Uint16(h[4:]))
	if n == 65535 {
		return -1
	}
	return n
}

// IntsetCount returns the element count in the header of the intset the
// string holds, -1 if it cannot be read.
func (s *StringLayout) IntsetCount() int64 {
	var buf [8]byte
	h := s.Head(buf[:])
	if h == nil {
		return -1
	}
	return int64(binary.LittleEndian.Uint32(h[4:]))
}

// layoutCursor returns a cursor over payload, after its type byte.
func layoutCursor(payload []byte) cursor {
	return cursor{buf: payload, pos: min(1, len(payload)), end: len(payload), mark: -1}
}

// layoutErr wraps a cursor error into an *Error with its offset.
func layoutErr(c *cursor, err error) error {
	if err == nil {
		return nil
	}
	return wrapErr(c, c.offset(), "", "payload layout", err)
}

// strLayout reads the header of an RDB string into s and passes over its
// body.
func (c *cursor) strLayout(s *StringLayout) error {
	n, err := parseStr(c.buf[c.pos:c.end], s)
	c.pos += n
	return err
}

// parseStr reads the header of the RDB string at the start of p (the rest
// of a payload in memory) into s and returns the string's serialized size;
// on error, the bytes read before the field that failed. It is strLayout
// without a cursor: the estimator calls it for every element of a value.
// See redis/src/rdb.c rdbGenericLoadStringObject.
func parseStr(p []byte, s *StringLayout) (int, error) {
	n, hdr, ok := shortLen(p)
	if !ok {
		var enc bool
		var err error
		if n, hdr, enc, err = parseLen(p); err != nil {
			return 0, err
		}
		if enc {
			return parseEncodedStr(p, n, s)
		}
	}
	if n > uint64(len(p)-hdr) {
		return hdr, io.ErrUnexpectedEOF
	}
	end := hdr + int(n)
	s.Len, s.Int, s.span, s.hdr, s.kind = int64(n), 0, p[:end:end], hdr, strPlain
	return end, nil
}

// parseEncodedStr reads a string of the special encoding enc (11xxxxxx):
// an integer or LZF.
func parseEncodedStr(p []byte, enc uint64, s *StringLayout) (int, error) {
	*s = StringLayout{}
	switch enc {
	case encInt8, encInt16, encInt32:
		w := 1 << enc
		if len(p) < 1+w {
			return 1, io.ErrUnexpectedEOF
		}
		var v int64
		switch enc {
		case encInt8:
			v = int64(int8(p[1]))
		case encInt16:
			v = int64(int16(binary.LittleEndian.Uint16(p[1:])))
		default:
			v = int64(int32(binary.LittleEndian.Uint32(p[1:])))
		}
		s.kind, s.Int, s.Len, s.span = strInt, v, decimalLen(v), p[:1+w:1+w]
		return 1 + w, nil
	case encLZF:
		clen, w1, err := parsePlainLen(p[1:])
		if err != nil {
			return 1, err
		}
		ulen, w2, err := parsePlainLen(p[1+w1:])
		hdr := 1 + w1 + w2
		if err != nil {
			return 1 + w1, err
		}
		if clen > uint64(len(p)-hdr) || ulen > 1<<62 {
			return hdr, corrupt("lzf lengths %d/%d", clen, ulen)
		}
		end := hdr + int(clen)
		s.kind, s.Len, s.hdr, s.span = strLZF, int64(ulen), hdr, p[:end:end]
		return end, nil
	}
	return 1, corrupt("unknown string encoding %d", enc)
}

// parseLen reads the RDB length at the start of p, as cursor.length does,
// and returns it with its size in bytes.
func parseLen(p []byte) (n uint64, size int, encoded bool, err error) {
	if n, size, ok := shortLen(p); ok {
		return n, size, false, nil
	}
	if len(p) == 0 {
		return 0, 0, false, io.ErrUnexpectedEOF
	}
	b := p[0]
	switch b >> 6 {
	case 0:
		return uint64(b), 1, false, nil
	case 1:
		if len(p) < 2 {
			return 0, 0, false, io.ErrUnexpectedEOF
		}
		return uint64(b&0x3f)<<8 | uint64(p[1]), 2, false, nil
	case 3:
		return uint64(b & 0x3f), 1, true, nil
	}
	switch b {
	case 0x80:
		if len(p) < 5 {
			return 0, 0, false, io.ErrUnexpectedEOF
		}
		return uint64(binary.BigEndian.Uint32(p[1:])), 5, false, nil
	case 0x81:
		if len(p) < 9 {
			return 0, 0, false, io.ErrUnexpectedEOF
		}
		return binary.BigEndian.Uint64(p[1:]), 9, false, nil
	}
	return 0, 0, false, corrupt("unknown length encoding 0x%02x", b)
}

// shortLen reads a length of one or two bytes, most of them, at the start
// of p where it is inlined; ok is false for any other.
func shortLen(p []byte) (n uint64, size int, ok bool) {
	if len(p) < 2 || p[0] >= 0x80 {
		return 0, 0, false
	}
	if p[0] < 0x40 {
		return uint64(p[0]), 1, true
	}
	return uint64(p[0]&0x3f)<<8 | uint64(p[1]), 2, true
}

// parsePlainLen is parseLen for a length that may not be a string
// encoding.
func parsePlainLen(p []byte) (uint64, int, error) {
	if n, size, ok := shortLen(p); ok {
		return n, size, nil
	}
	n, size, enc, err := parseLen(p)
	if err == nil && enc {
		err = corrupt("string encoding %d where a length was expected", n)
	}
	return n, size, err
}

// PayloadBlob returns the layout of the one string of a payload (type byte
// first) of encoding enc: a string value (EncString), or the blob of a
// single-blob encoding (intset, ziplist, listpack or zipmap). What follows
// the string is not checked.
func PayloadBlob(payload []byte, enc Encoding) (StringLayout, error) {
	var s StringLayout
	err := s.ParseBlob(payload, enc)
	return s, err
}

// ParseBlob sets s to the layout PayloadBlob returns, and returns its
// error. It spares copying the layout, for a caller that sizes many
// payloads.
func (s *StringLayout) ParseBlob(payload []byte, enc Encoding) error {
	off := 1
	switch enc {
	case EncString, EncHashZipmap, EncListZiplist, EncSetIntset, EncZSetZiplist, EncHashZiplist,
		EncZSetListpack, EncHashListpack, EncSetListpack, EncHashListpackExPreGA:
	case EncHashListpackEx: // minimum field expiry first
		off += 8
	default:
		return &detailError{"layout of encoding " + enc.String() + " as one string", ErrUnknown}
	}
	if off <= len(payload) {
		if _, err := parseStr(payload[off:], s); err == nil {
			return nil
		}
	}
	// The error, with its offset.
	c := layoutCursor(payload)
	if err := c.skip(uint64(off - 1)); err != nil {
		return layoutErr(&c, err)
	}
	return layoutErr(&c, c.strLayout(s))
}

// Quicklist node containers as WalkQuicklist reports them.
const (
	QuicklistZiplist = 0               // a node of EncListQuicklist: a ziplist
	QuicklistPlain   = quicklistPlain  // a single element (EncListQuicklist2)
	QuicklistPacked  = quicklistPacked // a listpack (EncListQuicklist2)
)

// WalkQuicklist calls fn for each node of a quicklist payload (type byte
// first; EncListQuicklist or EncListQuicklist2) with its container, as
// stored (QUICKLIST_2, not checked) or QuicklistZiplist, and the layout of
// its string (passed by value: it does not escape). It returns the node count of the header; it stops at fn's
// first error and returns it. What follows the nodes is not checked.
func WalkQuicklist(payload []byte, enc Encoding, fn func(container uint64, node StringLayout) error) (nodes uint64, err error) {
	if enc != EncListQuicklist && enc != EncListQuicklist2 {
		return 0, &detailError{"quicklist layout of encoding " + enc.String(), ErrUnknown}
	}
	c := layoutCursor(payload)
	nodes, err = c.plainLen()
	if err != nil {
		return 0, layoutErr(&c, err)
	}
	for i := uint64(0); i < nodes; i++ {
		container := uint64(QuicklistZiplist)
		if enc == EncListQuicklist2 {
			if container, err = c.plainLen(); err != nil {
				return nodes, layoutErr(&c, err)
			}
		}
		var s StringLayout
		if err := c.strLayout(&s); err != nil {
			return nodes, layoutErr(&c, err)
		}
		if err := fn(container, s); err != nil {
			return nodes, err
		}
	}
	return nodes, nil
}

// An ElemLayout reads the elements of a payload whose encoding stores them
// one by one (EncList, EncSet, EncZSet, EncZSet2, EncHash) as string
// layouts, decompressing nothing:
//
//	var l rdb.ElemLayout
//	l.Reset(payload, enc)
//	for l.Next() {
//		... l.Member, l.Value, l.Score
//	}
//	if err := l.Err(); err != nil { ... }
type ElemLayout struct {
	Member StringLayout // list element, set member, zset member, hash field
	Value  StringLayout // hash value
	Score  float64      // zset score

	c     cursor
	enc   Encoding
	n     uint64 // elements left
	count int64
	err   error
}

// Reset prepares l to read payload (type byte first) of encoding enc.
func (l *ElemLayout) Reset(payload []byte, enc Encoding) {
	*l = ElemLayout{c: layoutCursor(payload), enc: enc}
	switch enc {
	case EncList, EncSet, EncZSet, EncZSet2, EncHash:
	default:
		l.err = &detailError{"element layout of encoding " + enc.String(), ErrUnknown}
		return
	}
	var err error
	l.n, err = l.c.plainLen()
	l.err = layoutErr(&l.c, err)
	l.count = int64(min(l.n, 1<<62))
}

// Len returns the element count of the header.
func (l *ElemLayout) Len() int64 { return l.count }

// Next advances to the next element and reports whether there is one; at
// the end it checks that the payload ends there.
func (l *ElemLayout) Next() bool {
	c := &l.c
	if l.n == 0 || l.err != nil {
		l.checkEnd()
		return false
	}
	l.n--
	p := c.buf[c.pos:c.end]
	// The usual element of a set or sorted set, inline: a short plain
	// member (and a binary score).
	if len(p) > 0 && l.enc != EncHash {
		if b := int(p[0]); b < 0x40 && b < len(p) {
			m := &l.Member
			m.Len, m.Int, m.span, m.hdr, m.kind = int64(b), 0, p[:b+1:b+1], 1, strPlain
			switch {
			case l.enc == EncZSet2 && len(p)-(b+1) >= 8:
				l.Score = math.Float64frombits(binary.LittleEndian.Uint64(p[b+1:]))
				c.pos += b + 9
				return true
			case l.enc == EncSet || l.enc == EncList:
				c.pos += b + 1
				return true
			}
		} else if b >= 0xc0 && b <= 0xc2 && (l.enc == EncSet || l.enc == EncList) {
			// An integer member (rdbTryIntegerEncoding), as
			// parseEncodedStr reads it.
			if w := 1 << (b & 3); len(p) > w {
				var v int64
				switch w {
				case 1:
					v = int64(int8(p[1]))
				case 2:
					v = int64(int16(binary.LittleEndian.Uint16(p[1:])))
				default:
					v = int64(int32(binary.LittleEndian.Uint32(p[1:])))
				}
				m := &l.Member
				m.Len, m.Int, m.span, m.hdr, m.kind = decimalLen(v), v, p[:1+w:1+w], 0, strInt
				c.pos += 1 + w
				return true
			}
		}
	}
	k, err := parseStr(p, &l.Member)
	c.pos += k
	if err == nil {
		switch l.enc {
		case EncHash:
			k, err = parseStr(c.buf[c.pos:c.end], &l.Value)
			c.pos += k
		case EncZSet2:
			if c.end-c.pos < 8 {
				err = io.ErrUnexpectedEOF
				break
			}
			l.Score = math.Float64frombits(binary.LittleEndian.Uint64(c.buf[c.pos:]))
			c.pos += 8
		case EncZSet:
			l.Score, err = c.strDouble()
		}
	}
	if err != nil {
		l.err = layoutErr(c, err)
		return false
	}
	return true
}

// checkEnd sets the error of a payload that goes on after its last
// element.
func (l *ElemLayout) checkEnd() {
	if c := &l.c; l.err == nil && c.pos != c.end {
		l.err = layoutErr(c, corrupt("%d bytes after the value", c.end-c.pos))
	}
}

// AppendLens reads the elements left as Next does and appends to dst the
// length of each of their strings: a list element, a set or sorted set
// member (scores are passed over), a hash's field then its value. It is
// for a caller that needs only the lengths: most sets, sorted sets and
// hashes stored this way are too big for the compact encodings, and their
// memory depends on nothing else. Setting Member, Value and Score for each
// element costs more than reading it. Err reports its error; dst then ends
// with the lengths of the elements read before it.
func (l *ElemLayout) AppendLens(dst []int64) []int64 {
	strs, gap := 1, 0 // strings and raw bytes of an element
	switch l.enc {
	case EncHash:
		strs = 2
	case EncZSet2:
		gap = 8
	case EncZSet:
		gap = -1 // a string score: Next reads it
	}
	c := &l.c
	for l.n > 0 && l.err == nil {
		if gap >= 0 {
			// Room for the strings left, as far as the payload
			// can hold them (a byte each at least), in steps.
			room := int(min(l.n*uint64(strs), uint64(c.end-c.pos), 4096))
			dst = slices.Grow(dst, room)
			k, pos := shortLens(dst[len(dst):len(dst)+room], c.buf[:c.end], c.pos, strs, gap)
			dst, c.pos, l.n = dst[:len(dst)+k], pos, l.n-uint64(k/strs)
			if l.n == 0 {
				break
			}
		}
		// An element shortLens does not read: a longer string, an
		// integer or LZF one, a string score, or an error.
		if !l.Next() {
			break
		}
		dst = append(dst, l.Member.Len)
		if strs == 2 {
			dst = append(dst, l.Value.Len)
		}
	}
	l.checkEnd()
	return dst
}

// shortLens reads from buf[pos:] elements made of strs short plain strings
// (the usual element) and gap raw bytes, and writes the lengths of their
// strings to out, as many as it holds. It stops before an element of
// another form or that buf cuts short, and returns the count written and
// the position after the last element read. Its loop keeps what it needs
// in registers, unlike one through the cursor.
func shortLens(out []int64, buf []byte, pos, strs, gap int) (written, end int) {
	i := 0
	for i+strs <= len(out) && pos < len(buf) {
		k := int(buf[pos])
		if k >= 0x40 {
			break
		}
		p := pos + 1 + k
		if strs == 2 { // a hash's value
			if p >= len(buf) || buf[p] >= 0x40 {
				break
			}
			out[i+1] = int64(buf[p])
			p += 1 + int(buf[p])
		}
		out[i] = int64(k)
		if p += gap; p > len(buf) {
			break
		}
		i += strs
		pos = p
	}
	return i, pos
}

// Err returns the first error met, nil at a clean end.
func (l *ElemLayout) Err() error { return l.err }

// A StreamGroupLayout is the layout of a stream's consumer group, as
// StreamWalker reports it. Its ids are views of the payload; the group and
// its slices are reused from one group to the next.
type StreamGroupLayout struct {
	Name      StringLayout
	Pending   [][]byte // the ids of the group's PEL: 16 bytes each, big-endian
	Consumers []StreamConsumerLayout
}

// A StreamConsumerLayout is the layout of a consumer of a group.
type StreamConsumerLayout struct {
	Name    StringLayout
	Pending [][]byte // the ids of the consumer's PEL: 16 bytes each, big-endian
}

// A StreamWalker walks the layout of stream payloads, reusing its memory
// from one to the next. Its zero value is ready to use.
type StreamWalker struct {
	g StreamGroupLayout
}

// Walk walks a stream payload (type byte first; EncStreamListpacks to
// EncStreamListpacks4): it calls node for each listpack node with its key
// (the 16-byte big-endian master id, stored plainly) and the layout of its
// listpack, then group for each consumer group, and returns the stream's
// length (XLEN). It checks that the payload ends after the stream; it
// stops at the first error of node or group and returns it.
func (w *StreamWalker) Walk(payload []byte, enc Encoding, node func(key []byte, listpack StringLayout) error,
	group func(g *StreamGroupLayout) error) (length uint64, err error) {
	if enc.Type() != TypeStream {
		return 0, &detailError{"stream layout of encoding " + enc.String(), ErrUnknown}
	}
	c := layoutCursor(payload)
	length, err = walkStream(&c, enc, &w.g, node, group)
	if err == nil && c.pos != c.end {
		err = corrupt("%d bytes after the value", c.end-c.pos)
	}
	if cb, ok := err.(*callbackError); ok {
		return length, cb.err
	}
	return length, layoutErr(&c, err)
}

// callbackError carries a callback's error through walkStream, to be
// returned unwrapped.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

func walkStream(c *cursor, enc Encoding, g *StreamGroupLayout, node func([]byte, StringLayout) error,
	group func(*StreamGroupLayout) error) (uint64, error) {
	nodes, err := c.plainLen()
	if err != nil {
		return 0, err
	}
	for ; nodes > 0; nodes-- {
		var k, lp StringLayout
		if err := c.strLayout(&k); err != nil {
			return 0, err
		}
		key := k.Plain()
		if key == nil || len(key) != 16 {
			return 0, corrupt("stream node key of %d bytes", k.Len)
		}
		if err := c.strLayout(&lp); err != nil {
			return 0, err
		}
		if err := node(key, lp); err != nil {
			return 0, &callbackError{err}
		}
	}
	length, err := c.plainLen()
	if err != nil {
		return 0, err
	}
	skip := 2 // last_id
	if enc >= EncStreamListpacks2 {
		skip += 5 // first_id, max_deleted_entry_id, entries_added
	}
	if err := skipLens(c, skip); err != nil {
		return length, err
	}
	groups, err := c.plainLen()
	if err != nil {
		return length, err
	}
	for ; groups > 0; groups-- {
		if err := groupLayout(c, enc, g); err != nil {
			return length, err
		}
		if err := group(g); err != nil {
			return length, &callbackError{err}
		}
	}
	if enc >= EncStreamListpacks4 {
		return length, skipStreamV4(c)
	}
	return length, nil
}

// groupLayout reads a consumer group into g, reusing its slices.
func groupLayout(c *cursor, enc Encoding, g *StreamGroupLayout) error {
	if err := c.strLayout(&g.Name); err != nil {
		return err
	}
	k := 2 // last_id
	if enc >= EncStreamListpacks2 {
		k++ // entries_read
	}
	if err := skipLens(c, k); err != nil {
		return err
	}
	pel, err := c.plainLen()
	if err != nil {
		return err
	}
	g.Pending = g.Pending[:0]
	for ; pel > 0; pel-- {
		p, err := c.next(16 + 8) // id, delivery time
		if err != nil {
			return err
		}
		g.Pending = append(g.Pending, p[:16:16])
		if _, err := c.plainLen(); err != nil { // delivery count
			return err
		}
	}
	consumers, err := c.plainLen()
	if err != nil {
		return err
	}
	g.Consumers = g.Consumers[:0]
	for ; consumers > 0; consumers-- {
		if len(g.Consumers) < cap(g.Consumers) {
			g.Consumers = g.Consumers[:len(g.Consumers)+1]
		} else {
			g.Consumers = append(g.Consumers, StreamConsumerLayout{})
		}
		cons := &g.Consumers[len(g.Consumers)-1]
		if err := c.strLayout(&cons.Name); err != nil {
			return err
		}
		times := 8 // seen_time
		if enc >= EncStreamListpacks3 {
			times += 8 // active_time
		}
		if err := c.skip(uint64(times)); err != nil {
			return err
		}
		np, err := c.plainLen()
		if err != nil {
			return err
		}
		if np > uint64(c.end-c.pos)/16 {
			return io.ErrUnexpectedEOF
		}
		cons.Pending = cons.Pending[:0]
		for ; np > 0; np-- {
			p, _ := c.next(16)
			cons.Pending = append(cons.Pending, p)
		}
	}
	return nil
}

// decimalLen returns the length of v in decimal.
func decimalLen(v int64) int64 {
	n := int64(1)
	u := uint64(v)
	if v < 0 {
		n++
		u = -u
	}
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

// lzfHead decodes the first len(out) bytes of the LZF data in, or returns
// nil if in is malformed. See redis/src/lzf_d.c.
func lzfHead(out, in []byte) []byte {
	ip, op := 0, 0
	for op < len(out) {
		if ip >= len(in) {
			return nil
		}
		ctrl := int(in[ip])
		ip++
		if ctrl < 32 { // literal run of ctrl+1 bytes
			n := ctrl + 1
			if ip+n > len(in) {
				return nil
			}
			op += copy(out[op:], in[ip:ip+n])
			ip += n
			continue
		}
		l := ctrl >> 5
		if l == 7 {
			if ip >= len(in) {
				return nil
			}
			l += int(in[ip])
			ip++
		}
		if ip >= len(in) {
			return nil
		}
		ref := op - (ctrl&0x1f)<<8 - 1 - int(in[ip])
		ip++
		if ref < 0 {
			return nil
		}
		for i := 0; i < l+2 && op < len(out); i++ {
			out[op] = out[ref+i]
			op++
		}
	}
	return out
}
