package rewrite

import (
	"github.com/rdbkit/rdbkit/internal/fixtures"

	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rdbkit/rdbkit/rdb"
)

func TestSlot(t *testing.T) {
	tests := []struct {
		key  string
		slot int
	}{
		{"123456789", 0x31c3 & (Slots - 1)}, // the CRC16 check value
		{"foo", 12182},
		{"{user1000}.following", Slot([]byte("user1000"))},
		{"{user1000}.followers", Slot([]byte("user1000"))},
		{"foo{}{bar}", Slot([]byte("foo{}{bar}"))}, // empty tag: the whole key
		{"foo{{bar}}zap", Slot([]byte("{bar"))},
		{"foo{bar}{zap}", Slot([]byte("bar"))},
		{"", 0},
	}
	for _, tt := range tests {
		if got := Slot([]byte(tt.key)); got != tt.slot {
			t.Errorf("Slot(%q) = %d, want %d", tt.key, got, tt.slot)
		}
	}
}

func TestTempKey(t *testing.T) {
	for _, key := range []string{"", "a", "{x}y", "a{}b", "}{", "\x00\xff", strings.Repeat("k", 1000)} {
		tmp := TempKey([]byte(key), "run:1")
		if Slot(tmp) != Slot([]byte(key)) {
			t.Errorf("TempKey(%q) = %q in slot %d, want %d", key, tmp, Slot(tmp), Slot([]byte(key)))
		}
	}
	for s := range Slots {
		if Slot([]byte("{"+SlotTag(s)+"}")) != s {
			t.Fatalf("SlotTag(%d) = %q", s, SlotTag(s))
		}
	}
}

// entries reads the keys of a generated fixture.
func entries(t *testing.T, rel string) map[string]*rdb.Entry {
	t.Helper()
	path := fixtures.Shared(t, filepath.Join("generated", rel))
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer f.Close()
	r := rdb.NewReader(f)
	out := map[string]*rdb.Entry{}
	for {
		e, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == rdb.KindKey {
			out[string(e.Key)] = e.Clone()
		}
	}
}

// commands returns the commands for e, one string each, arguments
// separated by spaces.
func commands(t *testing.T, e *rdb.Entry, o Options) ([]string, error) {
	t.Helper()
	var out []string
	err := Commands(e, e.Value(), o, func(args [][]byte) error {
		out = append(out, string(bytes.Join(args, []byte(" "))))
		return nil
	})
	return out, err
}

func TestCommands(t *testing.T) {
	keys := entries(t, "redis-7.4/all-in-one.rdb")
	tmp := []byte("{t}tmp")
	tests := []struct {
		name string
		key  string
		o    Options
		want []string // prefixes of the commands, in order
		loss Loss
	}{
		{"string in one SET", "str:short", Options{}, []string{"SET str:short hello NX"}, Loss{}},
		{"string replace", "str:short", Options{Replace: true}, []string{"SET str:short hello"}, Loss{}},
		{"string with expiry", "ttl:str-year-9999", Options{Temp: tmp}, []string{"SET ttl:str-year-9999 v NX PXAT 253402300799999"}, Loss{}},
		{"string chunked", "str:lzf-1k", Options{Temp: tmp, MaxBytes: 400, TempTTL: 1000},
			[]string{"DEL {t}tmp", "SET {t}tmp ", "PEXPIRE {t}tmp 1000", "SETRANGE {t}tmp 400 ", "SETRANGE {t}tmp 800 ", "PERSIST {t}tmp", "RENAMENX {t}tmp str:lzf-1k"}, Loss{}},
		{"list in batches", "list:small", Options{Temp: tmp, MaxArgs: 3, Replace: true},
			[]string{"DEL {t}tmp", "RPUSH {t}tmp ", "RPUSH {t}tmp ", "RPUSH {t}tmp ", "RENAME {t}tmp list:small"}, Loss{}},
		{"list in place", "list:small", Options{Replace: true}, []string{"DEL list:small", "RPUSH list:small "}, Loss{}},
		{"set", "set:single-int", Options{Temp: tmp}, []string{"DEL {t}tmp", "SADD {t}tmp ", "RENAMENX"}, Loss{}},
		{"zset scores", "zset:listpack-specials", Options{Temp: tmp}, []string{"DEL {t}tmp", "ZADD {t}tmp ", "RENAMENX"}, Loss{}},
		{"hash with expiry", "ttl:hash", Options{Temp: tmp}, []string{"DEL {t}tmp", "HSET {t}tmp f v", "PEXPIREAT {t}tmp 4102444800004", "RENAMENX {t}tmp ttl:hash"}, Loss{}},
		{"field TTLs dropped", "hfe:lp", Options{Temp: tmp, Now: 1}, []string{"DEL {t}tmp", "HSET {t}tmp ", "RENAMENX"}, Loss{FieldTTLs: 3}},
		{"field TTLs kept", "hfe:lp", Options{Temp: tmp, Now: 1, FieldTTL: true}, []string{"DEL {t}tmp", "HSET {t}tmp ", "HPEXPIREAT {t}tmp 1", "HPEXPIREAT {t}tmp 4102444800000 FIELDS 1 f1", "HPEXPIREAT {t}tmp 4102448400000 FIELDS 1 f2", "RENAMENX"}, Loss{}},
		{"expired fields left out", "hfe:lp", Options{Temp: tmp, Now: 4102444800000}, []string{"DEL {t}tmp", "HSET {t}tmp f2 ", "RENAMENX"}, Loss{FieldTTLs: 1, ExpiredFields: 2}},
		{"empty stream with a group", "stream:empty-with-group", Options{Temp: tmp},
			[]string{"DEL {t}tmp", "XADD {t}tmp MAXLEN 0 0-1 ", "XGROUP CREATE {t}tmp g 0-0", "XSETID {t}tmp 0-0 ENTRIESADDED 0 MAXDELETEDID 0-0", "RENAMENX"}, Loss{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := keys[tt.key]
			if e == nil {
				t.Fatalf("no key %q", tt.key)
			}
			var loss Loss
			tt.o.Loss = &loss
			got, err := commands(t, e, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d commands, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("command %d: %.80q, want %q...", i, got[i], tt.want[i])
				}
			}
			if loss != tt.loss {
				t.Errorf("loss %+v, want %+v", loss, tt.loss)
			}
		})
	}
}

