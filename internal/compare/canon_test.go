package compare

import (
	"math"
	"strings"
	"testing"

	"github.com/rdbkit/rdbkit/rdb"
)

func el(a string) elem               { return elem{a: []byte(a)} }
func hf(f, v string, exp int64) elem { return elem{a: []byte(f), b: []byte(v), exp: exp} }
func zs(m string, s float64) elem    { return elem{a: []byte(m), score: s} }

func TestDiff(t *testing.T) {
	meta := func(groups ...group) *streamMeta {
		return &streamMeta{length: 2, lastID: rdb.StreamID{MS: 5}, hasMeta: true, groups: groups}
	}
	g := group{name: []byte("g"), lastID: rdb.StreamID{MS: 1}, entriesRead: 1,
		pending:   []pending{{id: rdb.StreamID{MS: 1}, consumer: []byte("c"), count: 1}},
		consumers: []consumer{{name: []byte("c"), pending: 1}}}
	g2 := g
	g2.pending = []pending{{id: rdb.StreamID{MS: 1}, consumer: []byte("c"), count: 2}}
	g3 := g
	g3.entriesRead = -1
	g3.lastID = rdb.StreamID{MS: 1}
	tests := []struct {
		name     string
		src, dst *value
		want     Outcome
		reason   string // substring
	}{
		{"string", &value{typ: rdb.TypeString, str: []byte("abc")}, &value{typ: rdb.TypeString, str: []byte("abc")}, Equal, ""},
		{"string differs", &value{typ: rdb.TypeString, str: []byte("abcd")}, &value{typ: rdb.TypeString, str: []byte("abXd")}, ValueDiffers, "at byte 2"},
		{"string length", &value{typ: rdb.TypeString, str: []byte("abc")}, &value{typ: rdb.TypeString, str: []byte("ab")}, ValueDiffers, "3 bytes"},
		{"list order", &value{typ: rdb.TypeList, elems: []elem{el("a"), el("b")}}, &value{typ: rdb.TypeList, elems: []elem{el("b"), el("a")}}, ValueDiffers, "element 0"},
		{"list length", &value{typ: rdb.TypeList, elems: []elem{el("a")}}, &value{typ: rdb.TypeList, elems: []elem{el("a"), el("b")}}, ValueDiffers, "length: source 1, destination 2"},
		{"set", &value{typ: rdb.TypeSet, elems: []elem{el("a"), el("b")}}, &value{typ: rdb.TypeSet, elems: []elem{el("a"), el("b")}}, Equal, ""},
		{"set missing", &value{typ: rdb.TypeSet, elems: []elem{el("a"), el("b")}}, &value{typ: rdb.TypeSet, elems: []elem{el("b")}}, ValueDiffers, `member "a" missing`},
		{"set extra", &value{typ: rdb.TypeSet, elems: []elem{el("a")}}, &value{typ: rdb.TypeSet, elems: []elem{el("a"), el("c")}}, ValueDiffers, `member "c" only on the destination`},
		{"zset score", &value{typ: rdb.TypeZSet, elems: []elem{zs("m", 1)}}, &value{typ: rdb.TypeZSet, elems: []elem{zs("m", 1.0000000001)}}, ValueDiffers, "score of"},
		{"zset zero sign", &value{typ: rdb.TypeZSet, elems: []elem{zs("m", 0)}}, &value{typ: rdb.TypeZSet, elems: []elem{zs("m", math.Copysign(0, -1))}}, ValueDiffers, "score of"},
		{"zset inf", &value{typ: rdb.TypeZSet, elems: []elem{zs("m", math.Inf(1))}}, &value{typ: rdb.TypeZSet, elems: []elem{zs("m", math.Inf(1))}}, Equal, ""},
		{"hash value", &value{typ: rdb.TypeHash, elems: []elem{hf("f", "v", 0)}}, &value{typ: rdb.TypeHash, elems: []elem{hf("f", "w", 0)}}, ValueDiffers, `field "f"`},
		{"hash field ttl within", &value{typ: rdb.TypeHash, elems: []elem{hf("f", "v", 10000)}}, &value{typ: rdb.TypeHash, elems: []elem{hf("f", "v", 11000)}}, Equal, ""},
		{"hash field ttl beyond", &value{typ: rdb.TypeHash, elems: []elem{hf("f", "v", 10000)}}, &value{typ: rdb.TypeHash, elems: []elem{hf("f", "v", 13000)}}, TTLDiffers, "expiry differs by 3s"},
		{"hash field ttl lost", &value{typ: rdb.TypeHash, elems: []elem{hf("f", "v", 10000)}}, &value{typ: rdb.TypeHash, elems: []elem{hf("f", "v", 0)}}, TTLDiffers, "TTL on the source only"},
		{"stream entries", &value{typ: rdb.TypeStream, elems: []elem{{id: rdb.StreamID{MS: 1}, fields: [][]byte{[]byte("a"), []byte("1")}}}, stream: meta()},
			&value{typ: rdb.TypeStream, elems: []elem{{id: rdb.StreamID{MS: 1}, fields: [][]byte{[]byte("a"), []byte("2")}}}, stream: meta()}, ValueDiffers, "fields differ"},
		{"stream groups", &value{typ: rdb.TypeStream, stream: meta(g)}, &value{typ: rdb.TypeStream, stream: meta(g)}, Equal, ""},
		{"stream pending", &value{typ: rdb.TypeStream, stream: meta(g)}, &value{typ: rdb.TypeStream, stream: meta(g2)}, ValueDiffers, "pending entry 0"},
		{"stream entries read unknown", &value{typ: rdb.TypeStream, stream: meta(g)}, &value{typ: rdb.TypeStream, stream: meta(g3)}, Equal, ""},
		{"stream no group", &value{typ: rdb.TypeStream, stream: meta(g)}, &value{typ: rdb.TypeStream, stream: meta()}, ValueDiffers, "consumer groups: source 1, destination 0"},
		{"module", &value{typ: rdb.TypeModule, module: "ReJSON-RL", modVer: 3, str: []byte("x")}, &value{typ: rdb.TypeModule, module: "ReJSON-RL", modVer: 3, str: []byte("x")}, Equal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, why := diff(tt.src, tt.dst, 2000)
			if o != tt.want || !strings.Contains(why, tt.reason) {
				t.Fatalf("got %v %q, want %v %q", o, why, tt.want, tt.reason)
			}
		})
	}
}

