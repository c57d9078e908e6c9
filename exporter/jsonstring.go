package exporter

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// This file writes long byte strings as lossless JSON (see AppendString)
// in bounded pieces: strings in memory that are too long to encode in one
// go, and strings that a streamed value delivers piece by piece
// (rdb.Elem.More), whose form (JSON string or {"base64":...}) is only
// known once a byte that is not UTF-8 shows up, or at their end.

// Slices in which long strings are encoded: bigString bytes of text, and a
// multiple of 3 for base64 so that no padding falls in the middle.
const (
	bigString = 32 << 10
	b64Slice  = 24 << 10
)

// strState is the state of the streamed string being written.
type strState struct {
	open    bool   // a streamed string is being written
	b64     bool   // it is not UTF-8: its base64 is being written
	held    []byte // bytes held while it is UTF-8 so far, after those in the spill file
	spilled int64  // bytes held in the spill file
	part    [utf8.UTFMax]byte
	npart   int // part[:npart] is an incomplete rune at the end of the bytes so far
	carry   [utf8.UTFMax]byte
	ncarry  int // carry[:ncarry]: bytes not yet encoded (an incomplete rune, or base64's remainder)
}

// bytes appends s as a complete lossless JSON string.
func (j *jsonEnc) bytes(s []byte) error {
	if len(s) <= bigString {
		j.buf = AppendString(j.buf, s)
		return nil
	}
	if !utf8.Valid(s) {
		return j.base64(s)
	}
	j.buf = append(j.buf, '"')
	j.str.ncarry = 0
	if err := j.text(s); err != nil {
		return err
	}
	j.buf = append(j.buf, '"')
	return nil
}

// base64 appends {"base64":"..."} for s, whatever s holds.
func (j *jsonEnc) base64(s []byte) error {
	j.buf = append(j.buf, `{"base64":"`...)
	j.str.ncarry = 0
	if err := j.b64(s); err != nil {
		return err
	}
	j.b64End()
	return nil
}

// piece appends p, a piece of a string that continues in the next piece
// if more is set. A string in one piece is written at once.
func (j *jsonEnc) piece(p []byte, more bool) error {
	st := &j.str
	if !st.open {
		if !more {
			if err := j.bytes(p); err != nil {
				return err
			}
			return j.maybeFlush()
		}
		*st = strState{open: true, held: st.held[:0]}
	}
	var err error
	switch {
	case st.b64:
		err = j.b64(p)
	case st.validSoFar(p):
		err = j.hold(p)
	default:
		if err = j.toBase64(); err == nil {
			err = j.b64(p)
		}
	}
	if err == nil && !more {
		err = j.endPiece()
	}
	if err != nil {
		return err
	}
	return j.maybeFlush()
}

// endPiece ends the streamed string after its last piece.
func (j *jsonEnc) endPiece() error {
	st := &j.str
	st.open = false
	if !st.b64 && st.npart > 0 { // it ends inside a rune
		if err := j.toBase64(); err != nil {
			return err
		}
	}
	if st.b64 {
		j.b64End()
		return nil
	}
	j.buf = append(j.buf, '"')
	st.ncarry = 0
	if err := j.replay(j.text); err != nil {
		return err
	}
	j.buf = append(j.buf, '"')
	return nil
}

// toBase64 starts {"base64":" and writes the bytes held so far.
func (j *jsonEnc) toBase64() error {
	j.str.b64 = true
	j.str.ncarry = 0
	j.buf = append(j.buf, `{"base64":"`...)
	return j.replay(j.b64)
}

// validSoFar reports whether the string stays valid UTF-8 with p
// appended, allowing an incomplete rune at the end.
func (st *strState) validSoFar(p []byte) bool {
	for st.npart > 0 && len(p) > 0 {
		st.part[st.npart] = p[0]
		st.npart++
		p = p[1:]
		if utf8.FullRune(st.part[:st.npart]) {
			r, n := utf8.DecodeRune(st.part[:st.npart])
			if r == utf8.RuneError && n == 1 || n != st.npart {
				return false
			}
			st.npart = 0
		}
	}
	if len(p) == 0 {
		return true
	}
	k := partialRune(p)
	if !utf8.Valid(p[:len(p)-k]) {
		return false
	}
	st.npart = copy(st.part[:], p[len(p)-k:])
	return true
}

