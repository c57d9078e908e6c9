// Package exporter writes the entries of an RDB stream offline: JSON Lines,
// JSON, CSV, RESP, memory reports and RDB files.
//
// This file holds the lossless JSON encoding that every JSON output of
// rdbkit shares (see DESIGN.md, "JSON output is lossless"): a byte string
// that is valid UTF-8 is a JSON string, any other one is {"base64":"..."};
// a score is a JSON number, except the infinities and NaN, which are the
// strings "inf", "-inf" and "nan".
package exporter

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/rdbkit/rdbkit/rdb"
)

const hexDigits = "0123456789abcdef"

// safe[b] is true for the ASCII bytes that stand for themselves inside a
// JSON string: everything from 0x20 to 0x7f except '"' and '\\'.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendString appends to dst the lossless JSON form of the byte string s
// and returns the extended buffer. If s is valid UTF-8 it is a JSON string:
// '"' and '\\' are escaped, control characters are written as \b, \f, \n,
// \r, \t or \u00XX, and U+2028 and U+2029 as \u2028 and \u2029 (so that the
// output is also valid JavaScript). Any other s is written as
// {"base64":"..."} with the standard, padded alphabet.
//
// Unlike encoding/json, '<', '>' and '&' are not escaped. AppendString does
// not allocate when dst has room for the result.
func AppendString(dst, s []byte) []byte {
	start := len(dst)
	dst, ok := appendStringBody(append(dst, '"'), s)
	if !ok {
		return appendBase64(dst[:start], s)
	}
	return append(dst, '"')
}

// appendStringBody appends the inside of the JSON string of s (escaped, no
// quotes) and reports whether s is valid UTF-8; if it is not, what it
// appended is to be discarded. A valid UTF-8 string cut at rune boundaries
// gives the same bytes piece by piece as whole.
func appendStringBody(dst, s []byte) ([]byte, bool) {
	from := 0 // s[from:i] is pending, to be copied as is
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[from:i]...)
			dst = appendEscape(dst, b)
			i++
			from = i
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			return dst, false
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[from:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
			from = i + n
		}
		i += n
	}
	return append(dst, s[from:]...), true
}

// appendText is AppendString for a short Go string such as an encoding
// name: the conversion stays on the stack for up to 32 bytes.
func appendText(dst []byte, s string) []byte {
	return AppendString(dst, []byte(s))
}

// appendEscape appends the JSON escape of an ASCII byte that may not stand
// for itself in a JSON string.
func appendEscape(dst []byte, b byte) []byte {
	switch b {
	case '"', '\\':
		return append(dst, '\\', b)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
}

func appendBase64(dst, s []byte) []byte {
	dst = append(dst, `{"base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, s)
	return append(dst, '"', '}')
}

// AppendScore appends to dst a sorted set score (or any float64) as JSON:
// the shortest decimal that parses back to f, as a JSON number, in the
// notation of encoding/json and JavaScript (plain digits from 1e-6 up to
// 1e21, exponent form outside: 1e+308, 5e-324). Negative zero is -0. The
// infinities and NaN, which JSON numbers cannot express, are the strings
// "inf", "-inf" and "nan", as Redis writes them.
func AppendScore(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, `"inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-inf"`...)
	case math.IsNaN(f):
		return append(dst, `"nan"`...)
	}
	fmt := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, fmt, -1, 64)
	if fmt == 'e' {
		// Like encoding/json: 1e-07 becomes 1e-7.
		if n := len(dst) - start; n >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// AppendKeyRecord appends to dst the JSON object that `rdbkit keys --json`
// writes for a key, without a trailing newline:
//
//	{"db":0,"key":"k","type":"hash","encoding":"listpack","expire_at":1767225600000,"size":123}
//
// key is lossless (see AppendString); encoding is [rdb.Entry.ObjectEncoding];
// expire_at is the absolute expiry in Unix ms, or null; size is the length of
// the serialized value (len(e.Payload)), or null for a streamed entry whose
// payload was too large to keep. It is the record of `export --format jsonl`
// without "value" and with "size". e must be a key (rdb.KindKey).
func AppendKeyRecord(dst []byte, e *rdb.Entry) []byte {
	dst = appendKeyHead(dst, e)
	dst = append(dst, `,"size":`...)
	if e.Payload == nil {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, int64(len(e.Payload)), 10)
	}
	return append(dst, '}')
}

// appendKeyHead appends the fields that every key record starts with, from
// the opening brace to expire_at's value: {"db":0,"key":"k","type":"hash",
// "encoding":"listpack","expire_at":null
func appendKeyHead(dst []byte, e *rdb.Entry) []byte {
	dst = append(dst, `{"db":`...)
	dst = strconv.AppendInt(dst, int64(e.DB), 10)
	dst = append(dst, `,"key":`...)
	dst = AppendString(dst, e.Key)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, e.Type.String()...)
	dst = append(dst, `","encoding":`...)
	dst = appendText(dst, e.ObjectEncoding())
	dst = append(dst, `,"expire_at":`...)
	return appendExpiry(dst, e.ExpireAt)
}

// appendExpiry appends an absolute expiry in ms, or null for 0 (none).
func appendExpiry(dst []byte, ms int64) []byte {
	if ms == 0 {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, ms, 10)
}
