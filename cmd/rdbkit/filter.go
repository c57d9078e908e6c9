package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/urfave/cli/v2"
)

// filterOptions are the key filters every command takes (DESIGN.md,
// "Command-line contract").
type filterOptions struct {
	dbs       []int
	match     string // Redis glob, "" for none
	regex     string // Go regexp, "" for none
	types     []string
	noExpired bool
}

func filterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntSliceFlag{Name: "db", Usage: "only keys of database `N` (repeatable)"},
		&cli.StringFlag{Name: "match", Usage: "only keys matching the Redis glob `GLOB` (as KEYS and SCAN MATCH: * ? [abc] [^a] [a-z] \\x)"},
		&cli.StringFlag{Name: "regex", Usage: "only keys matching the Go regular expression `RE` (unanchored, on the raw key bytes)"},
		&cli.StringSliceFlag{Name: "type", Usage: "only keys of type `T`: string, list, set, zset, hash, stream, module (repeatable)"},
		&cli.BoolFlag{Name: "no-expired", Usage: "leave out keys whose expiry is already past"},
	}
}

func filterOptionsFrom(c *cli.Context) filterOptions {
	return filterOptions{
		dbs:       c.IntSlice("db"),
		match:     c.String("match"),
		regex:     c.String("regex"),
		types:     c.StringSlice("type"),
		noExpired: c.Bool("no-expired"),
	}
}

// A filter selects keys. Build it once with newFilter; its zero value and
// a nil *filter select every key.
type filter struct {
	dbs       map[int]bool // nil: every database
	types     uint32       // bit 1<<Type; 0: every type
	glob      []byte
	hasGlob   bool
	re        *regexp.Regexp
	noExpired bool
}

// newFilter checks the options and compiles them; a bad value is a usage
// error of cmd.
func newFilter(cmd string, o filterOptions) (*filter, error) {
	f := &filter{noExpired: o.noExpired}
	for _, db := range o.dbs {
		if db < 0 {
			return nil, usagef(cmd, "--db %d: a database number is 0 or more", db)
		}
		if f.dbs == nil {
			f.dbs = map[int]bool{}
		}
		f.dbs[db] = true
	}
	for _, s := range o.types {
		t, ok := rdb.ParseType(strings.ToLower(strings.TrimSpace(s)))
		if !ok {
			return nil, usagef(cmd, "--type %q: want string, list, set, zset, hash, stream or module", s)
		}
		f.types |= 1 << t
	}
	// "*" alone selects every key, the empty one too: KEYS and SCAN
	// special-case it the same way (stringmatchlen("*", "") is false).
	if o.match != "" && o.match != "*" {
		f.glob, f.hasGlob = []byte(o.match), true
	}
	if o.regex != "" {
		re, err := regexp.Compile(o.regex)
		if err != nil {
			return nil, usagef(cmd, "--regex: %v", err)
		}
		f.re = re
	}
	return f, nil
}

// active reports whether f can leave any key out.
func (f *filter) active() bool {
	return f != nil && (f.dbs != nil || f.types != 0 || f.hasGlob || f.re != nil || f.noExpired)
}

// match reports whether the key e passes the filter at time now (which
// decides what --no-expired drops: an expiry before now, as Redis's
// keyIsExpired). Records that are not keys pass.
func (f *filter) match(e *rdb.Entry, now time.Time) bool {
	if f == nil || e.Kind != rdb.KindKey {
		return true
	}
	switch {
	case f.dbs != nil && !f.dbs[e.DB]:
		return false
	case f.types != 0 && f.types&(1<<e.Type) == 0:
		return false
	case f.noExpired && expired(e.ExpireAt, now):
		return false
	case f.hasGlob && !globMatch(f.glob, e.Key):
		return false
	case f.re != nil && !f.re.Match(e.Key):
		return false
	}
	return true
}

