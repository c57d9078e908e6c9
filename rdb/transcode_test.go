package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A tcVal is a decoded value reduced to what a server holds.
type tcVal struct {
	Type   Type
	Str    string
	List   []string // list elements in order, set members sorted
	Hash   map[string]string
	TTL    map[string]int64 // hash fields with an expiry
	ZSet   map[string]uint64
	Stream *tcStream
	Module string
}

type tcStream struct {
	Entries []string // "id name value ..."
	Info    StreamInfo
}

// tcDecode decodes payload, written by a server of RDB version ver.
func tcDecode(payload []byte, ver int) (*tcVal, Encoding, error) {
	v := NewPayloadValue(payload, ver)
	val := &tcVal{Type: v.Type}
	for v.Next() {
		el := v.Elem()
		switch v.Type {
		case TypeString:
			val.Str = string(el.Value)
		case TypeList, TypeSet:
			val.List = append(val.List, string(el.Member))
		case TypeZSet:
			if val.ZSet == nil {
				val.ZSet = map[string]uint64{}
			}
			s := el.Score
			if s == 0 {
				s = 0 // -0 and 0 are the same score
			}
			val.ZSet[string(el.Member)] = math.Float64bits(s)
		case TypeHash:
			if val.Hash == nil {
				val.Hash, val.TTL = map[string]string{}, map[string]int64{}
			}
			val.Hash[string(el.Member)] = string(el.Value)
			if el.ExpireAt != 0 {
				val.TTL[string(el.Member)] = el.ExpireAt
			}
		case TypeStream:
			if val.Stream == nil {
				val.Stream = &tcStream{}
			}
			parts := []string{el.ID.String()}
			for _, f := range el.Fields {
				parts = append(parts, string(f))
			}
			val.Stream.Entries = append(val.Stream.Entries, strings.Join(parts, " "))
		case TypeModule:
			val.Module = v.ModuleName + ":" + string(el.Value)
		}
	}
	if err := v.Err(); err != nil {
		return nil, v.Encoding, err
	}
	if v.Type == TypeSet {
		slices.Sort(val.List)
	}
	if v.Type == TypeStream {
		if val.Stream == nil {
			val.Stream = &tcStream{}
		}
		val.Stream.Info = *v.Stream()
	}
	return val, v.Encoding, nil
}

// tcTargets are the targets every fixture key is transcoded for.
var tcTargets = []Target{
	{Version: 6}, {Version: 7}, {Version: 8}, {Version: 9}, {Version: 10}, {Version: 11},
	{Version: 12}, {Version: 13}, {Version: 80, Valkey: true},
}

// TestTranscodeFixtures transcodes every key of every fixture (generated
// by every server version, and the corpus) for targets from RDB 6 to
// Valkey 9, decodes the result as the target's version, and checks that it
// is in an encoding the target knows and holds the original value minus
// exactly what Loss reports.
func TestTranscodeFixtures(t *testing.T) {
	now := time.Now().UnixMilli()
	stats := map[string]int{}
	for _, path := range encodeFixtureFiles(t) {
		eachKeyUntilError(t, path, func(r *Reader, e *Entry) {
			name := fmt.Sprintf("%s: db %d key %q (%v)", path[len(sharedTestdata)+1:], e.DB, e.Key, e.Encoding)
			orig, _, err := tcDecode(e.Payload, r.Version())
			if err != nil {
				t.Logf("%s: %v (corrupt on purpose?)", name, err)
				return
			}
			for _, tg := range tcTargets {
				checkTranscode(t, name, e.Payload, e.Encoding, orig, tg, now, stats)
			}
		})
	}
	t.Logf("%v", stats)
}

