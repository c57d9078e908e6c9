package rdb_test

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// TestRoundTrip is the round-trip proof: it fills a real redis-server with
// every type and encoding the server can produce, in several databases, runs
// SAVE, decodes dump.rdb three times (values kept in memory; streamed element
// by element in small chunks; the same from a source of short reads) and
// compares each decode with what the server reports, key by key, in both
// directions, and with the checksum verified.
//
// Expected differences between the file and the live server, on Redis 7.0:
//   - Entry.ObjectEncoding predicts the encoding after a load, while OBJECT
//     ENCODING reports the live one. They agree here because every
//     non-string key keeps the encoding its RDB type names (7.0 writes a
//     quicklist as QUICKLIST_2, a hashtable set as SET, and so on) and every
//     string is written with SET, which encodes it as a load would
//     (tryObjectEncoding). A hash, set or zset grown past a threshold and
//     then shrunk would differ after a reload, so the fill makes none.
//   - Scores compare as float64 bit patterns, except that 0 and -0 are equal.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"defaults", nil},
		// Tiny thresholds turn the same data into the big encodings:
		// quicklists of many compressed nodes, hashtable sets and hashes,
		// skiplists, streams of many nodes.
		{"small-thresholds", []string{
			"--list-max-listpack-size", "4", "--list-compress-depth", "1",
			"--hash-max-listpack-entries", "4", "--zset-max-listpack-entries", "4",
			"--set-max-intset-entries", "4", "--stream-node-max-entries", "4",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// DEBUG QUICKLIST-PACKED-THRESHOLD and DEBUG OBJECT need it.
			args := append([]string{"--enable-debug-command", "yes"}, tt.args...)
			s := redistest.Start(t, redistest.WithArgs(args...))
			rt := &roundTrip{t: t, s: s}
			rt.fill()
			rt.do(0, "SAVE")
			want := rt.serverState()
			rtCheckCoverage(t, want)

			path := filepath.Join(s.Dir, "dump.rdb")
			inMemory := rtDecodeDump(t, path, 0, 0, false)
			rtCompare(t, "in memory vs server", want, inMemory)
			if inMemory.aux["redis-ver"] != s.Version(t) {
				t.Errorf("aux redis-ver %q, server %q", inMemory.aux["redis-ver"], s.Version(t))
			}
			if n := len(inMemory.streamed); n != 0 {
				t.Errorf("in memory: %d keys streamed with the default MaxPayload, want 0", n)
			}
			if n := rtSum(inMemory.chunked); n != 0 {
				t.Errorf("in memory: %d chunked elements, want 0", n)
			}

			// MaxPayload 4096 streams every big value from the input and
			// ChunkSize 1000 cuts its long strings into pieces.
			streamed := rtDecodeDump(t, path, 4096, 1000, false)
			rtCompare(t, "streamed vs server", want, streamed)
			rtCompare(t, "streamed vs in memory", inMemory, streamed)
			// The same from a source that returns at most 61 bytes a Read:
			// records then cross buffer refills at other places, and
			// the Reader never holds more than 60 bytes it was not asked for.
			smallReads := rtDecodeDump(t, path, 4096, 1000, true)
			rtCompare(t, "streamed, small reads vs server", want, smallReads)
			// Every record larger than MaxPayload must be streamed, whether
			// or not its bytes happen to be in the Reader's buffer already
			// (the huge keys are larger than the buffer's first size), and
			// strings longer than ChunkSize must come in pieces.
			for _, st := range []*rtDump{streamed, smallReads} {
				for _, key := range slices.Sorted(maps.Keys(st.oversized)) {
					t.Errorf("streamed (%s): %s: Payload of %d bytes with MaxPayload 4096, want it streamed (nil Payload)",
						st.label, key, st.oversized[key])
				}
				for _, key := range []string{"str:2mib-random", "hash:huge", "set:huge", "list:huge", "zset:huge", "stream:huge"} {
					if !st.streamed["db 0 key "+strconv.Quote(key)] {
						t.Errorf("streamed (%s): db 0 key %q was not streamed with MaxPayload 4096", st.label, key)
					}
				}
				for _, typ := range []rdb.Type{rdb.TypeString, rdb.TypeList, rdb.TypeSet, rdb.TypeHash} {
					if typ == rdb.TypeList && !rt.plain {
						continue // only PLAIN quicklist nodes hold a list element as a string of its own
					}
					if st.chunked[typ] == 0 {
						t.Errorf("streamed (%s): no %v element came in chunks with ChunkSize 1000", st.label, typ)
					}
				}
				t.Logf("streamed (%s): %d keys streamed, chunk continuations %v", st.label, len(st.streamed), st.chunked)
			}
			t.Logf("%d keys in %d dbs, %d libraries; file encodings %v",
				rtCountKeys(want), len(want.dbs), len(want.funcs), inMemory.fileEncodings)
		})
	}
}

// A roundTrip is one server under test and its clients, one per database.
type roundTrip struct {
	t       *testing.T
	s       *redistest.Server
	clients [16]*redis.Client
	plain   bool // DEBUG QUICKLIST-PACKED-THRESHOLD worked: list:plain has PLAIN nodes
}

// client returns a RESP2 client of database db: every reply is then a bulk
// string, an integer or an array, and scores arrive as text.
func (rt *roundTrip) client(db int) *redis.Client {
	if rt.clients[db] == nil {
		c := redis.NewClient(&redis.Options{
			Addr: rt.s.Addr, Password: rt.s.Password, DB: db,
			Protocol: 2, DisableIdentity: true,
		})
		rt.t.Cleanup(func() { _ = c.Close() })
		rt.clients[db] = c
	}
	return rt.clients[db]
}

func (rt *roundTrip) try(db int, args ...any) (any, error) {
	v, err := rt.client(db).Do(rt.t.Context(), args...).Result()
	if err == redis.Nil {
		err = nil
	}
	return v, err
}

func (rt *roundTrip) do(db int, args ...any) any {
	rt.t.Helper()
	v, err := rt.try(db, args...)
	if err != nil {
		rt.t.Fatalf("db %d: %s: %v", db, rtCmd(args), err)
	}
	return v
}

