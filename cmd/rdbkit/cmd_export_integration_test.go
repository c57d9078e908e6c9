package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/verify"
	"github.com/redis/go-redis/v9"
)

// TestExportRESPRoundTrip pipes `rdbkit export --format resp` of every
// generated fixture into an empty Redis with `redis-cli --pipe` and
// compares the server's data with the fixture's .expected.jsonl, key by
// key without DUMP (internal/verify): type, value, expiry within 1 s,
// stream entries, ids, groups and PEL (consumers' seen/active times are
// not carried by commands), function libraries; keys and hash fields
// expired by the time of the export must be absent. The local server is
// Redis 7.0, so the commands are written for RDB 10 (--target-version 10):
// hash field TTLs are dropped, and not compared.
//
// With --restore the same holds for the files whose payloads a 7.0 takes
// as they are (redis-7.0.15, written as RDB 10), and, transcoded by
// rdb.Transcode, for the others with --target-version 10.
//
// And with commands again with every value over 64 bytes streamed (read
// element by element, strings in pieces of 1000 bytes), except for the
// streams that have a pending entry whose message was deleted before the
// last entry: rewrite.Commands can only recreate those messages (for
// XCLAIM) when it can read the stream twice, from a payload in memory.
func TestExportRESPRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal(err)
	}
	if v := srv.Version(t); !strings.HasPrefix(v, "7.0.") {
		t.Logf("server %s: the test is written for Redis 7.0", v)
	}
	rc := srv.Client(t)
	vs := verify.Standalone(&redis.Options{Addr: srv.Addr})
	defer verify.Close(vs)
	ctx := context.Background()

	files, err := filepath.Glob(filepath.Join(sharedFile(t, "generated"), "*", "*.rdb"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		version := filepath.Base(filepath.Dir(file))
		for _, mode := range []string{"commands", "restore", "streamed"} {
			restore := mode == "restore"
			name := version + "/" + filepath.Base(file) + "/" + mode
			t.Run(name, func(t *testing.T) {
				if err := rc.FlushAll(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				if err := rc.Do(ctx, "FUNCTION", "FLUSH").Err(); err != nil {
					t.Fatal(err)
				}
				exp, err := verify.Load(strings.TrimSuffix(file, ".rdb") + ".expected.jsonl")
				if err != nil {
					t.Fatal(err)
				}
				now := time.Now()
				var stdout, stderr string
				if mode == "streamed" {
					var out, errb bytes.Buffer
					err := runExport(ctx, exportOptions{file: file, format: "resp", targetVersion: 10, now: now,
						maxPayload: 64, chunkSize: 1000}, &out, &errb)
					if err != nil {
						t.Fatal(err)
					}
					stdout, stderr = out.String(), errb.String()
				} else {
					args := []string{"export", file, "--format", "resp", "--target-version", "10"}
					if restore {
						args = append(args, "--restore")
					}
					var code int
					code, stdout, stderr = runCLI(t, args...)
					if code != 0 {
						t.Fatalf("export: exit %d: %s", code, stderr)
					}
				}
				pipe(t, cli, srv.Port, []byte(stdout))
				diffs, err := verify.Compare(ctx, vs, exp, verify.Options{Now: now, Functions: true})
				if err != nil {
					t.Fatal(err)
				}
				var skip []string // streamed streams that lose a pending entry
				for i := range exp.Keys {
					if k := &exp.Keys[i]; mode == "streamed" && deletedPending(t, k) {
						skip = append(skip, fmt.Sprintf("db %d key %q: ", k.DB, k.Key))
					}
				}
			diff:
				for _, d := range diffs {
					for _, p := range skip {
						if strings.HasPrefix(d, p) {
							continue diff
						}
					}
					t.Error(d)
				}
				if restore && version == "redis-7.0.15" && strings.Contains(stderr, " 0 keys with RESTORE") && len(exp.Keys) > 0 {
					t.Errorf("nothing restored: %s", stderr)
				}
			})
		}
	}
}

var pipeErrors = regexp.MustCompile(`errors: (\d+), replies: (\d+)`)

// pipe sends RESP commands to the server with redis-cli --pipe and fails
// the test unless every command succeeded.
func pipe(t *testing.T, cli string, port int, cmds []byte) {
	t.Helper()
	cmd := exec.Command(cli, "-p", strconv.Itoa(port), "--pipe")
	cmd.Stdin = bytes.NewReader(cmds)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	m := pipeErrors.FindStringSubmatch(out.String())
	if err != nil || m == nil || m[1] != "0" {
		if os.Getenv("RDBKIT_KEEP") != "" {
			_ = os.WriteFile(filepath.Join(os.TempDir(), "rdbkit-failed.resp"), cmds, 0o644)
		}
		t.Fatalf("redis-cli --pipe: %v\n%s", err, out.String())
	}
}

// deletedPending reports whether k is a stream with a pending entry whose
// message was deleted and whose id is below its last entry's.
func deletedPending(t *testing.T, k *verify.Key) bool {
	if k.Type != "stream" {
		return false
	}
	var v struct {
		Entries []struct {
			ID string `json:"id"`
		} `json:"entries"`
		Groups []struct {
			Pending []struct {
				ID string `json:"id"`
			} `json:"pending"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(k.Value, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Entries) == 0 {
		return false
	}
	ids := map[string]bool{}
	for _, e := range v.Entries {
		ids[e.ID] = true
	}
	last := parseID(v.Entries[len(v.Entries)-1].ID)
	for _, g := range v.Groups {
		for _, p := range g.Pending {
			if id := parseID(p.ID); !ids[p.ID] && (id[0] < last[0] || id[0] == last[0] && id[1] < last[1]) {
				return true
			}
		}
	}
	return false
}

func parseID(s string) [2]uint64 {
	ms, seq, _ := strings.Cut(s, "-")
	a, _ := strconv.ParseUint(ms, 10, 64)
	b, _ := strconv.ParseUint(seq, 10, 64)
	return [2]uint64{a, b}
}
