package compare

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/source"
	"github.com/redis/go-redis/v9"
)

// populate writes the same keys of every type, small and big, in
// databases 0 and 3 of each client.
func populate(t *testing.T, cs ...*redis.Client) {
	t.Helper()
	ctx := context.Background()
	for _, c := range cs {
		pipe := c.Pipeline()
		pipe.Set(ctx, "str", "hello", 0)
		pipe.Set(ctx, "int", "12345", time.Hour)
		pipe.Set(ctx, "big:str", strings.Repeat("0123456789abcdef", 1<<17), 0) // 2 MiB
		pipe.RPush(ctx, "list", "a", "b", "c", 1, 2)
		pipe.SAdd(ctx, "set", "x", "y", "z")
		pipe.SAdd(ctx, "intset", 1, 2, 3)
		pipe.ZAdd(ctx, "zset", redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: -2, Member: "b"})
		pipe.HSet(ctx, "hash", "f1", "v1", "f2", "v2", "f3", "3")
		pipe.Expire(ctx, "hash", 2*time.Hour)
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: "stream", ID: "1-1", Values: []any{"f", "v", "f", "w"}})
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: "stream", ID: "2-0", Values: []any{"g", "1"}})
		pipe.XGroupCreate(ctx, "stream", "grp", "0")
		pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "grp", Consumer: "alice", Streams: []string{"stream", ">"}, Count: 1})
		for i := range 3000 {
			pipe.RPush(ctx, "big:list", fmt.Sprintf("element-%05d-%s", i, strings.Repeat("x", i%50)))
			pipe.SAdd(ctx, "big:set", fmt.Sprintf("member-%05d", i))
			pipe.ZAdd(ctx, "big:zset", redis.Z{Score: float64(i) / 3, Member: fmt.Sprintf("m-%05d", i)})
			pipe.HSet(ctx, "big:hash", fmt.Sprintf("field-%05d", i), strings.Repeat("v", i%70))
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: "big:stream", ID: fmt.Sprintf("%d-1", i+1), Values: []any{"n", i, "s", "val"}})
		}
		pipe.XGroupCreate(ctx, "big:stream", "g1", "0")
		pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "bob", Streams: []string{"big:stream", ">"}, Count: 10})
		pipe.Expire(ctx, "big:list", 3*time.Hour)
		pipe.Select(ctx, 3)
		pipe.Set(ctx, "db3:str", "three", 0)
		pipe.RPush(ctx, "db3:list", "x")
		pipe.Select(ctx, 0)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// run compares a live source with a destination.
