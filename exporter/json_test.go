package exporter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rdbkit/rdbkit/rdb"
)

func TestAppendString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `""`},
		{"ascii", "user:1000", `"user:1000"`},
		{"space and punctuation", "a b!#$%&'()*+,-./:;<=>?@[]^_`{|}~", "\"a b!#$%&'()*+,-./:;<=>?@[]^_`{|}~\""},
		{"html is not escaped", "<a href=\"x\">&amp;</a>", `"<a href=\"x\">&amp;</a>"`},
		{"quote", `say "hi"`, `"say \"hi\""`},
		{"backslash", `C:\dir\`, `"C:\\dir\\"`},
		{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"nul", "a\x00b", `"a\u0000b"`},
		{"other controls", "\x01\x07\x0b\x0e\x1f", `"\u0001\u0007\u000b\u000e\u001f"`},
		{"del stays", "\x7f", "\"\x7f\""},
		{"utf-8", "héllo wörld ☃ 🎉", `"héllo wörld ☃ 🎉"`},
		{"line and paragraph separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"neighbours of U+2028", "\u2027\u202a", "\"\u2027\u202a\""},
		{"replacement char is valid", "\uFFFD", "\"\uFFFD\""},
		{"max rune", "\U0010FFFF", "\"\U0010FFFF\""},
		{"invalid byte", "\xff", `{"base64":"/w=="}`},
		{"invalid in the middle", "ab\x80cd", `{"base64":"YWKAY2Q="}`},
		{"invalid after escapes", "\n\"\xc3", `{"base64":"CiLD"}`},
		{"truncated rune", "é"[:1], `{"base64":"ww=="}`},
		{"overlong encoding", "\xc0\xaf", `{"base64":"wK8="}`},
		{"surrogate half", "\xed\xa0\x80", `{"base64":"7aCA"}`},
		{"above max rune", "\xf4\x90\x80\x80", `{"base64":"9JCAgA=="}`},
		{"int bytes of a binary key", "\x00\x01\x02\xfe", `{"base64":"AAEC/g=="}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("x,")
			got := AppendString(bytes.Clone(prefix), []byte(tt.in))
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("prefix lost: %q", got)
			}
			got = got[len(prefix):]
			if string(got) != tt.want {
				t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
			}
			checkRoundTrip(t, []byte(tt.in), got)
		})
	}
}

// TestAppendStringEveryByte writes every single byte and every control
// character inside text.
func TestAppendStringEveryByte(t *testing.T) {
	for b := range 256 {
		for _, in := range [][]byte{{byte(b)}, {'a', byte(b), 'z'}} {
			checkRoundTrip(t, in, AppendString(nil, in))
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	got := AppendString(nil, all[:0x80])
	if got[0] != '"' {
		t.Errorf("ASCII 0-127 not a string: %s", got)
	}
	checkRoundTrip(t, all[:0x80], got)
	got = AppendString(nil, all)
	if !bytes.HasPrefix(got, []byte(`{"base64":`)) {
		t.Errorf("bytes 0-255 not base64: %s", got)
	}
	checkRoundTrip(t, all, got)
}

// checkRoundTrip checks that out is one valid JSON value that decodes back
// to in: a string for valid UTF-8, {"base64":...} otherwise.
func checkRoundTrip(t *testing.T, in, out []byte) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("%q: invalid JSON %s", in, out)
	}
	var s string
	if err := json.Unmarshal(out, &s); err == nil {
		if !utf8.Valid(in) {
			t.Fatalf("%q is not UTF-8 but came out as string %s", in, out)
		}
		if s != string(in) {
			t.Fatalf("%q came back as %q (%s)", in, s, out)
		}
		return
	}
	var obj map[string]string
	if err := json.Unmarshal(out, &obj); err != nil || len(obj) != 1 {
		t.Fatalf("%q: %s is neither a string nor {\"base64\":...}: %v", in, out, err)
	}
	if utf8.Valid(in) {
		t.Fatalf("%q is UTF-8 but came out as %s", in, out)
	}
	dec, err := base64.StdEncoding.DecodeString(obj["base64"])
	if err != nil || !bytes.Equal(dec, in) {
		t.Fatalf("%q came back as %q (%s): %v", in, dec, out, err)
	}
	if bytes.ContainsAny(out, "\u2028\u2029") {
		t.Fatalf("%q: raw U+2028/U+2029 in %s", in, out)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\x00", "\"\\", "\u2028", "é", "\xff", "a\xc3", "\xed\xa0\x80", strings.Repeat("k", 100)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := AppendString(nil, in)
		checkRoundTrip(t, in, out)
		if bytes.ContainsAny(out, "\u2028\u2029") {
			t.Fatalf("raw U+2028/U+2029 in %s", out)
		}
		for _, b := range out {
			if b < 0x20 {
				t.Fatalf("raw control byte %#x in %q", b, out)
			}
		}
	})
}

