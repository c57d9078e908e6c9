package exporter_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/exporter"
	"github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// TestMemoryAccuracy fills a real redis-server with a mixed dataset (every
// type, small and big, integers and strings, every encoding, TTLs), saves
// it, estimates every key of the dump.rdb and compares the estimate with
// MEMORY USAGE key SAMPLES 0: on the server that wrote the file, and on the
// same server restarted from it (MemoryOptions.Loaded). At least 90% of the
// keys must be within 10%.
func TestMemoryAccuracy(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	c := s.Client(t)
	if v := s.Version(t); !strings.HasPrefix(v, "7.0.") {
		t.Logf("redis-server %s: the model is Redis 7.0's", v)
	}
	quantum := probeQuantum(t, c)
	keys := fillMixed(t, c, 1)

	live := memoryUsage(t, c, keys)
	liveInfo := infoMemory(t, c)
	if err := c.Do(ctx, "SAVE").Err(); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(s.Dir, "dump.rdb")
	s.Restart(t)
	c = s.Client(t)
	loaded := memoryUsage(t, c, keys)
	loadedInfo := infoMemory(t, c)

	for _, tt := range []struct {
		name   string
		loaded bool
		want   map[string]int64
		info   map[string]int64
	}{
		{"written", false, live, liveInfo},
		{"loaded", true, loaded, loadedInfo},
	} {
		t.Run(tt.name, func(t *testing.T) {
			est := exporter.NewMemoryEstimator(exporter.MemoryOptions{Quantum: quantum, Loaded: tt.loaded})
			got, sum := estimateFile(t, dump, est)
			checkAccuracy(t, got, tt.want)
			var usage int64
			for _, v := range tt.want {
				usage += v
			}
			// The report's total is what MEMORY USAGE counts; used_memory
			// also holds the server's startup memory, the keyspace's
			// buckets and expires (the report's keyspace_overhead), client
			// buffers, and the allocator's rounding of the structs that
			// MEMORY USAGE counts by sizeof (a 24-byte dictEntry takes 32
			// bytes with a 16-byte quantum).
			used, startup := tt.info["used_memory"], tt.info["used_memory_startup"]
			whole := sum.Bytes + sum.Overhead + startup
			t.Logf("report total %d bytes, sum of MEMORY USAGE %d (%+.2f%%); used_memory %d; "+
				"report total + keyspace overhead %d + used_memory_startup %d = %d (%+.2f%% of used_memory)",
				sum.Bytes, usage, pct(sum.Bytes, usage), used, sum.Overhead, startup, whole, pct(whole, used))
			if math.Abs(pct(sum.Bytes, usage)) > 5 {
				t.Errorf("report total %d is %+.2f%% off the sum of MEMORY USAGE %d", sum.Bytes, pct(sum.Bytes, usage), usage)
			}
			if math.Abs(pct(whole, used)) > 10 {
				t.Errorf("report total with overheads %d is %+.2f%% off used_memory %d", whole, pct(whole, used), used)
			}
		})
	}
}

func pct(got, want int64) float64 {
	if want == 0 {
		return 0
	}
	return 100 * float64(got-want) / float64(want)
}

// probeQuantum tells whether the server's jemalloc has an 8- or 16-byte
// quantum: "abcd" is a 24-byte embstr (robj, sdshdr8, 4 bytes, NUL).
func probeQuantum(t *testing.T, c *redis.Client) int {
	ctx := context.Background()
	if err := c.Set(ctx, "quantum:probe", "abcd", 0).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := c.MemoryUsage(ctx, "quantum:probe", 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, "quantum:probe").Err(); err != nil {
		t.Fatal(err)
	}
	// key "quantum:probe": sdshdr5 + 13 + 1 = 15 -> 16; dictEntry 24.
	switch n - 16 - 24 {
	case 24:
		return 8
	case 32:
		return 16
	}
	t.Fatalf("MEMORY USAGE of a 4-byte embstr is %d: unknown allocator", n)
	return 0
}

// estimateFile estimates every key of an RDB file and reports on them.
func estimateFile(t *testing.T, path string, est *exporter.MemoryEstimator) (map[string]exporter.KeyMemory, *exporter.MemorySummary) {
	t.Helper()
	r := fixtures.Open(t, path)
	got := map[string]exporter.KeyMemory{}
	rep := exporter.NewMemoryReport(exporter.MemoryReportOptions{})
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		km, err := est.Estimate(e)
		if err != nil {
			t.Fatal(err)
		}
		got[string(e.Key)] = km
		rep.Add(e, km)
	}
	return got, rep.Summary(exporter.ModelOf(est))
}

