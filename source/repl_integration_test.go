package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// start starts a server that sends a diskless snapshot at once (Redis 7.0
// defaults to diskless after a 5 s delay) unless args say otherwise.
func start(t *testing.T, opts ...redistest.Option) *redistest.Server {
	t.Helper()
	return redistest.Start(t, append([]redistest.Option{redistest.WithArgs("--repl-diskless-sync-delay", "0")}, opts...)...)
}

func endpointOf(srv *redistest.Server, user, password string) Endpoint {
	return Endpoint{Network: "tcp", Addr: srv.Addr, User: user, Password: password}
}

// populate writes n keys of several types into db 0, 1 and 5 and returns
// the number written.
func populate(t *testing.T, srv *redistest.Server, n int) int {
	t.Helper()
	ctx := context.Background()
	total := 0
	for _, db := range []int{0, 1, 5} {
		rc := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: srv.Password, DB: db})
		pipe := rc.Pipeline()
		for i := range n {
			k := fmt.Sprintf("k:%d:%d", db, i)
			switch i % 6 {
			case 0:
				pipe.Set(ctx, k, strings.Repeat("v", i), time.Hour)
			case 1:
				pipe.RPush(ctx, k, "a", "b", i)
			case 2:
				pipe.HSet(ctx, k, "f", i, "g", "x")
			case 3:
				pipe.SAdd(ctx, k, 1, 2, i)
			case 4:
				pipe.ZAdd(ctx, k, redis.Z{Score: float64(i), Member: "m"})
			case 5:
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: k, Values: []string{"f", "v"}})
			}
			total++
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	return total
}

// decode reads an RDB to its end and returns its number of keys; the
// checksum must be right.
func decode(t *testing.T, r io.Reader) int {
	t.Helper()
	rd := rdb.NewReader(r)
	keys := 0
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == rdb.KindKey {
			keys++
		}
	}
	if _, _, st := rd.Checksum(); st != rdb.ChecksumOK {
		t.Fatalf("checksum %v", st)
	}
	return keys
}

func infoField(t *testing.T, rc *redis.Client, section, name string) string {
	t.Helper()
	info, err := rc.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	t.Fatalf("no %s in INFO %s", name, section)
	return ""
}

