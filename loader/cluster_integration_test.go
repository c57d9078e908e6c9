package loader

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/rdbkit/rdbkit/internal/verify"
	"github.com/redis/go-redis/v9"
)

// TestClusterMigration restores into a 3-master cluster while one slot,
// which holds most keys (and lists big enough to be written with
// commands under a temporary key), moves from one master to another
// (CLUSTER SETSLOT ... MIGRATING/IMPORTING, MIGRATE, SETSLOT ... NODE).
func TestClusterMigration(t *testing.T) {
	const tag = "{mig}"
	rnd := rand.New(rand.NewPCG(1, 2))
	path, src := saveRDB(t, func(p redis.Pipeliner) {
		ctx := context.Background()
		for i := range 20000 {
			p.Set(ctx, fmt.Sprintf("%s:s:%d", tag, i), fmt.Sprintf("value %d", i), 0)
		}
		for i := range 40 {
			k := fmt.Sprintf("%s:list:%d", tag, i)
			for j := range 100 {
				p.RPush(ctx, k, fmt.Sprintf("%d:%x%x%x%x", j, rnd.Uint64(), rnd.Uint64(), rnd.Uint64(), rnd.Uint64()))
			}
			p.HSet(ctx, fmt.Sprintf("%s:hash:%d", tag, i), "f", i, "g", "v")
		}
		for i := range 3000 {
			p.Set(ctx, fmt.Sprintf("spread:%d", i), i, 0)
		}
		p.PExpireAt(ctx, tag+":s:7", time.Now().Add(time.Hour))
	})
	cl := redistest.StartCluster(t, 3)
	ctx := context.Background()
	slot := rewrite.Slot([]byte(tag))
	from, to := slotNodes(t, cl, slot)

	migrating := make(chan struct{})
	migrated := make(chan error, 1)
	go func() {
		<-migrating
		migrated <- migrateSlot(ctx, from, to, cl, slot)
	}()
	started := false
	t0 := time.Now()
	st, err := loadWith(t, path, Options{Redis: &redis.Options{Addr: cl.Nodes[2].Addr}, Workers: 2, Pipeline: 16, MaxPayload: 4 << 10}, 0,
		func(_ *Loader, n int) {
			if n == 2000 && !started {
				started = true
				close(migrating)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-migrated; err != nil {
		t.Fatal(err)
	}
	if !st.OK() || st.Done() != st.Read {
		t.Fatalf("read %d settled %d failed %v conflicts %v", st.Read, st.Done(), st.Failures, st.ConflictKeys)
	}
	if st.Redirects == 0 || st.Rewritten < 40 {
		t.Fatalf("%d redirects, %d rewritten: the migration did not overlap the restore", st.Redirects, st.Rewritten)
	}
	t.Logf("%d keys, %d redirects, %d retries, %v", st.Written(), st.Redirects, st.Retries, time.Since(t0))
	// Every key in place, nothing extra (no temporary key left), and the
	// slot where it moved.
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
	for i, d := range diffs {
		if i > 20 {
			break
		}
		t.Error(d)
	}
	if n, err := to.ClusterCountKeysInSlot(ctx, slot).Result(); err != nil || n < 20000 {
		t.Fatalf("slot %d on the new owner: %d keys, %v", slot, n, err)
	}
}

// slotNodes returns a client of the master that owns slot and of
// another master.
func slotNodes(t *testing.T, cl *redistest.Cluster, slot int) (from, to *redis.Client) {
	t.Helper()
	ctx := context.Background()
	var clients []*redis.Client
	for _, n := range cl.Nodes {
		clients = append(clients, n.Client(t))
	}
	ranges, err := clusterSlots(ctx, clients[0], cl.Nodes[0].Addr)
	if err != nil {
		t.Fatal(err)
	}
	owner := ""
	for _, r := range ranges {
		if r.start <= slot && slot <= r.end {
			owner = r.addr
		}
	}
	for i, n := range cl.Nodes {
		if n.Addr == owner {
			return clients[i], clients[(i+1)%len(clients)]
		}
	}
	t.Fatalf("no owner for slot %d", slot)
	return nil, nil
}

// migrateSlot moves slot from one master to another, as redis-cli
// --cluster reshard does, key batch by key batch.
func migrateSlot(ctx context.Context, from, to *redis.Client, cl *redistest.Cluster, slot int) error {
	fromID, err := from.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		return err
	}
	toID, err := to.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		return err
	}
	if err := to.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromID).Err(); err != nil {
		return err
	}
	if err := from.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", toID).Err(); err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(to.Options().Addr)
	for {
		keys, err := from.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := from.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("MIGRATE: %w", err)
		}
		time.Sleep(time.Millisecond) // let the restore go on meanwhile
	}
	for _, n := range []*redis.Client{to, from} {
		if err := n.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err(); err != nil {
			return err
		}
	}
	for _, n := range cl.Nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr})
		_ = c.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err()
		c.Close()
	}
	return nil
}