// rtCmd shows a command with its long arguments cut short.
func rtCmd(args []any) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(rtShort(fmt.Sprint(a)))
	}
	return b.String()
}

// rtShort quotes s, cut to 40 bytes with its length when it is longer.
func rtShort(s string) string {
	if len(s) <= 40 {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:40]) + "...(" + strconv.Itoa(len(s)) + " bytes)"
}

func (rt *roundTrip) list(v any) []any {
	rt.t.Helper()
	if v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		rt.t.Fatalf("reply %T %v, want an array", v, v)
	}
	return l
}

func (rt *roundTrip) str(v any) string {
	rt.t.Helper()
	s, ok := v.(string)
	if !ok {
		rt.t.Fatalf("reply %T %v, want a bulk string", v, v)
	}
	return s
}

func (rt *roundTrip) strs(v any) []string {
	rt.t.Helper()
	l := rt.list(v)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, rt.str(x))
	}
	return out
}

func (rt *roundTrip) int(v any) int64 {
	rt.t.Helper()
	n, ok := v.(int64)
	if !ok {
		rt.t.Fatalf("reply %T %v, want an integer", v, v)
	}
	return n
}

// fields turns a flat name, value, name, value array into a map.
func (rt *roundTrip) fields(v any) map[string]any {
	rt.t.Helper()
	l := rt.list(v)
	if len(l)%2 != 0 {
		rt.t.Fatalf("reply of %d elements, want name-value pairs", len(l))
	}
	m := make(map[string]any, len(l)/2)
	for i := 0; i < len(l); i += 2 {
		m[rt.str(l[i])] = l[i+1]
	}
	return m
}

// debugObject returns the quicklist node count and compression flag that
// DEBUG OBJECT reports for a list.
func (rt *roundTrip) debugObject(db int, key string) (nodes int, compressed bool) {
	rt.t.Helper()
	info := rt.str(rt.do(db, "DEBUG", "OBJECT", key))
	for _, f := range strings.Fields(info) {
		name, val, _ := strings.Cut(f, ":")
		switch name {
		case "ql_nodes":
			nodes, _ = strconv.Atoi(val)
		case "ql_compressed":
			compressed = val == "1"
		}
	}
	return nodes, compressed
}

