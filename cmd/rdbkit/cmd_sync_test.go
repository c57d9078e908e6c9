package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/rdb"
)

func TestSyncUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no --from", []string{"sync", "--to", "redis://x"}, "missing --from URL"},
		{"no --to", []string{"sync", "--from", "redis://x"}, "missing --to URL"},
		{"argument", []string{"sync", "--from", "redis://x", "--to", "redis://y", "extra"}, "unexpected argument"},
		{"resume without checkpoint", []string{"sync", "--from", "redis://x", "--to", "redis://y", "--resume"}, "--checkpoint"},
		{"replace and skip", []string{"sync", "--from", "redis://x", "--to", "redis://y", "--replace", "--skip-existing"}, "exclude each other"},
		{"bad mode", []string{"sync", "--from", "redis://x", "--to", "redis://y", "--mode", "fast"}, "--mode"},
		{"bad db-map", []string{"sync", "--from", "redis://x", "--to", "redis://y", "--db-map", "1:2"}, "--db-map"},
		{"bad url", []string{"sync", "--from", "http://x", "--to", "redis://y"}, "scheme"},
		{"bad ttl margin", []string{"sync", "--from", "redis://x", "--to", "redis://y", "--ttl-margin", "-1s"}, "--ttl-margin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

func args(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

func TestKeepAliveRewrite(t *testing.T) {
	now := time.UnixMilli(1_000_000_000)
	hold := now.UnixMilli() + keepFor.Milliseconds()
	near, far := "1000030000", "1000090000" // 30 s and 90 s ahead
	tests := []struct {
		name   string
		in     []string
		out    []string // nil: unchanged
		kept   int64    // true expiry remembered, 0: none
		forget bool
	}{
		{"pexpireat near", []string{"PEXPIREAT", "k", near, "GT"}, []string{"PEXPIREAT", "k", itoa(hold)}, 1000030000, false},
		{"pexpireat far", []string{"PEXPIREAT", "k", far}, nil, 0, true},
		{"expireat near", []string{"expireat", "k", "1000030"}, []string{"expireat", "k", itoa((hold + 999) / 1000)}, 1000030000, false},
		{"set pxat near", []string{"SET", "k", "v", "PXAT", near, "NX"}, []string{"SET", "k", "v", "PXAT", itoa(hold), "NX"}, 1000030000, false},
		{"set exat far", []string{"SET", "k", "v", "EXAT", "1000090"}, nil, 0, true},
		{"set without expiry", []string{"SET", "k", "v"}, nil, 0, false},
		{"other", []string{"INCR", "k"}, nil, 0, false},
		{"bad time", []string{"PEXPIREAT", "k", "soon"}, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKeepAlive(time.Minute)
			c := &loader.Command{DB: 3, Args: args(tt.in...)}
			kept, forget := k.rewrite(c, now)
			want := tt.out
			if want == nil {
				want = tt.in
			}
			if got := string(joinArgs(c.Args)); got != strings.Join(want, " ") {
				t.Errorf("args %q, want %q", got, strings.Join(want, " "))
			}
			switch {
			case tt.kept == 0 && kept != nil, tt.kept != 0 && (kept == nil || kept.ExpireAt != tt.kept || kept.DB != 3 || string(kept.Key) != "k"):
				t.Errorf("kept %+v, want expiry %d", kept, tt.kept)
			case forget != tt.forget:
				t.Errorf("forget %v", forget)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func joinArgs(a [][]byte) []byte {
	var out []byte
	for i, x := range a {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, x...)
	}
	return out
}

func TestKeepAliveTrack(t *testing.T) {
	now := time.Now()
	k := newKeepAlive(time.Minute)
	for _, key := range []string{"a", "b", "c"} {
		k.hold(&rdb.Entry{Kind: rdb.KindKey, DB: 0, Key: []byte(key), ExpireAt: now.UnixMilli() + 1000}, now)
	}
	k.hold(&rdb.Entry{Kind: rdb.KindKey, DB: 1, Key: []byte("d"), ExpireAt: now.UnixMilli() + 1000}, now)
	k.hold(&rdb.Entry{Kind: rdb.KindKey, DB: 0, Key: []byte("far"), ExpireAt: now.UnixMilli() + 3600_000}, now)
	apply := func(db int, reply any, a ...string) { k.track(&loader.Command{DB: db, Args: args(a...), Reply: reply}) }
	apply(0, "OK", "RENAME", "a", "a2")
	apply(0, int64(0), "RENAMENX", "b", "b2") // not renamed
	apply(0, int64(1), "COPY", "c", "c2", "DB", "2")
	apply(1, int64(1), "MOVE", "d", "4")
	apply(0, "OK", "SWAPDB", "2", "4")
	var got []string
	for _, kk := range k.list() {
		got = append(got, itoa(int64(kk.DB))+":"+string(kk.Key))
	}
	if want := "0:a2 0:b 0:c 2:d 4:c2"; strings.Join(got, " ") != want {
		t.Errorf("kept %q, want %q", got, want)
	}
	apply(0, "OK", "FLUSHDB")
	apply(2, "OK", "FLUSHALL")
	if n := k.len(); n != 0 {
		t.Errorf("%d kept after FLUSHALL", n)
	}
}
