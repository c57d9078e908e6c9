package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Cluster is a Redis Cluster, one [Server] per node, each with its own
// port, bus port (port+10000) and directory. Which nodes are masters, and
// of which slots, `redis-cli --cluster create` decides and
// [Cluster.Failover] changes: ask [Cluster.Master] and [Cluster.Replicas].
type Cluster struct {
	Nodes []*Server

	password string
}

// ClusterNodeTimeout is the cluster-node-timeout of the nodes of a cluster
// with replicas (the Redis default is 15 s), so that a failover completes
// quickly: a master unreachable for this long is marked as failing, and a
// replica's election times out after twice this. WithArgs can override it.
const ClusterNodeTimeout = 2 * time.Second

// manualFailoverTimeout is CLUSTER_MF_TIMEOUT (redis/src/cluster.h).
const manualFailoverTimeout = 5 * time.Second

// FailoverTimeout is how long [Cluster.Failover] waits for the nodes to
// agree on the new master.
const FailoverTimeout = 30 * time.Second

// StartCluster starts masters*(1+replicas) servers with cluster mode
// enabled, joins them with `redis-cli --cluster create ...
// --cluster-replicas n --cluster-yes` (which needs at least 3 masters;
// n is 0 unless WithReplicas says otherwise), and returns when every node
// reports cluster_state:ok and knows every other node, and every replica
// is in sync: its master streams writes to it. opts apply to every node; WithDir is not
// allowed. Nodes of a cluster with replicas run with
// --cluster-node-timeout ClusterNodeTimeout and --repl-diskless-sync-delay
// 0 (no 5 s wait before the first sync). Skipping and cleanup are as for
// [Start].
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
	if c.replicas < 0 {
		t.Fatalf("redistest: StartCluster: WithReplicas(%d)", c.replicas)
	}
	if c.replicas > 0 {
		ms := strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10)
		c.args = append([]string{"--cluster-node-timeout", ms, "--repl-diskless-sync-delay", "0"}, c.args...)
	}
	cl := &Cluster{password: c.password}
	for range masters * (1 + c.replicas) {
		cl.Nodes = append(cl.Nodes, start(t, bin, &c, true))
	}

	args := append([]string{"--cluster", "create"}, cl.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(c.replicas), "--cluster-yes")
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
// with all slots assigned and all nodes known, and then every replica
// until it is in sync with its master.
func (cl *Cluster) waitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_slots_assigned": "16384",
		"cluster_known_nodes":    strconv.Itoa(len(cl.Nodes)),
	}
	for _, n := range cl.Nodes {
		err := poll(deadline, func() error { return clusterInfoIs(n.Addr, n.Password, want) })
		if err != nil {
			return fmt.Errorf("%s: not ready after %v: %w", n.Addr, timeout, err)
		}
	}
	for _, n := range cl.Nodes {
		err := poll(deadline, func() error {
			me, nodes, err := clusterNodes(n)
			if err != nil || me.master == "-" {
				return err
			}
			i := slices.IndexFunc(nodes, func(x nodeLine) bool { return x.id == me.master })
			if i < 0 {
				return fmt.Errorf("master %s unknown", me.master)
			}
			m, err := cl.node(nodes[i].addr)
			if err != nil {
				return err
			}
			return replicaSynced(n, m)
		})
		if err != nil {
			return fmt.Errorf("%s: replica not in sync after %v: %w", n.Addr, timeout, err)
		}
	}
	if err := poll(deadline, cl.agree); err != nil {
		return fmt.Errorf("nodes disagree after %v: %w", timeout, err)
	}
	return nil
}

// agree checks that every running node sees every other as what it says
// it is: a master, or a replica of the same master.
func (cl *Cluster) agree() error {
	says := map[string]string{} // id: its master's id, "-" for a master
	views := map[string][]nodeLine{}
	for _, n := range cl.Nodes {
		if !n.running() {
			continue
		}
		me, nodes, err := clusterNodes(n)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Addr, err)
		}
		says[me.id] = me.master
		views[n.Addr] = nodes
	}
	for addr, nodes := range views {
		for _, x := range nodes {
			if m, ok := says[x.id]; ok && x.master != m {
				return fmt.Errorf("%s sees %s as %s (master %s); it says master %s", addr, x.addr, x.flags, x.master, m)
			}
		}
	}
	return nil
}

