package loader

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	shared "github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/rdbkit/rdbkit/internal/verify"
	"github.com/redis/go-redis/v9"
)

// failoverTag is the hash tag of most keys of the failover tests.
const failoverTag = "{fo}"

// failoverRDB saves the input of the failover tests: 20000 strings (one
// in ten with a TTL), 40 lists large enough to be written with commands
// under a temporary key (with MaxPayload 4 KiB) and 40 hashes, all in the
// slot of failoverTag, and 3000 strings spread over the cluster. It
// returns the file, the server it was saved from, and its keys in file
// order.
func failoverRDB(t *testing.T) (path string, src *redistest.Server, keys []string) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(3, 4))
	at := time.Now().Add(time.Hour)
	path, src = saveRDB(t, func(p redis.Pipeliner) {
		ctx := context.Background()
		for i := range 20000 {
			k := fmt.Sprintf("%s:s:%d", failoverTag, i)
			p.Set(ctx, k, fmt.Sprintf("value %d", i), 0)
			if i%10 == 0 {
				p.PExpireAt(ctx, k, at.Add(time.Duration(i)*time.Second))
			}
		}
		for i := range 40 {
			k := fmt.Sprintf("%s:list:%d", failoverTag, i)
			for j := range 100 {
				p.RPush(ctx, k, fmt.Sprintf("%d:%x%x%x%x", j, rnd.Uint64(), rnd.Uint64(), rnd.Uint64(), rnd.Uint64()))
			}
			p.HSet(ctx, fmt.Sprintf("%s:hash:%d", failoverTag, i), "f", i, "g", "v")
		}
		for i := range 3000 {
			k := fmt.Sprintf("spread:%d", i)
			p.Set(ctx, k, i, 0)
			if i%10 == 0 {
				p.PExpireAt(ctx, k, at)
			}
		}
	})
	return path, src, keysOf(t, path)
}

// keysOf returns the keys of the RDB file at path in file order, the order
// loadWith gives them to the loader.
func keysOf(t *testing.T, path string) []string {
	keys, _ := shared.Keys(t, path)
	return keys
}

