package redistest_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestStart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	ctx := context.Background()
	c := s.Client(t)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want \"v\"", got, err)
	}
	if s.Addr != fmt.Sprintf("127.0.0.1:%d", s.Port) || s.PID <= 0 {
		t.Errorf("Addr %q, Port %d, PID %d", s.Addr, s.Port, s.PID)
	}
	for param, want := range map[string]string{"save": "", "appendonly": "no", "dir": s.Dir, "logfile": s.LogFile} {
		got, err := c.ConfigGet(ctx, param).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got[param] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", param, got[param], want)
		}
	}
	if fi, err := os.Stat(s.LogFile); err != nil || fi.Size() == 0 {
		t.Errorf("log file %s: %v, want a non-empty file", s.LogFile, err)
	}
	if v := s.Version(t); !strings.Contains(v, ".") {
		t.Errorf("Version = %q", v)
	}
}

func TestStartPassword(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.WithPassword("s3cret"))
	ctx := context.Background()
	if err := s.Client(t).Ping(ctx).Err(); err != nil {
		t.Fatalf("PING with password: %v", err)
	}
	anon := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer anon.Close()
	err := anon.Ping(ctx).Err()
	if err == nil || !redis.IsAuthError(err) || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("PING without password: %v, want NOAUTH", err)
	}
}

func TestStartACLUser(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t,
		redistest.WithPassword("admin"),
		redistest.WithACLUser("alice on >pw ~* +@all"),
		redistest.WithACLUser("bob on >bobpw ~bob:* +get +set"),
	)
	ctx := context.Background()
	alice := s.ClientAs(t, "alice", "pw")
	if got, err := alice.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || got != "alice" {
		t.Fatalf("ACL WHOAMI = %q, %v; want alice", got, err)
	}
	if err := alice.Set(ctx, "any", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	bob := s.ClientAs(t, "bob", "bobpw")
	if err := bob.Set(ctx, "bob:1", "1", 0).Err(); err != nil {
		t.Fatalf("bob SET bob:1: %v", err)
	}
	if err := bob.Set(ctx, "other", "1", 0).Err(); !redis.IsPermissionError(err) {
		t.Fatalf("bob SET other: %v, want NOPERM", err)
	}
	wrong := s.ClientAs(t, "alice", "nope")
	if err := wrong.Ping(ctx).Err(); err == nil {
		t.Fatal("PING as alice with a wrong password succeeded")
	}
}

func TestRestartKeepsSavedData(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.WithACLUser("alice on >pw ~* +@all"))
	ctx := context.Background()
	c := s.Client(t)
	for _, cmd := range [][]any{{"SET", "saved", "1"}, {"SAVE"}, {"SET", "unsaved", "1"}} {
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	port, pid := s.Port, s.PID
	s.Kill()
	s.Kill() // idempotent
	mustBeDown(t, s.Addr)
	s.Restart(t)
	if s.Port != port || s.PID == pid {
		t.Errorf("after Restart: port %d -> %d, PID %d -> %d", port, s.Port, pid, s.PID)
	}
	if got, err := c.Get(ctx, "saved").Result(); err != nil || got != "1" {
		t.Errorf("GET saved = %q, %v; want \"1\"", got, err)
	}
	if err := c.Get(ctx, "unsaved").Err(); err != redis.Nil {
		t.Errorf("GET unsaved: %v, want redis.Nil", err)
	}
	if err := s.ClientAs(t, "alice", "pw").Ping(ctx).Err(); err != nil {
		t.Errorf("ACL user after Restart: %v", err)
	}

	s.Stop()
	s.Stop() // idempotent
	mustBeDown(t, s.Addr)
	s.Restart(t) // from stopped: still has the SAVEd key, not the unsaved one
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 1 {
		t.Errorf("DBSIZE after Stop+Restart = %d, %v; want 1", n, err)
	}
}

// mustBeDown checks that nothing listens on addr (without go-redis, which
// retries and logs).
func mustBeDown(t *testing.T, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections", addr)
	}
}

