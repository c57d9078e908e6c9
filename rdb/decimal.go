package rdb

import "strconv"

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
