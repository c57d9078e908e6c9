package source

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rdbkit/rdbkit/internal/resp"
	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/redis/go-redis/v9"
)

// A scanNode is a master the Scanner reads: a client per database, the
// keys given to it (ScanOptions.Keys), the running mean of its payload
// sizes, and the keys it has seen.
type scanNode struct {
	addr string
	base *redis.Options

	mu      sync.Mutex
	clients map[int]*redis.Client // by database, for SCAN
	pool    *resp.Pool            // for the DUMP pipelines

	keys []ScanKey // ScanOptions.Keys that live here
	size counter   // payload bytes and keys read, for batch sizing
	seen keySet
}

// client returns the client of database db, making it on first use.
func (n *scanNode) client(db int) *redis.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.clients[db]
	if c == nil {
		o := *n.base
		o.Addr, o.DB = n.addr, db
		c = redis.NewClient(&o)
		n.clients[db] = c
	}
	return c
}

// pipelines returns the pool of the DUMP pipelines' connections, making
// it on first use: CLIENT NO-TOUCH ON as for the clients (see
// clientOptions).
func (n *scanNode) pipelines(maxIdle int) *resp.Pool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pool == nil {
		o := *n.base
		o.Addr = n.addr
		n.pool = resp.NewPool(&o, maxIdle, []any{"CLIENT", "NO-TOUCH", "ON"})
		n.pool.BulkBytes = true // DUMP payloads
	}
	return n.pool
}

func (n *scanNode) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.clients {
		_ = c.Close()
	}
	if n.pool != nil {
		n.pool.Close()
	}
}

// clientOptions returns the options of the Scanner's clients: RESP2, no
// CLIENT SETINFO, a pool for the pipelines in flight and SCAN, and
// CLIENT NO-TOUCH where the server has it (Redis 7.2+), so that reading
// a key does not reset its LRU clock or raise its LFU counter.
func (s *Scanner) clientOptions() *redis.Options {
	o := *s.o.Redis
	o.DB = 0
	o.Protocol = 2
	o.DisableIdentity = true
	o.MaxRetries = s.o.Retries
	o.PoolSize = s.o.InFlight + 2
	o.PipelinePoolSize = s.o.InFlight + 2
	o.ReadTimeout = 60 * time.Second
	o.WriteTimeout = 60 * time.Second
	o.ContextTimeoutEnabled = true
	o.MaintNotificationsConfig = nil
	o.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		_ = cn.Do(ctx, "CLIENT", "NO-TOUCH", "ON").Err() // older servers refuse it: fine
		return nil
	}
	return &o
}

// discover reads INFO and, on a cluster, CLUSTER SLOTS, and makes the
// nodes to read.
func (s *Scanner) discover(ctx context.Context) error {
	base := s.clientOptions()
	seed := &scanNode{addr: base.Addr, base: base, clients: map[int]*redis.Client{}}
	s.nodes = []*scanNode{seed}
	c := seed.client(0)
	info, err := s.readInfo(ctx, c)
	if err != nil {
		return err
	}
	s.info.Cluster = s.info.Cluster || s.o.Cluster
	s.info.HasType = s.o.Type != "" && majorVersion(s.info.Version) >= 6
	if s.info.Cluster {
		if err := s.discoverCluster(ctx, c, base); err != nil {
			return err
		}
	} else {
		s.info.Masters = []string{base.Addr}
	}
	switch {
	case s.o.Keys != nil:
		return s.assignKeys()
	case s.info.Cluster:
		if s.o.DBs != nil && !slices.Contains(s.o.DBs, 0) {
			return fmt.Errorf("source: %s is a Redis Cluster, which has only database 0", base.Addr)
		}
		s.info.DBs = []int{0}
	case s.o.DBs != nil:
		dbs := slices.Clone(s.o.DBs)
		slices.Sort(dbs)
		s.info.DBs = slices.Compact(dbs)
	default:
		s.info.DBs = keyspaceDBs(info)
	}
	if !s.info.Cluster {
		s.dbKeys = keyspaceKeys(info)
	}
	return nil
}

// readInfo reads INFO (HELLO when INFO is refused) into s.info and
// returns its fields.
func (s *Scanner) readInfo(ctx context.Context, c *redis.Client) (map[string]string, error) {
	s.info.Server = "redis"
	text, infoErr := c.Info(ctx).Result()
	info := parseInfo(text)
	if infoErr != nil {
		hello, err := c.Do(ctx, "HELLO", "2").Slice()
		if err != nil {
			return nil, fmt.Errorf("source: %s: INFO: %w; HELLO: %w", s.o.Redis.Addr, infoErr, err)
		}
		for i := 0; i+1 < len(hello); i += 2 {
			k, _ := hello[i].(string)
			info["hello_"+k] = fmt.Sprint(hello[i+1])
		}
		info["redis_version"] = info["hello_version"]
		if info["hello_server"] == "valkey" {
			info["valkey_version"] = info["hello_version"]
		}
		if info["hello_mode"] == "cluster" {
			info["cluster_enabled"] = "1"
		}
	}
	s.info.Version = info["redis_version"]
	if v := info["valkey_version"]; v != "" || info["server_name"] == "valkey" {
		s.info.Server = "valkey"
		if v != "" {
			s.info.Version = v
		}
	}
	s.info.Cluster = info["cluster_enabled"] == "1"
	s.info.Bits, _ = strconv.Atoi(info["arch_bits"])
	s.info.UsedMem, _ = strconv.ParseInt(info["used_memory"], 10, 64)
	s.info.MaxPolicy = info["maxmemory_policy"]
	return info, nil
}

