package resp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/resp"
	"github.com/redis/go-redis/v9"
)

func dial(t *testing.T, o *redis.Options) *resp.Conn {
	t.Helper()
	c, err := resp.Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func exec(t *testing.T, c *resp.Conn) []resp.Reply {
	t.Helper()
	replies, err := c.Exec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return replies
}

// TestReplies sends every kind of argument and reads every kind of reply
// RESP2 has, as go-redis would give them.
func TestReplies(t *testing.T) {
	srv := redistest.Start(t)
	c := dial(t, &redis.Options{Addr: srv.Addr})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: written without a copy
	c.Append("SET", "s", big)
	c.Append("GET", "s")
	c.Append("SET", []byte("n"), 41)
	c.Append("INCRBY", "n", int64(1))
	c.Append("GET", "missing")
	c.AppendArgs([][]byte{[]byte("RPUSH"), []byte("l"), []byte("a"), {}, []byte("c")})
	c.Append("LRANGE", "l", 0, -1)
	c.Append("LPUSH", "s", "x") // WRONGTYPE
	c.Append("MULTI")
	c.Append("INCR", "n")
	c.Append("LPOP", "s")
	c.Append("GET", "missing")
	c.Append("EXEC")
	c.Append("SET", "f", 1.5) // another type: as fmt prints it
	c.Append("GET", "f")
	var enc []byte // encoded ahead, written where it is
	enc = resp.AppendCommand(enc, 3)
	enc = resp.AppendArgString(enc, "SET")
	enc = resp.AppendArg(enc, []byte("d"))
	enc = resp.AppendArgInt(enc, -7)
	enc = resp.AppendCommand(enc, 2)
	enc = resp.AppendArgString(enc, "GET")
	enc = append(resp.AppendArgHeader(enc, 1), "d\r\n"...)
	c.AppendEncoded(enc, 2)
	c.Append("GET", "d")
	if c.Queued() != 18 {
		t.Fatalf("Queued = %d", c.Queued())
	}
	got := exec(t, c)
	var wrongType error = resp.Error("WRONGTYPE Operation against a key holding the wrong kind of value")
	want := []resp.Reply{
		{Val: "OK"}, {Val: string(big)}, {Val: "OK"}, {Val: int64(42)}, {Err: redis.Nil},
		{Val: int64(3)}, {Val: []any{"a", "", "c"}}, {Err: wrongType},
		{Val: "OK"}, {Val: "QUEUED"}, {Val: "QUEUED"}, {Val: "QUEUED"},
		{Val: []any{int64(43), wrongType, nil}},
		{Val: "OK"}, {Val: "1.5"}, {Val: "OK"}, {Val: "-7"}, {Val: "-7"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d replies, want %d", len(got), len(want))
	}
	for i := range want {
		if !equal(got[i].Val, want[i].Val) || got[i].Err != want[i].Err {
			t.Errorf("reply %d: %s, want %s", i, show(got[i]), show(want[i]))
		}
	}
	var re redis.Error
	if !errors.As(got[7].Err, &re) {
		t.Errorf("%T is not a redis.Error", got[7].Err)
	}
	if c.Queued() != 0 || c.Broken() {
		t.Errorf("after Exec: Queued %d, Broken %v", c.Queued(), c.Broken())
	}
	if got := exec(t, c); len(got) != 0 {
		t.Errorf("an empty Exec read %d replies", len(got))
	}
}

func equal(a, b any) bool {
	x, ok1 := a.([]any)
	y, ok2 := b.([]any)
	if ok1 != ok2 {
		return false
	}
	if !ok1 {
		return a == b
	}
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !equal(x[i], y[i]) {
			return false
		}
	}
	return true
}

func show(r resp.Reply) string {
	if s, ok := r.Val.(string); ok && len(s) > 40 {
		r.Val = s[:40] + "..."
	}
	return fmt.Sprintf("%#v", r)
}

// TestDialAuth logs in with the default user's password and with an ACL
// user, and fails with the server's reply on a wrong password.
func TestDialAuth(t *testing.T) {
	srv := redistest.Start(t, redistest.WithPassword("s3cret"), redistest.WithACLUser("app on >apppass ~* +@all"))
	for _, o := range []*redis.Options{
		{Addr: srv.Addr, Password: "s3cret"},
		{Addr: srv.Addr, Username: "app", Password: "apppass", DB: 3},
	} {
		c := dial(t, o)
		c.Append("CLIENT", "INFO")
		info, _ := exec(t, c)[0].Val.(string)
		if !strings.Contains(info, "db="+fmt.Sprint(o.DB)) {
			t.Errorf("user %q: CLIENT INFO %q, want db %d", o.Username, info, o.DB)
		}
	}
	_, err := resp.Dial(context.Background(), &redis.Options{Addr: srv.Addr, Password: "wrong"})
	var re redis.Error
	if !errors.As(err, &re) || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := resp.Dial(context.Background(), &redis.Options{Addr: srv.Addr}); err != nil {
		t.Fatal(err) // no AUTH sent: the first command fails, not Dial
	}
}

// TestBroken: a connection killed between round trips fails the next
// one, reports itself broken, and is closed by the pool instead of kept.
func TestBroken(t *testing.T) {
	srv := redistest.Start(t)
	pool := resp.NewPool(&redis.Options{Addr: srv.Addr}, 2)
	defer pool.Close()
	ctx := context.Background()
	c, err := pool.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Append("CLIENT", "ID")
	id := exec(t, c)[0].Val.(int64)
	if err := srv.Client(t).ClientKillByFilter(ctx, "ID", fmt.Sprint(id)).Err(); err != nil {
		t.Fatal(err)
	}
	c.Append("PING")
	c.Append("PING")
	replies, err := c.Exec(ctx)
	if err == nil || len(replies) != 0 || !c.Broken() {
		t.Fatalf("after CLIENT KILL: %d replies, err %v, broken %v", len(replies), err, c.Broken())
	}
	c.Append("PING")
	if _, err := c.Exec(ctx); err == nil {
		t.Fatal("a broken connection sent again")
	}
	pool.Put(c) // closed, not kept
	c2, err := pool.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2.Append("PING")
	if got := exec(t, c2); got[0].Val != "PONG" {
		t.Fatalf("new connection: %#v", got)
	}
	pool.Put(c2)
	if c3, _ := pool.Get(ctx); c3 != c2 {
		t.Error("the pool did not keep a working connection")
	}
}

// TestCancel: cancelling the context stops a round trip waiting for its
// reply.
func TestCancel(t *testing.T) {
	srv := redistest.Start(t)
	c := dial(t, &redis.Options{Addr: srv.Addr})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	c.Append("BLPOP", "nothing", 30)
	_, err := c.Exec(ctx)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second || !c.Broken() {
		t.Fatalf("err %v after %v, broken %v", err, time.Since(start), c.Broken())
	}
}

// TestProtocolError: a reply that is not RESP breaks the connection with
// an error that quotes it. No Redis server sends one, so the peer is a
// listener that answers garbage.
func TestProtocolError(t *testing.T) {
	for _, reply := range []string{"?what\r\n", "$5\r\nab", ":12x\r\n", "*-7\r\n", "+OK\n", "$3\r\nabcde"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			// Read the PING, answer, and close the writing side only:
			// closing with the request unread would reset the connection.
			if _, err := io.ReadFull(conn, make([]byte, len("*1\r\n$4\r\nPING\r\n"))); err != nil {
				return
			}
			_, _ = conn.Write([]byte(reply))
			_ = conn.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, conn)
		}()
		c := dial(t, &redis.Options{Addr: ln.Addr().String()})
		c.Append("PING")
		_, err = c.Exec(context.Background())
		var pe *resp.ProtocolError
		if err == nil || !c.Broken() || !errors.As(err, &pe) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("reply %q: err %v, broken %v", reply, err, c.Broken())
		}
		_ = ln.Close()
	}
}