// overlap returns a loadWith hook that makes a failover happen while keys
// are being written: once key start has been given to the loader, it calls
// now (if not nil) and runs failover in the background; until failover
// returns, it gives the loader at most about ten keys a millisecond, and
// at key end it waits for failover. done returns failover's error.
func overlap(start, end int, now func(), failover func() error) (hook func(l *Loader, n int), done func() error) {
	errc := make(chan error, 1)
	started, finished := false, false
	var ferr error
	done = func() error {
		if !started {
			return fmt.Errorf("failover not started: fewer than %d keys", start)
		}
		if !finished {
			ferr, finished = <-errc, true
		}
		return ferr
	}
	hook = func(_ *Loader, n int) {
		switch {
		case n == start:
			if now != nil {
				now()
			}
			started = true
			go func() { errc <- failover() }()
		case n < start || finished:
		case n >= end:
			_ = done()
		default:
			select {
			case ferr = <-errc:
				finished = true
			default:
				if n%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}
	}
	return hook, done
}

// compareCluster compares the cluster with the keys of src, key by key
// (value and TTL), and returns the differences.
func compareCluster(t *testing.T, cl *redistest.Cluster, src *redistest.Server) []string {
	t.Helper()
	ctx := context.Background()
	srcSrv := verify.Standalone(&redis.Options{Addr: src.Addr})
	defer verify.Close(srcSrv)
	exp, err := verify.Snapshot(ctx, srcSrv, 0)
	if err != nil {
		t.Fatal(err)
	}
	dst := verify.Cluster(cl.Client(t))
	defer verify.Close(dst)
	diffs, err := verify.Compare(ctx, dst, exp, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return diffs
}

// TestClusterFailover restores into a cluster of 3 masters with a replica
// each while the replica of the master that owns most keys takes over
// with a manual failover (CLUSTER FAILOVER: the master stops writes until
// its replica has caught up), so no acknowledged write may be lost: the
// run must succeed and every key be there, with its value and TTL.
func TestClusterFailover(t *testing.T) {
	path, src, keys := failoverRDB(t)
	cl := redistest.StartCluster(t, 3, redistest.WithReplicas(1))
	slot := rewrite.Slot([]byte(failoverTag))
	master, replica := masterAndReplica(t, cl, slot)

	var took time.Duration
	hook, done := overlap(2000, 12000, nil, func() error {
		t0 := time.Now()
		err := cl.Failover(replica, "")
		took = time.Since(t0)
		return err
	})
	st, err := loadWith(t, path, Options{Redis: &redis.Options{Addr: master.Addr}, Workers: 2, Pipeline: 16, MaxPayload: 4 << 10}, 0, hook)
	if ferr := done(); ferr != nil {
		t.Fatal(ferr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !st.OK() || st.Done() != st.Read || st.Read != int64(len(keys)) {
		t.Fatalf("%d keys, read %d settled %d failed %v conflicts %v", len(keys), st.Read, st.Done(), st.Failures, st.ConflictKeys)
	}
	if st.Redirects+st.Retries == 0 || st.Rewritten < 40 {
		t.Fatalf("%d redirects, %d retries, %d rewritten: the failover did not overlap the restore", st.Redirects, st.Retries, st.Rewritten)
	}
	t.Logf("%d keys, %d redirects, %d retries; failover took %v", st.Written(), st.Redirects, st.Retries, took)
	if m, err := cl.Master(slot); err != nil {
		t.Fatal(err)
	} else if m != replica {
		t.Fatalf("slot %d served by %s, want the promoted replica %s", slot, m.Addr, replica.Addr)
	}
	for i, d := range compareCluster(t, cl, src) {
		if i == 20 {
			t.Fatal("...")
		}
		t.Error(d)
	}
}

// masterAndReplica returns the master that owns slot and its replica.
func masterAndReplica(t *testing.T, cl *redistest.Cluster, slot int) (master, replica *redistest.Server) {
	t.Helper()
	master, err := cl.Master(slot)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := cl.Replicas(master)
	if err != nil || len(reps) != 1 {
		t.Fatalf("replicas of %s: %d, %v; want one", master.Addr, len(reps), err)
	}
	return master, reps[0]
}

// TestClusterFailoverKill restores into a cluster of 3 masters with a
// replica each while masters die (SIGKILL), in three steps, one master
// each.
//
// Redis replicates asynchronously: writes a master acknowledged just
// before it died may not have reached its replica, and the loader, which
// counted them as written, cannot know. So when the replica takes over at
// once (CLUSTER FAILOVER TAKEOVER), the run must succeed and every key be
// there with its value and TTL, except keys of the dead master's slots
// given to the loader before the kill, which may be missing (and a
// temporary key of a lost rewrite may be left in those slots, to expire
// after Options.TempTTL). A second run with ConflictSkip must bring the
// lost keys back. This is done once with RESTORE and once with keys all
// written with commands. Last, a master and its replica both die, so no
// node can take over: the run must stop once its retries are spent, with
// an error that names the dead node, and name the keys it did not write.
func TestClusterFailoverKill(t *testing.T) {
	path, src, keys := failoverRDB(t)
	cl := redistest.StartCluster(t, 3, redistest.WithReplicas(1))
	tagSlot := rewrite.Slot([]byte(failoverTag))
	var pairs [][2]*redistest.Server // master, replica; the tag's first
	var slots []int
	for _, s := range []int{tagSlot, 0, 8000, 16383} {
		m, r := masterAndReplica(t, cl, s)
		if !slices.ContainsFunc(pairs, func(p [2]*redistest.Server) bool { return p[0] == m }) {
			pairs, slots = append(pairs, [2]*redistest.Server{m, r}), append(slots, s)
		}
	}
	if len(pairs) != 3 {
		t.Fatalf("%d masters, want 3", len(pairs))
	}
	opts := Options{Workers: 2, Pipeline: 16, MaxPayload: 4 << 10}
	if !t.Run("restore", func(t *testing.T) {
		killDuringRestore(t, cl, pairs[0][0], pairs[0][1], path, src, keys, opts, 2000)
	}) {
		return // the next steps need the cluster as this one leaves it
	}
	if !t.Run("rewrite", func(t *testing.T) {
		tag := "{" + rewrite.SlotTag(slots[1]) + "}"
		path, src := saveRDB(t, func(p redis.Pipeliner) {
			ctx := context.Background()
			for i := range 300 {
				k := fmt.Sprintf("%s:list:%d", tag, i)
				for j := range 100 {
					p.RPush(ctx, k, fmt.Sprintf("%d:%d:%064d", i, j, j))
				}
				if i%3 == 0 {
					p.PExpireAt(ctx, k, time.Now().Add(time.Duration(i)*time.Minute+time.Hour))
				}
			}
		})
		flushCluster(t, cl)
		o := opts
		o.Mode = ModeRewrite
		killDuringRestore(t, cl, pairs[1][0], pairs[1][1], path, src, keysOf(t, path), o, 100)
	}) {
		return
	}
	t.Run("no-replica-left", func(t *testing.T) {
		giveUp(t, pairs[2][0], pairs[2][1], pairs[0][1].Addr, path)
	})
}

// killDuringRestore restores the file at path, whose keys in file order
// are keys, into cl, killing master once key killAt has been given to the
// loader and having replica take over, and checks the outcome as
// TestClusterFailoverKill says.
func killDuringRestore(t *testing.T, cl *redistest.Cluster, master, replica *redistest.Server,
	path string, src *redistest.Server, keys []string, opts Options, killAt int) {
	served := slotsOf(t, master)
	var took time.Duration
	// missed is a lower bound of the bytes of the replication stream that
	// never reached the replica: the master writes more between the read
	// of its offset and its death.
	missed := int64(-1)
	mc, rc := master.Client(t), replica.Client(t)
	kill := func() {
		sent := replOffset(mc)
		master.Kill()
		if got := replOffset(rc); sent >= 0 && got >= 0 {
			missed = max(sent-got, 0)
		}
	}
	hook, done := overlap(killAt, 2*killAt, kill, func() error {
		t0 := time.Now()
		err := cl.Failover(replica, "TAKEOVER")
		took = time.Since(t0)
		return err
	})
	// The loader is given the node that dies: it must find the others.
	opts.Redis = &redis.Options{Addr: master.Addr}
	st, err := loadWith(t, path, opts, 0, hook)
	if ferr := done(); ferr != nil {
		t.Fatal(ferr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !st.OK() || st.Done() != st.Read || st.Read != int64(len(keys)) {
		t.Fatalf("%d keys, read %d settled %d failed %v conflicts %v", len(keys), st.Read, st.Done(), st.Failures, st.ConflictKeys)
	}
	if st.Retries == 0 {
		t.Fatal("no retries: the kill did not overlap the restore")
	}
	t.Logf("%d keys, %d redirects, %d retries, %d recovered; takeover took %v", st.Written(), st.Redirects, st.Retries, st.Recovered, took)
	mayBeLost := map[string]bool{}
	for _, k := range keys[:killAt] {
		if served[rewrite.Slot([]byte(k))] {
			mayBeLost[fmt.Sprintf("db 0 key %q: missing", k)] = true
		}
	}
	lost := 0
	for _, d := range compareCluster(t, cl, src) {
		switch {
		case mayBeLost[d]:
			lost++
		case !leftTemp(d, served):
			t.Error(d)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d of the %d keys of the dead master given before the kill were lost with it; its replica missed at least %d bytes of its stream", lost, len(mayBeLost), missed)
	opts.Redis.Addr = replica.Addr
	restoreLost(t, cl, path, src, len(keys), lost, opts, served)
}

// restoreLost runs the restore of the file at path, of n keys, again,
// skipping the keys that exist, and checks that it writes the lost ones
// and that the cluster then has every key of src.
func restoreLost(t *testing.T, cl *redistest.Cluster, path string, src *redistest.Server, n, lost int, opts Options, served *[rewrite.Slots]bool) {
	opts.Conflict = ConflictSkip
	st, err := load(t, path, opts, 0)
	if err != nil || !st.OK() || st.Written() != int64(lost) || st.Skipped != int64(n-lost) {
		t.Fatalf("second run: %d written, %d skipped, want %d, %d; failures %v; %v", st.Written(), st.Skipped, lost, n-lost, st.Failures, err)
	}
	for _, d := range compareCluster(t, cl, src) {
		if !leftTemp(d, served) {
			t.Error(d)
		}
	}
}

// replOffset returns master_repl_offset of INFO replication: how far a
// master has written its replication stream, or how far a replica has
// applied it; -1 if unknown. On a replica it first waits (up to a second)
// for the link to its dead master to be down: the replica has then read
// all that was sent.
func replOffset(c *redis.Client) int64 {
	for range 100 {
		info, err := c.Info(context.Background(), "replication").Result()
		if err != nil {
			return -1
		}
		if strings.Contains(info, "role:slave\r") && !strings.Contains(info, "master_link_status:down\r") {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
				off, _ := strconv.ParseInt(v, 10, 64)
				return off
			}
		}
		return -1
	}
	return -1
}

// giveUp restores the file at path, through the node at addr, while
// master and its replica are killed, and checks that the run stops once
// its retries are spent with an error naming master and a key of its.
// Each failed key names master, or was not sent after the error; should
// the other nodes see the cluster down before the run stops, keys they
// refused with CLUSTERDOWN fail too.
func giveUp(t *testing.T, master, replica *redistest.Server, addr, path string) {
	dead := slotsOf(t, master)
	hook, _ := overlap(1000, 1000, func() { replica.Kill(); master.Kill() }, func() error { return nil })
	opts := Options{Redis: &redis.Options{Addr: addr}, Workers: 2, Pipeline: 16, MaxPayload: 4 << 10, Retries: 2, Conflict: ConflictSkip}
	t0 := time.Now()
	st, err := loadWith(t, path, opts, 0, hook)
	t.Logf("%v after %v; %d read, %d failed", err, time.Since(t0), st.Read, st.Failed)
	if !errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), master.Addr) || !strings.Contains(err.Error(), ` "`) {
		t.Fatalf("error %v, want ErrStopped naming %s and a key", err, master.Addr)
	}
	if st.Done() != st.Read || st.Failed == 0 || len(st.Failures) == 0 {
		t.Fatalf("read %d settled %d failed %d", st.Read, st.Done(), st.Failed)
	}
	named := 0
	for _, f := range st.Failures {
		switch {
		case dead[rewrite.Slot(f.Key)] && strings.Contains(f.Reason, master.Addr):
			named++
		case !strings.HasPrefix(f.Reason, "not sent: ") && !strings.Contains(f.Reason, "CLUSTERDOWN"):
			t.Errorf("key %q: %s", f.Key, f.Reason)
		}
	}
	if named == 0 {
		t.Errorf("no failure names the dead node: %v", st.Failures)
	}
}

// flushCluster empties every master of cl.
func flushCluster(t *testing.T, cl *redistest.Cluster) {
	t.Helper()
	err := cl.Client(t).ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		return c.FlushAll(ctx).Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// leftTemp reports whether the difference d is an extra temporary key of
// a rewrite in one of the slots served.
func leftTemp(d string, served *[rewrite.Slots]bool) bool {
	var key string
	if _, err := fmt.Sscanf(d, "db 0 key %q: not expected (extra key)", &key); err != nil {
		return false
	}
	return strings.Contains(key, "}rdbkit-tmp:") && served[rewrite.Slot([]byte(key))]
}

// slotsOf returns the slots the master m serves.
func slotsOf(t *testing.T, m *redistest.Server) *[rewrite.Slots]bool {
	t.Helper()
	ranges, err := clusterSlots(context.Background(), m.Client(t), m.Addr)
	if err != nil {
		t.Fatal(err)
	}
	var served [rewrite.Slots]bool
	for _, r := range ranges {
		for s := r.start; s <= r.end && r.addr == m.Addr; s++ {
			served[s] = true
		}
	}
	return &served
}