// discoverCluster makes a node of every master CLUSTER SLOTS names.
func (s *Scanner) discoverCluster(ctx context.Context, c *redis.Client, base *redis.Options) error {
	//lint:ignore SA1019 CLUSTER SLOTS also answers on servers older than 7.0, which lack CLUSTER SHARDS
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return fmt.Errorf("source: %s: CLUSTER SLOTS: %w", base.Addr, err)
	}
	host, _, _ := net.SplitHostPort(base.Addr)
	seed := s.nodes[0]
	s.nodes = nil
	byAddr := map[string]*scanNode{}
	for _, sl := range slots {
		if len(sl.Nodes) == 0 {
			continue
		}
		a := sl.Nodes[0].Addr
		if h, p, err := net.SplitHostPort(a); err == nil && (h == "" || h == "?") {
			a = net.JoinHostPort(host, p)
		}
		n := byAddr[a]
		if n == nil {
			n = &scanNode{addr: a, base: base, clients: map[int]*redis.Client{}}
			if a == seed.addr {
				n = seed
			}
			byAddr[a] = n
			s.nodes = append(s.nodes, n)
			s.info.Masters = append(s.info.Masters, a)
		}
		for i := sl.Start; i <= sl.End && i < rewrite.Slots; i++ {
			s.slotOwner(i, n)
		}
	}
	if seed.addr != "" && byAddr[seed.addr] == nil {
		seed.close() // the seed is a replica, or owns no slot
	}
	if len(s.nodes) == 0 {
		return fmt.Errorf("source: %s: CLUSTER SLOTS names no master", base.Addr)
	}
	return nil
}

// slotOwner records the owner of a slot, for ScanOptions.Keys.
func (s *Scanner) slotOwner(slot int, n *scanNode) {
	if s.o.Keys == nil {
		return
	}
	if s.owners == nil {
		s.owners = make([]*scanNode, rewrite.Slots)
	}
	s.owners[slot] = n
}

// assignKeys gives each of ScanOptions.Keys to the master that owns it.
func (s *Scanner) assignKeys() error {
	for _, k := range s.o.Keys {
		n := s.nodes[0]
		if s.info.Cluster {
			if k.DB != 0 {
				return fmt.Errorf("source: key %q of database %d: a Redis Cluster has only database 0", k.Key, k.DB)
			}
			if n = s.owners[rewrite.Slot(k.Key)]; n == nil {
				return fmt.Errorf("source: key %q: its slot %d has no master", k.Key, rewrite.Slot(k.Key))
			}
		}
		n.keys = append(n.keys, k)
	}
	return nil
}

// keyspaceDBs returns the databases INFO keyspace lists ("db3:keys=..."),
// or database 0 when it lists none.
func keyspaceDBs(info map[string]string) []int {
	var dbs []int
	for k := range info {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, "db")); err == nil && strings.HasPrefix(k, "db") && n >= 0 {
			dbs = append(dbs, n)
		}
	}
	if len(dbs) == 0 {
		return []int{0}
	}
	slices.Sort(dbs)
	return dbs
}

// keyspaceKeys returns the keys INFO keyspace counts in each database
// ("db3:keys=12,expires=..."), as far as it can read them.
func keyspaceKeys(info map[string]string) map[int]int64 {
	m := map[int]int64{}
	for _, db := range keyspaceDBs(info) {
		for _, f := range strings.Split(info["db"+strconv.Itoa(db)], ",") {
			if v, ok := strings.CutPrefix(f, "keys="); ok {
				m[db], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return m
}

// parseInfo returns the fields of an INFO reply.
func parseInfo(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m
}

func majorVersion(v string) int {
	n, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return n
}

// A Library is a function library of a source.
type Library struct {
	Name string
	Code []byte // its whole source, "#!lua name=..."
}

// Functions returns the function libraries of the source (FUNCTION LIST
// WITHCODE, Redis 7.0+), from its first master; none from a server
// without functions. A refusal (an ACL without FUNCTION) is an error.
func (s *Scanner) Functions(ctx context.Context) ([]Library, error) {
	libs, err := s.nodes[0].client(0).Do(ctx, "FUNCTION", "LIST", "WITHCODE").Slice()
	if err != nil {
		if strings.Contains(err.Error(), "unknown command") {
			return nil, nil
		}
		return nil, fmt.Errorf("source: %s: FUNCTION LIST: %w", s.nodes[0].addr, err)
	}
	var out []Library
	for _, l := range libs {
		fields, _ := l.([]any)
		var lib Library
		for i := 0; i+1 < len(fields); i += 2 {
			k, _ := fields[i].(string)
			v, _ := fields[i+1].(string)
			switch k {
			case "library_name":
				lib.Name = v
			case "library_code":
				lib.Code = []byte(v)
			}
		}
		if lib.Name != "" && lib.Code != nil {
			out = append(out, lib)
		}
	}
	return out, nil
}