// checkAccuracy compares estimates with MEMORY USAGE, logs the distribution
// of the relative errors and the worst keys, and fails when fewer than 90%
// are within 10%.
func checkAccuracy(t *testing.T, got map[string]exporter.KeyMemory, want map[string]int64) {
	t.Helper()
	type miss struct {
		key       string
		enc       string
		got, want int64
		err       float64
	}
	var misses []miss
	bands := []float64{0, 1, 2, 5, 10, 20, 50}
	counts := make([]int, len(bands)+1)
	byType := map[string][2]int{}
	sumErr := map[string]float64{}
	within := 0
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("key %q not in the dump", k)
			continue
		}
		e := math.Abs(pct(g.Bytes, w))
		i := 0
		for i < len(bands) && e > bands[i] {
			i++
		}
		counts[i]++
		sumErr[g.Encoding] += pct(g.Bytes, w)
		bt := byType[g.Encoding]
		bt[1]++
		if os.Getenv("RDBKIT_MEMORY_DEBUG") != "" && e > 0.5 {
			t.Logf("debug %q %s %d %d %+.2f%% elements %d", k, g.Encoding, g.Bytes, w, pct(g.Bytes, w), g.Elements)
		}
		if e <= 10 {
			within++
			bt[0]++
		} else {
			misses = append(misses, miss{k, g.Encoding, g.Bytes, w, pct(g.Bytes, w)})
		}
		byType[g.Encoding] = bt
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d keys, %d (%.1f%%) within 10%% of MEMORY USAGE SAMPLES 0\n", len(want), within, 100*float64(within)/float64(len(want)))
	for i, n := range counts {
		switch {
		case i == 0:
			fmt.Fprintf(&b, "  exact      %5d\n", n)
		case i < len(bands):
			fmt.Fprintf(&b, "  <= %3.0f%%    %5d\n", bands[i], n)
		default:
			fmt.Fprintf(&b, "  >  %3.0f%%    %5d\n", bands[i-1], n)
		}
	}
	for _, enc := range slices.Sorted(maps.Keys(byType)) {
		fmt.Fprintf(&b, "  %-10s %4d/%-4d within 10%%, mean error %+.2f%%\n", enc, byType[enc][0], byType[enc][1], sumErr[enc]/float64(byType[enc][1]))
	}
	slices.SortFunc(misses, func(a, b miss) int { return int(math.Abs(b.err) - math.Abs(a.err)) })
	for i, m := range misses {
		if i == 15 {
			break
		}
		fmt.Fprintf(&b, "  miss %-30q %-10s estimate %8d, MEMORY USAGE %8d (%+.1f%%)\n", m.key, m.enc, m.got, m.want, m.err)
	}
	t.Log(b.String())
	if within*10 < len(want)*9 {
		t.Errorf("only %d of %d keys within 10%%", within, len(want))
	}
}

