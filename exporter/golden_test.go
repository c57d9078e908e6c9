package exporter

import (
	"github.com/rdbkit/rdbkit/internal/fixtures"

	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"strconv"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sharedFile returns the path of a file of the shared fixture folder.
func sharedFile(t testing.TB, rel string) string { return fixtures.Shared(t, rel) }

// checkGolden compares got with testdata/<name>.golden, or rewrites the
// file under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	fixtures.Golden(t, "./exporter", name, got, *update)
}

// goldenLongLine is the length above which a line of output is kept in a
// golden file as its beginning, its length and its SHA-256: the 512 KiB
// strings and 20 000-element lists of the fixtures would otherwise make
// golden files of megabytes. A change anywhere in the line still changes
// the golden form.
const goldenLongLine = 400

// goldenText returns out with each line longer than goldenLongLine
// shortened to "<first 160 bytes>… [N bytes, sha256 <12 hex digits>]".
func goldenText(out []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.Lines(out) {
		body := bytes.TrimSuffix(line, []byte("\n"))
		if len(body) <= goldenLongLine {
			b.Write(line)
			continue
		}
		cut := 160
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		sum := sha256.Sum256(body)
		b.Write(body[:cut])
		b.WriteString("… [" + strconv.Itoa(len(body)) + " bytes, sha256 " + hex.EncodeToString(sum[:6]) + "]")
		if len(body) < len(line) {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// respText renders RESP commands one a line for a golden file: each
// argument as is when it is printable UTF-8 without spaces or quotes,
// else Go-quoted, separated by spaces.
func respText(t testing.TB, out []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, cmd := range parseRESP(t, out) {
		for i, a := range cmd {
			if i > 0 {
				b.WriteByte(' ')
			}
			if plainArg(a) {
				b.Write(a)
			} else {
				b.WriteString(strconv.Quote(string(a)))
			}
		}
		b.WriteByte('\n')
	}
	return goldenText(b.Bytes())
}

func plainArg(a []byte) bool {
	if len(a) == 0 || !utf8.Valid(a) {
		return false
	}
	for _, r := range string(a) {
		if r <= ' ' || r == '"' || r == '\\' || r == 0x7f || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// parseRESP parses out as a sequence of RESP arrays of bulk strings, the
// only thing a RESP writer may write, and fails the test on anything else.
func parseRESP(t testing.TB, out []byte) [][][]byte {
	t.Helper()
	var cmds [][][]byte
	p := out
	line := func() string {
		i := bytes.Index(p, []byte("\r\n"))
		if i < 0 {
			t.Fatalf("RESP: no CRLF at offset %d", len(out)-len(p))
		}
		s := string(p[:i])
		p = p[i+2:]
		return s
	}
	for len(p) > 0 {
		h := line()
		if h == "" || h[0] != '*' {
			t.Fatalf("RESP: %q where an array was expected", h)
		}
		n, err := strconv.Atoi(h[1:])
		if err != nil || n < 1 {
			t.Fatalf("RESP: array header %q", h)
		}
		cmd := make([][]byte, n)
		for i := range cmd {
			h := line()
			if h == "" || h[0] != '$' {
				t.Fatalf("RESP: %q where a bulk string was expected", h)
			}
			k, err := strconv.Atoi(h[1:])
			if err != nil || k < 0 || k+2 > len(p) || p[k] != '\r' || p[k+1] != '\n' {
				t.Fatalf("RESP: bulk string header %q", h)
			}
			cmd[i] = p[:k:k]
			p = p[k+2:]
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}