// Absolute expiry times, in Unix ms.
const (
	rtExpire2100 = 4102444800123   // 2100-01-01T00:00:00.123Z
	rtExpire9999 = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// fill writes the data set: every type and encoding Redis 7.0 produces with
// the server's thresholds, in databases 0, 1 and 15, and two function
// libraries.
func (rt *roundTrip) fill() {
	t := rt.t
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	letters := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[rng.IntN(52)]
		}
		return string(b)
	}
	var all256 strings.Builder
	for i := range 256 {
		all256.WriteByte(byte(i))
	}
	push := func(db int, cmd, key string, vals ...string) {
		t.Helper()
		args := []any{cmd, key}
		for _, v := range vals {
			args = append(args, v)
		}
		rt.do(db, args...)
	}

	// Strings. RDB stores 8, 16 and 32-bit integers encoded, larger ones
	// as text; the server keeps all of them as "int". Texts that look like
	// integers but are not canonical stay strings.
	for _, kv := range [][2]string{
		{"int:zero", "0"}, {"int:shared", "42"}, {"int:int8", "127"}, {"int:int8-min", "-128"},
		{"int:int16", "32767"}, {"int:int16-min", "-32768"}, {"int:int32", "2147483647"},
		{"int:int32-min", "-2147483648"}, {"int:int64-small", "2147483648"},
		{"int:int64", "9223372036854775807"}, {"int:int64-min", "-9223372036854775808"},
		{"str:int64-overflow", "9223372036854775808"}, {"str:leading-zero", "007"},
		{"str:minus-zero", "-0"}, {"str:plus", "+1"}, {"str:space", " 1"}, {"str:float", "1.5"},
		{"str:empty", ""}, {"str:embstr", "hello world"}, {"str:embstr-44", letters(44)},
		{"str:raw-45", letters(45)},
		{"str:lzf-embstr", strings.Repeat("a", 30)}, // LZF in the file, embstr live
		{"str:lzf-raw", strings.Repeat("abcdefgh", 100)},
		{"str:binary", all256.String()},
		{"str:binary-random", random(1000)},
		{"str:2mib-random", random(2 << 20)},
		{"str:2mib-lzf", strings.Repeat("0123456789abcdef", (2<<20)/16)},
	} {
		rt.do(0, "SET", kv[0], kv[1])
	}

	// Keys with expiry times: absolute, far in the future, relative (the
	// server stores an absolute time), on a non-string value.
	rt.do(0, "SET", "ttl:pexpireat", "v")
	rt.do(0, "PEXPIREAT", "ttl:pexpireat", rtExpire2100)
	rt.do(0, "SET", "ttl:year9999", "v")
	rt.do(0, "PEXPIREAT", "ttl:year9999", rtExpire9999)
	rt.do(0, "SET", "ttl:pxat", "v", "PXAT", time.Now().Add(time.Hour).UnixMilli())
	rt.do(0, "SET", "ttl:ex", "v", "EX", 86400)
	rt.do(0, "RPUSH", "ttl:list", "a", "b")
	rt.do(0, "PEXPIREAT", "ttl:list", rtExpire2100+654)

	// Lists: one small node; listpack integers of every width and strings
	// of every length class; many nodes; compressed nodes; PLAIN nodes.
	push(0, "RPUSH", "list:small", "a", "", "\x00\xff", "12345", "-1")
	push(0, "RPUSH", "list:ints", "0", "127", "128", "-1", "-4096", "4095", "4096", "-32768",
		"32767", "32768", "-8388608", "8388607", "8388608", "-2147483648", "2147483647",
		"2147483648", "-9223372036854775808", "9223372036854775807", "01", "-0", "1.5")
	push(0, "RPUSH", "list:strlens", letters(63), letters(64), letters(4095), letters(4096), random(300))
	var big []string
	for i := range 5000 {
		big = append(big, "elem-"+strconv.Itoa(i))
	}
	push(0, "RPUSH", "list:big", big...)

	// A quicklist takes its compress depth from the configuration when it
	// is created.
	depth := rt.strs(rt.do(0, "CONFIG", "GET", "list-compress-depth"))[1]
	rt.do(0, "CONFIG", "SET", "list-compress-depth", "1")
	var comp []string
	for i := range 3000 {
		comp = append(comp, fmt.Sprintf("item-%05d-%s", i, strings.Repeat("x", 20)))
	}
	push(0, "RPUSH", "list:compressed", comp...)
	if nodes, compressed := rt.debugObject(0, "list:compressed"); nodes < 3 || !compressed {
		t.Fatalf("list:compressed: %d nodes, compressed %v; want a compressed quicklist of several nodes", nodes, compressed)
	}
	// Redis 7.0 makes an element a PLAIN node of its own when it is at
	// least packed_threshold (1 GiB) long; DEBUG QUICKLIST-PACKED-THRESHOLD
	// lowers it so that a few KiB suffice.
	if _, err := rt.try(0, "DEBUG", "QUICKLIST-PACKED-THRESHOLD", "8192"); err != nil {
		t.Logf("no PLAIN quicklist nodes: DEBUG QUICKLIST-PACKED-THRESHOLD: %v", err)
	} else {
		rt.plain = true
	}
	// Middle nodes of this one are compressed, PLAIN ones included (an LZF
	// string in place of the element).
	push(0, "RPUSH", "list:plain-compressed", random(10000), strings.Repeat("p", 9000), "small",
		strings.Repeat("q", 20000), random(8192), "tail")
	rt.do(0, "CONFIG", "SET", "list-compress-depth", depth)
	push(0, "RPUSH", "list:plain", "head", random(10000), strings.Repeat("z", 8192), "mid", random(8191), "tail")
	if nodes, _ := rt.debugObject(0, "list:plain"); rt.plain && nodes < 4 {
		t.Fatalf("list:plain: %d quicklist nodes, want PLAIN nodes for its 3 big elements", nodes)
	}

	// Sets: intsets of 16, 32 and 64-bit members; hashtables of strings,
	// of binary members, of a member longer than ChunkSize.
	push(0, "SADD", "set:int16", "1", "2", "-3")
	push(0, "SADD", "set:int32", "1", "70000", "-70000")
	push(0, "SADD", "set:int64", "1", "1099511627776", "9223372036854775807", "-9223372036854775808")
	var ints, members []string
	for i := range 300 {
		ints = append(ints, strconv.Itoa(i*3-450))
	}
	push(0, "SADD", "set:ints", ints...)
	for i := range 1000 {
		members = append(members, "member-"+strconv.Itoa(i))
	}
	push(0, "SADD", "set:strings", members...)
	push(0, "SADD", "set:binary", "", "\x00", "\xff\xfe", all256.String(), "a\r\nb", "1")
	push(0, "SADD", "set:big-member", random(5000), "small", strings.Repeat("m", 3000))

	// Sorted sets, listpack and skiplist, with extreme scores. In a listpack
	// a score is text (%.17g), in a skiplist a binary double.
	scores := []string{
		"inf", "inf", "-inf", "-inf", "0", "zero", "-0", "neg-zero",
		"1.7976931348623157e308", "max", "1e308", "1e308", "-1e308", "-1e308",
		"5e-324", "denormal-min", "2.2250738585072014e-308", "normal-min",
		"0.1", "tenth", "-2.25", "fraction", "0.3333333333333333", "third",
		"3", "int", "-42", "neg-int", "9007199254740993", "2^53+1",
		"123456789012345678", "big-int", "1e-10", "tiny",
	}
	push(0, "ZADD", "zset:scores", scores...)
	push(0, "ZADD", "zset:scores-skiplist", append(scores, "7", letters(100))...) // a member > 64 bytes
	push(0, "ZADD", "zset:small", "1", "a", "2", "b", "3", "c")
	push(0, "ZADD", "zset:binary", "1", "\x00", "2", "\xff", "3", "", "4", "a\r\nb")
	var zbig []string
	for i := range 500 {
		zbig = append(zbig, strconv.FormatFloat(float64(i)*0.5-100, 'g', -1, 64), "m"+strconv.Itoa(i))
	}
	push(0, "ZADD", "zset:big", zbig...)

	// Hashes, listpack and hashtable.
	push(0, "HSET", "hash:small", "f1", "v1", "f2", "", "", "empty-field", "num", "12345")
	push(0, "HSET", "hash:ints", "a", "0", "b", "127", "c", "-4096", "d", "32767", "e", "8388607",
		"f", "2147483647", "g", "9223372036854775807", "h", "-9223372036854775808")
	push(0, "HSET", "hash:binary", "\x00\x01", "\xff\xfe", "\r\n", random(64), "k", "")
	push(0, "HSET", "hash:binary-long", all256.String(), "x", "y", all256.String())
	push(0, "HSET", "hash:long-value", "short", "v", "long", letters(1000), "huge", random(20000))
	var hbig []string
	for i := range 1000 {
		hbig = append(hbig, "field-"+strconv.Itoa(i), "value-"+strconv.Itoa(i))
	}
	push(0, "HSET", "hash:big", hbig...)

	rt.fillStreams(letters, random)

	// Values whose records are larger than the Reader's buffer (256 KiB),
	// so that MaxPayload 4096 streams them whatever the buffer holds.
	var hhuge, lhuge, zhuge []string
	for i := range 5000 {
		hhuge = append(hhuge, "field-"+strconv.Itoa(i), "value-"+strconv.Itoa(i))
	}
	push(0, "HSET", "hash:huge", append(hhuge, "huge", random(400<<10))...)
	push(0, "SADD", "set:huge", random(400<<10), "small", "1")
	for i := range 20000 {
		lhuge = append(lhuge, "elem-"+strconv.Itoa(i))
	}
	push(0, "RPUSH", "list:huge", lhuge...)
	push(0, "RPUSH", "list:huge", random(400<<10)) // a PLAIN node
	push(0, "RPUSH", "list:huge", lhuge...)
	for i := range 20000 {
		zhuge = append(zhuge, strconv.Itoa(i%1000)+"."+strconv.Itoa(i), fmt.Sprintf("member-%015d", i))
	}
	push(0, "ZADD", "zset:huge", zhuge...)
	rt.do(0, "XADD", "stream:huge", "1-1", "f", "v")
	rt.do(0, "XADD", "stream:huge", "2-1", "huge", random(400<<10), "n", "2")
	rt.do(0, "XADD", "stream:huge", "3-1", "f", "v")

	// Other databases; int:zero exists in db 0 too.
	rt.do(1, "SET", "int:zero", "db1")
	rt.do(1, "SET", "ttl:db1", "v")
	rt.do(1, "PEXPIREAT", "ttl:db1", rtExpire2100+876)
	rt.do(1, "RPUSH", "list:db1", "a", "b", "c")
	rt.do(1, "HSET", "hash:db1", "f", "v")
	rt.do(15, "ZADD", "ttl:db15", "1", "a", "2", "b")
	rt.do(15, "PEXPIREAT", "ttl:db15", rtExpire9999-999)
	rt.do(15, "XADD", "stream:db15", "1-1", "f", "v")
	rt.do(15, "XGROUP", "CREATE", "stream:db15", "g", "0")
	rt.do(15, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "stream:db15", ">")
	rt.do(15, "SADD", "set:db15", "x", "1")
	rt.do(15, "SET", "str:db15", letters(100))

	rt.do(0, "FUNCTION", "LOAD", "#!lua name=rtlib1\n"+
		"redis.register_function('rt_one', function(keys, args) return 1 end)\n")
	rt.do(0, "FUNCTION", "LOAD", "#!lua name=rtlib2\n"+
		"local function two(keys, args) return 2 end\n"+
		"redis.register_function{function_name='rt_two', callback=two, flags={'no-writes'}}\n"+
		"redis.register_function('rt_three', function(keys, args) return redis.call('PING') end)\n")
}

