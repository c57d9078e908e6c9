package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/redis/go-redis/v9"
)

// Errors of [ClusterMasters].
var (
	// ErrNotCluster: the server is not a node of a Redis Cluster.
	ErrNotCluster = errors.New("source: not a Redis Cluster node (cluster support disabled)")
	// ErrClusterNotWhole: some slots are served by no master, or by a
	// failing one.
	ErrClusterNotWhole = errors.New("the Cluster is not whole")
)

// oneShotClient returns a client of one connection to ep, for a question
// or two: opts.TLS and opts.DialTimeout are used.
func oneShotClient(ep Endpoint, opts Options) *redis.Client {
	return redis.NewClient(&redis.Options{
		Network: ep.Network, Addr: ep.Addr, Username: ep.User, Password: ep.Password,
		TLSConfig: tlsConfig(ep, opts), DialTimeout: orDuration(opts.DialTimeout, DefaultDialTimeout),
		Protocol: 2, DisableIdentity: true, MaxRetries: 1, DialerRetries: 1, PoolSize: 1,
	})
}

// ReplOffset returns the replication offset of the server ep names
// (master_repl_offset of INFO replication): the offset its replicas
// reach once they have read everything it has sent. A link whose
// Offset is there has nothing more on its way. opts.TLS and
// opts.DialTimeout are used.
func ReplOffset(ctx context.Context, ep Endpoint, opts Options) (int64, error) {
	c := oneShotClient(ep, opts)
	defer c.Close()
	text, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, fmt.Errorf("source: %s: INFO replication: %w", ep.Redacted(), err)
	}
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "master_repl_offset:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("source: %s: INFO replication: master_repl_offset %q", ep.Redacted(), v)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("source: %s: INFO replication has no master_repl_offset", ep.Redacted())
}

// A Master is a master of a Redis Cluster and the hash slots it serves.
type Master struct {
	ID       string   // the node ID (40 hex digits)
	Endpoint Endpoint // the seed's credentials with this node's address
	Slots    [][2]int // inclusive ranges, in order
}

// ClusterMasters asks the node ep names for the Cluster's layout
// (CLUSTER NODES) and returns the masters that serve slots, in the order
// of their first slot. It fails with ErrNotCluster on a standalone server,
// and with an error naming them when some slots are served by no master
// or by a failing one: a snapshot of the remaining masters would silently
// lack their keys. opts.TLS and opts.DialTimeout are used.
func ClusterMasters(ctx context.Context, ep Endpoint, opts Options) ([]Master, error) {
	c := oneShotClient(ep, opts)
	defer c.Close()
	text, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		if strings.Contains(err.Error(), "cluster support disabled") {
			return nil, ErrNotCluster
		}
		return nil, fmt.Errorf("source: %s: CLUSTER NODES: %w", ep.Redacted(), err)
	}
	host := ep.Addr
	if h, _, err := net.SplitHostPort(ep.Addr); err == nil {
		host = h
	}
	masters, err := parseClusterNodes(text, host)
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", ep.Redacted(), err)
	}
	for i := range masters {
		addr := masters[i].Endpoint.Addr
		masters[i].Endpoint = ep
		masters[i].Endpoint.Addr = addr
		masters[i].Endpoint.Network = "tcp"
		masters[i].Endpoint.DB = 0
	}
	return masters, nil
}

// tlsConfig returns the TLS configuration of a go-redis client of ep, or
// nil when ep is not rediss://.
func tlsConfig(ep Endpoint, opts Options) *tls.Config {
	if !ep.TLS {
		return nil
	}
	if opts.TLS != nil {
		return opts.TLS.Clone()
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// parseClusterNodes reads the masters serving slots out of a CLUSTER
// NODES reply (redis/src/cluster_legacy.c clusterGenNodeDescription):
//
//	<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
//
// where a slot is "N" or "N-M", and "[N->-id]"/"[N-<-id]" mark slots being
// migrated, which still belong to the node listing them as plain slots.
// A node announcing no IP gets seedHost. Only the Addr of the masters'
// Endpoints is set.
func parseClusterNodes(text, seedHost string) ([]Master, error) {
	var masters []Master
	owner := make([]int, rewrite.Slots)
	for i := range owner {
		owner[i] = -1
	}
	var failing []string
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES: unexpected line %q", strings.TrimSpace(line))
		}
		flags := strings.Split(f[2], ",")
		if !slices.Contains(flags, "master") || len(f) == 8 {
			continue // a replica, or a master without slots
		}
		addr, err := nodeAddr(f[1], seedHost)
		if err != nil {
			return nil, err
		}
		m := Master{ID: f[0], Endpoint: Endpoint{Addr: addr}}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				continue
			}
			lo, hi, err := slotRange(s)
			if err != nil {
				return nil, fmt.Errorf("CLUSTER NODES: node %s: %w", m.ID, err)
			}
			m.Slots = append(m.Slots, [2]int{lo, hi})
			for i := lo; i <= hi; i++ {
				owner[i] = len(masters)
			}
		}
		if slices.Contains(flags, "fail") || slices.Contains(flags, "noaddr") {
			failing = append(failing, m.ID+" ("+f[2]+")")
		}
		masters = append(masters, m)
	}
	if len(failing) > 0 {
		return nil, fmt.Errorf("%w: masters %s serve slots but are failing: wait for their failover", ErrClusterNotWhole, strings.Join(failing, ", "))
	}
	if gaps := slotGaps(owner); gaps != "" {
		return nil, fmt.Errorf("%w: slots %s are served by no master", ErrClusterNotWhole, gaps)
	}
	slices.SortFunc(masters, func(a, b Master) int { return a.Slots[0][0] - b.Slots[0][0] })
	return masters, nil
}

// nodeAddr returns the "host:port" of a CLUSTER NODES address field.
func nodeAddr(field, seedHost string) (string, error) {
	hostPort, _, _ := strings.Cut(field, "@")
	hostPort, _, _ = strings.Cut(hostPort, ",")
	h, p, err := net.SplitHostPort(hostPort)
	if err != nil || p == "" || p == "0" {
		return "", fmt.Errorf("CLUSTER NODES: bad address %q", field)
	}
	if h == "" {
		h = seedHost
	}
	return net.JoinHostPort(h, p), nil
}

// slotRange parses "N" or "N-M".
func slotRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi := lo
	var err2 error
	if isRange {
		hi, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || lo < 0 || hi < lo || hi >= rewrite.Slots {
		return 0, 0, fmt.Errorf("bad slot range %q", s)
	}
	return lo, hi, nil
}

// slotGaps lists the slots no master owns, as ranges ("0-99, 200"), or "".
func slotGaps(owner []int) string {
	var gaps []string
	for i := 0; i < len(owner); {
		if owner[i] >= 0 {
			i++
			continue
		}
		j := i
		for j+1 < len(owner) && owner[j+1] < 0 {
			j++
		}
		if i == j {
			gaps = append(gaps, strconv.Itoa(i))
		} else {
			gaps = append(gaps, strconv.Itoa(i)+"-"+strconv.Itoa(j))
		}
		i = j + 1
	}
	return strings.Join(gaps, ", ")
}