// TestBulkBytes reads bulk replies as byte slices on the connections of a
// Pool with BulkBytes, small ones and one larger than what a reply's
// length may allocate before its bytes come.
func TestBulkBytes(t *testing.T) {
	srv := redistest.Start(t)
	pool := resp.NewPool(&redis.Options{Addr: srv.Addr}, 1)
	pool.BulkBytes = true
	defer pool.Close()
	ctx := context.Background()
	c, err := pool.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("rdbkit!"), 3<<20/7)
	c.Append("SET", "big", big)
	c.Append("SET", "small", "v")
	c.Append("GET", "big")
	c.Append("GET", "small")
	c.Append("GET", "missing")
	c.Append("SET", "status", "still a string") // simple strings stay strings
	got := exec(t, c)
	if b, ok := got[2].Val.([]byte); !ok || !bytes.Equal(b, big) {
		t.Errorf("big: %T of %d bytes, want %d bytes", got[2].Val, len(b), len(big))
	}
	if b, ok := got[3].Val.([]byte); !ok || string(b) != "v" {
		t.Errorf("small: %#v", got[3].Val)
	}
	if got[4].Err != redis.Nil || got[5].Val != "OK" {
		t.Errorf("missing: %#v, status: %#v", got[4], got[5])
	}
	pool.Put(c)
}