func checkTranscode(t *testing.T, name string, p []byte, enc Encoding, orig *tcVal, tg Target, now int64, stats map[string]int) {
	t.Helper()
	name += " for " + tg.String()
	out, loss, err := Transcode([]byte("prefix"), p, enc, tg, now)
	switch {
	case err != nil && errors.Is(err, ErrUnknown):
		if enc.Type() != TypeStream && enc.Type() != TypeModule || tg.Version >= 9 && enc.Type() == TypeStream {
			t.Errorf("%s: %v", name, err)
		}
		stats["cannot"]++
		return
	case err != nil:
		t.Errorf("%s: %v", name, err)
		return
	case string(out[:6]) != "prefix":
		t.Errorf("%s: dst overwritten", name)
		return
	}
	out = out[6:]
	if loss.Expired {
		if len(out) != 0 {
			t.Errorf("%s: every field expired, yet %d bytes appended", name, len(out))
		}
		for f, exp := range orig.TTL {
			if exp >= now {
				t.Errorf("%s: Expired, but field %q expires at %d", name, f, exp)
			}
		}
		stats["expired"]++
		return
	}
	if tg.Knows(enc) && loss.IsZero() && !bytes.Equal(out, p) {
		t.Errorf("%s: target knows the encoding, nothing lost, yet the payload changed", name)
	}
	got, genc, err := tcDecode(out, tg.Version)
	if err != nil {
		t.Errorf("%s: transcoded payload % x...: %v", name, out[:min(len(out), 32)], err)
		return
	}
	if !tg.Knows(genc) {
		t.Errorf("%s: transcoded to %v, which the target does not know", name, genc)
	}
	if genc != enc {
		stats[enc.String()+" -> "+genc.String()]++
	}
	want := tcExpect(t, name, orig, enc, tg, now, loss)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: transcoded (%v, loss %v) differs:\n got %.400v\nwant %.400v", name, genc, loss, tcShow(got), tcShow(want))
	}
}

func tcShow(v *tcVal) string {
	if v.Stream != nil {
		return fmt.Sprintf("%+v %+v", v.Stream.Entries, v.Stream.Info)
	}
	return fmt.Sprintf("%+v", *v)
}

// tcExpect returns what the transcoded value should hold: orig minus what
// loss reports, after checking the counts in loss against orig.
func tcExpect(t *testing.T, name string, orig *tcVal, from Encoding, tg Target, now int64, loss Loss) *tcVal {
	t.Helper()
	w := *orig
	var wantLoss Loss
	if orig.Hash != nil {
		w.Hash, w.TTL = maps.Clone(orig.Hash), maps.Clone(orig.TTL)
		for f, exp := range w.TTL {
			if exp < now {
				delete(w.Hash, f)
				delete(w.TTL, f)
				wantLoss.ExpiredFields++
			}
		}
		if !tg.knowsRedisFieldTTLs() && !tg.knowsHash2() {
			wantLoss.FieldTTLs = len(w.TTL)
			clear(w.TTL)
		}
	}
	if orig.Stream != nil {
		s := *orig.Stream
		info := s.Info
		info.Groups = nil
		for _, g := range s.Info.Groups {
			if !tg.Knows(EncStreamListpacks2) && g.EntriesRead != -1 {
				wantLoss.EntriesRead++
				g.EntriesRead = -1
			}
			var cs []StreamConsumer
			for _, c := range g.Consumers {
				if !tg.Knows(EncStreamListpacks3) {
					if from >= EncStreamListpacks3 && c.ActiveTime != c.SeenTime {
						wantLoss.ActiveTimes++
					}
					c.ActiveTime = -1
				}
				cs = append(cs, c)
			}
			g.Consumers = cs
			info.Groups = append(info.Groups, g)
		}
		if !tg.Knows(EncStreamListpacks2) {
			info.FirstID, info.MaxDeletedID, info.EntriesAdded = StreamID{}, StreamID{}, 0
			if from >= EncStreamListpacks2 {
				wantLoss.StreamMeta = 1 // lost whatever the values
			}
		}
		if !tg.Knows(EncStreamListpacks4) && info.IDMP != nil {
			m := info.IDMP
			ids := 0
			for _, p := range m.Producers {
				ids += len(p.Entries)
			}
			if len(m.Producers) > 0 || m.IIDsAdded > 0 || m.IIDDuplicates > 0 || m.Duration != 100 || m.MaxEntries != 100 {
				wantLoss.IDMPStreams = 1
			}
			wantLoss.IDMPIDs = ids
			info.IDMP = nil
		}
		s.Info = info
		w.Stream = &s
	}
	if loss != wantLoss {
		t.Errorf("%s: loss %+v, want %+v", name, loss, wantLoss)
	}
	return &w
}