func run(t *testing.T, src, dst string, o Options, so source.ScanOptions) *Report {
	t.Helper()
	ctx := context.Background()
	o.Redis = &redis.Options{Addr: dst}
	c, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	so.Redis = &redis.Options{Addr: src}
	s, err := source.NewScanner(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for {
		e, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Add(ctx, &e.Entry); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := c.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestCompare(t *testing.T) {
	src := redistest.Start(t)
	// Other encodings on the destination: hashtable hashes and sets,
	// skiplist zsets, one-element quicklist nodes.
	dst := redistest.Start(t, redistest.WithArgs("--hash-max-listpack-entries", "1", "--set-max-intset-entries", "1",
		"--zset-max-listpack-entries", "1", "--list-max-listpack-size", "1"))
	sc, dc := src.Client(t), dst.Client(t)
	populate(t, sc, dc)
	ctx := context.Background()
	if enc := dc.ObjectEncoding(ctx, "hash").Val(); enc != "hashtable" {
		t.Fatalf("destination hash is %s", enc)
	}
	opts := Options{BigKey: 4 << 10, Window: 100, BothWays: true}

	rep := run(t, src.Addr, dst.Addr, opts, source.ScanOptions{})
	if rep.Differences() != 0 || rep.Counts[Failed] != 0 {
		t.Fatalf("equal data: %+v", rep)
	}
	if want := int64(16); rep.Counts[Equal] != want || rep.Chunked != 6 {
		t.Fatalf("%d equal (want %d), %d chunked (want 6)", rep.Counts[Equal], want, rep.Chunked)
	}

	// Plant one difference of each kind.
	d3 := redis.NewClient(&redis.Options{Addr: dst.Addr, DB: 3})
	defer d3.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(dc.Del(ctx, "set").Err())                                             // missing
	must(dc.Set(ctx, "extra", "x", 0).Err())                                   // extra
	must(dc.LSet(ctx, "list", 2, "C").Err())                                   // changed element
	must(dc.ZAdd(ctx, "zset", redis.Z{Score: 1.25, Member: "a"}).Err())        // changed score
	must(dc.Persist(ctx, "int").Err())                                         // missing TTL
	must(dc.Expire(ctx, "hash", time.Hour).Err())                              // TTL beyond tolerance
	must(dc.Del(ctx, "str").Err())                                             // wrong type
	must(dc.RPush(ctx, "str", "hello").Err())                                  //
	must(dc.LSet(ctx, "big:list", 2500, "changed").Err())                      // big: changed element
	must(dc.ZAdd(ctx, "big:zset", redis.Z{Score: 7, Member: "m-01234"}).Err()) // big: changed score
	must(dc.HSet(ctx, "big:hash", "field-00007", "other").Err())               // big: changed value
	must(d3.Expire(ctx, "db3:str", 3*time.Second).Err())                       // within tolerance? no: 3 s > 2 s

	rep = run(t, src.Addr, dst.Addr, opts, source.ScanOptions{})
	want := map[string]Outcome{
		"0 set": Missing, "0 extra": Extra, "0 list": ValueDiffers, "0 zset": ValueDiffers,
		"0 int": TTLDiffers, "0 hash": TTLDiffers, "0 str": TypeDiffers,
		"0 big:list": ValueDiffers, "0 big:zset": ValueDiffers, "0 big:hash": ValueDiffers,
		"3 db3:str": TTLDiffers,
	}
	got := map[string]Outcome{}
	for _, d := range rep.Diffs {
		got[fmt.Sprintf("%d %s", d.DB, d.Key)] = d.Outcome
		t.Logf("%d %s: %v: %s", d.DB, d.Key, d.Outcome, d.Reason)
	}
	for k, o := range want {
		if got[k] != o {
			t.Errorf("%s: got %v, want %v", k, got[k], o)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected difference", k)
		}
	}
	if rep.Differences() != int64(len(want)) || rep.Counts[Equal] != 16-10 {
		t.Errorf("counts %v", rep.Counts)
	}

	// A TTL within the tolerance is equal; without BothWays the extra
	// key is not looked for; a filter keeps the comparison to its keys.
	must(d3.Persist(ctx, "db3:str").Err())
	rep = run(t, src.Addr, dst.Addr, Options{}, source.ScanOptions{DBs: []int{3}})
	if rep.Differences() != 0 || rep.Counts[Equal] != 2 {
		t.Fatalf("db 3: %+v", rep)
	}
}

func TestCompareTolerance(t *testing.T) {
	src := redistest.Start(t)
	dst := redistest.Start(t)
	sc, dc := src.Client(t), dst.Client(t)
	ctx := context.Background()
	for _, c := range []*redis.Client{sc, dc} {
		c.Set(ctx, "k", "v", time.Hour)
	}
	dc.Expire(ctx, "k", time.Hour-1500*time.Millisecond)
	if rep := run(t, src.Addr, dst.Addr, Options{}, source.ScanOptions{}); rep.Counts[Equal] != 1 {
		t.Fatalf("1.5 s apart with 2 s tolerance: %+v", rep)
	}
	if rep := run(t, src.Addr, dst.Addr, Options{TTLTolerance: time.Second}, source.ScanOptions{}); rep.Counts[TTLDiffers] != 1 {
		t.Fatalf("1.5 s apart with 1 s tolerance: %+v", rep)
	}
}

func TestCompareCluster(t *testing.T) {
	src := redistest.Start(t)
	cl := redistest.StartCluster(t, 3)
	sc, cc := src.Client(t), cl.Client(t)
	ctx := context.Background()
	for i := range 300 {
		k := fmt.Sprint("k:", i)
		sc.Set(ctx, k, i, 0)
		if i != 7 {
			cc.Set(ctx, k, i, 0)
		}
	}
	cc.Set(ctx, "only-here", 1, 0)
	rep := run(t, src.Addr, cl.Nodes[2].Addr, Options{BothWays: true}, source.ScanOptions{})
	var keys []string
	for _, d := range rep.Diffs {
		keys = append(keys, d.Outcome.String()+" "+string(d.Key))
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"extra only-here", "missing k:7"}) || rep.Counts[Equal] != 299 {
		t.Fatalf("diffs %v, counts %v", keys, rep.Counts)
	}
}
