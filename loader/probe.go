package loader

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// A Probe is what a server allows and holds, as `rdbkit probe` reports it.
type Probe struct {
	Server          string       `json:"server"`  // "redis" or "valkey"
	Version         string       `json:"version"` // as INFO reports it
	RDBVersion      int          `json:"rdb_version"`
	Mode            string       `json:"mode"` // "standalone" or "cluster"
	Role            string       `json:"role"` // "master" or "replica"
	User            string       `json:"user"` // ACL WHOAMI, "" if unknown
	Permissions     []Permission `json:"permissions"`
	ProtoMaxBulkLen int64        `json:"proto_max_bulk_len"` // -1: CONFIG GET refused
	MaxMemory       int64        `json:"maxmemory"`          // 0: no limit
	MaxMemoryPolicy string       `json:"maxmemory_policy,omitempty"`
	UsedMemory      int64        `json:"used_memory"`
	Headroom        int64        `json:"headroom"` // maxmemory - used_memory; -1 without a limit
	ClusterMasters  int          `json:"cluster_masters,omitempty"`
}

// probeCommands are the commands a probe asks about.
var probeCommands = []string{"DUMP", "RESTORE", "MSETNX", "SYNC", "PSYNC", "CONFIG", "FUNCTION", "SCAN", "SELECT"}

// ProbeServer connects to the server opt names and reports what it allows.
func ProbeServer(ctx context.Context, opt *redis.Options) (*Probe, error) {
	l := &Loader{clients: map[string]*nodeConns{}, o: Options{Workers: 1}}
	l.base = clientOptions(opt, 1)
	defer l.closeClients()
	c := l.client(l.base.Addr)
	info, err := readServerInfo(ctx, c)
	if err != nil {
		return nil, err
	}
	p := &Probe{
		Server: info.Server, Version: info.Version, RDBVersion: info.Target.Version,
		Mode: "standalone", Role: info.Role, ProtoMaxBulkLen: info.ProtoMaxBulkLen,
		MaxMemory: info.MaxMemory, MaxMemoryPolicy: info.MaxMemoryPolicy, UsedMemory: info.UsedMemory, Headroom: -1,
	}
	if info.Cluster {
		p.Mode = "cluster"
		if ranges, err := clusterSlots(ctx, c, l.base.Addr); err == nil {
			seen := map[string]bool{}
			for _, r := range ranges {
				seen[r.addr] = true
			}
			p.ClusterMasters = len(seen)
		}
	}
	if p.MaxMemory > 0 {
		p.Headroom = p.MaxMemory - p.UsedMemory
	}
	p.User, _ = c.Do(ctx, "ACL", "WHOAMI").Text()
	p.Permissions = l.permissions(ctx, probeCommands, nil)
	return p, nil
}

// sampleArgs are the arguments a permission check gives each command; "K"
// stands for a key.
var sampleArgs = map[string][]string{
	"RESTORE": {"K", "0", "x"}, "DUMP": {"K"}, "SELECT": {"0"}, "SCAN": {"0"},
	"SYNC": {}, "PSYNC": {"?", "-1"}, "CONFIG": {"GET", "proto-max-bulk-len"},
	"FUNCTION": {"LOAD", "x"}, "SCRIPT": {"LOAD", "x"}, "EXISTS": {"K"},
	"DEL": {"K"}, "PEXPIRE": {"K", "1"}, "PEXPIREAT": {"K", "1"}, "PERSIST": {"K"},
	"RENAME": {"K", "K"}, "RENAMENX": {"K", "K"}, "SET": {"K", "v"}, "SETRANGE": {"K", "0", "v"},
	"RPUSH": {"K", "v"}, "SADD": {"K", "v"}, "ZADD": {"K", "1", "v"}, "HSET": {"K", "f", "v"},
	"HPEXPIREAT": {"K", "1", "FIELDS", "1", "f"}, "XADD": {"K", "1-1", "f", "v"},
	"XGROUP": {"CREATE", "K", "g", "0"}, "XCLAIM": {"K", "g", "c", "0", "1-1"},
	"XDEL": {"K", "1-1"}, "XSETID": {"K", "1-1"}, "MSET": {"K", "v"}, "MSETNX": {"K", "v"},
}

// permissions tells, for each command, whether the connected user may run
// it: ACL DRYRUN where the server has it and the user may use it, else a
// harmless try for DUMP, RESTORE, CONFIG and FUNCTION, else "unknown".
// key is a key name to check key patterns with (nil: "rdbkit:probe").
func (l *Loader) permissions(ctx context.Context, cmds []string, key []byte) []Permission {
	if key == nil {
		key = []byte("rdbkit:probe")
	}
	c := l.client(l.base.Addr)
	user, err := c.Do(ctx, "ACL", "WHOAMI").Text()
	dryrun := err == nil
	var out []Permission
	for _, name := range cmds {
		args := []any{}
		for _, a := range sampleArgs[name] {
			if a == "K" {
				args = append(args, key)
			} else {
				args = append(args, a)
			}
		}
		perm := Permission{Command: name, Allowed: "unknown"}
		if dryrun {
			reply, err := c.Do(ctx, append([]any{"ACL", "DRYRUN", user, name}, args...)...).Text()
			switch {
			case err == nil && reply == "OK":
				perm.Allowed = "yes"
			case err == nil:
				perm.Allowed, perm.Detail = "no", reply
			default:
				dryrun = false // not allowed to use ACL DRYRUN, or no such command
			}
		}
		if !dryrun {
			perm = l.tryPermission(ctx, c, name, key)
		}
		out = append(out, perm)
	}
	return out
}

// tryPermission finds out by a harmless try whether a command is allowed.
func (l *Loader) tryPermission(ctx context.Context, c *redis.Client, name string, key []byte) Permission {
	perm := Permission{Command: name, Allowed: "unknown"}
	var err error
	switch name {
	case "DUMP":
		err = c.Do(ctx, "DUMP", key).Err() // a missing key: a nil reply
	case "RESTORE":
		err = c.Do(ctx, "RESTORE", key, 0, "x").Err() // refused payload: no write
	case "CONFIG":
		err = c.Do(ctx, "CONFIG", "GET", "proto-max-bulk-len").Err()
	case "FUNCTION":
		err = c.Do(ctx, "FUNCTION", "LIST", "LIBRARYNAME", "rdbkit-probe-none").Err()
	case "SCAN":
		err = c.Do(ctx, "SCAN", 0, "COUNT", 1).Err()
	case "EXISTS":
		err = c.Do(ctx, "EXISTS", key).Err()
	case "SELECT":
		err = c.Do(ctx, "SELECT", 0).Err()
	default:
		return perm
	}
	msg, isReply := isRedisError(err)
	switch {
	case err == nil || err == redis.Nil:
		perm.Allowed = "yes"
	case isReply && (strings.HasPrefix(msg, "NOPERM") || strings.Contains(msg, "unknown command")):
		perm.Allowed, perm.Detail = "no", msg
	case isReply:
		perm.Allowed = "yes" // refused for its arguments, after the ACL check
	default:
		perm.Detail = err.Error()
	}
	return perm
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