// fillStreams writes streams: entries with several fields, same-field and
// different-field entries, deleted entries, consumer groups with pending
// entries, claims and several consumers, an empty stream with a group, an
// emptied one, XSETID.
func (rt *roundTrip) fillStreams(letters, random func(int) string) {
	rt.do(0, "XADD", "stream:main", "1-1", "name", "alice", "n", "1")
	for i := 2; i <= 250; i++ {
		ids := []string{strconv.Itoa(i) + "-0"}
		if i%10 == 0 {
			ids = append(ids, strconv.Itoa(i)+"-5")
		}
		for _, id := range ids {
			args := []any{"XADD", "stream:main", id}
			switch {
			case i%7 == 0:
				args = append(args, "name", "x", "n", i, "extra", "e")
			case i%11 == 0:
				args = append(args, "name", letters(300), "n", "-1")
			case i%13 == 0:
				args = append(args, "name", "", "n", "9223372036854775807")
			case i%17 == 0:
				args = append(args, "bin\x00", "\xff\r\n")
			default:
				args = append(args, "name", "user-"+strconv.Itoa(i), "n", i)
			}
			rt.do(0, args...)
		}
	}
	rt.do(0, "XDEL", "stream:main", "1-1", "5-0", "100-0", "250-0")
	rt.do(0, "XGROUP", "CREATE", "stream:main", "g1", "0")
	rt.do(0, "XGROUP", "CREATE", "stream:main", "g2", "$")
	rt.do(0, "XGROUP", "CREATE", "stream:main", "g3", "50-0", "ENTRIESREAD", "40")
	rt.do(0, "XGROUP", "CREATECONSUMER", "stream:main", "g1", "idle")
	ids1 := rt.readGroup("stream:main", "g1", "c1", "COUNT", "10")
	ids2 := rt.readGroup("stream:main", "g1", "c2", "COUNT", "5")
	rt.readGroup("stream:main", "g1", "c3", "COUNT", "3", "NOACK")
	if len(ids1) != 10 || len(ids2) != 5 {
		rt.t.Fatalf("XREADGROUP read %d and %d entries, want 10 and 5", len(ids1), len(ids2))
	}
	rt.do(0, "XACK", "stream:main", "g1", ids1[0], ids1[1])
	rt.do(0, "XCLAIM", "stream:main", "g1", "c2", "0", ids1[2], "IDLE", "5000", "RETRYCOUNT", "7")
	rt.do(0, "XCLAIM", "stream:main", "g1", "c4", "0", ids1[3], ids1[4], "TIME", "1700000000123")
	rt.do(0, "XCLAIM", "stream:main", "g1", "c4", "0", ids1[5], "JUSTID")
	// Reading its own history delivers c1's pending entries again.
	rt.do(0, "XREADGROUP", "GROUP", "g1", "c1", "STREAMS", "stream:main", "0")
	rt.readGroup("stream:main", "g3", "c1", "COUNT", "2")
	rt.do(0, "XDEL", "stream:main", ids2[0]) // still in c2's pending list

	rt.do(0, "XADD", "stream:setid", "1-1", "a", "b")
	rt.do(0, "XADD", "stream:setid", "1-2", "a", "c")
	rt.do(0, "XDEL", "stream:setid", "1-1")
	rt.do(0, "XSETID", "stream:setid", "99-5", "ENTRIESADDED", "50", "MAXDELETEDID", "10-0")

	rt.do(0, "XGROUP", "CREATE", "stream:empty", "g", "$", "MKSTREAM")

	rt.do(0, "XADD", "stream:emptied", "5-5", "x", "y")
	rt.do(0, "XDEL", "stream:emptied", "5-5")
	rt.do(0, "XGROUP", "CREATE", "stream:emptied", "g", "0")

	for i := range 5 {
		rt.do(0, "XADD", "stream:auto", "MAXLEN", "=", "2", "*", "i", i)
	}
	rt.do(0, "XADD", "stream:big-value", "1-0", "big", random(20000), "small", "x")
	rt.do(0, "XADD", "stream:big-value", "2-0", "big", "y", "small", "z")
}

