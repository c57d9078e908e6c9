package exporter

import "math/bits"

// This file models the allocator and the small C structures that a key's
// memory is made of: jemalloc size classes, sds headers, listpack entries
// and the sizes of Redis's structs on a 64-bit build.

// smallClasses8 are jemalloc's small size classes with an 8-byte quantum
// (--with-lg-quantum=3), the allocator Redis builds from its own deps/
// (deps/Makefile): 8-byte steps up to 64, then four classes in each
// doubling, up to the largest small class for 4 KiB pages (14336).
var smallClasses8 = [...]int64{
	8, 16, 24, 32, 40, 48, 56, 64,
	80, 96, 112, 128,
	160, 192, 224, 256,
	320, 384, 448, 512,
	640, 768, 896, 1024,
	1280, 1536, 1792, 2048,
	2560, 3072, 3584, 4096,
	5120, 6144, 7168, 8192,
	10240, 12288, 14336,
}

// smallClasses16 are the small size classes with jemalloc's default 16-byte
// quantum, which a system jemalloc has (the redis-server of Debian and
// Ubuntu links libjemalloc2): 8, then 16-byte steps up to 128.
var smallClasses16 = [...]int64{
	8, 16, 32, 48, 64,
	80, 96, 112, 128,
	160, 192, 224, 256,
	320, 384, 448, 512,
	640, 768, 896, 1024,
	1280, 1536, 1792, 2048,
	2560, 3072, 3584, 4096,
	5120, 6144, 7168, 8192,
	10240, 12288, 14336,
}

// largeMin is the smallest large size class (4 KiB pages).
const largeMin = 16384

// allocator rounds requests up to what jemalloc hands out, as zmalloc_size
// and zmalloc_usable report it.
type allocator struct {
	small []int64
	// lookup[(n+7)/8] is the class of a request of n <= 1024 bytes.
	lookup [129]int64
	// sdsSmall[n] is sds(n) for n < len(sdsSmall), the length of most
	// members, fields and values: sds is called for each.
	sdsSmall [256]int64
}

func newAllocator(quantum int) *allocator {
	a := &allocator{small: smallClasses8[:]}
	if quantum == 16 {
		a.small = smallClasses16[:]
	}
	i := 0
	for k := range a.lookup {
		n := int64(k) * 8
		for a.small[i] < n {
			i++
		}
		a.lookup[k] = a.small[i]
	}
	for n := range a.sdsSmall {
		a.sdsSmall[n] = a.class(sdsHeader(int64(n)) + int64(n) + 1)
	}
	return a
}

