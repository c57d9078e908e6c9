package loader

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	fx "github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/verify"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// setStrings counts the keys of the RDB file at path that go by MSET: the
// strings without expiry of at most maxSetValue bytes.
func setStrings(t *testing.T, path string) (n int64) {
	t.Helper()
	fx.EachKey(t, path, func(e *rdb.Entry) {
		if e.Encoding == rdb.EncString && e.ExpireAt == 0 {
			if v := e.Value(); v.Next() && len(v.Elem().Value) <= maxSetValue {
				n++
			}
		}
	})
	return n
}

// TestSetStrings restores files of strings, which go many to an MSETNX,
// and of values whose compressed blobs go plain (rdb.AppendInflated), and
// checks what the server holds against a server that got every key by
// RESTORE of the file's payload: the same encoding and DUMP for every key.
func TestSetStrings(t *testing.T) {
	fixtures(t)
	srv := redistest.Start(t, redistest.WithACLUser("nomset on >pw ~* +@all -mset -msetnx"))
	ref := redistest.Start(t)
	c, rc := srv.Client(t), ref.Client(t)
	vs := verify.Standalone(&redis.Options{Addr: srv.Addr})
	defer verify.Close(vs)
	for _, name := range []string{"strings.rdb", "multidb.rdb", "all-in-one.rdb", "lists.rdb", "zsets.rdb", "hashes.rdb", "streams.rdb"} {
		path := filepath.Join(generated, "redis-7.0.15", name)
		want := setStrings(t, path)
		t.Run(name, func(t *testing.T) {
			flush(t, c)
			flush(t, rc)
			st, err := load(t, path, Options{Redis: &redis.Options{Addr: srv.Addr}}, 0)
			if err != nil || !st.OK() || st.Set != want || st.Done() != st.Read {
				t.Fatalf("set %d (want %d) of %d written, %d read, failures %v, %v", st.Set, want, st.Written(), st.Read, st.Failures, err)
			}
			compareWith(t, vs, path, verify.Options{})
			byRestore, err := load(t, path, Options{Redis: &redis.Options{Addr: ref.Addr}, Mode: ModeRestore}, 0)
			if err != nil || !byRestore.OK() || byRestore.Set != 0 {
				t.Fatalf("mode restore: %+v, %v", byRestore, err)
			}
			sameAsRestored(t, srv.Addr, ref.Addr)

			// Without the right to run MSETNX, every string goes by RESTORE;
			// and with KeepCompressed, every payload as it is.
			flush(t, c)
			kept, err := load(t, path, Options{Redis: &redis.Options{Addr: srv.Addr, Username: "nomset", Password: "pw"}, KeepCompressed: true}, 0)
			if err != nil || !kept.OK() || kept.Done() != kept.Read {
				t.Fatalf("without MSETNX: %d of %d written, failures %v, %v", kept.Written(), kept.Read, kept.Failures, err)
			}
			compareWith(t, vs, path, verify.Options{})
			if name == "lists.rdb" && kept.Bytes >= st.Bytes {
				t.Fatalf("%d bytes sent with the blobs kept compressed, %d with them plain", kept.Bytes, st.Bytes)
			}
		})
	}
}

// sameAsRestored checks that every key of every database of the server at
// a has the OBJECT ENCODING and, unless it is a hashtable (whose DUMP lists
// its elements in an order of the server's own), the DUMP it has in the
// one at b.
func sameAsRestored(t *testing.T, a, b string) {
	t.Helper()
	ctx := context.Background()
	checked := 0
	for db := range 16 {
		ca, cb := redis.NewClient(&redis.Options{Addr: a, DB: db}), redis.NewClient(&redis.Options{Addr: b, DB: db})
		keys, err := cb.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			da, dumpB := ca.Dump(ctx, k).Val(), cb.Dump(ctx, k).Val()
			ea, eb := ca.ObjectEncoding(ctx, k).Val(), cb.ObjectEncoding(ctx, k).Val()
			if ea != eb || da != dumpB && eb != "hashtable" {
				t.Errorf("db %d key %q: encoding %s, dump %.80q; by RESTORE %s, %.80q", db, k, ea, da, eb, dumpB)
			}
			checked++
		}
		ca.Close()
		cb.Close()
	}
	if checked == 0 {
		t.Fatal("no key to compare")
	}
}

