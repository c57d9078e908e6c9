package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Cluster is a Redis Cluster of masters without replicas, one [Server]
// per node, each with its own port, bus port (port+10000) and directory.
type Cluster struct {
	Nodes []*Server

	password string
}

// StartCluster starts masters servers with cluster mode enabled, joins them
// with `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`
// (which needs at least 3 masters), and returns when every node reports
// cluster_state:ok and knows every other node. opts apply to every node;
// WithDir is not allowed. Skipping and cleanup are as for [Start].
func StartCluster(t testing.TB, masters int, opts ...Option) *Cluster {
	t.Helper()
	bin := lookServer(t)
	cli := lookCLI(t, bin)
	if masters < 3 {
		t.Fatalf("redistest: StartCluster(%d): redis-cli --cluster create needs at least 3 masters", masters)
	}
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.dir != "" {
		t.Fatal("redistest: StartCluster: WithDir is not supported; each node has its own directory")
	}
	cl := &Cluster{password: c.password}
	for range masters {
		cl.Nodes = append(cl.Nodes, start(t, bin, &c, true))
	}

	args := append([]string{"--cluster", "create"}, cl.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	if c.password != "" {
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+c.password) // not -a: no warning
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redistest: %s: %v\n%s", cmd, err, out)
	}
	if err := cl.waitOK(30 * time.Second); err != nil {
		t.Fatalf("redistest: cluster %v: %v", cl.Addrs(), err)
	}
	return cl
}

// waitOK polls CLUSTER INFO on every node until all say cluster_state:ok,
// with all slots assigned and all nodes known.
func (cl *Cluster) waitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_slots_assigned": "16384",
		"cluster_known_nodes":    strconv.Itoa(len(cl.Nodes)),
	}
	for _, n := range cl.Nodes {
		for {
			err := clusterInfoIs(n.Addr, n.Password, want)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: not ready after %v: %w", n.Addr, timeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// clusterInfoIs checks fields of CLUSTER INFO on addr.
func clusterInfoIs(addr, password string, want map[string]string) error {
	info, err := command(addr, password, "CLUSTER", "INFO")
	if err != nil {
		return err
	}
	for k, v := range want {
		if got, _ := infoField(info, k); got != v {
			return fmt.Errorf("%s is %q, want %q", k, got, v)
		}
	}
	return nil
}

// Addrs returns the nodes' addresses, "127.0.0.1:port".
func (cl *Cluster) Addrs() []string {
	addrs := make([]string, len(cl.Nodes))
	for i, n := range cl.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// Client returns a go-redis cluster client for all nodes that authenticates
// with the cluster's password. It is closed when t finishes.
func (cl *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), Password: cl.password})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
