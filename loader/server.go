package loader

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// ServerInfo is what a destination reports about itself.
type ServerInfo struct {
	Server          string // "redis" or "valkey"
	Version         string // redis_version, or valkey_version for Valkey
	Target          rdb.Target
	Cluster         bool   // cluster_enabled:1
	Role            string // "master" or "slave"
	MaxMemory       int64  // bytes, 0 for no limit
	UsedMemory      int64
	MaxMemoryPolicy string
	// ProtoMaxBulkLen is the largest argument the server accepts, -1 if
	// CONFIG GET is not allowed.
	ProtoMaxBulkLen int64
}

// DefaultProtoMaxBulkLen is Redis's default proto-max-bulk-len.
const DefaultProtoMaxBulkLen = 512 << 20

// readServerInfo reads HELLO (server, version, mode, role: any user may
// run it), INFO (memory, and what HELLO lacks on servers before 6.0) and
// CONFIG GET proto-max-bulk-len. Only a failure of both HELLO and INFO is
// an error: INFO and CONFIG are often refused to ordinary users.
func readServerInfo(ctx context.Context, c *redis.Client) (*ServerInfo, error) {
	si := &ServerInfo{Server: "redis", ProtoMaxBulkLen: -1}
	hello, helloErr := c.Do(ctx, "HELLO", "2").Slice()
	if helloErr == nil {
		m := map[string]string{}
		for i := 0; i+1 < len(hello); i += 2 {
			k, _ := hello[i].(string)
			m[k] = fmt.Sprint(hello[i+1])
		}
		if m["server"] != "" {
			si.Server = m["server"]
		}
		si.Version, si.Role, si.Cluster = m["version"], m["role"], m["mode"] == "cluster"
	}
	text, infoErr := c.Info(ctx, "server", "memory", "replication", "cluster").Result()
	if infoErr != nil && helloErr != nil {
		return nil, fmt.Errorf("loader: HELLO: %w; INFO: %w", helloErr, infoErr)
	}
	if infoErr == nil {
		info := parseInfo(text)
		if v := info["valkey_version"]; v != "" || info["server_name"] == "valkey" {
			si.Server = "valkey"
			if v != "" {
				si.Version = v
			}
		}
		if si.Version == "" {
			si.Version = info["redis_version"]
		}
		if si.Role == "" {
			si.Role = info["role"]
		}
		si.Cluster = si.Cluster || info["cluster_enabled"] == "1"
		si.MaxMemory, _ = strconv.ParseInt(info["maxmemory"], 10, 64)
		si.UsedMemory, _ = strconv.ParseInt(info["used_memory"], 10, 64)
		si.MaxMemoryPolicy = info["maxmemory_policy"]
	}
	if si.Version == "" {
		return nil, fmt.Errorf("loader: neither HELLO nor INFO gave the server's version")
	}
	if si.Role == "slave" {
		si.Role = "replica"
	}
	si.Target = TargetFor(si.Server, si.Version)
	if m, err := c.ConfigGet(ctx, "proto-max-bulk-len").Result(); err == nil {
		if n, err := strconv.ParseInt(m["proto-max-bulk-len"], 10, 64); err == nil {
			si.ProtoMaxBulkLen = n
		}
	}
	return si, nil
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

// TargetFor returns the RDB version of a server from its name ("redis" or
// "valkey") and version: Redis 7.0 writes RDB 10, 7.2 RDB 11, 7.4 to 8.4
// RDB 12, 8.6 and later RDB 13; Valkey 7.2 to 8.x RDB 11 and Valkey 9
// RDB 80. Older Redis: 6.x and 5.0 RDB 9, 4.0 RDB 8, 3.2 RDB 7, 2.8 RDB 6,
// 2.6 RDB 6. A development build (255.255.255) is taken for the newest
// release known here.
func TargetFor(server, version string) rdb.Target {
	major, minor := parseVersion(version)
	if server == "valkey" {
		if major >= 9 {
			return rdb.Target{Version: 80, Valkey: true}
		}
		return rdb.Target{Version: 11}
	}
	v := 0
	switch {
	case major > 8 || major == 8 && minor >= 6:
		v = 13
	case major == 8 || major == 7 && minor >= 4:
		v = 12
	case major == 7 && minor >= 2:
		v = 11
	case major == 7:
		v = 10
	case major >= 5:
		v = 9
	case major == 4:
		v = 8
	case major == 3 && minor >= 2:
		v = 7
	default:
		v = 6
	}
	return rdb.Target{Version: v}
}

func parseVersion(s string) (major, minor int) {
	parts := strings.SplitN(s, ".", 3)
	major, _ = strconv.Atoi(parts[0])
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	return major, minor
}
