package main

import (
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
)

// globTests are stringmatchlen cases; redisDiffers marks the ones where
// Redis on x86 (signed char) answers otherwise.
var globTests = []struct {
	name         string
	pattern, s   string
	want         bool
	redisDiffers bool
}{
	{"empty both", "", "", true, false},
	{"empty pattern", "", "a", false, false},
	{"literal", "hello", "hello", true, false},
	{"literal prefix only", "hello", "hello!", false, false},
	{"literal longer", "hello!", "hello", false, false},
	{"case sensitive", "Hello", "hello", false, false},
	{"star alone", "*", "anything", true, false},
	{"star alone vs empty", "*", "", false, false}, // newFilter special-cases "*"
	{"stars vs empty", "**", "", false, false},
	{"star suffix", "user:*", "user:", true, false},
	{"star suffix longer", "user:*", "user:1000:name", true, false},
	{"star prefix", "*:name", "user:1:name", true, false},
	{"star prefix no", "*:name", "user:1:names", false, false},
	{"star middle", "a*c", "abbbc", true, false},
	{"star middle empty", "a*c", "ac", true, false},
	{"stars", "a*b*c", "aXbYc", true, false},
	{"stars order", "a*b*c", "acb", false, false},
	{"star then question", "*?", "a", true, false},
	{"star then question empty", "*?", "", false, false},
	{"star both sides vs empty", "*a*", "", false, false},
	{"star both sides", "*a*", "bab", true, false},
	{"double star", "a**b", "ab", true, false},
	{"question", "h?llo", "hello", true, false},
	{"question vs empty", "?", "", false, false},
	{"question is one byte", "?", "é", false, false},
	{"two questions for two bytes", "??", "é", true, false},
	{"class", "h[ae]llo", "hallo", true, false},
	{"class no", "h[ae]llo", "hillo", false, false},
	{"negated class", "h[^e]llo", "hallo", true, false},
	{"negated class no", "h[^e]llo", "hello", false, false},
	{"range", "h[a-c]llo", "hbllo", true, false},
	{"range no", "h[a-c]llo", "hdllo", false, false},
	{"reversed range", "[z-a]", "m", true, false},
	{"negated range", "x[^a-c]y", "xdy", true, false},
	{"negated range no", "x[^a-c]y", "xby", false, false},
	{"digits", "user:[0-9]*", "user:5abc", true, false},
	{"range to bracket", "[a-]", "_", true, false}, // the range a..']', and no closing bracket
	{"range to bracket dash", "[a-]", "-", false, false},
	{"dash first", "[-a]", "-", true, false},
	{"empty class", "[]", "]", false, false},
	{"empty class then bracket", "[]]", "]", false, false},
	{"escaped bracket in class", `[\]]`, "]", true, false},
	{"escaped caret in class", `[\^a]`, "^", true, false},
	{"negated empty class", "[^]", "x", true, false},
	{"unclosed class", "[abc", "b", true, false},
	{"unclosed class one byte", "[abc", "bx", false, false},
	{"unclosed bracket", "[", "[", false, false},
	{"unclosed negation", "[^", "x", true, false},
	{"escaped star", `\*`, "*", true, false},
	{"escaped star no", `\*`, "a", false, false},
	{"escaped question", `a\?`, "a?", true, false},
	{"escaped backslash", `\\`, `\`, true, false},
	{"trailing backslash", `a\`, `a\`, true, false},
	{"escaped letter", `\a`, "a", true, false},
	{"star escape", `*\*`, "ab*", true, false},
	{"nul bytes", "\x00*", "\x00abc", true, false},
	{"nul range", "[\x00-\x01]", "\x01", true, false},
	{"high bytes literal", "\xff\xfe*", "\xff\xfekey", true, false},
	{"high range", "[\x80-\xff]", "\xc3", true, false},
	{"utf-8 literal", "clé:*", "clé:1", true, false},
	{"range across 0x80", "[a-\xff]", "\x80", true, true},
	{"abusive", strings.Repeat("a*", 30) + "b", strings.Repeat("a", 60), false, false},
	{"nesting limit", strings.Repeat("*a", 1100), strings.Repeat("a", 1100), false, false},
	{"nesting below limit", strings.Repeat("*a", 900), strings.Repeat("a", 900), true, false},
}

func TestGlobMatch(t *testing.T) {
	for _, tt := range globTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := globMatch([]byte(tt.pattern), []byte(tt.s)); got != tt.want {
				t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func FuzzGlobMatch(f *testing.F) {
	for _, tt := range globTests {
		f.Add(tt.pattern, tt.s)
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		globMatch([]byte(p), []byte(s)) // must not panic
		if !strings.ContainsAny(p, `*?[\`) && globMatch([]byte(p), []byte(s)) != (p == s) {
			t.Errorf("literal pattern %q vs %q", p, s)
		}
		if strings.ContainsAny(p, "*") && len(p) > 0 && strings.Trim(p, "*") == "" && len(s) > 0 && !globMatch([]byte(p), []byte(s)) {
			t.Errorf("%q does not match %q", p, s)
		}
	})
}

func TestFilter(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Millisecond).UnixMilli(), now.Add(time.Hour).UnixMilli()
	key := func(db int, k string, typ rdb.Type, exp int64) *rdb.Entry {
		return &rdb.Entry{Kind: rdb.KindKey, DB: db, Key: []byte(k), Type: typ, ExpireAt: exp}
	}
	tests := []struct {
		name string
		opts filterOptions
		e    *rdb.Entry
		want bool
	}{
		{"no filter", filterOptions{}, key(3, "k", rdb.TypeHash, past), true},
		{"db in", filterOptions{dbs: []int{0, 3}}, key(3, "k", rdb.TypeString, 0), true},
		{"db out", filterOptions{dbs: []int{0, 1}}, key(3, "k", rdb.TypeString, 0), false},
		{"type in", filterOptions{types: []string{"hash", "zset"}}, key(0, "k", rdb.TypeZSet, 0), true},
		{"type out", filterOptions{types: []string{"hash", "zset"}}, key(0, "k", rdb.TypeSet, 0), false},
		{"type case and space", filterOptions{types: []string{" Stream"}}, key(0, "k", rdb.TypeStream, 0), true},
		{"type module", filterOptions{types: []string{"module"}}, key(0, "k", rdb.TypeModule, 0), true},
		{"match in", filterOptions{match: "user:*"}, key(0, "user:1", rdb.TypeString, 0), true},
		{"match out", filterOptions{match: "user:*"}, key(0, "session:1", rdb.TypeString, 0), false},
		{"match star selects the empty key", filterOptions{match: "*"}, key(0, "", rdb.TypeString, 0), true},
		{"match binary", filterOptions{match: "\xff*"}, key(0, "\xff\x00", rdb.TypeString, 0), true},
		{"regex in", filterOptions{regex: `^user:\d+$`}, key(0, "user:12", rdb.TypeString, 0), true},
		{"regex out", filterOptions{regex: `^user:\d+$`}, key(0, "user:12:x", rdb.TypeString, 0), false},
		{"regex unanchored", filterOptions{regex: `:\d+:`}, key(0, "user:12:x", rdb.TypeString, 0), true},
		{"regex on invalid utf-8", filterOptions{regex: `^a.b$`}, key(0, "a\xffb", rdb.TypeString, 0), true},
		{"regex raw byte", filterOptions{regex: `\x{fffd}`}, key(0, "a\xffb", rdb.TypeString, 0), true},
		{"no-expired keeps no expiry", filterOptions{noExpired: true}, key(0, "k", rdb.TypeString, 0), true},
		{"no-expired keeps future", filterOptions{noExpired: true}, key(0, "k", rdb.TypeString, future), true},
		{"no-expired keeps now", filterOptions{noExpired: true}, key(0, "k", rdb.TypeString, now.UnixMilli()), true},
		{"no-expired drops past", filterOptions{noExpired: true}, key(0, "k", rdb.TypeString, past), false},
		{"no-expired drops negative", filterOptions{noExpired: true}, key(0, "k", rdb.TypeString, -1000), false},
		{"past kept without no-expired", filterOptions{}, key(0, "k", rdb.TypeString, past), true},
		{"all pass", filterOptions{dbs: []int{2}, match: "u*", regex: "1$", types: []string{"list"}, noExpired: true},
			key(2, "u1", rdb.TypeList, future), true},
		{"all but one", filterOptions{dbs: []int{2}, match: "u*", regex: "1$", types: []string{"list"}, noExpired: true},
			key(2, "u2", rdb.TypeList, future), false},
		{"not a key", filterOptions{dbs: []int{5}}, &rdb.Entry{Kind: rdb.KindAux, DB: 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newFilter("test", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.match(tt.e, now); got != tt.want {
				t.Errorf("match = %v, want %v (filter %v)", got, tt.want, f)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	for _, o := range []filterOptions{
		{dbs: []int{-1}},
		{types: []string{"strings"}},
		{types: []string{""}},
		{regex: "a(b"},
	} {
		_, err := newFilter("keys", o)
		if _, ok := err.(*usageError); !ok {
			t.Errorf("%+v: error %v, want a usage error", o, err)
		}
	}
}

func TestFilterString(t *testing.T) {
	f, err := newFilter("x", filterOptions{dbs: []int{3, 1}, match: "a*", regex: "b", types: []string{"zset", "hash"}, noExpired: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `db 1 3, type zset,hash, match "a*", regex "b", no-expired`
	if got := f.String(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var none *filter
	if none.active() || none.String() != "none" || !none.match(&rdb.Entry{}, time.Time{}) {
		t.Error("a nil filter must select everything")
	}
}

func keyEntry(k string) *rdb.Entry { return &rdb.Entry{Kind: rdb.KindKey, Key: []byte(k)} }
