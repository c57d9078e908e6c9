package exporter

import (
	"bufio"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// WriteJSON writes the summary as one indented JSON object, fields in the
// order of MemorySummary. Keys and prefixes are lossless: a JSON string
// when valid UTF-8, else {"base64":"..."}.
func (s *MemorySummary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// MemoryCSVHeader is the first row of MemorySummary.WriteCSV.
var MemoryCSVHeader = []string{"section", "name", "db", "key", "type", "encoding", "keys", "bytes", "elements", "volatile", "expire_at"}

// WriteCSV writes the summary as CSV rows under MemoryCSVHeader, one
// section after the other, the section named in the first column:
//
//	total                        keys, bytes, elements
//	keyspace_overhead            bytes (buckets and expires, not in MEMORY USAGE)
//	type, encoding, expiry       name, keys, bytes, elements
//	db                           db, keys, bytes, volatile
//	top_by_bytes, top_by_elements  db, key, type, encoding, bytes, elements, expire_at (Unix ms)
//	prefix                       name (the prefix, "(other)" rows with the parent's), keys, bytes
//
// A key or prefix that is not valid UTF-8, or that starts with "base64:",
// is written as "base64:" and its standard base64, as `export --format csv`
// does.
func (s *MemorySummary) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	row := make([]string, len(MemoryCSVHeader))
	put := func(fields map[int]string) {
		for i := range row {
			row[i] = fields[i]
		}
		_ = cw.Write(row)
	}
	const (
		cSection = iota
		cName
		cDB
		cKey
		cType
		cEnc
		cKeys
		cBytes
		cElems
		cVolatile
		cExpire
	)
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	_ = cw.Write(MemoryCSVHeader)
	put(map[int]string{cSection: "total", cKeys: i64(s.Keys), cBytes: i64(s.Bytes), cElems: i64(s.Elements)})
	put(map[int]string{cSection: "keyspace_overhead", cBytes: i64(s.Overhead)})
	groups := func(section string, gs []MemoryGroup) {
		for _, g := range gs {
			put(map[int]string{cSection: section, cName: g.Name, cKeys: i64(g.Keys), cBytes: i64(g.Bytes), cElems: i64(g.Elements)})
		}
	}
	groups("type", s.Types)
	groups("encoding", s.Encodings)
	for _, d := range s.DBs {
		put(map[int]string{cSection: "db", cDB: strconv.Itoa(d.DB), cKeys: i64(d.Keys), cBytes: i64(d.Bytes), cVolatile: i64(d.Volatile)})
	}
	groups("expiry", s.Expiry)
	keys := func(section string, ks []MemoryKey) {
		for _, k := range ks {
			f := map[int]string{cSection: section, cDB: strconv.Itoa(k.DB), cKey: csvText(k.Key), cType: k.Type,
				cEnc: k.Encoding, cBytes: i64(k.Bytes), cElems: i64(k.Elements)}
			if k.ExpireAt != 0 {
				f[cExpire] = i64(k.ExpireAt)
			}
			put(f)
		}
	}
	keys("top_by_bytes", s.TopBytes)
	keys("top_by_elements", s.TopElements)
	s.Prefixes.walk(func(p *MemoryPrefix, depth int) {
		if depth == 0 {
			return
		}
		name := csvText(p.Prefix)
		if p.Other {
			name += "(other)"
		}
		put(map[int]string{cSection: "prefix", cName: name, cKeys: i64(p.Keys), cBytes: i64(p.Bytes)})
	})
	cw.Flush()
	return cw.Error()
}

// walk calls fn for p and its descendants, depth first, p at depth 0.
func (p *MemoryPrefix) walk(fn func(p *MemoryPrefix, depth int)) {
	var rec func(p *MemoryPrefix, d int)
	rec = func(p *MemoryPrefix, d int) {
		fn(p, d)
		for _, c := range p.Children {
			rec(c, d+1)
		}
	}
	if p != nil {
		rec(p, 0)
	}
}

// csvText is the CSV form of a byte string (see WriteCSV).
func csvText(b []byte) string {
	if utf8.Valid(b) && !strings.HasPrefix(string(b), "base64:") {
		return string(b)
	}
	return "base64:" + base64.StdEncoding.EncodeToString(b)
}

// WriteText writes the summary as tables for a person to read. Keys that
// are not printable UTF-8 are Go-quoted.
func (s *MemorySummary) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 8, 2, ' ', tabwriter.AlignRight)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	loaded := "as written"
	if s.Model.Loaded {
		loaded = "as loaded"
	}
	fmt.Fprintf(bw, "Memory estimate: %s keys, %s (%d bytes, as MEMORY USAGE key SAMPLES 0 counts)\n",
		groupDigits(s.Keys), humanBytes(s.Bytes), s.Bytes)
	fmt.Fprintf(bw, "Model: %s, jemalloc quantum %d, %s; keyspace overhead besides the keys %s\n",
		s.Model.Server, s.Model.Quantum, loaded, humanBytes(s.Overhead))
	section := func(title string) {
		_ = tw.Flush()
		fmt.Fprintf(bw, "\n%s\n", title)
	}
	share := func(n int64) string {
		if s.Bytes == 0 {
			return "0.0%"
		}
		return strconv.FormatFloat(100*float64(n)/float64(s.Bytes), 'f', 1, 64) + "%"
	}
	groups := func(title, col string, gs []MemoryGroup) {
		section(title)
		p("%s\tkeys\tbytes\t\tshare\telements\t\n", col)
		for _, g := range gs {
			p("%s\t%d\t%d\t%s\t%s\t%d\t\n", g.Name, g.Keys, g.Bytes, humanBytes(g.Bytes), share(g.Bytes), g.Elements)
		}
	}
	groups("By type", "type", s.Types)
	groups("By encoding", "encoding", s.Encodings)
	section("By database")
	p("db\tkeys\tbytes\t\tshare\tvolatile\toverhead\t\n")
	for _, d := range s.DBs {
		p("%d\t%d\t%d\t%s\t%s\t%d\t%d\t\n", d.DB, d.Keys, d.Bytes, humanBytes(d.Bytes), share(d.Bytes), d.Volatile, d.Overhead)
	}
	groups("By expiry (from "+time.UnixMilli(s.Now).UTC().Format(time.RFC3339)+")", "expiry", s.Expiry)
	keys := func(title string, ks []MemoryKey) {
		section(title)
		p("bytes\t\telements\ttype\tencoding\tdb\t  key\n")
		for _, k := range ks {
			p("%d\t%s\t%d\t%s\t%s\t%d\t  %s\n", k.Bytes, humanBytes(k.Bytes), k.Elements, k.Type, k.Encoding, k.DB, textKey(k.Key))
		}
	}
	keys(fmt.Sprintf("Biggest keys by memory (top %d)", len(s.TopBytes)), s.TopBytes)
	keys(fmt.Sprintf("Biggest keys by elements (top %d)", len(s.TopElements)), s.TopElements)
	if s.PrefixDepth > 0 {
		section(fmt.Sprintf("Key prefixes (separator %q, depth %d)", s.Separator, s.PrefixDepth))
		p("bytes\t\tshare\tkeys\t  prefix\n")
		s.Prefixes.walk(func(x *MemoryPrefix, depth int) {
			if depth == 0 {
				return
			}
			name := textKey(x.Prefix) + "*"
			if x.Other {
				name = textKey(x.Prefix) + "(other)"
			}
			p("%d\t%s\t%s\t%d\t  %s%s\n", x.Bytes, humanBytes(x.Bytes), share(x.Bytes), x.Keys, strings.Repeat("  ", depth-1), name)
		})
		if s.PrefixesFolded > 0 {
			_ = tw.Flush()
			fmt.Fprintf(bw, "(%d prefixes were folded into (other) to bound memory)\n", s.PrefixesFolded)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// textKey is a key for text output: as is when printable UTF-8 without
// leading '"', else Go-quoted.
func textKey(b []byte) string {
	s := string(b)
	if len(b) > 0 && b[0] != '"' && utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// humanBytes formats n with a binary unit: 1.5 MiB.
func humanBytes(n int64) string {
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

// groupDigits writes n with thousands separated by commas.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
