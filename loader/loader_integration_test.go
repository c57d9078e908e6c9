package loader

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/verify"
	"github.com/redis/go-redis/v9"
)

func TestConflicts(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	path := filepath.Join(generated, "redis-7.0.15", "hashes.rdb")
	fixtures(t)
	vs := verify.Standalone(&redis.Options{Addr: srv.Addr})
	defer verify.Close(vs)
	opts := Options{Redis: &redis.Options{Addr: srv.Addr}}
	first, err := load(t, path, opts, 0)
	if err != nil || !first.OK() || first.Restored == 0 {
		t.Fatalf("first restore: %+v, %v", first, err)
	}
	n := first.Restored
	// One key changed, one removed: the second run finds the others.
	if err := c.HSet(ctx, "hash:single", "f", "changed").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, "hash:counters").Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		conflict  Conflict
		restored  int64
		conflicts int64
		skipped   int64
		ok        bool
	}{
		{"default", ConflictReport, 1, n - 1, 0, false},
		{"skip-existing", ConflictSkip, 0, 0, n, true}, // hash:counters exists again
		{"replace", ConflictReplace, n, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.Conflict = tt.conflict
			st, err := load(t, path, o, 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.Restored != tt.restored || st.Conflicts != tt.conflicts || st.Skipped != tt.skipped || st.OK() != tt.ok {
				t.Fatalf("restored %d conflicts %d skipped %d ok %v, want %d %d %d %v",
					st.Restored, st.Conflicts, st.Skipped, st.OK(), tt.restored, tt.conflicts, tt.skipped, tt.ok)
			}
			if int64(len(st.ConflictKeys)) != min(tt.conflicts, DefaultFailLimit) {
				t.Errorf("%d conflict keys named, want %d", len(st.ConflictKeys), tt.conflicts)
			}
			v, _ := c.HGet(ctx, "hash:single", "f").Result()
			if changed := v == "changed"; changed != (tt.conflict != ConflictReplace) {
				t.Errorf("hash:single f = %q after %s", v, tt.name)
			}
		})
	}
	compareWith(t, vs, path, verify.Options{})
}

func TestAuth(t *testing.T) {
	fixtures(t)
	srv := redistest.Start(t, redistest.WithPassword("s3cret pw"),
		redistest.WithACLUser("loader on >lpw ~* +@all -@dangerous +restore +select +function|load +function|list"),
		redistest.WithACLUser("norestore on >npw ~* +@all -restore"))
	path := filepath.Join(generated, "redis-7.4", "all-in-one.rdb")
	t.Run("requirepass", func(t *testing.T) {
		st, err := load(t, path, Options{Redis: &redis.Options{Addr: srv.Addr, Password: "s3cret pw"}}, 0)
		if err != nil || !st.OK() {
			t.Fatalf("%+v %v", st.Failures, err)
		}
		vs := verify.Standalone(&redis.Options{Addr: srv.Addr, Password: "s3cret pw"})
		defer verify.Close(vs)
		compareWith(t, vs, path, verify.Options{Functions: true})
		flush(t, srv.Client(t))
	})
	t.Run("acl-user", func(t *testing.T) {
		st, err := load(t, path, Options{Redis: &redis.Options{Addr: srv.Addr, Username: "loader", Password: "lpw"}}, 0)
		if err != nil || !st.OK() {
			t.Fatalf("%+v %v", st.Failures, err)
		}
		vs := verify.Standalone(&redis.Options{Addr: srv.Addr, Password: "s3cret pw"})
		defer verify.Close(vs)
		compareWith(t, vs, path, verify.Options{Functions: true})
		flush(t, srv.Client(t))
	})
	t.Run("wrong-password", func(t *testing.T) {
		_, err := New(context.Background(), Options{Redis: &redis.Options{Addr: srv.Addr, Username: "loader", Password: "nope"}})
		if err == nil || !strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "nope") {
			t.Fatalf("New with a wrong password: %v", err)
		}
	})
	t.Run("no-restore-permission", func(t *testing.T) {
		st, err := load(t, path, Options{Redis: &redis.Options{Addr: srv.Addr, Username: "norestore", Password: "npw"}, Mode: ModeRestore}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if st.Failed == 0 || st.OK() || len(st.Failures) == 0 || !strings.Contains(st.Failures[0].Reason, "NOPERM") {
			t.Fatalf("failed %d, failures %v", st.Failed, st.Failures)
		}
		if st.Done() != st.Read {
			t.Fatalf("read %d, settled %d", st.Read, st.Done())
		}
	})
}

// monitor records the commands a server runs until stop is called.
func monitor(t *testing.T, addr string) (stop func() []string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(conn, 1<<20)
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("MONITOR: %q %v", line, err)
	}
	var mu sync.Mutex
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			mu.Lock()
			lines = append(lines, line)
			mu.Unlock()
		}
	}()
	return func() []string {
		time.Sleep(100 * time.Millisecond)
		conn.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return lines
	}
}