// class returns the size class of a request of n bytes: the smallest small
// class that holds it, or, from 16 KiB on, jemalloc's large classes, four
// in each doubling (16K, 20K, 24K, 28K, 32K, 40K, ...).
func (a *allocator) class(n int64) int64 {
	switch {
	case n <= 0:
		return 0
	case n <= 1024:
		return a.lookup[(n+7)>>3]
	case n <= a.small[len(a.small)-1]:
		lo, hi := 0, len(a.small)-1
		for lo < hi {
			m := (lo + hi) / 2
			if a.small[m] < n {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return a.small[lo]
	case n <= largeMin:
		return largeMin
	}
	// 2^p < n <= 2^(p+1): the classes of that doubling are 2^p/4 apart.
	p := bits.Len64(uint64(n-1)) - 1
	step := int64(1) << (p - 2)
	return (n + step - 1) / step * step
}

// sdsHeader returns the header size of an sds string of length n as
// sdsnewlen makes it: sdshdr5 below 32 bytes (sdshdr8 for the empty
// string), then sdshdr8, 16, 32 or 64. See redis/src/sds.c sdsReqType.
func sdsHeader(n int64) int64 {
	switch {
	case n == 0:
		return 3
	case n < 1<<5:
		return 1
	case n < 1<<8:
		return 3
	case n < 1<<16:
		return 5
	case n < 1<<32:
		return 9
	}
	return 17
}

// sds returns the allocation of an sds string of n bytes made by sdsnewlen
// (sdsZmallocSize): header, bytes and the terminating NUL.
func (a *allocator) sds(n int64) int64 {
	if uint64(n) < uint64(len(a.sdsSmall)) {
		return a.sdsSmall[n]
	}
	return a.sdsLarge(n)
}

// sdsLarge is sds for a string longer than sdsSmall holds.
func (a *allocator) sdsLarge(n int64) int64 { return a.class(sdsHeader(n) + n + 1) }

// rawSDS is sds for the string of a raw string object, which is longer than
// 44 bytes and never uses sdshdr5.
func (a *allocator) rawSDS(n int64) int64 {
	h := sdsHeader(n)
	if h == 1 {
		h = 3
	}
	return a.class(h + n + 1)
}

// Sizes of Redis structs on a 64-bit build (sizeof, not allocations: the
// MEMORY USAGE code adds them as is). See redis/src/server.h, dict.h,
// quicklist.h, stream.h and rax.h.
const (
	sizeRobj          = 16 // robj: type, encoding, lru, refcount, ptr
	sizeDictEntry     = 24 // dictEntry: key, v, next
	sizeDict          = 56 // dict (7.0): type, ht_table[2], ht_used[2], rehashidx, pauserehash, ht_size_exp[2]
	sizeBucket        = 8  // a dictEntry* of a bucket array
	sizeQuicklist     = 40 // quicklist: head, tail, count, len, fill/compress/bookmark bits
	sizeQuicklistNode = 40 // quicklistNode: prev, next, entry, sz, bit fields
	sizeZSet          = 16 // zset: dict, zsl
	sizeZSkiplist     = 32 // zskiplist: header, tail, length, level
	sizeZSLNodeBase   = 24 // zskiplistNode without levels: ele, score, backward
	sizeZSLLevel      = 16 // zskiplistLevel: forward, span
	zslMaxLevel       = 32 // ZSKIPLIST_MAXLEVEL
	sizeStream        = 80 // stream (7.0): rax, length, last_id, first_id, max_deleted_entry_id, entries_added, cgroups
	sizeStreamCG      = 40 // streamCG: last_id, entries_read, pel, consumers
	sizeStreamNACK    = 24 // streamNACK: delivery_time, delivery_count, consumer
	sizeStreamID      = 16 // streamID
	sizeRaxNode       = 4  // raxNode header
	embstrMax         = 44 // OBJ_ENCODING_EMBSTR_SIZE_LIMIT
	sharedIntegers    = 10000
)

// dictBuckets returns the bucket count of a dict holding n entries, grown
// by inserts or expanded to n on load: the smallest power of two >= n,
// at least 4 (DICT_HT_INITIAL_SIZE). See redis/src/dict.c _dictNextExp.
func dictBuckets(n int64) int64 {
	b := int64(4)
	for b < n {
		b <<= 1
	}
	return b
}

// dictSlots returns dictSlots() of a dict of n entries that was expanded
// to hold presize entries (0: not presized) and grew by inserts from there.
// A dict doubles when an insert finds it full (load factor 1); the old
// table is then rehashed one bucket per later insert, and until that ends
// both tables count. About 63% of the old table's buckets are not empty
// (1-1/e). See redis/src/dict.c _dictExpandIfNeeded and _dictRehashStep.
func dictSlots(n, presize int64) int64 {
	start := dictBuckets(presize)
	size := dictBuckets(n)
	if size <= start {
		return start
	}
	old := size / 2
	if n-old-1 < (old*632+999)/1000 {
		return size + old
	}
	return size
}

// lpEntrySize returns the bytes a listpack entry takes for s: an integer
// encoding when s is the canonical decimal form of an int64 (as lpAppend
// tries with lpStringToInt64), else a string encoding; plus its backlen.
// See redis/src/listpack.c lpEncodeGetType.
func lpEntrySize(s []byte) int64 {
	if v, ok := parseInt(s); ok {
		return lpIntSize(v)
	}
	return lpStrSize(int64(len(s)))
}

// lpStrSize returns the bytes of a listpack string entry of n bytes with
// its backlen.
func lpStrSize(n int64) int64 {
	var enc int64
	switch {
	case n < 64:
		enc = 1 + n
	case n < 4096:
		enc = 2 + n
	default:
		enc = 5 + n
	}
	return enc + lpBacklen(enc)
}

// lpIntSize returns the bytes of a listpack integer entry with its backlen.
func lpIntSize(v int64) int64 {
	switch {
	case v >= 0 && v <= 127:
		return 2
	case v >= -4096 && v <= 4095:
		return 3
	case v >= -32768 && v <= 32767:
		return 4
	case v >= -8388608 && v <= 8388607:
		return 5
	case v >= -2147483648 && v <= 2147483647:
		return 6
	}
	return 10
}

func lpBacklen(l int64) int64 {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

const (
	lpHeader = 6 // total bytes u32, count u16
	lpEnd    = 1 // 0xff
)

// parseInt parses s as Redis's string2ll does: the canonical decimal form
// of an int64 (no sign but '-', no leading zeros, no "-0", at most 20
// bytes).
func parseInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	neg := s[0] == '-'
	d := s
	if neg {
		d = s[1:]
	}
	if len(d) == 0 || d[0] < '1' || d[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, b := range d {
		if b < '0' || b > '9' {
			return 0, false
		}
		if v > (1<<64-1)/10 {
			return 0, false
		}
		nv := v*10 + uint64(b-'0')
		if nv < v*10 {
			return 0, false
		}
		v = nv
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// intsetWidth returns the element width of an intset holding v.
func intsetWidth(v int64) int64 {
	switch {
	case v >= -32768 && v <= 32767:
		return 2
	case v >= -2147483648 && v <= 2147483647:
		return 4
	}
	return 8
}