// poll calls f every 50 ms until it returns nil or deadline passes, and
// returns its last error.
func poll(deadline time.Time, f func() error) error {
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
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

// Master returns the master that serves slot, as every running node sees
// it; it fails if they disagree, as they may while a failover or a slot
// migration is under way. It may be called from any goroutine.
func (cl *Cluster) Master(slot int) (*Server, error) {
	owner := ""
	for _, n := range cl.Nodes {
		if !n.running() {
			continue
		}
		_, nodes, err := clusterNodes(n)
		if err != nil {
			return nil, fmt.Errorf("redistest: %s: %w", n.Addr, err)
		}
		a := ""
		for _, x := range nodes {
			if x.has("master") && x.serves(slot) {
				a = x.addr
			}
		}
		switch {
		case a == "":
			return nil, fmt.Errorf("redistest: %s: no master serves slot %d", n.Addr, slot)
		case owner != "" && a != owner:
			return nil, fmt.Errorf("redistest: nodes disagree on slot %d: %s or %s", slot, owner, a)
		}
		owner = a
	}
	if owner == "" {
		return nil, errors.New("redistest: no node is running")
	}
	return cl.node(owner)
}

// Replicas returns the replicas of master that it does not see as failed,
// as master sees them. It may be called from any goroutine.
func (cl *Cluster) Replicas(master *Server) ([]*Server, error) {
	me, nodes, err := clusterNodes(master)
	if err != nil {
		return nil, fmt.Errorf("redistest: %s: %w", master.Addr, err)
	}
	if !me.has("master") {
		return nil, fmt.Errorf("redistest: %s is not a master (%s)", master.Addr, me.flags)
	}
	var out []*Server
	for _, x := range nodes {
		if x.master == me.id && !x.has("fail") {
			s, err := cl.node(x.addr)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// Failover runs CLUSTER FAILOVER on replica, with option "" (a manual
// failover: the master stops writes until the replica has caught up, so
// no acknowledged write is lost), "FORCE" or "TAKEOVER" (for a master that
// is down; writes it acknowledged and had not yet sent are lost). It
// returns once every running node reports cluster_state:ok and sees
// replica as the master of the slots of its former master, and that
// former master, if it runs, is a replica of it with its link up; or with
// an error after FailoverTimeout. It may be called from any goroutine.
func (cl *Cluster) Failover(replica *Server, option string) error {
	me, nodes, err := clusterNodes(replica)
	if err != nil {
		return fmt.Errorf("redistest: %s: %w", replica.Addr, err)
	}
	if me.master == "-" {
		return fmt.Errorf("redistest: %s is not a replica (%s)", replica.Addr, me.flags)
	}
	i := slices.IndexFunc(nodes, func(x nodeLine) bool { return x.id == me.master })
	if i < 0 || len(nodes[i].slots) == 0 {
		return fmt.Errorf("redistest: the master of %s serves no slots", replica.Addr)
	}
	old := nodes[i]
	deadline := time.Now().Add(FailoverTimeout)
	demoted := "" // the old master, if it runs: it becomes a replica
	if s, _ := cl.node(old.addr); s != nil && s.running() {
		demoted = old.id
	}
	err = askFailover(replica, option, deadline)
	if err == nil {
		err = poll(deadline, func() error { return cl.promoted(me.id, old.slots, demoted) })
	}
	if err == nil && demoted != "" {
		s, _ := cl.node(old.addr)
		err = poll(deadline, func() error { return replicaSynced(s, replica) })
	}
	if err != nil {
		return fmt.Errorf("redistest: failover from %s to %s not done after %v: %w", old.addr, replica.Addr, FailoverTimeout, err)
	}
	return nil
}

// askFailover sends CLUSTER FAILOVER [option] to replica and waits until
// it says it is a master. A failover the replica gives up (a manual one
// not done within manualFailoverTimeout) is asked for again, until
// deadline.
func askFailover(replica *Server, option string, deadline time.Time) error {
	args := []string{"CLUSTER", "FAILOVER"}
	if option != "" {
		args = append(args, option)
	}
	for {
		if _, err := command(replica.Addr, replica.Password, args...); err != nil {
			return fmt.Errorf("%s: %s: %w", replica.Addr, strings.Join(args, " "), err)
		}
		again := time.Now().Add(2 * manualFailoverTimeout)
		if again.After(deadline) {
			again = deadline
		}
		err := poll(again, func() error {
			me, _, err := clusterNodes(replica)
			if err == nil && !me.has("master") {
				err = fmt.Errorf("%s is still a replica", replica.Addr)
			}
			return err
		})
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

// promoted checks that every running node is in cluster_state:ok and sees
// the node id as a master serving exactly slots, and the node demoted, if
// not "", as its replica.
func (cl *Cluster) promoted(id string, slots []string, demoted string) error {
	for _, n := range cl.Nodes {
		if !n.running() {
			continue
		}
		if err := clusterInfoIs(n.Addr, n.Password, map[string]string{"cluster_state": "ok"}); err != nil {
			return fmt.Errorf("%s: %w", n.Addr, err)
		}
		_, nodes, err := clusterNodes(n)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Addr, err)
		}
		i := slices.IndexFunc(nodes, func(x nodeLine) bool { return x.id == id })
		if i < 0 {
			return fmt.Errorf("%s does not know node %s", n.Addr, id)
		}
		if x := nodes[i]; !x.has("master") || !slices.Equal(x.slots, slots) {
			return fmt.Errorf("%s sees %s as %s serving %v, want master serving %v", n.Addr, x.addr, x.flags, x.slots, slots)
		}
		if demoted == "" {
			continue
		}
		i = slices.IndexFunc(nodes, func(x nodeLine) bool { return x.id == demoted })
		if i < 0 || nodes[i].master != id {
			return fmt.Errorf("%s does not see node %s as a replica of %s yet", n.Addr, demoted, id)
		}
	}
	return nil
}

// replicaSynced checks that s is a replica of master with its link up,
// and that master streams writes to it (INFO replication lists it with
// state=online). A master that has just sent its replica a snapshot holds
// the writes made since until the replica first acknowledges it, about a
// second later: were it killed then, the replica would miss them all.
func replicaSynced(s, master *Server) error {
	info, err := command(s.Addr, s.Password, "INFO", "replication")
	if err != nil {
		return err
	}
	role, _ := infoField(info, "role")
	host, _ := infoField(info, "master_host")
	port, _ := infoField(info, "master_port")
	link, _ := infoField(info, "master_link_status")
	switch {
	case role != "slave":
		return fmt.Errorf("%s: role %s, want slave", s.Addr, role)
	case net.JoinHostPort(host, port) != master.Addr:
		return fmt.Errorf("%s: replica of %s:%s, want %s", s.Addr, host, port, master.Addr)
	case link != "up":
		return fmt.Errorf("%s: master_link_status %s", s.Addr, link)
	}
	info, err = command(master.Addr, master.Password, "INFO", "replication")
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		v, ok := infoField(info, "slave"+strconv.Itoa(i))
		if !ok {
			return fmt.Errorf("%s: replica %s not listed in INFO replication", master.Addr, s.Addr)
		}
		if strings.Contains(v+",", ",port="+strconv.Itoa(s.Port)+",") {
			if !strings.Contains(v+",", ",state=online,") {
				return fmt.Errorf("%s: replica %s", master.Addr, v)
			}
			return nil
		}
	}
}

// node returns the node at addr.
func (cl *Cluster) node(addr string) (*Server, error) {
	for _, n := range cl.Nodes {
		if n.Addr == addr {
			return n, nil
		}
	}
	return nil, fmt.Errorf("redistest: no node at %q", addr)
}

// A nodeLine is a line of CLUSTER NODES: "<id> <ip:port@cport[,hostname]>
// <flags> <master id or -> <ping-sent> <pong-recv> <config-epoch>
// <link-state> <slot> ...". See redis/src/cluster.c clusterGenNodeDescription.
type nodeLine struct {
	id, addr, flags, master string
	slots                   []string // "0-5460", "5461"; migrations ("[...]") left out
}

func (x nodeLine) has(flag string) bool { return slices.Contains(strings.Split(x.flags, ","), flag) }

// serves reports whether slot is in one of x's ranges.
func (x nodeLine) serves(slot int) bool {
	for _, r := range x.slots {
		lo, hi, ok := strings.Cut(r, "-")
		if !ok {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && a <= slot && slot <= b {
			return true
		}
	}
	return false
}

// clusterNodes reads CLUSTER NODES on n and returns n's own line and
// every line, nodes in a handshake left out.
func clusterNodes(n *Server) (me nodeLine, nodes []nodeLine, err error) {
	reply, err := command(n.Addr, n.Password, "CLUSTER", "NODES")
	if err != nil {
		return me, nil, err
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(reply), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return me, nil, fmt.Errorf("CLUSTER NODES: malformed line %q", line)
		}
		x := nodeLine{id: f[0], flags: f[2], master: f[3]}
		x.addr, _, _ = strings.Cut(f[1], "@")
		if x.has("handshake") || x.has("noaddr") {
			continue
		}
		for _, s := range f[8:] {
			if !strings.HasPrefix(s, "[") {
				x.slots = append(x.slots, s)
			}
		}
		if x.has("myself") {
			me, found = x, true
		}
		nodes = append(nodes, x)
	}
	if !found {
		return me, nil, errors.New("CLUSTER NODES: no line for myself")
	}
	return me, nodes, nil
}