func TestWithDirLoadsDump(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := redistest.Start(t)
	c := src.Client(t)
	if err := c.RPush(ctx, "list", "a", "b", "c").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fixture.rdb"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	s := redistest.Start(t, redistest.WithDir(dir), redistest.WithArgs("--dbfilename", "fixture.rdb"))
	if s.Dir != dir {
		t.Errorf("Dir = %q, want %q", s.Dir, dir)
	}
	got, err := s.Client(t).LRange(ctx, "list", 0, -1).Result()
	if err != nil || strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("LRANGE list = %q, %v; want [a b c]", got, err)
	}
}

func TestWithArgs(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.WithArgs("--maxmemory-policy", "allkeys-lfu", "--save", "3600 1"))
	got, err := s.Client(t).ConfigGet(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got["maxmemory-policy"] != "allkeys-lfu" || got["save"] != "3600 1" {
		t.Errorf("maxmemory-policy %q, save %q; want allkeys-lfu, \"3600 1\"", got["maxmemory-policy"], got["save"])
	}
}

func TestStartCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	if len(cl.Nodes) != 3 || len(cl.Addrs()) != 3 {
		t.Fatalf("%d nodes, addrs %v", len(cl.Nodes), cl.Addrs())
	}
	dirs := map[string]bool{}
	for _, n := range cl.Nodes {
		dirs[n.Dir] = true
		if _, err := os.Stat(filepath.Join(n.Dir, "nodes.conf")); err != nil {
			t.Error(err)
		}
	}
	if len(dirs) != 3 {
		t.Errorf("nodes share directories: %v", dirs)
	}
	ctx := context.Background()
	c := cl.Client(t)
	for i := range 50 { // keys spread over all three masters
		k := fmt.Sprintf("key:%d", i)
		if err := c.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if got, err := c.Get(ctx, k).Int(); err != nil || got != i {
			t.Fatalf("GET %s = %d, %v; want %d", k, got, err, i)
		}
	}
	var total int64
	for _, n := range cl.Nodes {
		size, err := n.Client(t).DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if size == 0 {
			t.Errorf("node %s holds no keys", n.Addr)
		}
		total += size
	}
	if total != 50 {
		t.Errorf("keys on all nodes = %d, want 50", total)
	}
}

func TestStartClusterReplicas(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3, redistest.WithReplicas(1))
	if len(cl.Nodes) != 6 {
		t.Fatalf("%d nodes, want 6", len(cl.Nodes))
	}
	ctx := context.Background()
	masters := map[*redistest.Server]bool{}
	for _, slot := range []int{0, 8000, 16383} {
		m, err := cl.Master(slot)
		if err != nil {
			t.Fatal(err)
		}
		masters[m] = true
		reps, err := cl.Replicas(m)
		if err != nil || len(reps) != 1 || reps[0] == m {
			t.Fatalf("replicas of %s: %d, %v; want one other node", m.Addr, len(reps), err)
		}
		if info := reps[0].Client(t).Info(ctx, "replication").Val(); !strings.Contains(info, "role:slave") ||
			!strings.Contains(info, "master_port:"+strconv.Itoa(m.Port)+"\r") {
			t.Fatalf("%s is not a replica of %s:\n%s", reps[0].Addr, m.Addr, info)
		}
		// Writes stream to the replica already (not held until its first ACK).
		if info := m.Client(t).Info(ctx, "replication").Val(); !strings.Contains(info, "connected_slaves:1\r") ||
			!strings.Contains(info, ",port="+strconv.Itoa(reps[0].Port)+",state=online,") {
			t.Fatalf("%s does not stream to %s:\n%s", m.Addr, reps[0].Addr, info)
		}
	}
	if len(masters) != 3 {
		t.Fatalf("slots 0, 8000, 16383 served by %d masters, want 3", len(masters))
	}
	c := cl.Client(t)
	for i := range 50 {
		if err := c.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	slot := int(c.ClusterKeySlot(ctx, "key:0").Val())
	old, err := cl.Master(slot)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Failover(old, ""); err == nil || !strings.Contains(err.Error(), "not a replica") {
		t.Fatalf("Failover of a master: %v, want \"not a replica\"", err)
	}
	rep := mustReplica(t, cl, old)
	t0 := time.Now()
	if err := cl.Failover(rep, ""); err != nil {
		t.Fatal(err)
	}
	t.Logf("manual failover: %v", time.Since(t0))
	if m, err := cl.Master(slot); err != nil || m != rep {
		t.Fatalf("slot %d served by %s, %v after the failover; want %s", slot, addr(m), err, rep.Addr)
	}
	if r := mustReplica(t, cl, rep); r != old {
		t.Fatalf("replica of the new master is %s, want the old master %s", r.Addr, old.Addr)
	}
	checkKeys(t, cl.Client(t), 50)

	// The new master dies; its replica (the first master) takes over.
	rep.Kill()
	t0 = time.Now()
	if err := cl.Failover(old, "TAKEOVER"); err != nil {
		t.Fatal(err)
	}
	t.Logf("takeover after a kill: %v", time.Since(t0))
	if m, err := cl.Master(slot); err != nil || m != old {
		t.Fatalf("slot %d served by %s, %v after the takeover; want %s", slot, addr(m), err, old.Addr)
	}
	checkKeys(t, cl.Client(t), 50)
}