// partialRune returns the length of the incomplete rune that ends p, if
// its bytes can still begin a valid rune, else 0.
func partialRune(p []byte) int {
	for k := 1; k < utf8.UTFMax && k <= len(p); k++ {
		b := p[len(p)-k]
		if b < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(b) {
			if utf8.FullRune(p[len(p)-k:]) {
				return 0
			}
			return k
		}
	}
	return 0
}

// hold keeps p until the string's form is known: in memory, then in the
// spill file once holdMax bytes are held.
func (j *jsonEnc) hold(p []byte) error {
	st := &j.str
	st.held = append(st.held, p...)
	if len(st.held) < j.holdMax {
		return nil
	}
	if j.spill == nil {
		f, err := os.CreateTemp(j.tempDir, "rdbkit-export-*.tmp")
		if err != nil {
			return fmt.Errorf("exporter: temporary file for a long string: %w", err)
		}
		_ = os.Remove(f.Name()) // where the system allows it; Close tries again
		j.spill = f
	}
	if _, err := j.spill.Write(st.held); err != nil {
		return fmt.Errorf("exporter: temporary file for a long string: %w", err)
	}
	st.spilled += int64(len(st.held))
	st.held = st.held[:0]
	return nil
}

// replay passes the held bytes to sink, in order, and forgets them.
func (j *jsonEnc) replay(sink func([]byte) error) error {
	st := &j.str
	if st.spilled > 0 {
		if _, err := j.spill.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("exporter: temporary file for a long string: %w", err)
		}
		if j.rbuf == nil {
			j.rbuf = make([]byte, 256<<10)
		}
		for left := st.spilled; left > 0; {
			n, err := io.ReadFull(j.spill, j.rbuf[:min(left, int64(len(j.rbuf)))])
			if err != nil {
				return fmt.Errorf("exporter: temporary file for a long string: %w", err)
			}
			left -= int64(n)
			if err := sink(j.rbuf[:n]); err != nil {
				return err
			}
		}
		if err := j.spill.Truncate(0); err != nil {
			return fmt.Errorf("exporter: temporary file for a long string: %w", err)
		}
		if _, err := j.spill.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("exporter: temporary file for a long string: %w", err)
		}
		st.spilled = 0
	}
	err := sink(st.held)
	st.held = st.held[:0]
	return err
}

// text appends the escaped bytes of p, a piece of a valid UTF-8 string,
// without quotes, keeping an incomplete rune at its end for the next piece.
func (j *jsonEnc) text(p []byte) error {
	st := &j.str
	if st.ncarry > 0 {
		for len(p) > 0 && !utf8.FullRune(st.carry[:st.ncarry]) {
			st.carry[st.ncarry] = p[0]
			st.ncarry++
			p = p[1:]
		}
		if !utf8.FullRune(st.carry[:st.ncarry]) {
			return nil
		}
		j.buf, _ = appendStringBody(j.buf, st.carry[:st.ncarry])
		st.ncarry = 0
	}
	for len(p) > 0 {
		k := len(p)
		if k > bigString {
			k = bigString
			for k > 0 && !utf8.RuneStart(p[k]) {
				k--
			}
		} else {
			k -= partialRune(p)
		}
		if k == 0 {
			break
		}
		j.buf, _ = appendStringBody(j.buf, p[:k])
		p = p[k:]
		if err := j.maybeFlush(); err != nil {
			return err
		}
	}
	st.ncarry = copy(st.carry[:], p)
	return nil
}

// b64 appends the base64 of p, a piece of a string, keeping the last
// bytes that do not make a group of 3 for the next piece.
func (j *jsonEnc) b64(p []byte) error {
	st := &j.str
	if st.ncarry > 0 {
		for st.ncarry < 3 && len(p) > 0 {
			st.carry[st.ncarry] = p[0]
			st.ncarry++
			p = p[1:]
		}
		if st.ncarry < 3 {
			return nil
		}
		j.buf = base64.StdEncoding.AppendEncode(j.buf, st.carry[:3])
		st.ncarry = 0
	}
	for len(p) >= 3 {
		k := min(len(p)/3*3, b64Slice)
		j.buf = base64.StdEncoding.AppendEncode(j.buf, p[:k])
		p = p[k:]
		if err := j.maybeFlush(); err != nil {
			return err
		}
	}
	st.ncarry = copy(st.carry[:], p)
	return nil
}

// b64End appends the last, padded, group and closes {"base64":"...".
func (j *jsonEnc) b64End() {
	st := &j.str
	j.buf = base64.StdEncoding.AppendEncode(j.buf, st.carry[:st.ncarry])
	st.ncarry = 0
	j.buf = append(j.buf, `"}`...)
}
