package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rdbkit/rdbkit/exporter"
	"github.com/rdbkit/rdbkit/rdb"
)

// appendKeyText appends a byte string (a key, an aux field) for text
// output, losslessly and unambiguously: as is when it is non-empty,
// printable UTF-8 (strconv.IsPrint: no tab, newline or other control or
// invisible character) and does not start with '"'; otherwise Go-quoted
// (strconv.Quote, which strconv.Unquote reverses to the same bytes).
func appendKeyText(dst, s []byte) []byte {
	if plain(s) {
		return append(dst, s...)
	}
	return strconv.AppendQuote(dst, string(s))
}

func plain(s []byte) bool {
	if len(s) == 0 || s[0] == '"' {
		return false
	}
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

// msTime returns an absolute time in Unix ms as RFC 3339 UTC with
// milliseconds: 2026-01-01T00:00:00.000Z.
func msTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// appendExpiryText appends an expiry for text output: msTime, or "-" for
// none.
func appendExpiryText(dst []byte, ms int64) []byte {
	if ms == 0 {
		return append(dst, '-')
	}
	return time.UnixMilli(ms).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
}

// byteSize formats n bytes with a binary unit: 1.5 MiB.
func byteSize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i:i+1] + "iB"
}

// jsonBytes is a byte string in rdbkit's lossless JSON form (see
// exporter.AppendString).
type jsonBytes []byte

func (b jsonBytes) MarshalJSON() ([]byte, error) {
	return exporter.AppendString(nil, b), nil
}

// UnmarshalJSON reads a JSON string or {"base64":"..."}.
func (b *jsonBytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*b = jsonBytes(s)
		return nil
	}
	var obj struct {
		Base64 *[]byte `json:"base64"`
	}
	if err := json.Unmarshal(data, &obj); err != nil || obj.Base64 == nil {
		return errors.New("want a JSON string or {\"base64\":...}")
	}
	*b = *obj.Base64
	return nil
}

// writeJSON writes v as indented JSON, without escaping <, > and &.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// errorInfo describes a decoding error in JSON output.
type errorInfo struct {
	Offset  *int64    `json:"offset"` // nil when the error has none (a read error)
	Key     jsonBytes `json:"key,omitempty"`
	Field   string    `json:"field,omitempty"`
	Message string    `json:"message"`
}

func newErrorInfo(err error) *errorInfo {
	info := &errorInfo{Message: err.Error()}
	var re *rdb.Error
	if errors.As(err, &re) {
		off := re.Offset
		info.Offset = &off
		if re.Key != "" {
			info.Key = jsonBytes(re.Key)
		}
		info.Field = re.Field
	}
	return info
}

// checksumState names what became of the CRC64 at the end of the input:
// rdb.ChecksumState, or "mismatch" when err is rdb.ErrChecksum (the Reader
// then still says ChecksumNone).
func checksumState(r *rdb.Reader, err error) string {
	if errors.Is(err, rdb.ErrChecksum) {
		return "mismatch"
	}
	_, _, st := r.Checksum()
	return st.String()
}

// A lockedWriter serializes the writes of several goroutines to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newLockedWriter(w io.Writer) *lockedWriter {
	if lw, ok := w.(*lockedWriter); ok {
		return lw
	}
	return &lockedWriter{w: w}
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// isTerminal reports whether w (or the writer a lockedWriter wraps) is a
// terminal.
func isTerminal(w io.Writer) bool {
	if lw, ok := w.(*lockedWriter); ok {
		w = lw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startLiveProgress prints line() on w until the returned function is
// called: a line rewritten in place every 250 ms on a terminal, else a
// line every 10 s (or every period, if not 0).
func startLiveProgress(w io.Writer, every time.Duration, line func() string) func() {
	term := isTerminal(w)
	if every == 0 {
		every = 10 * time.Second
		if term {
			every = 250 * time.Millisecond
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if term {
					fmt.Fprintf(w, "\r%s\x1b[K\n", line())
				}
				return
			case <-t.C:
				if term {
					fmt.Fprintf(w, "\r%s\x1b[K", line())
				} else {
					fmt.Fprintln(w, line())
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