func memoryUsage(t *testing.T, c *redis.Client, keys []string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	out := make(map[string]int64, len(keys))
	for start := 0; start < len(keys); start += 500 {
		batch := keys[start:min(start+500, len(keys))]
		p := c.Pipeline()
		cmds := make([]*redis.IntCmd, len(batch))
		for i, k := range batch {
			cmds[i] = p.MemoryUsage(ctx, k, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for i, k := range batch {
			out[k] = cmds[i].Val()
		}
	}
	return out
}

func infoMemory(t *testing.T, c *redis.Client) map[string]int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// fillMixed writes a deterministic mixed dataset and returns its keys.
func fillMixed(t *testing.T, c *redis.Client, seed uint64) []string {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 42))
	var keys []string
	p := c.Pipeline()
	flush := func() {
		if _, err := p.Exec(ctx); err != nil && err != redis.Nil {
			t.Fatal(err)
		}
	}
	text := func(n int) string {
		const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 :-_"
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	binary := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	// repetitive compresses with LZF in the file.
	repetitive := func(n int) string {
		return strings.Repeat(`{"user":"alice","roles":["admin","dev"]}`, n/40+1)[:n]
	}
	member := func(i int) any {
		switch rng.IntN(4) {
		case 0:
			return rng.Int64N(1 << 40)
		case 1:
			return strconv.Itoa(i)
		case 2:
			return text(1 + rng.IntN(30))
		}
		return text(30 + rng.IntN(100))
	}
	add := func(k string) string {
		keys = append(keys, k)
		if len(keys)%200 == 0 {
			flush()
		}
		return k
	}
	// Strings.
	for i := range 400 {
		k := add(fmt.Sprintf("str:%d:%s", i, text(rng.IntN(40))))
		var v any
		switch i % 8 {
		case 0:
			v = rng.IntN(10000) // shared integer
		case 1:
			v = rng.Int64() - rng.Int64() // INT encoding
		case 2:
			v = text(1 + rng.IntN(44)) // embstr
		case 3:
			v = text(45 + rng.IntN(300)) // raw
		case 4:
			v = text(300 + rng.IntN(20000))
		case 5:
			v = binary(1 + rng.IntN(200))
		case 6:
			v = repetitive(50 + rng.IntN(5000)) // LZF in the file
		case 7:
			v = strconv.Itoa(rng.IntN(1000)) + "x"
		}
		p.Set(ctx, k, v, 0)
	}
	// Lists.
	for i := range 150 {
		k := add(fmt.Sprintf("list:%d", i))
		n := []int{1, 5, 50, 300, 2000, 10000}[i%6]
		if i%6 == 5 && i > 60 {
			n = 500
		}
		big := i%7 == 3 // big elements: a node each
		if big {
			n = min(n, 40)
		}
		for j := 0; j < n; j += 100 {
			vals := make([]any, 0, 100)
			for x := j; x < min(n, j+100); x++ {
				if big {
					vals = append(vals, text(5000+rng.IntN(10000)))
				} else {
					vals = append(vals, member(x))
				}
			}
			p.RPush(ctx, k, vals...)
		}
		flush()
	}
	// Sets.
	for i := range 200 {
		k := add(fmt.Sprintf("set:%d", i))
		var n int
		switch i % 5 {
		case 0: // intset, 16-bit
			n = 1 + rng.IntN(100)
			for j := range n {
				p.SAdd(ctx, k, j*3)
			}
		case 1: // intset, 64-bit
			for j := range 1 + rng.IntN(400) {
				p.SAdd(ctx, k, int64(j)<<40)
			}
		case 2: // hashtable of integers
			vals := make([]any, 0, 1000)
			for j := range 513 + rng.IntN(1500) {
				vals = append(vals, j*7)
			}
			p.SAdd(ctx, k, vals...)
		default: // strings
			n = []int{1, 3, 20, 200, 3000}[rng.IntN(5)]
			for j := 0; j < n; j += 200 {
				vals := make([]any, 0, 200)
				for x := j; x < min(n, j+200); x++ {
					vals = append(vals, fmt.Sprintf("m%d:%s", x, text(rng.IntN(60))))
				}
				p.SAdd(ctx, k, vals...)
			}
		}
	}
	// Sorted sets.
	for i := range 150 {
		k := add(fmt.Sprintf("zset:%d", i))
		n := []int{1, 10, 128, 129, 500, 3000}[i%6]
		long := i%10 == 7 // a member over 64 bytes: skiplist
		for j := 0; j < n; j += 200 {
			zs := make([]redis.Z, 0, 200)
			for x := j; x < min(n, j+200); x++ {
				m := member(x)
				if long && x == 0 {
					m = text(100)
				}
				score := float64(rng.IntN(100000))
				if rng.IntN(2) == 0 {
					score = rng.Float64() * 1000
				}
				zs = append(zs, redis.Z{Score: score, Member: m})
			}
			p.ZAdd(ctx, k, zs...)
		}
	}
	// Hashes.
	for i := range 200 {
		k := add(fmt.Sprintf("hash:%d:%s", i%20, text(8)))
		n := []int{1, 5, 50, 128, 129, 600, 5000}[i%7]
		long := i%9 == 4 // a value over 64 bytes: hashtable
		for j := 0; j < n; j += 200 {
			kv := make([]any, 0, 400)
			for x := j; x < min(n, j+200); x++ {
				v := member(x)
				if long && x == 0 {
					v = text(65 + rng.IntN(500))
				}
				kv = append(kv, fmt.Sprintf("f%d", x), v)
			}
			p.HSet(ctx, k, kv...)
		}
	}
	flush()
	// Streams, with consumer groups and pending entries.
	for i := range 40 {
		k := add(fmt.Sprintf("stream:%d", i))
		n := []int{1, 10, 100, 1000}[i%4]
		for j := range n {
			p.XAdd(ctx, &redis.XAddArgs{Stream: k, ID: fmt.Sprintf("%d-%d", 1000+j/3, j%3),
				Values: []any{"field", member(j), "n", j}})
		}
		if i%3 == 1 {
			flush()
			p.XGroupCreate(ctx, k, "g1", "0")
			p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "alice", Streams: []string{k, ">"}, Count: int64(max(1, n/2)), Block: -1})
			p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "bob", Streams: []string{k, ">"}, Count: 3, Block: -1})
			p.XGroupCreate(ctx, k, "g2", "$")
			p.XGroupCreateConsumer(ctx, k, "g2", "carol")
		}
		flush()
	}
	for i, k := range keys {
		if i%5 == 0 {
			p.PExpireAt(ctx, k, time.Now().Add(time.Duration(1+rng.IntN(1000))*time.Hour))
		}
	}
	flush()
	return keys
}