// expired reports whether an absolute expiry in ms (0: none) lies before
// now. See redis/src/db.c keyIsExpired: a key expires when now > when.
func expired(ms int64, now time.Time) bool {
	return ms != 0 && ms < now.UnixMilli()
}

// globMatch reports whether the byte string s matches the glob pattern p,
// with the semantics of Redis's stringmatchlen (redis/src/util.c), which
// KEYS, SCAN MATCH and PSUBSCRIBE use, case-sensitive:
//
//	pattern  matches
//	*        any run of bytes, the empty one too
//	?        any one byte
//	[abc]    one of the bytes listed; [^abc] one not listed
//	[a-z]    a byte in the range (either order: [z-a] is [a-z])
//	\x       the byte x itself, outside and inside brackets
//
// It is binary safe and byte-oriented ("?" matches one byte of a multi-byte
// UTF-8 character). Redis's quirks are kept: an unclosed "[" takes the rest
// of the pattern as its set, "[^" alone matches any byte, a "\" at the end
// of the pattern matches "\", and a pattern starting with "*" never matches
// the empty string (callers special-case the pattern "*"; see newFilter).
// One difference: range ends compare as unsigned bytes, as Redis does where
// char is unsigned (arm64); on x86 Redis compares them as signed chars, so
// a range such as [a-\xff] differs there.
func globMatch(p, s []byte) bool {
	skipLonger := false
	return globMatchAt(p, s, &skipLonger, 0)
}

func globMatchAt(p, s []byte, skipLonger *bool, nesting int) bool {
	if nesting > 1000 { // Redis's protection against abusive patterns
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if globMatchAt(p[1:], s, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			// The rest of the pattern matches no suffix of s, so
			// letting an earlier '*' take more bytes cannot help.
			*skipLonger = true
			return false
		case '?':
			p, s = p[1:], s[1:]
		case '[':
			rest, ok := matchClass(p, s[0])
			if !ok {
				return false
			}
			p, s = rest, s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			p, s = p[1:], s[1:]
		}
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
		}
	}
	return len(p) == 0 && len(s) == 0
}

// matchClass matches c against the bracket expression that starts p (at
// its '['). It returns the pattern after the expression's ']' (nothing
// when there is none: the set takes the rest of the pattern) and whether c
// matched.
func matchClass(p []byte, c byte) (rest []byte, ok bool) {
	p = p[1:]
	not := len(p) > 0 && p[0] == '^'
	if not {
		p = p[1:]
	}
	match := false
	for {
		switch {
		case len(p) == 0:
			return p, match != not
		case len(p) >= 2 && p[0] == '\\':
			p = p[1:]
			if p[0] == c {
				match = true
			}
		case p[0] == ']':
			return p[1:], match != not
		case len(p) >= 3 && p[1] == '-':
			lo, hi := p[0], p[2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if c >= lo && c <= hi {
				match = true
			}
			p = p[2:]
		default:
			if p[0] == c {
				match = true
			}
		}
		p = p[1:]
	}
}

func (f *filter) String() string {
	if !f.active() {
		return "none"
	}
	var parts []string
	if f.dbs != nil {
		dbs := slices.Sorted(maps.Keys(f.dbs))
		parts = append(parts, "db "+strings.Trim(fmt.Sprint(dbs), "[]"))
	}
	if f.types != 0 {
		var ts []string
		for t := rdb.TypeString; t <= rdb.TypeModule; t++ {
			if f.types&(1<<t) != 0 {
				ts = append(ts, t.String())
			}
		}
		parts = append(parts, "type "+strings.Join(ts, ","))
	}
	if f.hasGlob {
		parts = append(parts, fmt.Sprintf("match %q", f.glob))
	}
	if f.re != nil {
		parts = append(parts, fmt.Sprintf("regex %q", f.re.String()))
	}
	if f.noExpired {
		parts = append(parts, "no-expired")
	}
	return strings.Join(parts, ", ")
}
