package main

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/rdbkit/rdbkit/source"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
)

// destOptions name a live destination and how to authenticate to it,
// for restore and probe.
type destOptions struct {
	url          string
	passwordFile string
	tls          source.TLSFiles
	serverName   string // SNI, "" for the host of the address
}

// destFlags are the connection flags of restore and probe; the URL flag
// itself differs (--to, or the argument).
func destFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "password-file", Usage: "read the password from `FILE` (else the URL, else $REDISCLI_AUTH)"},
		&cli.StringFlag{Name: "tls-ca", Usage: "trust the CA certificates in `FILE` (PEM) for rediss://"},
		&cli.StringFlag{Name: "tls-cert", Usage: "client certificate `FILE` (PEM) for rediss://"},
		&cli.StringFlag{Name: "tls-key", Usage: "client private key `FILE` (PEM) for rediss://"},
		&cli.StringFlag{Name: "tls-server-name", Usage: "server `NAME` to send (SNI) and verify, if not the host of the URL"},
		&cli.BoolFlag{Name: "tls-insecure", Usage: "do not verify the server's TLS certificate"},
	}
}

func destOptionsFrom(c *cli.Context, url string) destOptions {
	return destOptions{
		url:          url,
		passwordFile: c.String("password-file"),
		tls: source.TLSFiles{
			CA:       c.String("tls-ca"),
			Cert:     c.String("tls-cert"),
			Key:      c.String("tls-key"),
			Insecure: c.Bool("tls-insecure"),
		},
		serverName: c.String("tls-server-name"),
	}
}

// redisOptions parses the destination's URL and credentials into go-redis
// options. Its errors never contain the password.
func (d destOptions) redisOptions(cmd string) (*redis.Options, source.Endpoint, error) {
	ep, err := source.ParseEndpoint(d.url)
	if err != nil {
		return nil, ep, usagef(cmd, "%v", err)
	}
	if err := ep.LoadPassword(d.passwordFile, source.EnvPassword); err != nil {
		return nil, ep, err
	}
	o := &redis.Options{Network: ep.Network, Addr: ep.Addr, Username: ep.User, Password: ep.Password, DB: ep.DB}
	if !d.tls.IsZero() || d.serverName != "" {
		if !ep.TLS {
			return nil, ep, usagef(cmd, "--tls-* options need a rediss:// URL")
		}
	}
	if ep.TLS {
		cfg, err := d.tls.Config()
		if err != nil {
			return nil, ep, err
		}
		if d.serverName != "" {
			cfg.ServerName = d.serverName
		}
		o.TLSConfig = cfg
	}
	return o, ep, nil
}

// quietRedisLogs stops go-redis from logging on stderr (dial failures):
// restore and probe report what matters themselves.
var quietRedisLogs = sync.OnceFunc(func() { redis.SetLogger(discardLogger{}) })

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// parseDBMap parses --db-map values "SRC=DST".
func parseDBMap(cmd string, vals []string) (map[int]int, error) {
	m := map[int]int{}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			a, b, ok := strings.Cut(strings.TrimSpace(part), "=")
			src, err1 := strconv.Atoi(a)
			dst, err2 := strconv.Atoi(b)
			if !ok || err1 != nil || err2 != nil || src < 0 || dst < 0 {
				return nil, usagef(cmd, "--db-map %q: want SRC=DST, two database numbers", part)
			}
			if old, dup := m[src]; dup && old != dst {
				return nil, usagef(cmd, "--db-map: database %d mapped twice", src)
			}
			m[src] = dst
		}
	}
	return m, nil
}

// parseSize parses a byte count with an optional unit: 512, 64k, 64kb,
// 1m, 1mb, 1g (powers of 1024).
func parseSize(cmd, flag, s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, usagef(cmd, "--%s %q: want a size such as 65536, 64k or 1m", flag, s)
	}
	return v * mult, nil
}

// sizeFlag reads a size flag, 0 when not set.
func sizeFlag(c *cli.Context, cmd, name string) (int64, error) {
	if !c.IsSet(name) {
		return 0, nil
	}
	return parseSize(cmd, name, c.String(name))
}
