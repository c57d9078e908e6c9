package main

import (
	"bytes"
	"context"
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
				for _, d := range diffs {
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
