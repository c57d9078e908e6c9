package rdb

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
)

// This file holds the encoding primitives: RDB lengths, strings and
// doubles, and builders for the compact blobs (listpack, ziplist, intset).
// Each appends to a dst slice, as strconv.AppendInt does, and chooses the
// encoding Redis itself would write for the same value.

// AppendLength appends n as an RDB length in its shortest form: 6 bits,
// 14 bits, or 0x80 and 32 bits, or 0x81 and 64 bits (big-endian; the
// 64-bit form needs RDB 8). See redis/src/rdb.c rdbSaveLen.
func AppendLength(dst []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(dst, byte(n))
	case n < 1<<14:
		return append(dst, 0x40|byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0x80), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0x81), n)
}

// AppendString appends s as an RDB string. Like Redis, it writes a string
// of at most 11 bytes that is the canonical decimal form of an integer in
// the int32 range as an integer (1, 2 or 4 bytes), and anything else raw,
// length first. It never compresses. See redis/src/rdb.c rdbSaveRawString
// and rdbTryIntegerEncoding.
func AppendString(dst, s []byte) []byte {
	if len(s) <= 11 {
		if v, ok := canonicalInt(s); ok && v >= math.MinInt32 && v <= math.MaxInt32 {
			return appendEncodedInt(dst, v)
		}
	}
	dst = AppendLength(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendIntString appends the RDB string of the decimal form of v: an
// integer encoding when v fits 32 bits, else the digits. See redis/src/rdb.c
// rdbSaveLongLongAsStringObject.
func appendIntString(dst []byte, v int64) []byte {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		return appendEncodedInt(dst, v)
	}
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], v, 10)
	dst = AppendLength(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendEncodedInt appends v (in the int32 range) as an integer-encoded
// string: 0xC0 + int8, 0xC1 + int16 LE, 0xC2 + int32 LE. See
// redis/src/rdb.c rdbEncodeInteger.
func appendEncodedInt(dst []byte, v int64) []byte {
	switch {
	case v >= math.MinInt8 && v <= math.MaxInt8:
		return append(dst, 0xc0|encInt8, byte(v))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return binary.LittleEndian.AppendUint16(append(dst, 0xc0|encInt16), uint16(v))
	}
	return binary.LittleEndian.AppendUint32(append(dst, 0xc0|encInt32), uint32(v))
}

// AppendBinaryDouble appends f as 8 little-endian IEEE 754 bytes, the form
// of RDB_TYPE_ZSET_2 scores. See redis/src/rdb.c rdbSaveBinaryDoubleValue.
func AppendBinaryDouble(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

// appendStringDouble appends f as a string double (RDB_TYPE_ZSET scores):
// 253 NaN, 254 +inf, 255 -inf, else a length byte and the decimal text.
// Unlike Redis, which writes "%.17g", it writes the shortest text that
// parses back to f, and keeps the sign of -0. See redis/src/rdb.c
// rdbSaveDoubleValue.
func appendStringDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, 253)
	case math.IsInf(f, 1):
		return append(dst, 254)
	case math.IsInf(f, -1):
		return append(dst, 255)
	}
	n := len(dst)
	dst = strconv.AppendFloat(append(dst, 0), f, 'g', -1, 64)
	dst[n] = byte(len(dst) - n - 1)
	return dst
}

