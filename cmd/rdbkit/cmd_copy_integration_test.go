package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// copyTestLib is a function library of the test data.
const copyTestLib = "#!lua name=copylib\nredis.register_function('copyfn', function(keys, args) return 1 end)"

// copyTestFill writes keys of every type into databases 0, 2 and 9 (only
// 0 when cluster is set, with hash tags): small and big values, TTLs, a
// stream with a consumer group, and a function library.
func copyTestFill(t *testing.T, c redis.UniversalClient, cluster bool) {
	t.Helper()
	ctx := context.Background()
	dbs := []int{0, 2, 9}
	if cluster {
		dbs = []int{0}
	}
	for _, db := range dbs {
		var cmds []func(p redis.Pipeliner)
		add := func(f func(p redis.Pipeliner)) { cmds = append(cmds, f) }
		pre := fmt.Sprintf("d%d:", db)
		add(func(p redis.Pipeliner) { p.Set(ctx, pre+"str", "value", 0) })
		add(func(p redis.Pipeliner) { p.Set(ctx, pre+"int", 42, time.Hour) })
		add(func(p redis.Pipeliner) { p.Set(ctx, pre+"bin", "\x00\xff\r\n", 0) })
		add(func(p redis.Pipeliner) {
			p.Set(ctx, pre+"big:str", strings.Repeat("copy-me-", 1<<17), 30*time.Minute) // 1 MiB
		})
		add(func(p redis.Pipeliner) { p.RPush(ctx, pre+"list", "a", "b", 3) })
		add(func(p redis.Pipeliner) { p.SAdd(ctx, pre+"set", "x", "y") })
		add(func(p redis.Pipeliner) { p.SAdd(ctx, pre+"intset", 1, 2, 3) })
		add(func(p redis.Pipeliner) {
			p.ZAdd(ctx, pre+"zset", redis.Z{Score: 2.5, Member: "m"}, redis.Z{Score: -1, Member: "n"})
		})
		add(func(p redis.Pipeliner) { p.HSet(ctx, pre+"hash", "f", "v", "g", "w") })
		add(func(p redis.Pipeliner) { p.PExpire(ctx, pre+"hash", 90*time.Minute) })
		add(func(p redis.Pipeliner) {
			p.XAdd(ctx, &redis.XAddArgs{Stream: pre + "{s}stream", ID: "5-1", Values: []any{"a", "1"}})
			p.XAdd(ctx, &redis.XAddArgs{Stream: pre + "{s}stream", ID: "6-0", Values: []any{"b", "2"}})
			p.XGroupCreate(ctx, pre+"{s}stream", "grp", "0")
			p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "grp", Consumer: "c1", Streams: []string{pre + "{s}stream", ">"}, Count: 1})
		})
		for i := range 4000 {
			add(func(p redis.Pipeliner) {
				p.RPush(ctx, pre+"big:list", fmt.Sprintf("%d-%s", i, strings.Repeat("l", i%40)))
				p.HSet(ctx, pre+"big:hash", fmt.Sprint("f", i), strings.Repeat("h", i%80))
				p.SAdd(ctx, pre+"big:set", fmt.Sprint("s", i))
				p.ZAdd(ctx, pre+"big:zset", redis.Z{Score: float64(i) * 1.25, Member: fmt.Sprint("z", i)})
				p.XAdd(ctx, &redis.XAddArgs{Stream: pre + "big:stream", ID: fmt.Sprintf("%d-0", i+1), Values: []any{"i", i}})
			})
		}
		for i := range 300 {
			add(func(p redis.Pipeliner) { p.Set(ctx, fmt.Sprintf("%skey:%d", pre, i), i, 0) })
		}
		var pipe redis.Pipeliner
		if cluster {
			pipe = c.Pipeline()
		} else {
			cl := c.(*redis.Client)
			o := *cl.Options()
			o.DB = db
			dc := redis.NewClient(&o)
			defer dc.Close()
			pipe = dc.Pipeline()
		}
		for _, f := range cmds {
			f(pipe)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.FunctionLoad(ctx, copyTestLib).Err(); err != nil {
		t.Fatal(err)
	}
}

// copyTestKeys is the number of keys copyTestFill writes per database.
const copyTestKeys = 10 + 5 + 300

func copyTestURL(addr string) string { return "redis://" + addr }

