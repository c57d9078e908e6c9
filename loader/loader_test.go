package loader

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

func TestTargetFor(t *testing.T) {
	tests := []struct {
		server, version string
		want            rdb.Target
	}{
		{"redis", "7.0.15", rdb.Target{Version: 10}},
		{"redis", "7.2.6", rdb.Target{Version: 11}},
		{"redis", "7.4.1", rdb.Target{Version: 12}},
		{"redis", "7.9.224", rdb.Target{Version: 12}}, // 8.0 pre-release
		{"redis", "8.4.0", rdb.Target{Version: 12}},
		{"redis", "8.6.0", rdb.Target{Version: 13}},
		{"redis", "255.255.255", rdb.Target{Version: 13}},
		{"redis", "6.2.14", rdb.Target{Version: 9}},
		{"redis", "5.0.7", rdb.Target{Version: 9}},
		{"redis", "4.0.14", rdb.Target{Version: 8}},
		{"redis", "3.2.12", rdb.Target{Version: 7}},
		{"redis", "2.8.24", rdb.Target{Version: 6}},
		{"valkey", "7.2.5", rdb.Target{Version: 11}},
		{"valkey", "8.0.1", rdb.Target{Version: 11}},
		{"valkey", "8.1.3", rdb.Target{Version: 11}},
		{"valkey", "9.0.0", rdb.Target{Version: 80, Valkey: true}},
	}
	for _, tt := range tests {
		if got := TargetFor(tt.server, tt.version); got != tt.want {
			t.Errorf("TargetFor(%s, %s) = %+v, want %+v", tt.server, tt.version, got, tt.want)
		}
	}
}

func TestRedirect(t *testing.T) {
	tests := []struct {
		msg, kind string
		slot      int
		addr      string
		ok        bool
	}{
		{"MOVED 3999 127.0.0.1:6381", "MOVED", 3999, "127.0.0.1:6381", true},
		{"ASK 0 [::1]:7000", "ASK", 0, "[::1]:7000", true},
		{"MOVED 16384 h:1", "", 0, "", false},
		{"MOVEDX 1 h:1", "", 0, "", false},
		{"ERR something", "", 0, "", false},
	}
	for _, tt := range tests {
		kind, slot, addr, ok := redirect(tt.msg)
		if kind != tt.kind || slot != tt.slot || addr != tt.addr || ok != tt.ok {
			t.Errorf("redirect(%q) = %q %d %q %v", tt.msg, kind, slot, addr, ok)
		}
	}
	if !hasCode(redisErr("BUSYKEY Target key name already exists."), "BUSYKEY") ||
		hasCode(redisErr("ERR BUSYKEY"), "BUSYKEY") || hasCode(errors.New("BUSYKEY x"), "BUSYKEY") {
		t.Error("hasCode")
	}
}

// TestIsRefusal checks how the last command of a rewrite says that the key
// exists; rewrite makes its arguments byte slices.
func TestIsRefusal(t *testing.T) {
	b := func(s ...string) []any {
		out := make([]any, len(s))
		for i, a := range s {
			out[i] = []byte(a)
		}
		return out
	}
	reply := func(args []any, val any, err error) *pcmd {
		return &pcmd{args: args, val: val, err: err}
	}
	tests := []struct {
		name string
		p    *pcmd
		want bool
	}{
		{"RENAMENX refused", reply(b("RENAMENX", "tmp", "k"), int64(0), nil), true},
		{"RENAMENX done", reply(b("RENAMENX", "tmp", "k"), int64(1), nil), false},
		{"renamenx as a string", reply([]any{"renamenx", "tmp", "k"}, int64(0), nil), true},
		{"SET NX refused", reply(b("SET", "k", "v", "NX"), nil, redis.Nil), true},
		{"SET NX done", reply(b("SET", "k", "v", "NX"), "OK", nil), false},
		{"RENAME", reply(b("RENAME", "tmp", "k"), "OK", nil), false},
		{"no command", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRefusal(tt.p); got != tt.want {
				t.Errorf("isRefusal = %v, want %v", got, tt.want)
			}
		})
	}
	p := reply(b("rpush", "k", "v"), nil, redisErr("WRONGTYPE Operation against a key holding the wrong kind of value"))
	if got, want := (&keyError{p}).Error(), "RPUSH: WRONGTYPE Operation against a key holding the wrong kind of value"; got != want {
		t.Errorf("keyError = %q, want %q", got, want)
	}
}