// appendScoreText appends the text a ziplist or listpack holds for a zset score:
// an integer where the score is one, else the shortest decimal that parses
// back to it. See redis/src/util.c d2string.
func appendScoreText(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == 0 && math.Signbit(f):
		return append(dst, "-0"...)
	case f == math.Trunc(f) && math.Abs(f) < 1<<53:
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// canonicalInt parses s if it is the canonical decimal form of an int64:
// no sign but '-', no leading zeros, no "-0", at most 20 bytes. This is
// what Redis's string2ll and lpStringToInt64 accept.
func canonicalInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	neg := s[0] == '-'
	d := s
	if neg {
		d = s[1:]
	}
	if len(d) == 0 || d[0] < '0' || d[0] > '9' || (d[0] == '0' && (len(d) > 1 || neg)) {
		return 0, false
	}
	var u uint64
	for _, b := range d {
		if b < '0' || b > '9' {
			return 0, false
		}
		nu := u*10 + uint64(b-'0')
		if nu/10 != u {
			return 0, false
		}
		u = nu
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

// maxBlob is the largest listpack or ziplist built: their headers count
// bytes in 32 bits.
const maxBlob = math.MaxUint32

// A listpackBuilder builds a listpack: total bytes (u32 LE), element count
// (u16 LE, 65535 when there are more than 65534), the entries, 0xFF. Each
// entry takes the smallest encoding that holds it and ends with its
// backlen. See redis/src/listpack.c.
type listpackBuilder struct {
	b []byte
	n int
}

const lpHeaderSize = 6

func (lb *listpackBuilder) reset() {
	lb.b = append(lb.b[:0], make([]byte, lpHeaderSize)...)
	lb.n = 0
}

// appendString appends s, as an integer if it is the canonical decimal
// form of one. See redis/src/listpack.c lpEncodeGetType.
func (lb *listpackBuilder) appendString(s []byte) {
	if v, ok := canonicalInt(s); ok {
		lb.appendInt(v)
		return
	}
	start := len(lb.b)
	switch n := len(s); {
	case n < 64: // 10xxxxxx
		lb.b = append(lb.b, 0x80|byte(n))
	case n < 4096: // 1110xxxx yyyyyyyy
		lb.b = append(lb.b, 0xe0|byte(n>>8), byte(n))
	default: // 11110000 + u32 LE
		lb.b = binary.LittleEndian.AppendUint32(append(lb.b, 0xf0), uint32(n))
	}
	lb.b = append(lb.b, s...)
	lb.end(start)
}

// appendInt appends v in the smallest integer encoding. See
// redis/src/listpack.c lpEncodeGetType.
func (lb *listpackBuilder) appendInt(v int64) {
	start := len(lb.b)
	b := lb.b
	switch {
	case v >= 0 && v <= 127: // 0xxxxxxx
		b = append(b, byte(v))
	case v >= -4096 && v <= 4095: // 110xxxxx yyyyyyyy, 13-bit two's complement
		u := uint16(v) & 0x1fff
		b = append(b, 0xc0|byte(u>>8), byte(u))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		b = binary.LittleEndian.AppendUint16(append(b, 0xf1), uint16(v))
	case v >= -1<<23 && v < 1<<23:
		b = append(b, 0xf2, byte(v), byte(v>>8), byte(v>>16))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		b = binary.LittleEndian.AppendUint32(append(b, 0xf3), uint32(v))
	default:
		b = binary.LittleEndian.AppendUint64(append(b, 0xf4), uint64(v))
	}
	lb.b = b
	lb.end(start)
}

// appendEntry appends an entry as a blob iterator returns it.
func (lb *listpackBuilder) appendEntry(s []byte, v int64, isInt bool) {
	if isInt {
		lb.appendInt(v)
	} else {
		lb.appendString(s)
	}
}

// end appends the backlen of the entry that starts at start. See
// redis/src/listpack.c lpEncodeBacklen.
func (lb *listpackBuilder) end(start int) {
	l := uint64(len(lb.b) - start)
	var buf [5]byte
	n := backlenSize(int(min(l, math.MaxInt32)))
	for i := n - 1; i >= 0; i-- {
		buf[i] = byte(l&127) | 128
		l >>= 7
	}
	buf[0] &= 127 // the first byte (read last, backwards) has no "more" bit
	lb.b = append(lb.b, buf[:n]...)
	lb.n++
}

// finish terminates the listpack, fills in its header and returns it; it
// stays valid until the next reset. It fails if the listpack is larger
// than its 32-bit size field allows.
func (lb *listpackBuilder) finish() ([]byte, error) {
	lb.b = append(lb.b, 0xff)
	if uint64(len(lb.b)) > maxBlob {
		return nil, tooLarge("listpack", uint64(len(lb.b)), maxBlob)
	}
	binary.LittleEndian.PutUint32(lb.b, uint32(len(lb.b)))
	binary.LittleEndian.PutUint16(lb.b[4:], uint16(min(lb.n, 65535)))
	return lb.b, nil
}

// A ziplistBuilder builds a ziplist, for servers older than Redis 7.0:
// total bytes (u32 LE), offset of the last entry (u32 LE), entry count (u16
// LE, 65535 when larger), the entries, 0xFF. Each entry starts with the
// size of the previous one. See redis/src/ziplist.c.
type ziplistBuilder struct {
	b    []byte
	n    int
	prev int // size of the last entry
	tail int // offset of the last entry
}

const zlHeaderSize = 10

func (zb *ziplistBuilder) reset() {
	zb.b = append(zb.b[:0], make([]byte, zlHeaderSize)...)
	zb.n, zb.prev, zb.tail = 0, 0, zlHeaderSize
}

func (zb *ziplistBuilder) len() int { return zb.n }

// begin appends the prevlen field of a new entry and returns its offset.
// See redis/src/ziplist.c zipStorePrevEntryLength.
func (zb *ziplistBuilder) begin() int {
	start := len(zb.b)
	if zb.prev < 254 {
		zb.b = append(zb.b, byte(zb.prev))
	} else {
		zb.b = binary.LittleEndian.AppendUint32(append(zb.b, 0xfe), uint32(zb.prev))
	}
	return start
}

func (zb *ziplistBuilder) end(start int) {
	zb.prev, zb.tail = len(zb.b)-start, start
	zb.n++
}

// appendString appends s, as an integer if it is the canonical decimal
// form of one shorter than 32 bytes. See redis/src/ziplist.c
// zipTryEncoding and zipStoreEntryEncoding.
func (zb *ziplistBuilder) appendString(s []byte) {
	if len(s) < 32 {
		if v, ok := canonicalInt(s); ok {
			zb.appendInt(v)
			return
		}
	}
	start := zb.begin()
	switch n := len(s); {
	case n <= 0x3f: // 00pppppp
		zb.b = append(zb.b, byte(n))
	case n <= 0x3fff: // 01pppppp qqqqqqqq, big-endian
		zb.b = append(zb.b, 0x40|byte(n>>8), byte(n))
	default: // 10000000 + u32 BE
		zb.b = binary.BigEndian.AppendUint32(append(zb.b, 0x80), uint32(n))
	}
	zb.b = append(zb.b, s...)
	zb.end(start)
}

// appendInt appends v in the smallest integer encoding: 4-bit immediate
// (0..12), int8, int16, int24, int32, int64.
func (zb *ziplistBuilder) appendInt(v int64) {
	start := zb.begin()
	b := zb.b
	switch {
	case v >= 0 && v <= 12:
		b = append(b, 0xf1+byte(v))
	case v >= math.MinInt8 && v <= math.MaxInt8:
		b = append(b, 0xfe, byte(v))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		b = binary.LittleEndian.AppendUint16(append(b, 0xc0), uint16(v))
	case v >= -1<<23 && v < 1<<23:
		b = append(b, 0xf0, byte(v), byte(v>>8), byte(v>>16))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		b = binary.LittleEndian.AppendUint32(append(b, 0xd0), uint32(v))
	default:
		b = binary.LittleEndian.AppendUint64(append(b, 0xe0), uint64(v))
	}
	zb.b = b
	zb.end(start)
}

func (zb *ziplistBuilder) appendEntry(s []byte, v int64, isInt bool) {
	if isInt {
		zb.appendInt(v)
	} else {
		zb.appendString(s)
	}
}

// finish terminates the ziplist, fills in its header and returns it; it
// stays valid until the next reset.
func (zb *ziplistBuilder) finish() ([]byte, error) {
	zb.b = append(zb.b, 0xff)
	if uint64(len(zb.b)) > maxBlob {
		return nil, tooLarge("ziplist", uint64(len(zb.b)), maxBlob)
	}
	binary.LittleEndian.PutUint32(zb.b, uint32(len(zb.b)))
	binary.LittleEndian.PutUint32(zb.b[4:], uint32(zb.tail))
	binary.LittleEndian.PutUint16(zb.b[8:], uint16(min(zb.n, 65535)))
	return zb.b, nil
}

// An intsetBuilder collects integers and builds an intset: element width
// (u32 LE: 2, 4 or 8, the smallest that holds every element), count (u32
// LE), the elements sorted and unique, little-endian. See redis/src/intset.c.
type intsetBuilder struct {
	vals []int64
}

func (ib *intsetBuilder) reset()      { ib.vals = ib.vals[:0] }
func (ib *intsetBuilder) add(v int64) { ib.vals = append(ib.vals, v) }
func (ib *intsetBuilder) len() int    { return len(ib.vals) }

// intsetWidthOf returns the element width of an intset whose smallest
// element is lo and largest hi. See redis/src/intset.c _intsetValueEncoding.
func intsetWidthOf(lo, hi int64) int {
	switch {
	case lo < math.MinInt32 || hi > math.MaxInt32:
		return 8
	case lo < math.MinInt16 || hi > math.MaxInt16:
		return 4
	}
	return 2
}

// appendTo sorts and dedupes the integers and appends the intset to dst.
func (ib *intsetBuilder) appendTo(dst []byte) []byte {
	slices.Sort(ib.vals)
	ib.vals = slices.Compact(ib.vals)
	w := 2
	if n := len(ib.vals); n > 0 {
		w = intsetWidthOf(ib.vals[0], ib.vals[n-1])
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(w))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ib.vals)))
	for _, v := range ib.vals {
		switch w {
		case 2:
			dst = binary.LittleEndian.AppendUint16(dst, uint16(v))
		case 4:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		default:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
	}
	return dst
}

// appendBlob appends a blob as an RDB string: length and raw bytes (a
// blob is never integer-encoded, whatever it looks like).
func appendBlob(dst, b []byte) []byte {
	dst = AppendLength(dst, uint64(len(b)))
	return append(dst, b...)
}
