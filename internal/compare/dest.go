package compare

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// dest is the destination: a client per database of a standalone server,
// or one cluster client.
type dest struct {
	base    *redis.Options
	cc      *redis.ClusterClient // nil for a standalone server
	mu      sync.Mutex
	clients map[int]*redis.Client

	server, version string
	major, minor    int
	keyspace        []int // databases INFO keyspace lists
}

// dial connects to the destination and reads INFO (HELLO when INFO is
// refused).
func dial(ctx context.Context, o Options) (*dest, error) {
	base := *o.Redis
	base.DB = 0
	base.Protocol = 2
	base.DisableIdentity = true
	base.PoolSize = o.Workers + 2
	base.PipelinePoolSize = o.Workers + 2
	base.ReadTimeout = 60 * time.Second
	base.WriteTimeout = 60 * time.Second
	base.ContextTimeoutEnabled = true
	base.MaintNotificationsConfig = nil
	d := &dest{base: &base, clients: map[int]*redis.Client{}, server: "redis"}
	c := d.db(0)
	info, err := readInfo(ctx, c)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("compare: %s: %w", base.Addr, err)
	}
	d.version = info["redis_version"]
	if v := info["valkey_version"]; v != "" || info["server_name"] == "valkey" {
		d.server = "valkey"
		if v != "" {
			d.version = v
		}
	}
	parts := strings.SplitN(d.version, ".", 3)
	d.major, _ = strconv.Atoi(parts[0])
	if len(parts) > 1 {
		d.minor, _ = strconv.Atoi(parts[1])
	}
	for k := range info {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, "db")); err == nil && strings.HasPrefix(k, "db") {
			d.keyspace = append(d.keyspace, n)
		}
	}
	slices.Sort(d.keyspace)
	if o.Cluster || info["cluster_enabled"] == "1" {
		d.cc = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: []string{base.Addr}, Username: base.Username, Password: base.Password,
			TLSConfig: base.TLSConfig, Dialer: base.Dialer, Protocol: 2, DisableIdentity: true,
			PoolSize: base.PoolSize, ReadTimeout: base.ReadTimeout, WriteTimeout: base.WriteTimeout,
			ContextTimeoutEnabled: true,
		})
		if err := d.cc.Ping(ctx).Err(); err != nil {
			d.close()
			return nil, fmt.Errorf("compare: cluster %s: %w", base.Addr, err)
		}
	}
	return d, nil
}

// readInfo returns the fields of INFO, or of HELLO as redis_version,
// server_name and cluster_enabled.
func readInfo(ctx context.Context, c *redis.Client) (map[string]string, error) {
	m := map[string]string{}
	text, infoErr := c.Info(ctx).Result()
	if infoErr == nil {
		for _, line := range strings.Split(text, "\n") {
			line = strings.TrimRight(line, "\r")
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
				m[k] = v
			}
		}
		return m, nil
	}
	hello, err := c.Do(ctx, "HELLO", "2").Slice()
	if err != nil {
		return nil, fmt.Errorf("INFO: %w; HELLO: %w", infoErr, err)
	}
	for i := 0; i+1 < len(hello); i += 2 {
		k, _ := hello[i].(string)
		v := fmt.Sprint(hello[i+1])
		switch k {
		case "version":
			m["redis_version"] = v
		case "server":
			m["server_name"] = v
		case "mode":
			if v == "cluster" {
				m["cluster_enabled"] = "1"
			}
		}
	}
	return m, nil
}

// db returns the client of database db of a standalone server.
func (d *dest) db(db int) *redis.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.clients[db]
	if c == nil {
		o := *d.base
		o.DB = db
		c = redis.NewClient(&o)
		d.clients[db] = c
	}
	return c
}

// conn is what both a client and a cluster client do.
type conn interface {
	redis.Cmdable
	Do(ctx context.Context, args ...any) *redis.Cmd
}