// redisErr is an error reply, as go-redis returns it.
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

var _ redis.Error = redisErr("")

func TestTracker(t *testing.T) {
	var tr tracker
	offs := []int64{10, 20, 30, 40, 50}
	for _, o := range offs {
		tr.add(o)
	}
	if cp := tr.checkpoint(); cp.Offset != -1 || cp.Last != 50 || len(cp.Done) != 0 {
		t.Fatalf("%+v", cp)
	}
	tr.done(1, true)
	tr.done(3, true)
	if cp := tr.checkpoint(); cp.Offset != -1 || len(cp.Done) != 2 || cp.Done[0] != 20 || cp.Done[1] != 40 {
		t.Fatalf("%+v", cp)
	}
	tr.done(0, true)
	if cp := tr.checkpoint(); cp.Offset != 20 || len(cp.Done) != 1 {
		t.Fatalf("%+v", cp)
	}
	tr.done(2, false) // failed: holds the checkpoint back
	tr.done(4, true)
	if cp := tr.checkpoint(); cp.Offset != 20 || len(cp.Done) != 2 || cp.Keys != 4 {
		t.Fatalf("%+v", cp)
	}
	tr.add(60)
	tr.add(70)
	tr.doneAll([]*job{{seq: 6}, {seq: 5}}) // a batch, in any order
	if cp := tr.checkpoint(); cp.Offset != 20 || len(cp.Done) != 4 || cp.Keys != 6 || cp.Last != 70 {
		t.Fatalf("%+v", cp)
	}

	// Many keys, settled a little out of order with some always in flight
	// (the window is moved to the front now and then), and one failure.
	var tr2 tracker
	const n = 10000
	for i := range n + 8 {
		tr2.add(int64(i))
		if i >= 8 {
			k := uint64(i - 8)
			if k%2 == 0 && k+1 < n {
				k++
			} else if k%2 == 1 {
				k--
			}
			tr2.done(k, k != 7000)
		}
	}
	cp := tr2.checkpoint()
	if cp.Offset != 6999 || cp.Last != n+7 || cp.Keys != n-1 || len(cp.Done) != n-7001 || cp.Done[0] != 7001 {
		t.Fatalf("offset %d, last %d, keys %d, %d done from %d", cp.Offset, cp.Last, cp.Keys, len(cp.Done), cp.Done[0])
	}
}

// TestDigest checks that the digest of a value does not depend on its
// encoding: every key of a Redis 7.4 file, and the same key transcoded
// for Redis 7.0.
func TestDigest(t *testing.T) {
	path := filepath.Join(generated, "redis-7.4", "all-in-one.rdb")
	f, err := os.Open(path)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	r := rdb.NewReader(f)
	target := rdb.Target{Version: 10}
	n := 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != rdb.KindKey || e.Type == rdb.TypeHash && e.Encoding != rdb.EncHashListpack && e.Encoding != rdb.EncHash {
			continue // field TTLs: transcoding may leave expired fields out
		}
		a, ok := digest(e.Value())
		out, _, err := rdb.Transcode(nil, e.Payload, e.Encoding, target, 0)
		if err != nil {
			t.Fatalf("%s: %v", e.Key, err)
		}
		b, ok2 := digest(rdb.NewPayloadValue(out, 10))
		if !ok || !ok2 || a != b {
			t.Errorf("%s (%v): digests differ", e.Key, e.Encoding)
		}
		n++
	}
	if n < 100 {
		t.Fatalf("%d keys", n)
	}
}