func TestCommandsLimits(t *testing.T) {
	keys := entries(t, "redis-7.4/all-in-one.rdb")
	for name, e := range keys {
		if e.Type == rdb.TypeModule {
			continue
		}
		o := Options{Temp: []byte("{x}t"), MaxBytes: 1000, MaxArgs: 10, MaxBulk: 1 << 20, Now: 1}
		err := Commands(e, e.Value(), o, func(args [][]byte) error {
			n := 0
			for _, a := range args[2:] {
				n += len(a)
			}
			name := string(args[0])
			if name == "RPUSH" || name == "SADD" || name == "HSET" || name == "ZADD" {
				if n > 1000 && len(args) > 4 || len(args) > 2+2*10 {
					t.Errorf("%s: %s of %d args, %d bytes", name, args[0], len(args), n)
				}
			}
			for _, a := range args {
				if len(a) > o.MaxBulk {
					t.Errorf("%s: argument of %d bytes", name, len(a))
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrEmpty) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCommandsErrors(t *testing.T) {
	keys := entries(t, "redis-7.4/all-in-one.rdb")
	stop := errors.New("stop")
	n := 0
	err := Commands(keys["list:large"], keys["list:large"].Value(), Options{MaxArgs: 10}, func([][]byte) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("emit error: %v after %d commands", err, n)
	}
	_, err = commands(t, keys["list:plain"], Options{MaxBulk: 100})
	if err != ErrTooLarge {
		t.Errorf("element over MaxBulk: %v", err)
	}
	// A HASH_METADATA hash whose two fields expire at 1000 ms.
	p := binary.LittleEndian.AppendUint64([]byte{byte(rdb.EncHashMetadata)}, 1000)
	p = rdb.AppendLength(p, 2)
	for _, f := range []string{"a", "b"} {
		p = rdb.AppendLength(p, 1) // relative to the minimum expiry, plus 1
		p = rdb.AppendString(p, []byte(f))
		p = rdb.AppendString(p, []byte("v"))
	}
	e := &rdb.Entry{Kind: rdb.KindKey, Key: []byte("h"), Type: rdb.TypeHash, Encoding: rdb.EncHashMetadata, Payload: p}
	var loss Loss
	got, err := commands(t, e, Options{Temp: []byte("t"), Now: 2000, Loss: &loss})
	if err != ErrEmpty || loss.ExpiredFields != 0 {
		t.Errorf("every field expired: %v, %q, %+v", err, got, loss)
	}
	got, err = commands(t, e, Options{Temp: []byte("t"), Now: 500, FieldTTL: true})
	if err != nil || len(got) != 4 || got[2] != "HPEXPIREAT t 1000 FIELDS 2 a b" {
		t.Errorf("fields expiring at 1000: %v, %q", err, got)
	}
}

// TestStreamedDeletedPendingCommands: a streamed stream whose pending
// entries at or below its last entry may have lost their message gets the
// EVAL steps that recreate them (see TestStreamedDeletedPending for the
// effect on a server); one in memory, or with no such entry, gets none.
func TestStreamedDeletedPendingCommands(t *testing.T) {
	path := fixtures.Shared(t, "generated/redis-7.4/all-in-one.rdb")
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	streamed := map[string]*rdb.Entry{}
	r := rdb.NewReader(bytes.NewReader(b))
	r.MaxPayload = 16
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != rdb.KindKey || e.Type != rdb.TypeStream {
			continue
		}
		if e.Payload != nil {
			t.Fatalf("%s: not streamed", e.Key)
		}
		got, err := commands(t, e, Options{MaxArgs: 10})
		if err != nil {
			t.Fatal(err)
		}
		streamed[string(e.Key)] = nil
		evals := 0
		for _, c := range got {
			if strings.HasPrefix(c, "EVAL ") {
				evals++
			}
		}
		switch string(e.Key) {
		case "stream:groups":
			// 20 entries, 2 candidates (2000-2 and 2000-3, at or below
			// MaxDeletedID): 3 move steps, 3 restore steps, 1 delete step.
			side := "{78h}rdbkit-tmp:pel-c:stream:groups"
			i := slices.Index(got, "DEL "+side+" {78h}rdbkit-tmp:pel-s:stream:groups {78h}rdbkit-tmp:pel-p:stream:groups")
			if i < 0 || got[i+1] != "RPUSH "+side+" 1700000002000-3 1700000002000-2" || evals != 7 ||
				!strings.HasPrefix(got[len(got)-2], "EVAL ") || !strings.HasPrefix(got[len(got)-1], "XSETID ") {
				t.Errorf("%s: %d EVALs in\n%s", e.Key, evals, strings.Join(got, "\n"))
			}
		default:
			if evals != 0 {
				t.Errorf("%s: %d EVALs", e.Key, evals)
			}
		}
	}
	if _, ok := streamed["stream:groups"]; !ok {
		t.Fatal("no stream:groups")
	}
	got, err := commands(t, entries(t, "redis-7.4/all-in-one.rdb")["stream:groups"], Options{MaxArgs: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if strings.HasPrefix(c, "EVAL ") {
			t.Errorf("in memory: %.60q", c)
		}
	}
}