func TestAppendScore(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1, "1"},
		{-1.5, "-1.5"},
		{0.1, "0.1"},
		{1e6, "1000000"},
		{123456789012, "123456789012"},
		{1 << 53, "9007199254740992"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{1e-6, "0.000001"},
		{1e-7, "1e-7"},
		{1.5e-10, "1.5e-10"},
		{1e308, "1e+308"},
		{-1e308, "-1e+308"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.SmallestNonzeroFloat64, "5e-324"},
		{-math.SmallestNonzeroFloat64, "-5e-324"},
		{2.2250738585072014e-308, "2.2250738585072014e-308"},
		{math.Inf(1), `"inf"`},
		{math.Inf(-1), `"-inf"`},
		{math.NaN(), `"nan"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := AppendScore([]byte("["), tt.in)
			if string(got[1:]) != tt.want {
				t.Errorf("AppendScore(%v) = %s, want %s", tt.in, got[1:], tt.want)
			}
			if !json.Valid(got[1:]) {
				t.Errorf("invalid JSON %s", got[1:])
			}
			if got[1] == '"' {
				return
			}
			f, err := strconv.ParseFloat(string(got[1:]), 64)
			if err != nil || math.Float64bits(f) != math.Float64bits(tt.in) {
				t.Errorf("%s parses back as %v (%v), want %v", got[1:], f, err, tt.in)
			}
		})
	}
}

func FuzzAppendScore(f *testing.F) {
	for _, x := range []float64{0, 1, -1, 1e21, 1e-7, 5e-324, math.MaxFloat64} {
		f.Add(math.Float64bits(x))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		x := math.Float64frombits(bits)
		out := AppendScore(nil, x)
		if !json.Valid(out) {
			t.Fatalf("%v: invalid JSON %s", x, out)
		}
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return
		}
		var y float64
		if err := json.Unmarshal(out, &y); err != nil || math.Float64bits(x) != math.Float64bits(y) {
			t.Fatalf("%v: %s decodes as %v: %v", x, out, y, err)
		}
	})
}

func TestAppendKeyRecord(t *testing.T) {
	str := func(s string) []byte { return append([]byte{byte(rdb.EncString), byte(len(s))}, s...) }
	tests := []struct {
		name string
		e    rdb.Entry
		want string
	}{
		{"string", rdb.Entry{DB: 0, Key: []byte("k"), Type: rdb.TypeString, Encoding: rdb.EncString, Payload: str("hello")},
			`{"db":0,"key":"k","type":"string","encoding":"embstr","expire_at":null,"size":7}`},
		{"int string with expiry", rdb.Entry{DB: 3, Key: []byte("n"), Type: rdb.TypeString, Encoding: rdb.EncString,
			ExpireAt: 1767225600000, Payload: str("12345")},
			`{"db":3,"key":"n","type":"string","encoding":"int","expire_at":1767225600000,"size":7}`},
		{"binary key", rdb.Entry{DB: 15, Key: []byte("\xff\x00"), Type: rdb.TypeString, Encoding: rdb.EncString, Payload: str("")},
			`{"db":15,"key":{"base64":"/wA="},"type":"string","encoding":"embstr","expire_at":null,"size":2}`},
		{"streamed hash", rdb.Entry{DB: 1, Key: []byte("h\n"), Type: rdb.TypeHash, Encoding: rdb.EncHashListpack},
			`{"db":1,"key":"h\n","type":"hash","encoding":"listpack","expire_at":null,"size":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendKeyRecord(nil, &tt.e)
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("invalid JSON")
			}
		})
	}
}

func TestAppendStringAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	key := []byte("user:1000:profile")
	e := &rdb.Entry{Key: key, Type: rdb.TypeHash, Encoding: rdb.EncHashListpack, Payload: []byte{16}}
	for name, f := range map[string]func(){
		"AppendString":    func() { buf = AppendString(buf[:0], key) },
		"AppendScore":     func() { buf = AppendScore(buf[:0], 1.5) },
		"AppendKeyRecord": func() { buf = AppendKeyRecord(buf[:0], e) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	for _, bm := range []struct{ name, s string }{
		{"ascii", "user:1000:session:3f2a9c"},
		{"escapes", "line1\nline2\t\"quoted\""},
		{"utf8", "clé:ünïcödé:☃"},
		{"binary", "\x00\x01\xff\xfe\x80\x81\x82\x83\x84\x85\x86\x87"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			s := []byte(bm.s)
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				buf = AppendString(buf[:0], s)
			}
		})
	}
}

func BenchmarkAppendKeyRecord(b *testing.B) {
	e := &rdb.Entry{DB: 0, Key: []byte("user:1000:profile"), Type: rdb.TypeHash, Encoding: rdb.EncHashListpack,
		ExpireAt: 1767225600000, Payload: make([]byte, 100)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendKeyRecord(buf[:0], e)
	}
}