// Payload builders for the table tests below.

func tcListpack(entries ...string) []byte {
	var lb listpackBuilder
	lb.reset()
	for _, e := range entries {
		lb.appendString([]byte(e))
	}
	b, _ := lb.finish()
	return bytes.Clone(b)
}

func tcPayload(enc Encoding, parts ...[]byte) []byte {
	return append([]byte{byte(enc % valkeyBase)}, bytes.Join(parts, nil)...)
}

func tcBlob(b []byte) []byte { return appendBlob(nil, b) }

func tcStrs(n int, f func(i int) string) []string {
	var s []string
	for i := range n {
		s = append(s, f(i))
	}
	return s
}

func TestTranscode(t *testing.T) {
	const now = 1_800_000_000_000
	past, future, later := int64(now-1000), int64(now+1000), int64(now+5000)
	ints := tcStrs(10, func(i int) string { return strconv.Itoa(i*1000 - 3000) })
	many := tcStrs(513, func(i int) string { return strconv.Itoa(i) })
	pairs := func(n int) []string {
		return tcStrs(2*n, func(i int) string { return "f" + strconv.Itoa(i/2) + "v"[:i%2] })
	}
	lpex := func(triplets ...any) []byte {
		var lb listpackBuilder
		lb.reset()
		for _, x := range triplets {
			switch x := x.(type) {
			case string:
				lb.appendString([]byte(x))
			case int64:
				lb.appendInt(x)
			}
		}
		b, _ := lb.finish()
		return tcPayload(EncHashListpackEx, le64(0), tcBlob(bytes.Clone(b)))
	}
	hash2 := tcPayload(EncValkeyHash2, rlen(3),
		rstr("a"), rstr("1"), le64(future),
		rstr("b"), rstr("2"), le64(-1),
		rstr("c"), rstr("3"), le64(past))
	quicklist2 := tcPayload(EncListQuicklist2, rlen(3),
		rlen(quicklistPacked), tcBlob(tcListpack("a", "1", "-5")),
		rlen(quicklistPlain), rstr(strings.Repeat("p", 9000)),
		rlen(quicklistPacked), tcBlob(tcListpack("z")))
	tests := []struct {
		name    string
		p       []byte
		enc     Encoding
		target  Target
		wantEnc Encoding // 0 with wantErr
		loss    Loss
		wantErr error
	}{
		{"set listpack of ints to intset", tcPayload(EncSetListpack, tcBlob(tcListpack(ints...))), EncSetListpack, Target{Version: 10}, EncSetIntset, Loss{}, nil},
		{"set listpack with a string to set", tcPayload(EncSetListpack, tcBlob(tcListpack("1", "x"))), EncSetListpack, Target{Version: 10}, EncSet, Loss{}, nil},
		{"set listpack of 513 ints to set", tcPayload(EncSetListpack, tcBlob(tcListpack(many...))), EncSetListpack, Target{Version: 10}, EncSet, Loss{}, nil},
		{"set listpack kept for 7.2", tcPayload(EncSetListpack, tcBlob(tcListpack("x"))), EncSetListpack, Target{Version: 11}, EncSetListpack, Loss{}, nil},
		{"zset listpack to ziplist", tcPayload(EncZSetListpack, tcBlob(tcListpack("a", "1.5", "b", "-inf", "c", "3"))), EncZSetListpack, Target{Version: 9}, EncZSetZiplist, Loss{}, nil},
		{"zset listpack with a long member to zset_2", tcPayload(EncZSetListpack, tcBlob(tcListpack(strings.Repeat("m", 65), "1"))), EncZSetListpack, Target{Version: 9}, EncZSet2, Loss{}, nil},
		{"zset listpack big to zset for RDB 7", tcPayload(EncZSetListpack, tcBlob(tcListpack(many[:258]...))), EncZSetListpack, Target{Version: 7}, EncZSet, Loss{}, nil},
		{"zset_2 to zset for RDB 7", tcPayload(EncZSet2, rlen(1), rstr(strings.Repeat("m", 70)), le64(int64(math.Float64bits(-0.25)))), EncZSet2, Target{Version: 7}, EncZSet, Loss{}, nil},
		{"hash listpack to ziplist", tcPayload(EncHashListpack, tcBlob(tcListpack(pairs(3)...))), EncHashListpack, Target{Version: 9}, EncHashZiplist, Loss{}, nil},
		{"hash listpack big to hash", tcPayload(EncHashListpack, tcBlob(tcListpack(pairs(513)...))), EncHashListpack, Target{Version: 9}, EncHash, Loss{}, nil},
		{"hash listpack plain for RDB 5", tcPayload(EncHashListpack, tcBlob(tcListpack(pairs(3)...))), EncHashListpack, Target{Version: 5}, EncHash, Loss{}, nil},
		{"listpack-ex to listpack, TTLs dropped", lpex("a", "1", future, "b", "2", int64(0)), EncHashListpackEx, Target{Version: 10}, EncHashListpack, Loss{FieldTTLs: 1}, nil},
		{"listpack-ex expired field dropped, same encoding", lpex("c", "3", past, "a", "1", future, "b", "2", int64(0)), EncHashListpackEx, Target{Version: 12}, EncHashListpackEx, Loss{ExpiredFields: 1}, nil},
		{"listpack-ex all expired", lpex("c", "3", past), EncHashListpackEx, Target{Version: 12}, 0, Loss{ExpiredFields: 1, Expired: true}, nil},
		{"listpack-ex without TTLs to listpack", lpex("a", "1", int64(0)), EncHashListpackEx, Target{Version: 11}, EncHashListpack, Loss{}, nil},
		{"listpack-ex to Valkey hash_2", lpex("a", "1", future, "b", "2", int64(0)), EncHashListpackEx, Target{Version: 80, Valkey: true}, EncValkeyHash2, Loss{}, nil},
		{"listpack-ex to ziplist for RDB 9", lpex("a", "1", future), EncHashListpackEx, Target{Version: 9}, EncHashZiplist, Loss{FieldTTLs: 1}, nil},
		{"hash_2 to listpack-ex", hash2, EncValkeyHash2, Target{Version: 12}, EncHashListpackEx, Loss{ExpiredFields: 1}, nil},
		{"hash_2 to listpack", hash2, EncValkeyHash2, Target{Version: 10}, EncHashListpack, Loss{ExpiredFields: 1, FieldTTLs: 1}, nil},
		{"hash_2 kept for Valkey", hash2, EncValkeyHash2, Target{Version: 80, Valkey: true}, EncValkeyHash2, Loss{ExpiredFields: 1}, nil},
		{"hash_2 not for Valkey 8", hash2, EncValkeyHash2, Target{Version: 11}, EncHashListpack, Loss{ExpiredFields: 1, FieldTTLs: 1}, nil},
		{"hash_2 long value to hash_metadata", tcPayload(EncValkeyHash2, rlen(1), rstr("a"), rstr(strings.Repeat("v", 65)), le64(later)), EncValkeyHash2, Target{Version: 13}, EncHashMetadata, Loss{}, nil},
		{"quicklist_2 to quicklist of ziplists", quicklist2, EncListQuicklist2, Target{Version: 9}, EncListQuicklist, Loss{}, nil},
		{"quicklist_2 to list for RDB 6", quicklist2, EncListQuicklist2, Target{Version: 6}, EncList, Loss{}, nil},
		{"module for RDB 7", tcPayload(EncModule2, rlen(moduleID("modtype-1", 1)), rlen(moduleOpEOF)), EncModule2, Target{Version: 7}, 0, Loss{}, ErrUnknown},
		{"module kept for RDB 8", tcPayload(EncModule2, rlen(moduleID("modtype-1", 1)), rlen(moduleOpEOF)), EncModule2, Target{Version: 8}, EncModule2, Loss{}, nil},
		{"type byte mismatch", tcPayload(EncSet, rlen(0)), EncSetListpack, Target{Version: 10}, 0, Loss{}, ErrCorrupt},
		{"corrupt listpack", tcPayload(EncSetListpack, rstr("garbage")), EncSetListpack, Target{Version: 10}, 0, Loss{}, ErrCorrupt},
		{"truncated stream", tcPayload(EncStreamListpacks3, rlen(1)), EncStreamListpacks3, Target{Version: 10}, 0, Loss{}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, loss, err := Transcode(nil, tt.p, tt.enc, tt.target, now)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if loss != tt.loss {
				t.Errorf("loss %+v (%v), want %+v", loss, loss, tt.loss)
			}
			if tt.wantEnc == 0 {
				if len(out) != 0 {
					t.Errorf("%d bytes appended, want none", len(out))
				}
				return
			}
			orig, _, err := tcDecode(tt.p, 80*int(tt.enc/valkeyBase))
			if err != nil {
				t.Fatal(err)
			}
			got, enc, err := tcDecode(out, tt.target.Version)
			if err != nil {
				t.Fatalf("% x: %v", out, err)
			}
			if enc != tt.wantEnc {
				t.Errorf("encoding %v, want %v", enc, tt.wantEnc)
			}
			if want := tcExpect(t, tt.name, orig, tt.enc, tt.target, now, loss); !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", tcShow(got), tcShow(want))
			}
		})
	}
}

