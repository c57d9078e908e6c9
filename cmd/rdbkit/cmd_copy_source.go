package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/rdbkit/rdbkit/source"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
)

// envFromPassword is the environment variable that gives the password of
// a live source (copy --from, compare URL) when neither its URL nor
// --from-password-file does. REDISCLI_AUTH stays the destination's, as
// for restore.
const envFromPassword = "RDBKIT_FROM_AUTH"

// liveSourceOptions name a live source, how to authenticate to it, and
// how to read it (copy and compare).
type liveSourceOptions struct {
	conn      destOptions // the URL and its credentials
	cluster   bool
	rate      float64 // keys/s, 0: no limit
	scanCount int
	batch     int
	idle      bool
	freq      bool
}

// liveSourceFlags are the flags of a live source: its credentials and TLS
// files (--from-*) and how hard to read it.
func liveSourceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "from-password-file", Usage: "read the source's password from `FILE` (else the URL, else $" + envFromPassword + ")"},
		&cli.StringFlag{Name: "from-tls-ca", Usage: "trust the CA certificates in `FILE` (PEM) for a rediss:// source"},
		&cli.StringFlag{Name: "from-tls-cert", Usage: "client certificate `FILE` (PEM) for a rediss:// source"},
		&cli.StringFlag{Name: "from-tls-key", Usage: "client private key `FILE` (PEM) for a rediss:// source"},
		&cli.StringFlag{Name: "from-tls-server-name", Usage: "server `NAME` of a rediss:// source to send (SNI) and verify"},
		&cli.BoolFlag{Name: "from-tls-insecure", Usage: "do not verify the source's TLS certificate"},
		&cli.BoolFlag{Name: "from-cluster", Usage: "the source is a Redis Cluster (detected otherwise)"},
		&cli.Float64Flag{Name: "rate", Usage: "read at most `KEYS` keys per second from the source (0: no limit)"},
		&cli.IntFlag{Name: "scan-count", Value: source.DefaultScanCount, Usage: "COUNT hint of each SCAN call: `N` keys"},
		&cli.IntFlag{Name: "scan-batch", Value: source.DefaultScanBatch, Usage: "`N` keys per DUMP pipeline"},
	}
}

func liveSourceFrom(c *cli.Context, url string) liveSourceOptions {
	return liveSourceOptions{
		conn: destOptions{
			url:          url,
			passwordFile: c.String("from-password-file"),
			tls: source.TLSFiles{
				CA:       c.String("from-tls-ca"),
				Cert:     c.String("from-tls-cert"),
				Key:      c.String("from-tls-key"),
				Insecure: c.Bool("from-tls-insecure"),
			},
			serverName: c.String("from-tls-server-name"),
		},
		cluster:   c.Bool("from-cluster"),
		rate:      c.Float64("rate"),
		scanCount: c.Int("scan-count"),
		batch:     c.Int("scan-batch"),
	}
}

// check reports a bad flag value as a usage error of cmd.
func (o liveSourceOptions) check(cmd string) error {
	switch {
	case o.rate < 0:
		return usagef(cmd, "--rate %v: want a number of keys per second, 0 for no limit", o.rate)
	case o.scanCount < 1 || o.batch < 1:
		return usagef(cmd, "--scan-count and --scan-batch are 1 or more")
	}
	return nil
}

// redisOptions parses the source's URL and credentials. Its errors never
// contain the password.
func (o liveSourceOptions) redisOptions(cmd string) (*redis.Options, source.Endpoint, error) {
	ep, err := source.ParseEndpoint(o.conn.url)
	if err != nil {
		return nil, ep, usagef(cmd, "%v", err)
	}
	if err := ep.LoadPassword(o.conn.passwordFile, envFromPassword); err != nil {
		return nil, ep, err
	}
	ro := &redis.Options{Network: ep.Network, Addr: ep.Addr, Username: ep.User, Password: ep.Password}
	if (!o.conn.tls.IsZero() || o.conn.serverName != "") && !ep.TLS {
		return nil, ep, usagef(cmd, "--from-tls-* options need a rediss:// source URL")
	}
	if ep.TLS {
		cfg, err := o.conn.tls.Config()
		if err != nil {
			return nil, ep, err
		}
		if o.conn.serverName != "" {
			cfg.ServerName = o.conn.serverName
		}
		ro.TLSConfig = cfg
	}
	return ro, ep, nil
}

// scanOptions returns the Scanner options for the source and the filter:
// the databases of --db (else the URL's database, else every one), SCAN
// MATCH from --match and SCAN TYPE when --type names one type. The other
// filters (--regex, several types, --no-expired) are applied to the
// entries read.
func (o liveSourceOptions) scanOptions(ro *redis.Options, ep source.Endpoint, fo filterOptions, f *filter) source.ScanOptions {
	so := source.ScanOptions{
		Redis: ro, Cluster: o.cluster, Count: o.scanCount, Batch: o.batch,
		Rate: o.rate, Idle: o.idle, Freq: o.freq,
	}
	switch {
	case len(fo.dbs) > 0:
		so.DBs = fo.dbs
	case ep.DB != 0:
		so.DBs = []int{ep.DB}
	}
	if f.hasGlob {
		so.Match = string(f.glob)
	}
	if t, ok := scanSingleType(f); ok && t != rdb.TypeModule {
		so.Type = t.String()
	}
	return so
}

// scanSingleType returns the type of a filter that selects exactly one.
func scanSingleType(f *filter) (rdb.Type, bool) {
	for t := rdb.TypeString; t <= rdb.TypeModule; t++ {
		if f.types == 1<<t {
			return t, true
		}
	}
	return 0, false
}

// scanFilterTypes returns the types a filter selects, nil for every type.
func scanFilterTypes(f *filter) []rdb.Type {
	if f.types == 0 {
		return nil
	}
	var ts []rdb.Type
	for t := rdb.TypeString; t <= rdb.TypeModule; t++ {
		if f.types&(1<<t) != 0 {
			ts = append(ts, t)
		}
	}
	return ts
}

// openLiveScanner connects to the source and starts the scan.
func openLiveScanner(ctx context.Context, cmd string, so source.ScanOptions, ep source.Endpoint) (*source.Scanner, error) {
	quietRedisLogs()
	s, err := source.NewScanner(ctx, so)
	if err != nil {
		return nil, fmt.Errorf("%s: source %s: %w", cmd, ep.Redacted(), err)
	}
	return s, nil
}

// scanLive reads every key of s that passes f and calls fn with it, and
// filtered for each key the filter leaves out.
func scanLive(s *source.Scanner, f *filter, now time.Time, filtered func(), fn func(e *source.ScanEntry) error) error {
	for {
		e, err := s.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !f.match(&e.Entry, now) {
			filtered()
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// isLiveSource reports whether a command-line argument names a live server
// (redis://, rediss://, unix://) rather than a file.
func isLiveSource(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		return true
	}
	return false
}