// TestSetConflicts checks the policies for existing keys with strings
// that go by MSETNX: a batch with one existing key is written key by key,
// and only that key conflicts (or is skipped, or replaced).
func TestSetConflicts(t *testing.T) {
	fixtures(t)
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	path := filepath.Join(generated, "redis-7.0.15", "strings.rdb")
	n := setStrings(t, path)
	tests := []struct {
		conflict            Conflict
		set, conflicts, skp int64
		value               string // of the existing key after the run
	}{
		{ConflictReport, n - 1, 1, 0, "there already"},
		{ConflictSkip, n - 1, 0, 1, "there already"},
		{ConflictReplace, n, 0, 0, "7"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.conflict), func(t *testing.T) {
			flush(t, c)
			if err := c.Set(ctx, "str:int:7", "there already", 0).Err(); err != nil {
				t.Fatal(err)
			}
			st, err := load(t, path, Options{Redis: &redis.Options{Addr: srv.Addr}, Conflict: tt.conflict}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.Set != tt.set || st.Conflicts != tt.conflicts || st.Skipped != tt.skp || st.Done() != st.Read {
				t.Fatalf("set %d conflicts %d skipped %d, want %d %d %d", st.Set, st.Conflicts, st.Skipped, tt.set, tt.conflicts, tt.skp)
			}
			if tt.conflicts > 0 && (len(st.ConflictKeys) != 1 || string(st.ConflictKeys[0].Key) != "str:int:7") {
				t.Fatalf("conflicts %v", st.ConflictKeys)
			}
			if v, _ := c.Get(ctx, "str:int:7").Result(); v != tt.value {
				t.Fatalf("str:int:7 = %q, want %q", v, tt.value)
			}
			if v, _ := c.Get(ctx, "str:int:1").Result(); v != "1" {
				t.Fatalf("str:int:1 = %q: the batch of the existing key was not written", v)
			}
		})
	}
}

// TestSetDroppedConnections kills the loader's connections again and
// again while it writes strings by MSETNX: a batch whose reply was lost is
// sent again key by key, a key found written with its value counts as
// written, and every key ends up with its value.
func TestSetDroppedConnections(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	l, err := New(ctx, Options{Redis: &redis.Options{Addr: srv.Addr}, Pipeline: 16, RetryBackoff: 1})
	if err != nil {
		t.Fatal(err)
	}
	const keys = 20000
	value := func(i int) string { return fmt.Sprintf("value %d %s", i, strings.Repeat("x", i%300)) }
	for i := range keys {
		payload := rdb.AppendString([]byte{byte(rdb.EncString)}, []byte(value(i)))
		e := &rdb.Entry{Kind: rdb.KindKey, Key: fmt.Appendf(nil, "k:%d", i), Type: rdb.TypeString,
			Encoding: rdb.EncString, Idle: -1, Freq: -1, Offset: int64(i), Payload: payload}
		if err := l.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
		if i%2000 == 1000 {
			if err := c.ClientKillByFilter(ctx, "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := l.Close()
	if err != nil || !st.OK() || st.Set != keys {
		t.Fatalf("set %d of %d, failures %v, %v", st.Set, keys, st.Failures, err)
	}
	t.Logf("%d retries, %d recovered", st.Retries, st.Recovered)
	for i := range keys {
		if v, err := c.Get(ctx, fmt.Sprintf("k:%d", i)).Result(); v != value(i) {
			t.Fatalf("k:%d = %q, %v", i, v, err)
		}
	}
}