// TestTranscodeListpackExOrder checks that a listpack-ex is written sorted
// by expiry, fields without one last, with the smallest expiry first.
func TestTranscodeListpackExOrder(t *testing.T) {
	p := tcPayload(EncValkeyHash2, rlen(4),
		rstr("none"), rstr("1"), le64(-1),
		rstr("late"), rstr("2"), le64(3000),
		rstr("early"), rstr("3"), le64(1000),
		rstr("mid"), rstr("4"), le64(2000))
	out, loss, err := Transcode(nil, p, EncValkeyHash2, Target{Version: 12}, 1)
	if err != nil || !loss.IsZero() {
		t.Fatal(err, loss)
	}
	if out[0] != byte(EncHashListpackEx) || binary.LittleEndian.Uint64(out[1:]) != 1000 {
		t.Fatalf("% x", out[:9])
	}
	c := cursor{buf: out, pos: 9, end: len(out), mark: -1}
	var scratch []byte
	b, err := c.str(&scratch, DefaultMaxAlloc)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(blobEntries(t, blobListpack, b), " ")
	if want := "early 3 1000 mid 4 2000 late 2 3000 none 1 0"; got != want {
		t.Errorf("listpack %q, want %q", got, want)
	}
}

// TestTranscodeHashMetadata checks the relative expiries of HASH_METADATA.
func TestTranscodeHashMetadata(t *testing.T) {
	long := strings.Repeat("v", 100)
	p := tcPayload(EncValkeyHash2, rlen(2), rstr("a"), rstr(long), le64(5000), rstr("b"), rstr("x"), le64(-1))
	out, _, err := Transcode(nil, p, EncValkeyHash2, Target{Version: 12}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := cat([]byte{byte(EncHashMetadata)}, le64(5000), rlen(2), rlen(1), rstr("a"), rstr(long), rlen(0), rstr("b"), rstr("x"))
	if !bytes.Equal(out, want) {
		t.Errorf("\n got % x\nwant % x", out, want)
	}
}

// TestTranscodeStreamLayouts rewrites a v4 stream with IDMP state, groups,
// a PEL and consumers for each older layout.
func TestTranscodeStreamLayouts(t *testing.T) {
	id := func(ms, seq uint64) []byte {
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, ms), seq)
	}
	node := tcListpack("1", "0", "1", "f", "0", "2", "0", "0", "v", "4") // 1 entry, field f, same fields
	p := tcPayload(EncStreamListpacks4, rlen(1), rstr(string(id(5, 0))), tcBlob(node),
		rlen(1), rlen(5), rlen(0), // length, last id
		rlen(5), rlen(0), rlen(3), rlen(0), rlen(7), // first id, max deleted, added
		rlen(1), rstr("g"), rlen(5), rlen(0), rlen(1), // group g, last id, entries read
		rlen(1), id(5, 0), le64(111), rlen(2), // PEL
		rlen(1), rstr("c"), le64(100), le64(90), rlen(1), id(5, 0), // consumer c
		rlen(200), rlen(100), rlen(1), rstr("p"), rlen(1), rstr("iid"), rlen(5), rlen(0), rlen(1), rlen(0))
	orig, _, err := tcDecode(p, 13)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		target Target
		enc    Encoding
		loss   Loss
	}{
		{Target{Version: 13}, EncStreamListpacks4, Loss{}},
		{Target{Version: 12}, EncStreamListpacks3, Loss{IDMPStreams: 1, IDMPIDs: 1}},
		{Target{Version: 80, Valkey: true}, EncStreamListpacks3, Loss{IDMPStreams: 1, IDMPIDs: 1}},
		{Target{Version: 10}, EncStreamListpacks2, Loss{IDMPStreams: 1, IDMPIDs: 1, ActiveTimes: 1}},
		{Target{Version: 9}, EncStreamListpacks, Loss{IDMPStreams: 1, IDMPIDs: 1, ActiveTimes: 1, EntriesRead: 1, StreamMeta: 1}},
	} {
		t.Run(tt.target.String(), func(t *testing.T) {
			out, loss, err := Transcode(nil, p, EncStreamListpacks4, tt.target, 0)
			if err != nil {
				t.Fatal(err)
			}
			if loss != tt.loss {
				t.Errorf("loss %+v, want %+v", loss, tt.loss)
			}
			got, enc, err := tcDecode(out, tt.target.Version)
			if err != nil {
				t.Fatal(err)
			}
			if enc != tt.enc {
				t.Errorf("encoding %v, want %v", enc, tt.enc)
			}
			if want := tcExpect(t, "", orig, EncStreamListpacks4, tt.target, 0, loss); !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", tcShow(got), tcShow(want))
			}
		})
	}
	if _, _, err := Transcode(nil, p, EncStreamListpacks4, Target{Version: 8}, 0); !errors.Is(err, ErrUnknown) {
		t.Errorf("stream for RDB 8: %v, want ErrUnknown", err)
	}
}