// TestMemoryAccuracyFixtures loads every fixture a Redis 7.0 can load (RDB
// 10 and older: the generated Redis 7.0 files and the corpus of other
// projects, old encodings included) into a real server and compares the
// estimate of each key, modelling the server as loaded, with MEMORY USAGE
// key SAMPLES 0. It exercises the conversions on load: zipmaps, ziplists
// and linked lists into listpacks and quicklists, sets into intsets.
func TestMemoryAccuracyFixtures(t *testing.T) {
	files := loadableFixtures(t)
	probe := redistest.Start(t)
	quantum := probeQuantum(t, probe.Client(t))
	probe.Kill()
	est := exporter.NewMemoryEstimator(exporter.MemoryOptions{Quantum: quantum, Loaded: true})
	got := map[string]exporter.KeyMemory{}
	want := map[string]int64{}
	loaded := 0
	for _, file := range files {
		dir := t.TempDir()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		keys := map[int][]string{}
		{
			r := rdb.NewReader(bytes.NewReader(data))
			for {
				e, err := r.Next()
				if err != nil {
					break // a fixture the server loads is whole; others are skipped below
				}
				if e.Kind != rdb.KindKey || e.ExpireAt != 0 && e.ExpireAt < time.Now().Add(time.Hour).UnixMilli() {
					continue
				}
				km, err := est.Estimate(e)
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				id := fmt.Sprintf("%s db%d %q", filepath.Base(file), e.DB, e.Key)
				got[id] = km
				keys[e.DB] = append(keys[e.DB], string(e.Key))
			}
		}
		s, ok := tryStart(t, dir)
		if !ok {
			t.Logf("%s: redis-server does not load it", file)
			continue
		}
		loaded++
		for db, ks := range keys {
			c := redis.NewClient(&redis.Options{Addr: s.Addr, DB: db})
			for k, v := range memoryUsage(t, c, ks) {
				if v > 0 {
					want[fmt.Sprintf("%s db%d %q", filepath.Base(file), db, k)] = v
				}
			}
			c.Close()
		}
		s.Kill()
	}
	t.Logf("%d fixture files loaded by redis-server", loaded)
	checkAccuracy(t, got, want)
}

// tryStart starts a redis-server on the dump.rdb in dir, or reports that
// it refuses the file.
func tryStart(t *testing.T, dir string) (s *redistest.Server, ok bool) {
	t.Helper()
	done := make(chan struct{})
	ft := &startTB{TB: t}
	go func() {
		defer close(done)
		s = redistest.Start(ft, redistest.WithDir(dir))
	}()
	<-done
	return s, s != nil && !ft.failed
}

// startTB turns a failure to start into a result, so that a fixture the
// server refuses is skipped.
type startTB struct {
	testing.TB
	failed bool
}

func (s *startTB) Fatalf(format string, args ...any) { s.failed = true; runtime.Goexit() }
func (s *startTB) Fatal(args ...any)                 { s.failed = true; runtime.Goexit() }

// loadableFixtures returns the shared fixtures of RDB version 10 or older
// that are not corrupt on purpose.
func loadableFixtures(t *testing.T) []string {
	t.Helper()
	root := fixtures.Shared(t, "")
	gen, _ := filepath.Glob(filepath.Join(root, "generated/redis-7.0.15/*.rdb"))
	files := gen
	manifest, err := os.ReadFile(filepath.Join(root, "corpus/MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(manifest), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 7 {
			continue
		}
		v, ok := strings.CutPrefix(f[4], "REDIS:")
		n, err := strconv.Atoi(v)
		notes := strings.ToLower(f[6])
		if !ok || err != nil || n > 10 || strings.Contains(notes, "corrupt") || strings.Contains(notes, "stopped") {
			continue
		}
		files = append(files, filepath.Join(root, "corpus", f[0]))
	}
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	return files
}