// TestBigKeys writes keys larger than the destination's limit with
// commands: built under a temporary key, renamed into place. streamed:
// larger than the read buffer too, their commands made as they are read.
func TestBigKeys(t *testing.T) {
	fixtures(t)
	srv := redistest.Start(t, redistest.WithArgs("--proto-max-bulk-len", "1mb"))
	c := srv.Client(t)
	vs := verify.Standalone(&redis.Options{Addr: srv.Addr})
	defer verify.Close(vs)
	for _, streamed := range []bool{false, true} {
		for _, f := range []string{"redis-7.4/strings.rdb", "redis-7.4/lists.rdb", "redis-7.0.15/streams.rdb", "redis-7.4/all-in-one.rdb"} {
			name := fmt.Sprintf("%s/streamed=%v", f, streamed)
			t.Run(name, func(t *testing.T) {
				flush(t, c)
				path := filepath.Join(generated, f)
				buf := 0
				if streamed {
					buf = 16 << 10
				}
				stop := monitor(t, srv.Addr)
				start := time.Now()
				o := Options{Redis: &redis.Options{Addr: srv.Addr}, MaxPayload: 16 << 10, Pipeline: 32}
				if streamed {
					o.MaxInFlight = 20 << 10 // less than one key: bytes wait for bytes
				}
				st, err := load(t, path, o, buf)
				lines := stop()
				if err != nil || !st.OK() {
					t.Fatalf("%v %v", st.Failures, err)
				}
				if st.Rewritten == 0 || streamed != (st.Streamed > 0) {
					t.Fatalf("rewritten %d, streamed %d", st.Rewritten, st.Streamed)
				}
				compareWith(t, vs, path, verify.Options{Now: start, Functions: true})
				checkRenamed(t, lines, "list:large")
			})
		}
	}
}

// checkRenamed checks in MONITOR output that key was only ever the
// target of a RENAME or RENAMENX (never written piecemeal), if it was
// written at all.
func checkRenamed(t *testing.T, lines []string, key string) {
	t.Helper()
	quoted := `"` + key + `"`
	renamed := false
	for _, l := range lines {
		if !strings.Contains(l, quoted) {
			continue
		}
		if strings.Contains(l, `"RENAMENX"`) || strings.Contains(l, `"RENAME"`) {
			renamed = true
			continue
		}
		t.Fatalf("%s written directly: %s", key, l)
	}
	if !renamed && strings.Contains(strings.Join(lines, ""), "rdbkit-tmp") {
		t.Logf("%s not among the renamed keys", key)
	}
}

func TestDryRun(t *testing.T) {
	fixtures(t)
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	path := filepath.Join(generated, "redis-7.4", "all-in-one.rdb")
	if err := c.Set(ctx, "str:short", "there already", 0).Err(); err != nil {
		t.Fatal(err)
	}
	st, err := load(t, path, Options{Redis: &redis.Options{Addr: srv.Addr}, DryRun: true, MaxPayload: 64 << 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := c.DBSize(ctx).Result(); n != 1 {
		t.Fatalf("a dry run wrote: DBSIZE %d", n)
	}
	p := st.Plan
	if p == nil || p.Existing != 1 || st.Conflicts != 1 || p.OverLimitCount == 0 || len(p.Transcode) == 0 ||
		p.Rewrite["payload over proto-max-bulk-len"] == 0 || p.Loss.FieldTTLs == 0 || p.PayloadBytes == 0 {
		t.Fatalf("plan %+v, stats %+v", p, st)
	}
	allowed := map[string]string{}
	for _, pm := range p.Permissions {
		allowed[pm.Command] = pm.Allowed
	}
	if allowed["RESTORE"] != "yes" || allowed["RENAMENX"] != "yes" {
		t.Fatalf("permissions %v", p.Permissions)
	}
	if st.Done() != st.Read {
		t.Fatalf("read %d, settled %d", st.Read, st.Done())
	}
}

func TestModeRestoreRefused(t *testing.T) {
	fixtures(t)
	srv := redistest.Start(t)
	path := filepath.Join(generated, "redis-7.4", "sets.rdb") // listpack sets: unknown to 7.0
	st, err := load(t, path, Options{Redis: &redis.Options{Addr: srv.Addr}, Mode: ModeRestore}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Failed == 0 || st.Restored == 0 || st.Done() != st.Read || int64(len(st.Failures)) != st.Failed {
		t.Fatalf("%+v", st)
	}
	for _, f := range st.Failures {
		if !strings.Contains(f.Reason, "RESTORE: ") {
			t.Errorf("%q: %s", f.Key, f.Reason)
		}
	}
}

// saveRDB fills a fresh server with fill, saves it and returns the path of
// its dump.rdb and the server.
func saveRDB(t *testing.T, fill func(p redis.Pipeliner)) (string, *redistest.Server) {
	t.Helper()
	src := redistest.Start(t)
	c := src.Client(t)
	ctx := context.Background()
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { fill(p); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(src.Dir, "dump.rdb")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return path, src
}

func TestReplicaRefused(t *testing.T) {
	master := redistest.Start(t)
	host, port, _ := net.SplitHostPort(master.Addr)
	replica := redistest.Start(t, redistest.WithArgs("--replicaof", host, port))
	_, err := New(context.Background(), Options{Redis: &redis.Options{Addr: replica.Addr}})
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("New on a replica: %v", err)
	}
	p, err := ProbeServer(context.Background(), &redis.Options{Addr: replica.Addr})
	if err != nil || p.Role != "replica" {
		t.Fatalf("probe of a replica: %+v, %v", p, err)
	}
}