func TestTranscodePayloadEncoding(t *testing.T) {
	for _, tt := range []struct {
		p    []byte
		ver  int
		want Encoding
	}{
		{[]byte{22}, 12, EncHashMetadataPreGA}, {[]byte{22}, 80, EncValkeyHash2}, {[]byte{21}, 80, EncStreamListpacks3},
		{[]byte{25, 0}, 13, EncHashListpackEx}, {nil, 10, EncString},
	} {
		if got := PayloadEncoding(tt.p, tt.ver); got != tt.want {
			t.Errorf("PayloadEncoding(% x, %d) = %v, want %v", tt.p, tt.ver, got, tt.want)
		}
		if len(tt.p) > 0 && NewPayloadValue(tt.p, tt.ver).Encoding != tt.want {
			t.Errorf("NewPayloadValue disagrees on % x, %d", tt.p, tt.ver)
		}
	}
}

func TestTranscodeLossString(t *testing.T) {
	tests := []struct {
		loss Loss
		want string
	}{
		{Loss{}, "nothing lost"},
		{Loss{ExpiredFields: 1}, "1 expired field left out"},
		{Loss{ExpiredFields: 2, Expired: true}, "every field expired; 2 expired fields left out"},
		{Loss{FieldTTLs: 3, ActiveTimes: 1}, "3 field TTLs dropped; 1 consumer active time dropped"},
		{Loss{IDMPStreams: 1, IDMPIDs: 4}, "IDMP state of 1 streams dropped (4 idempotency ids)"},
	}
	for _, tt := range tests {
		if got := tt.loss.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.loss, got, tt.want)
		}
	}
	var sum Loss
	sum.Add(Loss{FieldTTLs: 1, Expired: true})
	sum.Add(Loss{FieldTTLs: 2, IDMPIDs: 1})
	if sum != (Loss{FieldTTLs: 3, Expired: true, IDMPIDs: 1}) {
		t.Errorf("Add: %+v", sum)
	}
}

// BenchmarkTranscode measures the pass-through and a typical rewrite.
func BenchmarkTranscode(b *testing.B) {
	set := tcPayload(EncSetListpack, tcBlob(tcListpack(tcStrs(100, func(i int) string { return "member" + strconv.Itoa(i) })...)))
	for _, bb := range []struct {
		name   string
		target Target
	}{{"pass", Target{Version: 11}}, {"set-listpack-to-set", Target{Version: 10}}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			var dst []byte
			for b.Loop() {
				var err error
				dst, _, err = Transcode(dst[:0], set, EncSetListpack, bb.target, 0)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
