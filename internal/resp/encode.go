package resp

import "strconv"

// Commands can also be encoded ahead of time, into a buffer of the
// caller's, and queued with Conn.AppendEncoded: AppendCommand starts a
// command of n arguments, and as many calls of the AppendArg functions
// give them.
//
//	b = resp.AppendCommand(b, 2)
//	b = resp.AppendArgString(b, "EXISTS")
//	b = resp.AppendArg(b, key)
//	c.AppendEncoded(b, 1)

// AppendCommand appends the header of a command of n arguments to dst.
func AppendCommand(dst []byte, n int) []byte {
	dst = appendLen(append(dst, '*'), n)
	return append(dst, '\r', '\n')
}

// AppendArg appends an argument to dst.
func AppendArg(dst, b []byte) []byte {
	dst = AppendArgHeader(dst, len(b))
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendArgString appends an argument to dst.
func AppendArgString(dst []byte, s string) []byte {
	dst = AppendArgHeader(dst, len(s))
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendArgInt appends an argument to dst, in decimal.
func AppendArgInt(dst []byte, n int64) []byte {
	var b [20]byte
	return AppendArg(dst, strconv.AppendInt(b[:0], n, 10))
}

// AppendArgHeader appends the header of an argument of n bytes to dst,
// for a caller that appends the n bytes itself, then CRLF ("\r\n").
func AppendArgHeader(dst []byte, n int) []byte {
	dst = appendLen(append(dst, '$'), n)
	return append(dst, '\r', '\n')
}

// appendLen appends n, not negative, in decimal: strconv.AppendInt, with
// the lengths below 1000 of most headers written without a call.
func appendLen(dst []byte, n int) []byte {
	switch {
	case n < 10:
		return append(dst, byte('0'+n))
	case n < 100:
		return append(dst, byte('0'+n/10), byte('0'+n%10))
	case n < 1000:
		return append(dst, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
	}
	return strconv.AppendInt(dst, int64(n), 10)
}
