package rdb

import (
	"math"
	"math/bits"
	"strconv"
)

// smallDecimals holds the decimal text of 0..smallDecimalMax, each in a
// 4-byte slot: integers in listpacks, ziplists and intsets are mostly small,
// and a view of this table saves formatting them again and again.
const smallDecimalMax = 9999

var smallDecimals = func() []byte {
	b := make([]byte, 4*(smallDecimalMax+1))
	for i := 0; i <= smallDecimalMax; i++ {
		strconv.AppendInt(b[4*i:4*i], int64(i), 10)
	}
	return b
}()

// appendDecimal returns the decimal text of n: a read-only view of
// smallDecimals (capacity = length, so that an append copies it) for small
// values, else n formatted into dst[:0].
func appendDecimal(dst []byte, n int64) []byte {
	if n < 0 || n > smallDecimalMax {
		return strconv.AppendInt(dst[:0], n, 10)
	}
	k := 1
	switch {
	case n >= 1000:
		k = 4
	case n >= 100:
		k = 3
	case n >= 10:
		k = 2
	}
	i := 4 * int(n)
	return smallDecimals[i : i+k : i+k]
}

// parseFloat is strconv.ParseFloat(string(s), 64) for zset scores stored
// as text, with a quicker way for what Redis writes there ("%.17g" of a
// double that is not an integer: "90.890965429999994"). See
// redis/src/util.c d2string.
func parseFloat(s []byte) (float64, error) {
	if f, ok := parsePlainDecimal(s); ok {
		return f, nil
	}
	return strconv.ParseFloat(string(s), 64)
}

// pow10 holds the powers of ten that are exact in both uint64 and float64.
var pow10 = func() (p [20]struct {
	u uint64
	f float64
}) {
	for i, u := 0, uint64(1); i < len(p); i, u = i+1, u*10 {
		p[i].u, p[i].f = u, float64(u)
	}
	return p
}()

// parsePlainDecimal parses [-]digits[.digits], with at most 19 digits
// from the first nonzero one and 19 after the point, as m/10^k, when it can
// be sure of the double nearest to it: m and 10^k are exact doubles
// (Clinger's fast path), or m/10^k computed in doubles is less than half a
// unit in the last place from it, which 128-bit integers tell. ok is false
// otherwise, for the caller to parse s another way.
func parsePlainDecimal(s []byte) (f float64, ok bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	var m uint64
	i := 0
	for ; i < len(s) && s[i]-'0' <= 9; i++ {
		m = m*10 + uint64(s[i]-'0')
	}
	digits, k := i, 0 // k: digits after the point
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i]-'0' <= 9; i++ {
			m = m*10 + uint64(s[i]-'0')
		}
		k = i - digits - 1
		digits += k
		if k == 0 {
			return 0, false
		}
	}
	if i < len(s) || digits == 0 || k >= len(pow10) || digits > 19 && digits-leadingZeros(s) > 19 {
		return 0, false
	}
	switch {
	case m == 0:
	case m < 1<<53:
		f = float64(m) / pow10[k].f
	default:
		f = float64(m) / pow10[k].f
		if !nearest(f, m, k) {
			return 0, false
		}
	}
	if neg {
		f = -f
	}
	return f, true
}

// leadingZeros counts the zeros before the first nonzero digit of s.
func leadingZeros(s []byte) int {
	n := 0
	for _, c := range s {
		switch c {
		case '0':
			n++
		case '.':
		default:
			return n
		}
	}
	return n
}

// nearest reports whether the double f is less than half a unit in the
// last place from m/10^k, and so the double nearest to it; false when it
// cannot tell: f a power of two (the unit below it is half the unit
// above), an integer, or a sum past 128 bits.
func nearest(f float64, m uint64, k int) bool {
	b := math.Float64bits(f)
	mant, e := b&(1<<52-1)|1<<52, 1075-int(b>>52&0x7ff) // f = mant / 2^e
	if mant == 1<<52 || e <= 0 || e >= 127 {
		return false
	}
	// |m/10^k - mant/2^e| < 1/2^(e+1), times 2^(e+1) * 10^k:
	// |m * 2^(e+1) - 2*mant * 10^k| < 10^k.
	var aHi, aLo uint64
	if s := uint(e + 1); s < 64 {
		aHi, aLo = m>>(64-s), m<<s
	} else {
		if m>>(128-s) != 0 {
			return false
		}
		aHi = m << (s - 64)
	}
	bHi, bLo := bits.Mul64(2*mant, pow10[k].u)
	dLo, borrow := bits.Sub64(aLo, bLo, 0)
	dHi, _ := bits.Sub64(aHi, bHi, borrow)
	if int64(dHi) < 0 { // negate the difference
		dLo, borrow = bits.Sub64(0, dLo, 0)
		dHi, _ = bits.Sub64(0, dHi, borrow)
	}
	return dHi == 0 && dLo < pow10[k].u
}