// readGroup runs XREADGROUP for new entries and returns their ids.
func (rt *roundTrip) readGroup(key, group, consumer string, opts ...any) []string {
	rt.t.Helper()
	args := append([]any{"XREADGROUP", "GROUP", group, consumer}, opts...)
	args = append(args, "STREAMS", key, ">")
	var ids []string
	for _, s := range rt.list(rt.do(0, args...)) {
		for _, e := range rt.list(rt.list(s)[1]) {
			ids = append(ids, rt.str(rt.list(e)[0]))
		}
	}
	return ids
}

// An rtDump is the contents of a server or of a dump.rdb.
type rtDump struct {
	dbs   map[int]map[string]*rtKey
	funcs map[string]string // library name: code

	// Decoding only.
	label         string // how the file was read
	aux           map[string]string
	checksum      rdb.ChecksumState
	streamed      map[string]bool  // "db N key K" of the keys whose value was streamed
	oversized     map[string]int   // "db N key K": Payload length, for payloads larger than MaxPayload
	chunked       map[rdb.Type]int // chunk continuations by type
	fileEncodings map[string]int   // keys by RDB object type
}

// An rtKey is one key: what TYPE, OBJECT ENCODING, PEXPIRETIME and the
// read commands report, or what the decoder found. Byte strings are held as
// Go strings.
type rtKey struct {
	Type     string
	Encoding string
	ExpireAt int64 // Unix ms, 0 if none
	Str      string
	List     []string
	Set      []string // sorted
	ZSet     map[string]float64
	Hash     map[string]string
	Stream   *rtStream

	summary []rtGroupSummary // server only: from XINFO GROUPS and XPENDING
}

type rtStream struct {
	Entries      []rtEntry
	Length       uint64
	LastID       string
	FirstID      string
	MaxDeletedID string
	EntriesAdded uint64
	Groups       []rtGroup
}

type rtEntry struct {
	ID     string
	Fields []string // name, value, ...
}

type rtGroup struct {
	Name        string
	LastID      string
	EntriesRead int64 // -1 if unknown
	Pending     []rtPending
	Consumers   []rtConsumer
}

type rtPending struct {
	ID            string
	Consumer      string
	DeliveryTime  int64
	DeliveryCount uint64
}

type rtConsumer struct {
	Name       string
	SeenTime   int64
	ActiveTime int64 // -1 if not reported (Redis < 7.2)
	Pending    []string
}

// An rtGroupSummary is what XINFO GROUPS and XPENDING tell of a group.
type rtGroupSummary struct {
	Name        string
	Consumers   int
	Pending     int
	LastID      string
	EntriesRead int64
	PEL         []rtPending // without DeliveryTime
}

// serverState reads every key of every database, and the function
// libraries, from the server.
func (rt *roundTrip) serverState() *rtDump {
	st := &rtDump{dbs: map[int]map[string]*rtKey{}, funcs: map[string]string{}}
	for db := range len(rt.clients) {
		keys := map[string]*rtKey{}
		cursor := "0"
		for {
			r := rt.list(rt.do(db, "SCAN", cursor, "COUNT", 1000))
			for _, k := range rt.strs(r[1]) {
				keys[k] = nil
			}
			if cursor = rt.str(r[0]); cursor == "0" {
				break
			}
		}
		for k := range keys {
			keys[k] = rt.key(db, k)
		}
		if len(keys) > 0 {
			st.dbs[db] = keys
		}
	}
	for _, lib := range rt.list(rt.do(0, "FUNCTION", "LIST", "WITHCODE")) {
		f := rt.fields(lib)
		st.funcs[rt.str(f["library_name"])] = rt.str(f["library_code"])
	}
	return st
}

func (rt *roundTrip) key(db int, key string) *rtKey {
	rt.t.Helper()
	k := &rtKey{
		Type:     rt.str(rt.do(db, "TYPE", key)),
		Encoding: rt.str(rt.do(db, "OBJECT", "ENCODING", key)),
	}
	switch ms := rt.int(rt.do(db, "PEXPIRETIME", key)); {
	case ms > 0:
		k.ExpireAt = ms
	case ms != -1:
		rt.t.Fatalf("db %d key %q: PEXPIRETIME %d", db, key, ms)
	}
	switch k.Type {
	case "string":
		k.Str = rt.str(rt.do(db, "GET", key))
	case "list":
		k.List = rt.strs(rt.do(db, "LRANGE", key, 0, -1))
	case "set":
		k.Set = rt.strs(rt.do(db, "SMEMBERS", key))
		slices.Sort(k.Set)
	case "zset":
		l := rt.strs(rt.do(db, "ZRANGE", key, 0, -1, "WITHSCORES"))
		k.ZSet = map[string]float64{}
		for i := 0; i+1 < len(l); i += 2 {
			f, err := strconv.ParseFloat(l[i+1], 64)
			if err != nil {
				rt.t.Fatalf("db %d key %q: score %q: %v", db, key, l[i+1], err)
			}
			k.ZSet[l[i]] = f
		}
	case "hash":
		l := rt.strs(rt.do(db, "HGETALL", key))
		k.Hash = map[string]string{}
		for i := 0; i+1 < len(l); i += 2 {
			k.Hash[l[i]] = l[i+1]
		}
	case "stream":
		k.Stream, k.summary = rt.stream(db, key)
	default:
		rt.t.Fatalf("db %d key %q: type %q", db, key, k.Type)
	}
	return k
}

