package loader

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/redis/go-redis/v9"
)

func bargs(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

func joinKeys(keys [][]byte) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

func TestApplierKeys(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	l, err := New(ctx, Options{Redis: &redis.Options{Addr: srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := l.Applier()
	tests := []struct {
		args  []string
		keys  string
		known bool
	}{
		{[]string{"SET", "k", "v", "PXAT", "1"}, "k", true},
		{[]string{"mset", "a", "1", "b", "2"}, "a,b", true},
		{[]string{"DEL", "a", "b", "c"}, "a,b,c", true},
		{[]string{"ZUNIONSTORE", "dst", "2", "z1", "z2", "WEIGHTS", "1", "2"}, "dst,z1,z2", true}, // movable: GETKEYS
		{[]string{"XGROUP", "CREATE", "stream", "g", "$"}, "stream", true},                        // a subcommand
		{[]string{"FUNCTION", "LOAD", "code"}, "", true},
		{[]string{"FLUSHALL"}, "", true},
		{[]string{"NOSUCHCOMMAND", "x"}, "", false},
	}
	for _, tt := range tests {
		keys, spec, err := a.Keys(ctx, bargs(tt.args...))
		if err != nil || joinKeys(keys) != tt.keys || spec.Known != tt.known {
			t.Errorf("%q: keys %q, known %v, err %v; want %q", tt.args, joinKeys(keys), spec.Known, err, tt.keys)
		}
	}
	spec, _ := a.Spec(ctx, bargs("hset"))
	if !spec.HasCategory("hash") || !spec.HasFlag("write") {
		t.Errorf("HSET: %+v", spec)
	}
}

func TestApplierApply(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	l, err := New(ctx, Options{Redis: &redis.Options{Addr: srv.Addr}, DBMap: map[int]int{1: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := l.Applier()
	cmd := func(db int, s ...string) *Command { return &Command{DB: db, Args: bargs(s...)} }
	ops := []*Op{
		{Cmds: []*Command{cmd(0, "SET", "s", "v")}},
		{Cmds: []*Command{cmd(1, "INCR", "n")}}, // database 1 goes to 3
		{Tx: true, Cmds: []*Command{cmd(0, "INCR", "s"), cmd(0, "RPUSH", "l", "x"), cmd(1, "INCR", "n")}},
		{Tx: true, Cmds: []*Command{cmd(0, "SET", "t", "1"), cmd(0, "INCR", "t", "extra")}}, // aborted
		{Cmds: []*Command{cmd(0, "GET", "nothing")}},
	}
	if err := a.Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
	errOf := func(c *Command) string {
		if c.Err == nil {
			return ""
		}
		return c.Err.Error()
	}
	tx := ops[2].Cmds
	switch {
	case errOf(ops[0].Cmds[0]) != "" || ops[0].Cmds[0].Reply != "OK":
		t.Errorf("SET: %v %v", ops[0].Cmds[0].Err, ops[0].Cmds[0].Reply)
	case ops[1].Cmds[0].Reply != int64(1):
		t.Errorf("INCR: %v", ops[1].Cmds[0].Reply)
	case !strings.HasPrefix(errOf(tx[0]), "ERR value is not an integer") || tx[1].Reply != int64(1) || tx[2].Reply != int64(2):
		t.Errorf("transaction: %v %v / %v %v / %v %v", tx[0].Err, tx[0].Reply, tx[1].Err, tx[1].Reply, tx[2].Err, tx[2].Reply)
	case !strings.Contains(errOf(ops[3].Cmds[0]), "EXECABORT") || !strings.Contains(errOf(ops[3].Cmds[1]), "wrong number of arguments"):
		t.Errorf("aborted transaction: %v / %v", ops[3].Cmds[0].Err, ops[3].Cmds[1].Err)
	case ops[4].Cmds[0].Err != nil || ops[4].Cmds[0].Reply != nil:
		t.Errorf("GET of nothing: %v %v", ops[4].Cmds[0].Err, ops[4].Cmds[0].Reply)
	}
	c3 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
	defer c3.Close()
	if v := c3.Get(ctx, "n").Val(); v != "2" {
		t.Errorf("db 3 n = %q", v)
	}
	if n := srv.Client(t).Exists(ctx, "t").Val(); n != 0 {
		t.Errorf("the aborted transaction ran")
	}
}

// clusterApplier starts a 3-master cluster and returns an Applier into
// it, closed when the test ends.
func clusterApplier(t *testing.T) (*redistest.Cluster, *Applier) {
	cl := redistest.StartCluster(t, 3)
	l, err := New(context.Background(), Options{Redis: &redis.Options{Addr: cl.Nodes[0].Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return cl, l.Applier()
}

func TestApplierCluster(t *testing.T) {
	cl, a := clusterApplier(t)
	ctx := context.Background()
	cmd := func(s ...string) *Command {
		c := &Command{Args: bargs(s...)}
		keys, _, err := a.Keys(ctx, c.Args)
		if err != nil {
			t.Fatal(err)
		}
		c.Keys = keys
		return c
	}
	ops := []*Op{
		{Cmds: []*Command{cmd("SET", "a", "1")}},
		{Cmds: []*Command{cmd("SET", "b", "2")}},
		{Cmds: []*Command{cmd("MSET", "{t}x", "1", "{t}y", "2")}},
		{Cmds: []*Command{cmd("MSET", "a", "1", "b", "2")}},                                                                // two slots
		{Tx: true, Cmds: []*Command{cmd("INCR", "{t}n"), cmd("INCR", "{t}n")}},                                             // one slot
		{Tx: true, Cmds: []*Command{cmd("INCR", "c"), cmd("INCR", "d"), cmd("INCR", "c")}},                                 // split
		{Cmds: []*Command{cmd("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('f', function() return 1 end)")}}, // every master
		{Cmds: []*Command{{DB: 2, Args: bargs("SET", "z", "1"), Keys: bargs("z")}}},                                        // database 2
	}
	if err := a.Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
	for i, op := range ops {
		for _, c := range op.Cmds {
			var cs *CrossSlotError
			switch {
			case i == 3:
				if !errors.As(c.Err, &cs) || len(cs.Slots) != 2 {
					t.Errorf("cross-slot MSET: %v", c.Err)
				}
			case i == 7:
				if c.Err == nil || !strings.Contains(c.Err.Error(), "only database 0") {
					t.Errorf("database 2: %v", c.Err)
				}
			case c.Err != nil:
				t.Errorf("op %d %q: %v", i, c.Args, c.Err)
			}
		}
	}
	if ops[4].Split || !ops[5].Split || ops[4].Cmds[1].Reply != int64(2) || ops[5].Cmds[2].Reply != int64(2) {
		t.Errorf("transactions: split %v %v, replies %v %v", ops[4].Split, ops[5].Split, ops[4].Cmds[1].Reply, ops[5].Cmds[2].Reply)
	}
	cc := cl.Client(t)
	for _, k := range []string{"a", "b", "{t}x", "{t}y"} {
		if cc.Exists(ctx, k).Val() != 1 {
			t.Errorf("%s missing", k)
		}
	}
	for _, n := range cl.Nodes {
		libs, err := n.Client(t).FunctionList(ctx, redis.FunctionListQuery{}).Result()
		if err != nil || len(libs) != 1 {
			t.Errorf("%s: functions %v, %v", n.Addr, libs, err)
		}
	}
}

func TestApplierApplyMarked(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	l, err := New(ctx, Options{Redis: &redis.Options{Addr: srv.Addr}, DBMap: map[int]int{1: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := l.Applier()
	mark := Mark{DB: 2, Key: "rdbkit:mark"}
	cmd := func(db int, s ...string) *Command { return &Command{DB: db, Args: bargs(s...)} }

	if v, err := a.ReadMark(ctx, mark); err != nil || v != "" {
		t.Fatalf("ReadMark before any batch: %q, %v", v, err)
	}
	set, incr, wrongType := cmd(0, "SET", "s", "v"), cmd(1, "INCR", "n"), cmd(0, "LPUSH", "s", "x")
	ops := []*Op{
		{Cmds: []*Command{set}},
		{Tx: true, Cmds: []*Command{incr, wrongType}},
	}
	if prev, err := a.ApplyMarked(ctx, ops, mark, "one"); err != nil || prev != "" {
		t.Fatalf("first batch: previous mark %q, %v", prev, err)
	}
	if set.Err != nil || incr.Err != nil || incr.Reply != int64(1) || wrongType.Err == nil || !strings.HasPrefix(wrongType.Err.Error(), "WRONGTYPE") {
		t.Errorf("replies: SET %v, INCR %v %v, LPUSH %v", set.Err, incr.Reply, incr.Err, wrongType.Err)
	}
	if v, err := a.ReadMark(ctx, mark); err != nil || v != "one" {
		t.Errorf("ReadMark: %q, %v; want one", v, err)
	}

	// A command refused when queued aborts the transaction: it keeps its
	// error and the others run in a second one, with the mark.
	unknown, incr2 := cmd(0, "NOSUCHCOMMAND", "x"), cmd(1, "INCR", "n")
	if prev, err := a.ApplyMarked(ctx, []*Op{{Cmds: []*Command{unknown}}, {Cmds: []*Command{incr2}}}, mark, "two"); err != nil || prev != "one" {
		t.Fatalf("second batch: previous mark %q, %v", prev, err)
	}
	if unknown.Err == nil || !strings.Contains(unknown.Err.Error(), "unknown command") || incr2.Err != nil || incr2.Reply != int64(2) {
		t.Errorf("replies: NOSUCHCOMMAND %v, INCR %v %v", unknown.Err, incr2.Reply, incr2.Err)
	}
	c3 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
	defer c3.Close()
	if n, _ := c3.Get(ctx, "n").Int(); n != 2 {
		t.Errorf("n = %d, want 2 (each INCR once)", n)
	}
	c2 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 2})
	defer c2.Close()
	if v := c2.Get(ctx, "rdbkit:mark").Val(); v != "two" {
		t.Errorf("mark in database 2: %q", v)
	}
	if err := a.DeleteMarks(ctx, []Mark{mark}); err != nil {
		t.Fatal(err)
	}
	if n := c2.Exists(ctx, "rdbkit:mark").Val(); n != 0 {
		t.Error("the mark is still there")
	}
}

// TestApplierSlotMarks applies transactions with per-slot marks on a
// cluster: each runs on its slot's node with its mark, and the marks can
// be read and deleted.
func TestApplierSlotMarks(t *testing.T) {
	cl, a := clusterApplier(t)
	ctx := context.Background()
	var txs []*MarkedTx
	var marks []Mark
	for _, key := range []string{"a", "b", "c", "d"} {
		slot := rewrite.Slot([]byte(key))
		c := &Command{Args: bargs("INCR", key), Keys: bargs(key)}
		if a.SlotOf(c) != slot {
			t.Fatalf("SlotOf(%s) = %d, want %d", key, a.SlotOf(c), slot)
		}
		m := SlotMark("mark:", slot)
		if rewrite.Slot([]byte(m.Key)) != slot {
			t.Fatalf("mark %s is not in slot %d", m.Key, slot)
		}
		txs, marks = append(txs, &MarkedTx{Mark: m, Value: "v1", Cmds: []*Command{c}}), append(marks, m)
	}
	txs[1].Done = true // ran before: not sent
	if err := a.ApplyMarkedTxs(ctx, txs); err != nil {
		t.Fatal(err)
	}
	cc := cl.Client(t)
	for i, tx := range txs {
		v, err := a.ReadMark(ctx, tx.Mark)
		n, _ := cc.Get(ctx, string(tx.Cmds[0].Args[1])).Int()
		want, wantMark := 1, "v1"
		if i == 1 {
			want, wantMark = 0, ""
		}
		if err != nil || v != wantMark || n != want || !tx.Done || tx.Prev != "" {
			t.Errorf("tx %d: mark %q (%v), value %d, done %v, prev %q", i, v, err, n, tx.Done, tx.Prev)
		}
	}
	if err := a.DeleteMarks(ctx, marks); err != nil {
		t.Fatal(err)
	}
	for _, m := range marks {
		if v, err := a.ReadMark(ctx, m); err != nil || v != "" {
			t.Errorf("mark %s after DeleteMarks: %q, %v", m.Key, v, err)
		}
	}
}