func TestDiffExpiry(t *testing.T) {
	tests := []struct {
		src, dst, tol int64
		want          string
	}{
		{0, 0, 0, ""},
		{1000, 1000, 0, ""},
		{1000, 2999, 2000, ""},
		{1000, 3001, 2000, "expiry differs by 2.001s"},
		{3001, 1000, 2000, "expiry differs by 2.001s"},
		{1000, 0, 2000, "TTL on the source only"},
		{0, 1000, 2000, "TTL on the destination only"},
	}
	for _, tt := range tests {
		if got := diffExpiry(tt.src, tt.dst, tt.tol); !strings.Contains(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("diffExpiry(%d, %d, %d) = %q, want %q", tt.src, tt.dst, tt.tol, got, tt.want)
		}
	}
}

// TestDecodeEncodings decodes the same hash, set and zset in two
// encodings (Transcode to an old target writes the plain ones) and finds
// them equal.
func TestDecodeEncodings(t *testing.T) {
	// A listpack hash built by hand: HSET h b 2 a 1 (listpack of 4 entries).
	lp := []byte{0x0f, 0, 0, 0, 4, 0, 0x81, 'b', 2, 0x02, 1, 0x81, 'a', 2, 0x01, 1, 0xff}
	lp[0] = byte(len(lp))
	payload := append([]byte{byte(rdb.EncHashListpack)}, rdb.AppendString(nil, lp)...)
	old, _, err := rdb.Transcode(nil, payload, rdb.EncHashListpack, rdb.Target{Version: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rdb.Encoding(old[0]) != rdb.EncHash {
		t.Fatalf("transcoded to %v", rdb.Encoding(old[0]))
	}
	a, err := decode(rdb.NewPayloadValue(payload, 10), 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := decode(rdb.NewPayloadValue(old, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.elems) != 2 || string(a.elems[0].a) != "a" {
		t.Fatalf("decoded %+v", a.elems)
	}
	if o, why := diff(a, b, 0); o != Equal {
		t.Fatalf("listpack and hashtable hash: %v %s", o, why)
	}
}