// stream reads a stream: its entries with XRANGE, its metadata, groups,
// pending lists and consumers with XINFO STREAM FULL, and a summary of its
// groups with XINFO GROUPS and XPENDING.
func (rt *roundTrip) stream(db int, key string) (*rtStream, []rtGroupSummary) {
	rt.t.Helper()
	info := rt.fields(rt.do(db, "XINFO", "STREAM", key, "FULL", "COUNT", 0))
	s := &rtStream{
		Entries:      []rtEntry{},
		Length:       uint64(rt.int(info["length"])),
		LastID:       rt.str(info["last-generated-id"]),
		FirstID:      rt.str(info["recorded-first-entry-id"]),
		MaxDeletedID: rt.str(info["max-deleted-entry-id"]),
		EntriesAdded: uint64(rt.int(info["entries-added"])),
		Groups:       []rtGroup{},
	}
	for _, e := range rt.list(rt.do(db, "XRANGE", key, "-", "+")) {
		l := rt.list(e)
		s.Entries = append(s.Entries, rtEntry{ID: rt.str(l[0]), Fields: rt.strs(l[1])})
	}
	for _, g := range rt.list(info["groups"]) {
		gf := rt.fields(g)
		gs := rtGroup{
			Name: rt.str(gf["name"]), LastID: rt.str(gf["last-delivered-id"]), EntriesRead: -1,
			Pending: []rtPending{}, Consumers: []rtConsumer{},
		}
		if gf["entries-read"] != nil {
			gs.EntriesRead = rt.int(gf["entries-read"])
		}
		for _, p := range rt.list(gf["pending"]) {
			l := rt.list(p)
			gs.Pending = append(gs.Pending, rtPending{ID: rt.str(l[0]), Consumer: rt.str(l[1]),
				DeliveryTime: rt.int(l[2]), DeliveryCount: uint64(rt.int(l[3]))})
		}
		for _, c := range rt.list(gf["consumers"]) {
			cf := rt.fields(c)
			cs := rtConsumer{Name: rt.str(cf["name"]), SeenTime: rt.int(cf["seen-time"]), ActiveTime: -1, Pending: []string{}}
			if at, ok := cf["active-time"]; ok {
				cs.ActiveTime = rt.int(at)
			}
			for _, p := range rt.list(cf["pending"]) {
				cs.Pending = append(cs.Pending, rt.str(rt.list(p)[0]))
			}
			gs.Consumers = append(gs.Consumers, cs)
		}
		s.Groups = append(s.Groups, gs)
	}

	sum := []rtGroupSummary{}
	for _, g := range rt.list(rt.do(db, "XINFO", "GROUPS", key)) {
		gf := rt.fields(g)
		gs := rtGroupSummary{
			Name: rt.str(gf["name"]), Consumers: int(rt.int(gf["consumers"])),
			Pending: int(rt.int(gf["pending"])), LastID: rt.str(gf["last-delivered-id"]),
			EntriesRead: -1, PEL: []rtPending{},
		}
		if gf["entries-read"] != nil {
			gs.EntriesRead = rt.int(gf["entries-read"])
		}
		for _, p := range rt.list(rt.do(db, "XPENDING", key, gs.Name, "-", "+", 1<<30)) {
			l := rt.list(p) // id, consumer, idle ms, delivery count
			gs.PEL = append(gs.PEL, rtPending{ID: rt.str(l[0]), Consumer: rt.str(l[1]), DeliveryCount: uint64(rt.int(l[3]))})
		}
		sum = append(sum, gs)
	}
	return s, sum
}

// rtSummarize makes a stream's group summary from its full group state.
func rtSummarize(s *rtStream) []rtGroupSummary {
	sum := []rtGroupSummary{}
	for _, g := range s.Groups {
		gs := rtGroupSummary{Name: g.Name, Consumers: len(g.Consumers), Pending: len(g.Pending),
			LastID: g.LastID, EntriesRead: g.EntriesRead, PEL: []rtPending{}}
		for _, p := range g.Pending {
			p.DeliveryTime = 0
			gs.PEL = append(gs.PEL, p)
		}
		sum = append(sum, gs)
	}
	return sum
}

// rtCheckCoverage fails if the server holds no value of one of the
// encodings Redis 7.0 produces.
func rtCheckCoverage(t *testing.T, st *rtDump) {
	t.Helper()
	seen := map[string]bool{}
	for _, keys := range st.dbs {
		for _, k := range keys {
			seen[k.Type+"/"+k.Encoding] = true
		}
	}
	for _, enc := range []string{"string/int", "string/embstr", "string/raw", "list/quicklist",
		"set/intset", "set/hashtable", "zset/listpack", "zset/skiplist", "hash/listpack",
		"hash/hashtable", "stream/stream"} {
		if !seen[enc] {
			t.Errorf("the server holds no %s value: the fill does not cover it", enc)
		}
	}
	if len(st.dbs) != 3 || st.dbs[0] == nil || st.dbs[1] == nil || st.dbs[15] == nil || len(st.funcs) != 2 {
		t.Errorf("server has %d dbs and %d libraries, want dbs 0, 1, 15 and 2 libraries", len(st.dbs), len(st.funcs))
	}
}

// rtDecodeDump decodes the file at path with the given MaxPayload and
// ChunkSize (0: the defaults), reassembling chunked strings; with
// smallReads every Read of the file returns at most 61 bytes.
func rtDecodeDump(t *testing.T, path string, maxPayload, chunkSize int, smallReads bool) *rtDump {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st := &rtDump{
		label: "whole reads",
		dbs:   map[int]map[string]*rtKey{}, funcs: map[string]string{}, aux: map[string]string{},
		streamed: map[string]bool{}, oversized: map[string]int{}, chunked: map[rdb.Type]int{}, fileEncodings: map[string]int{},
	}
	var src io.Reader = f
	if smallReads {
		src, st.label = &rtSmallReader{f}, "61 bytes per Read"
	}
	r := rdb.NewReader(src)
	r.MaxPayload, r.ChunkSize = maxPayload, chunkSize
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("MaxPayload %d, %s: %v", maxPayload, st.label, err)
		}
		switch e.Kind {
		case rdb.KindAux:
			st.aux[string(e.Aux.Name)] = string(e.Aux.Value)
		case rdb.KindFunction:
			if _, dup := st.funcs[string(e.Aux.Name)]; dup {
				t.Errorf("MaxPayload %d: library %q twice", maxPayload, e.Aux.Name)
			}
			st.funcs[string(e.Aux.Name)] = string(e.Aux.Value)
		case rdb.KindKey:
			key := string(e.Key)
			name := fmt.Sprintf("db %d key %q", e.DB, key)
			if e.Streamed() {
				st.streamed[name] = true
			}
			if maxPayload > 0 && len(e.Payload) > maxPayload {
				st.oversized[name] = len(e.Payload)
			}
			st.fileEncodings[e.Encoding.String()]++
			k, chunks, err := rtDecodeKey(e)
			if err != nil {
				t.Fatalf("MaxPayload %d: db %d key %q (%v): %v", maxPayload, e.DB, key, e.Encoding, err)
			}
			st.chunked[e.Type] += chunks
			if st.dbs[e.DB] == nil {
				st.dbs[e.DB] = map[string]*rtKey{}
			}
			if _, dup := st.dbs[e.DB][key]; dup {
				t.Errorf("MaxPayload %d: db %d key %q twice", maxPayload, e.DB, key)
			}
			st.dbs[e.DB][key] = k
		}
	}
	if _, _, st.checksum = r.Checksum(); st.checksum != rdb.ChecksumOK {
		t.Errorf("MaxPayload %d: checksum state %v, want %v", maxPayload, st.checksum, rdb.ChecksumOK)
	}
	return st
}