func masterOffset(t *testing.T, rc *redis.Client) int64 {
	t.Helper()
	n, err := strconv.ParseInt(infoField(t, rc, "replication", "master_repl_offset"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var diskModes = []struct {
	name string
	args []string
}{
	{"disk", []string{"--repl-diskless-sync", "no"}},
	{"diskless", []string{"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}},
}

func TestReplFullSyncIntegration(t *testing.T) {
	for _, mode := range diskModes {
		t.Run(mode.name, func(t *testing.T) {
			srv := start(t, redistest.WithArgs(mode.args...))
			want := populate(t, srv, 300)
			ctx := context.Background()
			c, err := Dial(ctx, endpointOf(srv, "", ""), Options{RDBOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if !c.RDBOnly() {
				t.Error("rdb-only refused")
			}
			snap, err := c.FullSync(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.ReplID) != 40 || snap.Offset < 0 || (snap.Size < 0) != (mode.name == "diskless") {
				t.Fatalf("snapshot %+v", snap)
			}
			if got := decode(t, snap); got != want {
				t.Errorf("%d keys, want %d", got, want)
			}
			if snap.Size >= 0 && snap.N() != snap.Size {
				t.Errorf("read %d bytes of %d", snap.N(), snap.Size)
			}
			if _, err := c.Commands().Next(); !errors.Is(err, ErrNoStream) {
				t.Errorf("Next on an rdb-only link: %v", err)
			}
		})
	}
}

// TestReplCommandStreamIntegration follows the command stream of a
// normal link: databases, a transaction, and the exact offset.
func TestReplCommandStreamIntegration(t *testing.T) {
	for _, mode := range diskModes {
		t.Run(mode.name, func(t *testing.T) {
			srv := start(t, redistest.WithArgs(mode.args...))
			populate(t, srv, 20)
			ctx := context.Background()
			c, err := Dial(ctx, endpointOf(srv, "", ""), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			snap, err := c.FullSync(ctx)
			if err != nil {
				t.Fatal(err)
			}
			decode(t, snap)

			rc0 := srv.Client(t)
			rc3 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
			defer rc3.Close()
			must(t, rc0.Set(ctx, "a", "1", 0).Err())
			must(t, rc3.Set(ctx, "b", "2", 0).Err())
			_, err = rc3.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "c", "3", 0)
				p.Incr(ctx, "n")
				return nil
			})
			must(t, err)
			must(t, rc0.Del(ctx, "a").Err())

			want := []string{"0 set a 1", "3 set b 2", "3 multi", "3 set c 3", "3 incr n", "3 exec", "0 del a"}
			for _, w := range want {
				cmd, err := c.Commands().Next()
				if err != nil {
					t.Fatal(err)
				}
				got := strconv.Itoa(cmd.DB) + " " + string(bytes.ToLower(bytes.Join(cmd.Args, []byte(" "))))
				if got != w {
					t.Errorf("got %q, want %q", got, w)
				}
				if cmd.Offset != c.Offset() {
					t.Errorf("command offset %d, Conn.Offset %d", cmd.Offset, c.Offset())
				}
			}
			if m := masterOffset(t, rc0); c.Offset() != m {
				t.Errorf("offset %d, master_repl_offset %d", c.Offset(), m)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReplAcksIntegration checks that the source sees the replica's
// acknowledgements: WAIT returns as soon as the GETACK it sends is
// answered, and the offset keeps up with the source's PINGs.
func TestReplAcksIntegration(t *testing.T) {
	srv := start(t, redistest.WithArgs("--repl-ping-replica-period", "1"))
	ctx := context.Background()
	c, err := Dial(ctx, endpointOf(srv, "", ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	snap, err := c.FullSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, snap)
	cmds := make(chan string, 100)
	go func() {
		defer close(cmds)
		for {
			cmd, err := c.Commands().Next()
			if err != nil {
				return
			}
			cmds <- string(bytes.Join(cmd.Args, []byte(" ")))
		}
	}()
	rc := srv.Client(t)
	// A diskless source starts the stream on an ACK after it saw the
	// transfer end, which the periodic ACK gives within a second.
	must(t, rc.Set(ctx, "x", "0", 0).Err())
	select {
	case cmd := <-cmds:
		if cmd != "set x 0" {
			t.Fatalf("got %q", cmd)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no command")
	}
	// ACKs come every second; WAIT returning faster, five times in a row,
	// means REPLCONF GETACK was answered at once.
	for i := range 5 {
		must(t, rc.Set(ctx, "x", i+1, 0).Err())
		start := time.Now()
		n, err := rc.Wait(ctx, 1, 0).Result()
		if err != nil || n != 1 {
			t.Fatalf("WAIT 1: %d replicas acknowledged, %v", n, err)
		}
		if d := time.Since(start); d > 300*time.Millisecond {
			t.Errorf("WAIT took %v", d)
		}
		if cmd := <-cmds; cmd != "set x "+strconv.Itoa(i+1) {
			t.Fatalf("got %q", cmd)
		}
	}
	// PINGs every second move the offset; the replica keeps up.
	start, deadline := masterOffset(t, rc), time.Now().Add(10*time.Second)
	for {
		m := masterOffset(t, rc)
		if m > start && c.Offset() == m {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offset %d, master_repl_offset %d (from %d)", c.Offset(), m, start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lag := infoField(t, rc, "replication", "slave0"); !strings.Contains(lag, "state=online") {
		t.Errorf("slave0: %s", lag)
	}
}

// TestReplPartialSyncIntegration resumes a stream after a reconnection:
// the source answers +CONTINUE and sends what was written meanwhile, in
// the database selected before (the source sends no new SELECT).
func TestReplPartialSyncIntegration(t *testing.T) {
	srv := start(t)
	ctx := context.Background()
	c, err := Dial(ctx, endpointOf(srv, "", ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.FullSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, snap)
	rc3 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
	defer rc3.Close()
	must(t, rc3.Set(ctx, "before", "1", 0).Err())
	cmd, err := c.Commands().Next()
	if err != nil || cmd.DB != 3 {
		t.Fatalf("got db %d %q, %v", cmd.DB, cmd.Args, err)
	}
	replID, off, db := c.ReplID(), cmd.Offset, cmd.DB
	c.Close()

	must(t, rc3.Set(ctx, "after", "2", 0).Err())
	c, err = Dial(ctx, endpointOf(srv, "", ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	snap, err = c.PartialSync(ctx, replID, off, db)
	if err != nil || snap != nil {
		t.Fatalf("PartialSync: %+v, %v", snap, err)
	}
	cmd, err = c.Commands().Next()
	if err != nil || cmd.DB != 3 || string(bytes.Join(cmd.Args, []byte(" "))) != "set after 2" {
		t.Fatalf("got db %d %q, %v", cmd.DB, cmd.Args, err)
	}
	if m := masterOffset(t, srv.Client(t)); c.Offset() != m {
		t.Errorf("offset %d, master_repl_offset %d", c.Offset(), m)
	}

	// An offset the source no longer has: a full resync instead.
	c2, err := Dial(ctx, endpointOf(srv, "", ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	snap, err = c2.PartialSync(ctx, strings.Repeat("0", 40), 5, 0)
	if err != nil || snap == nil {
		t.Fatalf("PartialSync with an unknown ID: %v, %v", snap, err)
	}
	if got := decode(t, snap); got != 2 {
		t.Errorf("%d keys, want 2", got)
	}
}

func TestReplAuthIntegration(t *testing.T) {
	srv := start(t, redistest.WithPassword("s3cret"),
		redistest.WithACLUser("syncer on >syncpw ~* +psync +replconf +ping"),
		redistest.WithACLUser("reader on >readpw ~* +@read"))
	ctx := context.Background()
	tests := []struct {
		name       string
		user, pass string
		is         error
		advice     string
	}{
		{"requirepass", "", "s3cret", nil, ""},
		{"acl user", "syncer", "syncpw", nil, ""},
		{"wrong password", "", "nope", ErrAuth, "check the user and password"},
		{"no password", "", "", ErrAuth, "requires a password"},
		{"no permission", "reader", "readpw", ErrPermission, "grant +psync +sync +replconf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(ctx, endpointOf(srv, tt.user, tt.pass), Options{RDBOnly: true})
			if err == nil {
				defer c.Close()
				var snap *Snapshot
				if snap, err = c.FullSync(ctx); err == nil {
					decode(t, snap)
				}
			}
			if tt.is == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.advice) {
				t.Fatalf("error %v, want %v with %q", err, tt.is, tt.advice)
			}
			if tt.pass != "" && strings.Contains(err.Error(), tt.pass) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestReplUnixSocketIntegration(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "redis.sock")
	srv := start(t, redistest.WithArgs("--unixsocket", sock))
	want := populate(t, srv, 10)
	ep, err := ParseEndpoint("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), ep, Options{RDBOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	snap, err := c.FullSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, snap); got != want {
		t.Errorf("%d keys, want %d", got, want)
	}
}
