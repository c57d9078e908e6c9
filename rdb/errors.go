package rdb

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Sentinel errors wrapped by [Error]. Test with errors.Is.
var (
	ErrNotRDB   = errors.New("rdb: not an RDB file")
	ErrVersion  = errors.New("rdb: unsupported RDB version")
	ErrCorrupt  = errors.New("rdb: corrupt input")
	ErrChecksum = errors.New("rdb: checksum mismatch")
	ErrTooLarge = errors.New("rdb: too large for the reader's limits")
	ErrUnknown  = errors.New("rdb: unknown type or opcode")
)

// An Error reports where decoding failed. Err is one of the sentinel errors
// above, io.ErrUnexpectedEOF for a truncated input, or the error returned by
// the underlying reader.
type Error struct {
	Offset int64  // input offset of the field that failed
	Key    string // key being decoded (a copy), "" outside keys
	Field  string // what was being read: "length", "lzf", "listpack entry", ...
	Detail string // extra explanation, may be ""
	Err    error
}

func (e *Error) Error() string {
	b := []byte("rdb: ")
	if e.Err == io.ErrUnexpectedEOF {
		b = append(b, "truncated at offset "...)
	} else {
		b = append(b, "offset "...)
	}
	b = strconv.AppendInt(b, e.Offset, 10)
	if e.Key != "" {
		b = append(b, ": key "...)
		b = strconv.AppendQuote(b, e.Key)
	}
	if e.Field != "" {
		b = append(b, ": "...)
		b = append(b, e.Field...)
	}
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	if e.Err != io.ErrUnexpectedEOF {
		b = append(b, ": "...)
		msg := e.Err.Error()
		if len(msg) > 5 && msg[:5] == "rdb: " {
			msg = msg[5:]
		}
		b = append(b, msg...)
	}
	return string(b)
}

func (e *Error) Unwrap() error { return e.Err }

// corrupt returns an ErrCorrupt with a formatted detail; the caller's
// wrapper fills in the offset and key.
func corrupt(format string, args ...any) error {
	return &detailError{fmt.Sprintf(format, args...), ErrCorrupt}
}

// detailError carries an explanation and a sentinel up to the point where
// the offset and key are known.
type detailError struct {
	detail string
	err    error
}

func (e *detailError) Error() string { return e.detail + ": " + e.err.Error() }
func (e *detailError) Unwrap() error { return e.err }