// rtSmallReader returns at most 61 bytes a Read.
type rtSmallReader struct{ r io.Reader }

func (s *rtSmallReader) Read(p []byte) (int, error) {
	return s.r.Read(p[:min(len(p), 61)])
}

// An rtElem is a decoded element with its chunks reassembled.
type rtElem struct {
	member, value []byte
	score         float64
	id            rdb.StreamID
	fields        []string
}

// rtCollect reads every element of v, joining the pieces of a chunked string
// (the continuations carry the next piece in the same field), and returns
// the number of continuations.
func rtCollect(v *rdb.Value) ([]rtElem, int, error) {
	var out []rtElem
	chunks, more := 0, false
	for v.Next() {
		el := v.Elem()
		if more {
			last := &out[len(out)-1]
			last.member = append(last.member, el.Member...)
			last.value = append(last.value, el.Value...)
			chunks++
		} else {
			e := rtElem{member: bytes.Clone(el.Member), value: bytes.Clone(el.Value), score: el.Score, id: el.ID}
			for _, f := range el.Fields {
				e.fields = append(e.fields, string(f))
			}
			out = append(out, e)
		}
		more = el.More
	}
	if err := v.Err(); err != nil {
		return nil, chunks, err
	}
	if more {
		return nil, chunks, fmt.Errorf("the value ends inside a chunked string")
	}
	return out, chunks, nil
}

func rtDecodeKey(e *rdb.Entry) (*rtKey, int, error) {
	k := &rtKey{Type: e.Type.String(), Encoding: e.ObjectEncoding(), ExpireAt: e.ExpireAt}
	v := e.Value()
	elems, chunks, err := rtCollect(v)
	if err != nil {
		return nil, chunks, err
	}
	switch e.Type {
	case rdb.TypeString:
		if len(elems) != 1 {
			return nil, chunks, fmt.Errorf("string of %d elements", len(elems))
		}
		k.Str = string(elems[0].value)
	case rdb.TypeList, rdb.TypeSet:
		l := make([]string, 0, len(elems))
		for _, el := range elems {
			l = append(l, string(el.member))
		}
		if e.Type == rdb.TypeSet {
			slices.Sort(l)
			k.Set = l
		} else {
			k.List = l
		}
	case rdb.TypeZSet:
		k.ZSet = make(map[string]float64, len(elems))
		for _, el := range elems {
			if _, dup := k.ZSet[string(el.member)]; dup {
				return nil, chunks, fmt.Errorf("zset member %s twice", rtShort(string(el.member)))
			}
			k.ZSet[string(el.member)] = el.score
		}
	case rdb.TypeHash:
		k.Hash = make(map[string]string, len(elems))
		for _, el := range elems {
			if _, dup := k.Hash[string(el.member)]; dup {
				return nil, chunks, fmt.Errorf("hash field %s twice", rtShort(string(el.member)))
			}
			k.Hash[string(el.member)] = string(el.value)
		}
	case rdb.TypeStream:
		info := v.Stream()
		if info == nil {
			return nil, chunks, fmt.Errorf("no stream metadata after the entries")
		}
		k.Stream = rtDecodedStream(elems, info)
	default:
		return nil, chunks, fmt.Errorf("unexpected type %v", e.Type)
	}
	return k, chunks, nil
}

func rtDecodedStream(elems []rtElem, info *rdb.StreamInfo) *rtStream {
	s := &rtStream{
		Entries: []rtEntry{}, Length: info.Length, LastID: info.LastID.String(),
		FirstID: info.FirstID.String(), MaxDeletedID: info.MaxDeletedID.String(),
		EntriesAdded: info.EntriesAdded, Groups: []rtGroup{},
	}
	for _, el := range elems {
		s.Entries = append(s.Entries, rtEntry{ID: el.id.String(), Fields: el.fields})
	}
	for _, g := range info.Groups {
		gs := rtGroup{Name: string(g.Name), LastID: g.LastID.String(), EntriesRead: g.EntriesRead,
			Pending: []rtPending{}, Consumers: []rtConsumer{}}
		for _, p := range g.Pending {
			gs.Pending = append(gs.Pending, rtPending{ID: p.ID.String(), Consumer: string(p.Consumer),
				DeliveryTime: p.DeliveryTime, DeliveryCount: p.DeliveryCount})
		}
		for _, c := range g.Consumers {
			cs := rtConsumer{Name: string(c.Name), SeenTime: c.SeenTime, ActiveTime: c.ActiveTime, Pending: []string{}}
			for _, id := range c.Pending {
				cs.Pending = append(cs.Pending, id.String())
			}
			gs.Consumers = append(gs.Consumers, cs)
		}
		s.Groups = append(s.Groups, gs)
	}
	return s
}