// mustReplica returns the one replica of master.
func mustReplica(t *testing.T, cl *redistest.Cluster, master *redistest.Server) *redistest.Server {
	t.Helper()
	reps, err := cl.Replicas(master)
	if err != nil || len(reps) != 1 {
		t.Fatalf("replicas of %s: %d, %v; want one", master.Addr, len(reps), err)
	}
	return reps[0]
}

// addr returns the address of s, "none" if nil.
func addr(s *redistest.Server) string {
	if s == nil {
		return "none"
	}
	return s.Addr
}

// checkKeys checks that key:i holds i for i < n.
func checkKeys(t *testing.T, c *redis.ClusterClient, n int) {
	t.Helper()
	for i := range n {
		k := fmt.Sprintf("key:%d", i)
		if got, err := c.Get(context.Background(), k).Int(); err != nil || got != i {
			t.Fatalf("GET %s = %d, %v; want %d", k, got, err, i)
		}
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	a, b := redistest.FreePort(t), redistest.FreePort(t)
	if a == b {
		t.Fatalf("FreePort returned %d twice", a)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", a))
	if err != nil {
		t.Fatalf("port %d not free: %v", a, err)
	}
	l.Close()
}

// fatalTB records the message of Fatal, Fatalf, Skip or Skipf and ends the
// goroutine, so tests can check how Start fails.
type fatalTB struct {
	*testing.T
	msg, skip string
}

func (f *fatalTB) Skip(args ...any) { f.skip = fmt.Sprint(args...); runtime.Goexit() }
func (f *fatalTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); runtime.Goexit() }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartFailsFast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []redistest.Option
		want string
	}{
		{"bad directive", []redistest.Option{redistest.WithArgs("--no-such-directive", "1")}, "Bad directive"},
		{"password not given", []redistest.Option{redistest.WithArgs("--requirepass", "x")}, "NOAUTH"},
		{"bad ACL rule", []redistest.Option{redistest.WithACLUser("carol on nonsense")}, "ACL SETUSER carol on nonsense"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fatalTB{T: t}
			done := make(chan struct{})
			start := time.Now()
			go func() {
				defer close(done)
				redistest.Start(f, tt.opts...)
			}()
			<-done
			if f.skip != "" {
				t.Skip(f.skip)
			}
			if f.msg == "" {
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(f.msg, tt.want) {
				t.Errorf("Start failed with %q, want it to mention %q", f.msg, tt.want)
			}
			if d := time.Since(start); d > redistest.DefaultStartTimeout/2 {
				t.Errorf("Start took %v to fail", d)
			}
		})
	}
}