// client returns what reaches database db: the cluster client, or the
// server's client of that database.
func (d *dest) client(db int) conn {
	if d.cc != nil {
		return d.cc
	}
	return d.db(db)
}

func (d *dest) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.clients {
		_ = c.Close()
	}
	if d.cc != nil {
		_ = d.cc.Close()
	}
}

// atLeast reports whether the destination is Redis major.minor or later
// (for Valkey, its Redis-compatible level: Valkey 7.2 and 8 are Redis 7.2,
// Valkey 9 adds what this package uses of Redis 7.4).
func (d *dest) atLeast(major, minor int) bool {
	ma, mi := d.major, d.minor
	if d.server == "valkey" {
		ma, mi = 7, 2
		if d.major >= 9 {
			ma, mi = 7, 4
		}
	}
	return ma > major || ma == major && mi >= minor
}

// fieldTTLs reports whether the destination has hash field expiries.
func (d *dest) fieldTTLs() bool { return d.atLeast(7, 4) }

// findExtra scans the destination for keys the source does not have.
func (c *Comparer) findExtra(ctx context.Context) error {
	slices.Sort(c.hashes)
	dbs := c.o.ExtraDBs
	if dbs == nil {
		dbs = c.d.keyspace
	}
	if c.d.cc != nil {
		return c.d.cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			return c.scanExtra(ctx, m, 0)
		})
	}
	for _, db := range dbs {
		if err := c.scanExtra(ctx, c.d.db(db), db); err != nil {
			return err
		}
	}
	return nil
}

// scanExtra scans database db through m and records the keys that pass
// the filters and are not among the source's.
func (c *Comparer) scanExtra(ctx context.Context, m *redis.Client, db int) error {
	scanType := ""
	if len(c.o.Types) == 1 && c.o.Types[0] != rdb.TypeModule && c.d.atLeast(6, 0) {
		scanType = c.o.Types[0].String()
	}
	var cursor uint64
	for {
		var cmd *redis.ScanCmd
		if scanType != "" {
			cmd = m.ScanType(ctx, cursor, c.o.Match, 1000, scanType)
		} else {
			cmd = m.Scan(ctx, cursor, c.o.Match, 1000)
		}
		keys, next, err := cmd.Result()
		if err != nil {
			return fmt.Errorf("compare: destination db %d: SCAN: %w", db, err)
		}
		var cand [][]byte
		for _, k := range keys {
			kb := []byte(k)
			if c.o.KeyFilter != nil && !c.o.KeyFilter(kb) {
				continue
			}
			if _, found := slices.BinarySearch(c.hashes, keyHash(c.seed, db, kb)); !found {
				cand = append(cand, kb)
			}
		}
		if err := c.recordExtra(ctx, m, db, cand, scanType == ""); err != nil {
			return err
		}
		c.mu.Lock()
		c.rep.Scanned += int64(len(keys))
		c.mu.Unlock()
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// recordExtra records the candidate extra keys, checking their type
// first when the type filter could not go to SCAN.
func (c *Comparer) recordExtra(ctx context.Context, m *redis.Client, db int, keys [][]byte, checkType bool) error {
	if len(keys) == 0 {
		return nil
	}
	var types []*redis.StatusCmd
	if checkType && len(c.o.Types) > 0 {
		pipe := m.Pipeline()
		for _, k := range keys {
			types = append(types, pipe.Type(ctx, string(k)))
		}
		if _, err := pipe.Exec(ctx); err != nil && !isReply(err) {
			return fmt.Errorf("compare: destination db %d: TYPE: %w", db, err)
		}
	}
	for i, k := range keys {
		if types != nil {
			t, ok := rdb.ParseType(types[i].Val())
			if !ok {
				t = rdb.TypeModule
			}
			if types[i].Val() == "none" || !slices.Contains(c.o.Types, t) {
				continue
			}
		}
		c.record(db, k, Extra, "not in the source")
	}
	return nil
}