// rtCompare reports every difference between want and got: keys missing
// or extra in each database, then values key by key, then libraries.
func rtCompare(t *testing.T, label string, want, got *rtDump) {
	t.Helper()
	dbs := slices.Sorted(maps.Keys(want.dbs))
	for db := range got.dbs {
		if want.dbs[db] == nil {
			dbs = append(dbs, db)
		}
	}
	for _, db := range dbs {
		w, g := want.dbs[db], got.dbs[db]
		for _, key := range slices.Sorted(maps.Keys(w)) {
			gk, ok := g[key]
			if !ok {
				t.Errorf("%s: db %d key %q (%s) missing", label, db, key, w[key].Type)
				continue
			}
			for _, d := range rtDiffKey(w[key], gk) {
				t.Errorf("%s: db %d key %s: %s", label, db, rtShort(key), d)
			}
		}
		for _, key := range slices.Sorted(maps.Keys(g)) {
			if _, ok := w[key]; !ok {
				t.Errorf("%s: db %d key %q (%s) extra", label, db, key, g[key].Type)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want.funcs)) {
		if code, ok := got.funcs[name]; !ok {
			t.Errorf("%s: library %q missing", label, name)
		} else if code != want.funcs[name] {
			t.Errorf("%s: library %q code %q, want %q", label, name, code, want.funcs[name])
		}
	}
	for name := range got.funcs {
		if _, ok := want.funcs[name]; !ok {
			t.Errorf("%s: library %q extra", label, name)
		}
	}
}

// rtSameScore compares two scores as bit patterns, 0 and -0 being equal.
func rtSameScore(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (a == 0 && b == 0)
}

func rtScore(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64) + " (" + fmt.Sprintf("%#016x", math.Float64bits(f)) + ")"
}

// rtDiffKey describes how got differs from want.
func rtDiffKey(want, got *rtKey) []string {
	if want.Type != got.Type {
		return []string{fmt.Sprintf("type %s, want %s", got.Type, want.Type)}
	}
	var d []string
	if got.Encoding != want.Encoding {
		d = append(d, fmt.Sprintf("encoding %q, want %q", got.Encoding, want.Encoding))
	}
	if got.ExpireAt != want.ExpireAt {
		d = append(d, fmt.Sprintf("ExpireAt %d, want %d", got.ExpireAt, want.ExpireAt))
	}
	switch want.Type {
	case "string":
		if got.Str != want.Str {
			d = append(d, "value "+rtDiffString(got.Str, want.Str))
		}
	case "list":
		d = append(d, rtDiffStrings("element", got.List, want.List)...)
	case "set":
		d = append(d, rtDiffStrings("member", got.Set, want.Set)...)
	case "zset":
		for _, m := range slices.Sorted(maps.Keys(want.ZSet)) {
			gs, ok := got.ZSet[m]
			switch {
			case !ok:
				d = append(d, fmt.Sprintf("member %s missing", rtShort(m)))
			case !rtSameScore(gs, want.ZSet[m]):
				d = append(d, fmt.Sprintf("member %s score %s, want %s", rtShort(m), rtScore(gs), rtScore(want.ZSet[m])))
			}
		}
		for _, m := range slices.Sorted(maps.Keys(got.ZSet)) {
			if _, ok := want.ZSet[m]; !ok {
				d = append(d, fmt.Sprintf("member %s extra", rtShort(m)))
			}
		}
	case "hash":
		for _, f := range slices.Sorted(maps.Keys(want.Hash)) {
			gv, ok := got.Hash[f]
			switch {
			case !ok:
				d = append(d, fmt.Sprintf("field %s missing", rtShort(f)))
			case gv != want.Hash[f]:
				d = append(d, fmt.Sprintf("field %s value %s", rtShort(f), rtDiffString(gv, want.Hash[f])))
			}
		}
		for _, f := range slices.Sorted(maps.Keys(got.Hash)) {
			if _, ok := want.Hash[f]; !ok {
				d = append(d, fmt.Sprintf("field %s extra", rtShort(f)))
			}
		}
	case "stream":
		d = append(d, rtDiffStream(got.Stream, want.Stream)...)
		if want.summary != nil {
			if gs, ws := rtSummarize(got.Stream), want.summary; !reflect.DeepEqual(gs, ws) {
				d = append(d, fmt.Sprintf("groups (XINFO GROUPS, XPENDING) %+v, want %+v", gs, ws))
			}
		}
	}
	return d
}

// rtDiffString describes how a long string got differs from want.
func rtDiffString(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("%s, want %s: first difference at byte %d", rtShort(got), rtShort(want), i)
}

func rtDiffStrings(what string, got, want []string) []string {
	var d []string
	if len(got) != len(want) {
		d = append(d, fmt.Sprintf("%d %ss, want %d", len(got), what, len(want)))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return append(d, fmt.Sprintf("%s %d: %s", what, i, rtDiffString(got[i], want[i])))
		}
	}
	return d
}

func rtDiffStream(got, want *rtStream) []string {
	var d []string
	if len(got.Entries) != len(want.Entries) {
		d = append(d, fmt.Sprintf("%d entries, want %d", len(got.Entries), len(want.Entries)))
	}
	for i := range min(len(got.Entries), len(want.Entries)) {
		if g, w := got.Entries[i], want.Entries[i]; !reflect.DeepEqual(g, w) {
			d = append(d, fmt.Sprintf("entry %d: %s %q, want %s %q", i, g.ID, g.Fields, w.ID, w.Fields))
			break
		}
	}
	gm := fmt.Sprintf("length %d last %s first %s max-deleted %s entries-added %d",
		got.Length, got.LastID, got.FirstID, got.MaxDeletedID, got.EntriesAdded)
	wm := fmt.Sprintf("length %d last %s first %s max-deleted %s entries-added %d",
		want.Length, want.LastID, want.FirstID, want.MaxDeletedID, want.EntriesAdded)
	if gm != wm {
		d = append(d, fmt.Sprintf("%s, want %s", gm, wm))
	}
	if len(got.Groups) != len(want.Groups) {
		d = append(d, fmt.Sprintf("%d groups, want %d", len(got.Groups), len(want.Groups)))
	}
	for i := range min(len(got.Groups), len(want.Groups)) {
		if g, w := got.Groups[i], want.Groups[i]; !reflect.DeepEqual(g, w) {
			d = append(d, fmt.Sprintf("group %d:\n got %+v\nwant %+v", i, g, w))
		}
	}
	return d
}

func rtCountKeys(st *rtDump) int {
	n := 0
	for _, keys := range st.dbs {
		n += len(keys)
	}
	return n
}

func rtSum(m map[rdb.Type]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