func TestCopyStandalone(t *testing.T) {
	src := redistest.Start(t)
	dst := redistest.Start(t, redistest.WithArgs("--hash-max-listpack-entries", "1")) // other encodings
	copyTestFill(t, src.Client(t), false)
	from, to := copyTestURL(src.Addr), copyTestURL(dst.Addr)

	code, stdout, stderr := runCLI(t, "copy", "--from", from, "--to", to, "--verify", "--json")
	if code != exitOK {
		t.Fatalf("copy: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep copyReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	k := rep.Keys
	if !rep.OK || k.Read != 3*copyTestKeys || k.Written != 3*copyTestKeys || k.Vanished != 0 || rep.Functions.Loaded != 1 {
		t.Fatalf("copy: %s", stdout)
	}
	if v := rep.Verify; v == nil || !v.Equal || v.Counts["equal"] != 3*copyTestKeys {
		t.Fatalf("verify: %+v", rep.Verify)
	}
	if !strings.Contains(rep.Note, "not a point-in-time snapshot") {
		t.Fatalf("note %q", rep.Note)
	}

	// compare, both ways, big keys in windows; then the text summary.
	code, stdout, _ = runCLI(t, "compare", from, "--to", to, "--both-ways", "--big-key", "4k")
	if code != exitOK || !strings.Contains(stdout, fmt.Sprintf("%d equal, 0 missing, 0 extra", 3*copyTestKeys)) || !strings.Contains(stdout, "big keys compared in windows") {
		t.Fatalf("compare: exit %d\n%s", code, stdout)
	}

	// Filters, a rate limit, --skip-existing; the text summary.
	start := time.Now()
	code, stdout, _ = runCLI(t, "copy", "--from", from, "--to", to, "--db", "2", "--match", "d2:key:1*", "--rate", "500", "--skip-existing")
	if code != exitOK || !strings.Contains(stdout, "111 read") || !strings.Contains(stdout, "111 skipped (existing)") {
		t.Fatalf("filtered copy: exit %d\n%s", code, stdout)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("111 keys at 500 keys/s in %v", el)
	}
	code, stdout, _ = runCLI(t, "copy", "--from", from, "--to", to, "--type", "zset", "--regex", "big")
	if code != exitFailure || !strings.Contains(stdout, "3 conflicts") || !strings.Contains(stdout, "not ok") {
		t.Fatalf("conflicts: exit %d\n%s", code, stdout)
	}
}

func TestCopyDuringWrites(t *testing.T) {
	src := redistest.Start(t)
	dst := redistest.Start(t)
	sc := src.Client(t)
	ctx := context.Background()
	pipe := sc.Pipeline()
	for i := range 3000 {
		pipe.Set(ctx, fmt.Sprint("keep:", i), i, 0)
		pipe.Set(ctx, fmt.Sprint("del:", i), i, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var writes sync.WaitGroup
	opts := copyOptions{
		src:  liveSourceOptions{conn: destOptions{url: copyTestURL(src.Addr)}, scanCount: 10000, batch: 20},
		dest: destOptions{url: copyTestURL(dst.Addr)}, now: time.Now(),
		writeOptions: writeOptions{workers: 2, pipeline: 64, retries: 2}, tolerance: 2 * time.Second, json: true, progressEvery: time.Millisecond,
		afterKey: func(int64) {
			// Once the first key arrives, the first SCAN reply (all the
			// keys) is cut into batches not yet DUMPed: delete half.
			once.Do(func() {
				c := src.Client(t)
				p := c.Pipeline()
				for i := range 3000 {
					p.Del(ctx, fmt.Sprint("del:", i))
				}
				if _, err := p.Exec(ctx); err != nil {
					t.Error(err)
				}
				writes.Add(1)
				go func() { // and keep writing new keys during the copy
					defer writes.Done()
					for i := range 500 {
						c.Set(ctx, fmt.Sprint("new:", i), i, 0)
					}
				}()
			})
		},
	}
	var out, errb bytes.Buffer
	if err := runCopy(ctx, opts, &out, &errb); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errb.String())
	}
	writes.Wait()
	if !strings.Contains(errb.String(), "keys read") {
		t.Errorf("no progress on stderr: %q", errb.String())
	}
	var rep copyReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	k := rep.Keys
	if k.Vanished < 1000 || k.Read+k.Vanished+k.Duplicates != k.Scanned || k.Written != k.Read || !rep.OK {
		t.Fatalf("keys %+v", k)
	}
	t.Logf("scanned %d, read %d, vanished %d", k.Scanned, k.Read, k.Vanished)
	// The keys nobody touched are all there.
	code, stdout, _ := runCLI(t, "compare", copyTestURL(src.Addr), "--to", copyTestURL(dst.Addr), "--match", "keep:*", "--both-ways")
	if code != exitOK || !strings.Contains(stdout, "3000 equal") {
		t.Fatalf("compare: exit %d\n%s", code, stdout)
	}
}

func TestCopyToFile(t *testing.T) {
	src := redistest.Start(t)
	copyTestFill(t, src.Client(t), false)
	dir := t.TempDir()
	file := filepath.Join(dir, "copy.rdb")
	from := copyTestURL(src.Addr)
	code, stdout, stderr := runCLI(t, "copy", "--from", from, "-o", file, "--verify")
	if code != exitOK || !strings.Contains(stdout, "(RDB 10,") || !strings.Contains(stdout, fmt.Sprintf("%d written to the file", 3*copyTestKeys)) {
		t.Fatalf("copy -o: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, fmt.Sprintf("verify: %d compared: %d equal", 3*copyTestKeys, 3*copyTestKeys)) {
		t.Fatalf("verify:\n%s", stdout)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files left beside the output: %v", entries)
	}
	code, stdout, _ = runCLI(t, "check", file)
	if code != exitOK || !strings.Contains(stdout, fmt.Sprintf("ok: %d keys, checksum ok", 3*copyTestKeys)) {
		t.Fatalf("check: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "info", file)
	if code != exitOK {
		t.Fatalf("info: exit %d", code)
	}
	for _, want := range []string{"redis-ver = 7.0.15", "db 2:", "size hint 315 keys, 3 with expiry", "functions:  1: copylib"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("info lacks %q:\n%s", want, stdout)
		}
	}
	// The file loads in redis-server and holds what the source holds.
	loaded := redistest.Start(t, redistest.WithDir(dir), redistest.WithArgs("--dbfilename", "copy.rdb"))
	code, stdout, _ = runCLI(t, "compare", from, "--to", copyTestURL(loaded.Addr), "--both-ways")
	if code != exitOK || !strings.Contains(stdout, fmt.Sprintf("%d equal", 3*copyTestKeys)) {
		t.Fatalf("compare with the loaded file: exit %d\n%s", code, stdout)
	}
	if libs := loaded.Client(t).FunctionList(context.Background(), redis.FunctionListQuery{}).Val(); len(libs) != 1 || libs[0].Name != "copylib" {
		t.Fatalf("functions %+v", libs)
	}
	code, _, _ = runCLI(t, "copy", "--from", from, "-o", "-")
	if code != exitUsage {
		t.Fatalf("-o -: exit %d", code)
	}
}

func TestCopyCluster(t *testing.T) {
	src := redistest.Start(t)
	cl := redistest.StartCluster(t, 3)
	copyTestFill(t, src.Client(t), true)
	from, to := copyTestURL(src.Addr), copyTestURL(cl.Nodes[0].Addr)
	code, stdout, stderr := runCLI(t, "copy", "--from", from, "--to", to, "--verify")
	if code != exitOK || !strings.Contains(stdout, "cluster, mode auto") || !strings.Contains(stdout, fmt.Sprintf("verify: %d compared: %d equal", copyTestKeys, copyTestKeys)) {
		t.Fatalf("copy into a cluster: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// And back: a cluster source, every master in parallel.
	back := redistest.Start(t)
	code, stdout, _ = runCLI(t, "copy", "--from", to, "--to", copyTestURL(back.Addr), "--no-functions")
	if code != exitOK || !strings.Contains(stdout, "cluster of 3 masters") || !strings.Contains(stdout, fmt.Sprintf("%d written", copyTestKeys)) {
		t.Fatalf("copy from a cluster: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "compare", to, "--to", copyTestURL(back.Addr), "--both-ways")
	if code != exitOK {
		t.Fatalf("compare: exit %d\n%s", code, stdout)
	}
}

func TestCompareCommand(t *testing.T) {
	src := redistest.Start(t)
	dst := redistest.Start(t)
	sc, dc := src.Client(t), dst.Client(t)
	ctx := context.Background()
	for _, c := range []*redis.Client{sc, dc} {
		c.RPush(ctx, "list", "a", "b", "c")
		c.ZAdd(ctx, "zset", redis.Z{Score: 1, Member: "m"})
		c.Set(ctx, "ttl", "v", time.Hour)
		c.Set(ctx, "ttl2", "v", time.Hour)
		c.Set(ctx, "gone", "v", 0)
		c.Set(ctx, "same", "v", 0)
		c.HSet(ctx, "typ", "f", "v")
	}
	dc.Del(ctx, "gone")
	dc.Set(ctx, "extra", "v", 0)
	dc.LSet(ctx, "list", 1, "B")
	dc.ZAdd(ctx, "zset", redis.Z{Score: 1.5, Member: "m"})
	dc.Persist(ctx, "ttl")
	dc.Expire(ctx, "ttl2", 10*time.Minute)
	dc.Del(ctx, "typ")
	dc.SAdd(ctx, "typ", "f")
	from, to := copyTestURL(src.Addr), copyTestURL(dst.Addr)

	code, stdout, _ := runCLI(t, "compare", from, "--to", to, "--both-ways", "--json")
	if code != exitFailure {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	var rep compareReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range rep.Diffs {
		got[string(d.Key)] = d.Outcome
	}
	want := map[string]string{"gone": "missing", "extra": "extra", "list": "value_differs", "zset": "value_differs",
		"ttl": "ttl_differs", "ttl2": "ttl_differs", "typ": "type_differs"}
	if fmt.Sprint(got) != fmt.Sprint(want) || rep.Counts["equal"] != 1 || rep.Differences != 7 || rep.Equal {
		t.Fatalf("got %v\nwant %v\n%s", got, want, stdout)
	}
	// Without --both-ways the extra key is not looked for; a sample
	// compares some keys; a filter compares only its keys.
	code, stdout, _ = runCLI(t, "compare", from, "--to", to)
	if code != exitFailure || !strings.Contains(stdout, "different: 6 keys differ") || strings.Contains(stdout, "extra") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "compare", from, "--to", to, "--sample", "3")
	if !strings.Contains(stdout, "3 compared") || !strings.Contains(stdout, "a random sample of 3 of 7") {
		t.Fatalf("sample: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "compare", from, "--to", to, "--match", "s*", "--both-ways")
	if code != exitOK || !strings.Contains(stdout, "1 equal, 0 missing, 0 extra") {
		t.Fatalf("match: exit %d\n%s", code, stdout)
	}
	// A tolerance that covers the changed TTL.
	code, stdout, _ = runCLI(t, "compare", from, "--to", to, "--match", "ttl2", "--ttl-tolerance", "1h")
	if code != exitOK {
		t.Fatalf("tolerance: exit %d\n%s", code, stdout)
	}
	// Usage errors, and a destination that cannot be reached: exit 2.
	for _, args := range [][]string{
		{"compare", from},
		{"compare", from, "--to", to, "--sample", "-1"},
		{"compare", from, "--to", to, "--from-tls-ca", "x"},
	} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
	err := runCompare(ctx, compareOptions{src: from, live: liveSourceOptions{conn: destOptions{url: from}, scanCount: 10, batch: 10},
		dest: destOptions{url: "redis://127.0.0.1:1"}, now: time.Now(), tolerance: time.Second}, &bytes.Buffer{}, &bytes.Buffer{})
	var inc *compareIncomplete
	if !errors.As(err, &inc) || inc.ExitCode() != 2 {
		t.Fatalf("unreachable destination: %v", err)
	}
}

// TestCompareFileAfterRestore restores a shared fixture written by Redis
// 7.2 (listpack sets, which 7.0 holds as intsets and hashtables) and
// compares the file with the server.
func TestCompareFileAfterRestore(t *testing.T) {
	fixture := sharedFile(t, "generated/redis-7.2/all-in-one.rdb")
	srv := redistest.Start(t)
	url := copyTestURL(srv.Addr)
	if code, stdout, stderr := runCLI(t, "restore", fixture, "--to", url); code != exitOK {
		t.Fatalf("restore: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ := runCLI(t, "compare", fixture, "--to", url, "--both-ways", "--big-key", "16k", "--json")
	var rep compareReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, stdout)
	}
	if code != exitOK || !rep.Equal || rep.Counts["expired"] == 0 || rep.Chunked == 0 || rep.Counts["equal"] == 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	t.Logf("%d equal, %d expired, %d in windows", rep.Counts["equal"], rep.Counts["expired"], rep.Chunked)
	// Values over the read buffer are streamed from the file, and
	// compared in windows as they stream.
	code, stdout, _ = runCLI(t, "compare", fixture, "--to", url, "--max-buffer", "16k")
	if code != exitOK || !strings.Contains(stdout, "equal: every compared key") {
		t.Fatalf("streamed: exit %d\n%s", code, stdout)
	}
	// One change is found, and nothing else.
	if err := srv.Client(t).RPush(context.Background(), "list:small", "one more").Err(); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, "compare", fixture, "--to", url, "--both-ways", "--json")
	rep = compareReport{}
	_ = json.Unmarshal([]byte(stdout), &rep)
	if code != exitFailure || rep.Differences != 1 || len(rep.Diffs) != 1 || string(rep.Diffs[0].Key) != "list:small" {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
}

// TestCompareFieldTTLs plants field TTL differences on a real server:
// Redis 7.0 has no hash field TTLs, so a Redis 7.4 file whose hashes have
// some, restored into it (which drops them, and says so), differs from
// the server in exactly the hashes that had a field TTL, and compare says
// which field. (Two servers with field TTLs that differ need Redis 7.4+:
// that case is a unit test of internal/compare.)
func TestCompareFieldTTLs(t *testing.T) {
	fixture := sharedFile(t, "generated/redis-7.4/hash-fe.rdb")
	srv := redistest.Start(t)
	url := copyTestURL(srv.Addr)
	if code, stdout, stderr := runCLI(t, "restore", fixture, "--to", url); code != exitOK || !strings.Contains(stdout, "field TTLs dropped") {
		t.Fatalf("restore: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ := runCLI(t, "compare", fixture, "--to", url, "--both-ways", "--json")
	var rep compareReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, stdout)
	}
	got := map[string]string{}
	for _, d := range rep.Diffs {
		if d.Outcome != "ttl_differs" || !strings.HasPrefix(d.Reason, "field ") || !strings.Contains(d.Reason, "TTL on the source only") {
			t.Errorf("%s: %s: %s", d.Key, d.Outcome, d.Reason)
		}
		got[string(d.Key)] = d.Outcome
	}
	want := map[string]string{"hfe:lp-keyttl": "ttl_differs", "hfe:ht-long": "ttl_differs", "hfe:lp": "ttl_differs", "hfe:ht": "ttl_differs"}
	if code != exitFailure || fmt.Sprint(got) != fmt.Sprint(want) || rep.Counts["equal"] != 3 {
		t.Fatalf("exit %d: differences %v, want %v\n%s", code, got, want, stdout)
	}
}

func TestCopyKeepFreq(t *testing.T) {
	// No decay: a minute boundary between the reads must not lower the counter.
	lfu := redistest.WithArgs("--maxmemory-policy", "allkeys-lfu", "--lfu-decay-time", "0")
	src := redistest.Start(t, lfu)
	dst := redistest.Start(t, lfu)
	sc := src.Client(t)
	ctx := context.Background()
	sc.Set(ctx, "hot", "v", 0)
	for range 200 {
		sc.Get(ctx, "hot")
	}
	want := sc.ObjectFreq(ctx, "hot").Val()
	code, stdout, stderr := runCLI(t, "copy", "--from", copyTestURL(src.Addr), "--to", copyTestURL(dst.Addr), "--keep-freq")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := dst.Client(t).ObjectFreq(ctx, "hot").Val(); got != want || want < 5 {
		t.Fatalf("freq %d on the destination, %d on the source", got, want)
	}
	// OBJECT IDLETIME is refused under an LFU policy: the copy stops.
	code, stdout, _ = runCLI(t, "copy", "--from", copyTestURL(src.Addr), "--to", copyTestURL(dst.Addr), "--keep-idle", "--replace")
	if code != exitFailure || !strings.Contains(stdout, "OBJECT IDLETIME") {
		t.Fatalf("--keep-idle under LFU: exit %d\n%s", code, stdout)
	}
}
