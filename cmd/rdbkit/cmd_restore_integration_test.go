package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/verify"
	"github.com/redis/go-redis/v9"
)

// compareFixture checks a server against the expected contents of a
// generated fixture.
func compareFixture(t *testing.T, srv verify.Server, rdbPath string, o verify.Options) {
	t.Helper()
	exp, err := verify.Load(strings.TrimSuffix(rdbPath, ".rdb") + ".expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := verify.Compare(context.Background(), srv, exp, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range diffs {
		if i == 20 {
			t.Errorf("... %d differences", len(diffs))
			break
		}
		t.Error(d)
	}
}

func TestRestoreCommand(t *testing.T) {
	const pw = "pa55 w0rd"
	srv := redistest.Start(t, redistest.WithPassword(pw))
	fixture := sharedFile(t, "generated/redis-7.4/all-in-one.rdb")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "redis://:" + strings.ReplaceAll(pw, " ", "%20") + "@" + srv.Addr
	bare := "redis://" + srv.Addr
	vs := verify.Standalone(&redis.Options{Addr: srv.Addr, Password: pw})
	defer verify.Close(vs)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"first", []string{"restore", fixture, "--to", url}, exitOK, "ok: every selected key was written", "restore: " + fixture},
		{"conflicts", []string{"restore", fixture, "--to", url}, exitFailure, "123 conflicts", ""},
		{"skip-existing", []string{"restore", fixture, "--to", bare, "--password-file", pwFile, "--skip-existing"}, exitOK, "123 skipped (existing)", ""},
		{"replace", []string{"restore", "--replace", fixture, "--to", url, "--workers", "2", "--pipeline", "7"}, exitOK, "123 written", ""},
		{"dry-run", []string{"restore", fixture, "--to", url, "--dry-run", "--replace"}, exitOK, "plan:", ""},
		{"filters", []string{"restore", fixture, "--to", url, "--replace", "--type", "hash", "--db", "0"}, exitOK, "filtered", ""},
		{"rewrite", []string{"restore", fixture, "--to", url, "--replace", "--mode", "rewrite"}, exitOK, "rewritten with commands", ""},
		{"wrong password", []string{"restore", fixture, "--to", "redis://:nope@" + srv.Addr}, exitFailure, "", "WRONGPASS"},
		{"no --to", []string{"restore", fixture}, exitUsage, "", "missing --to URL"},
		{"replace and skip", []string{"restore", fixture, "--to", url, "--replace", "--skip-existing"}, exitUsage, "", "exclude each other"},
		{"bad db-map", []string{"restore", fixture, "--to", url, "--db-map", "1:2"}, exitUsage, "", "--db-map"},
		{"bad mode", []string{"restore", fixture, "--to", url, "--mode", "fast"}, exitUsage, "", "--mode"},
		{"bad size", []string{"restore", fixture, "--to", url, "--max-payload", "lots"}, exitUsage, "", "--max-payload"},
		{"resume without checkpoint", []string{"restore", fixture, "--to", url, "--resume"}, exitUsage, "", "--checkpoint"},
		{"bad url", []string{"restore", fixture, "--to", "http://x"}, exitUsage, "", "scheme"},
		{"unreachable", []string{"restore", fixture, "--to", "redis://:" + strings.ReplaceAll(pw, " ", "%20") + "@127.0.0.1:1"}, exitFailure, "", "rdbkit: restore: redis://:xxxxx@127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stdout %q\nstderr %q\nwant %q and %q", stdout, stderr, tt.stdout, tt.stderr)
			}
			for _, s := range []string{pw, "pa55"} {
				if strings.Contains(stdout+stderr, s) {
					t.Errorf("the password is printed:\n%s\n%s", stdout, stderr)
				}
			}
		})
	}
	compareFixture(t, vs, fixture, verify.Options{Functions: true, ConsumerTimes: false})

	t.Run("json", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "restore", fixture, "--to", url, "--json", "--db-map", "0=3", "--db-map", "1=4,15=5")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stdout)
		}
		var rep restoreReport
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep.Keys.Written != 123 || rep.Keys.Expired != 3 || rep.Lost == "" || rep.Destination != bare[:len("redis://")]+":xxxxx@"+srv.Addr {
			t.Fatalf("%+v", rep)
		}
		compareFixture(t, vs, fixture, verify.Options{DBMap: map[int]int{0: 3, 1: 4, 15: 5}})
	})
}

// saveDump fills a new server with fill and returns the path of its
// dump.rdb and a verify.Server of it.
func saveDump(t *testing.T, fill func(ctx context.Context, p redis.Pipeliner)) (string, verify.Server) {
	t.Helper()
	src := redistest.Start(t)
	c := src.Client(t)
	ctx := context.Background()
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { fill(ctx, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	vs := verify.Standalone(&redis.Options{Addr: src.Addr})
	t.Cleanup(func() { verify.Close(vs) })
	return filepath.Join(src.Dir, "dump.rdb"), vs
}

// TestRestoreKillResume kills the destination in the middle of a restore
// (it persists every write: appendfsync always), restarts it, and resumes
// from the checkpoint: in the end every key is there, once, with its value.
func TestRestoreKillResume(t *testing.T) {
	const keys = 30000
	path, src := saveDump(t, func(ctx context.Context, p redis.Pipeliner) {
		for i := range keys {
			k := fmt.Sprintf("k:%05d", i)
			if i%3 == 0 {
				p.HSet(ctx, k, "n", i, "s", strings.Repeat("v", i%50))
			} else {
				p.Set(ctx, k, fmt.Sprintf("value %d", i), 0)
			}
		}
	})
	dst := redistest.Start(t, redistest.WithArgs("--appendonly", "yes", "--appendfsync", "always"))
	cp := filepath.Join(t.TempDir(), "restore.checkpoint")
	url := "redis://" + dst.Addr
	failed := filepath.Join(t.TempDir(), "failed.jsonl")
	opts := restoreOptions{
		file: path, dest: destOptions{url: url}, now: time.Now(),
		writeOptions: writeOptions{workers: 2, pipeline: 50, retries: 1}, checkpoint: cp, failedKeys: failed, progressEvery: 5 * time.Millisecond,
		afterKey: func(n int64) {
			if n == keys/3 {
				dst.Kill()
			}
		},
	}
	var out, errb bytes.Buffer
	err := runRestore(context.Background(), opts, &out, &errb)
	var rep *reportedError
	if !errors.As(err, &rep) || !strings.Contains(out.String(), "stopped:") {
		t.Fatalf("restore with the server killed: %v\n%s\n%s", err, out.String(), errb.String())
	}
	var saved checkpointFile
	b, err := os.ReadFile(cp)
	if err == nil {
		err = json.Unmarshal(b, &saved)
	}
	if err != nil || saved.Complete || saved.Offset <= 0 || saved.Keys == 0 {
		t.Fatalf("checkpoint %+v, %v", saved, err)
	}

	if !strings.Contains(errb.String(), "keys/s") {
		t.Errorf("no progress line on stderr: %s", errb.String())
	}
	if lines := bytes.Count(mustRead(t, failed), []byte("\n")); lines == 0 || !strings.Contains(out.String(), fmt.Sprintf(" %d failed", lines)) {
		t.Errorf("%d keys in --failed-keys; summary:\n%s", lines, out.String())
	}
	dst.Restart(t)
	c := dst.Client(t)
	n, err := c.DBSize(context.Background()).Result()
	if err != nil || n < saved.Keys || n >= keys {
		t.Fatalf("after the restart: %d keys, %v (checkpoint: %d settled)", n, err, saved.Keys)
	}
	opts.afterKey, opts.resume, opts.failedKeys = nil, true, ""
	out.Reset()
	errb.Reset()
	if err := runRestore(context.Background(), opts, &out, &errb); err != nil {
		t.Fatalf("resume: %v\n%s\n%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "done by the interrupted run") {
		t.Errorf("resume summary: %s", out.String())
	}
	exp, err := verify.Snapshot(context.Background(), src, 0)
	if err != nil {
		t.Fatal(err)
	}
	vs := verify.Standalone(&redis.Options{Addr: dst.Addr})
	defer verify.Close(vs)
	diffs, err := verify.Compare(context.Background(), vs, exp, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range diffs {
		if i == 20 {
			break
		}
		t.Error(d)
	}
	if err := json.Unmarshal(mustRead(t, cp), &saved); err != nil || !saved.Complete {
		t.Fatalf("final checkpoint %+v, %v", saved, err)
	}
}

// TestRestoreInterrupt stops a restore as Ctrl-C does (its context
// cancelled), then resumes it.
func TestRestoreInterrupt(t *testing.T) {
	const keys = 10000
	path, src := saveDump(t, func(ctx context.Context, p redis.Pipeliner) {
		for i := range keys {
			p.Set(ctx, fmt.Sprintf("k:%05d", i), i, 0)
		}
	})
	dst := redistest.Start(t)
	cp := filepath.Join(t.TempDir(), "cp.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := restoreOptions{file: path, dest: destOptions{url: "redis://" + dst.Addr}, now: time.Now(),
		writeOptions: writeOptions{workers: 2, pipeline: 100, retries: 1}, checkpoint: cp,
		afterKey: func(n int64) {
			if n == keys/2 {
				cancel()
			}
		}}
	var out, errb bytes.Buffer
	if err := runRestore(ctx, opts, &out, &errb); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted restore: %v\n%s", err, out.String())
	}
	var saved checkpointFile
	if err := json.Unmarshal(mustRead(t, cp), &saved); err != nil || saved.Complete || saved.Keys < keys/4 {
		t.Fatalf("checkpoint after Ctrl-C: %+v, %v", saved, err)
	}
	opts.afterKey, opts.resume = nil, true
	if err := runRestore(context.Background(), opts, &out, &errb); err != nil {
		t.Fatalf("resume: %v\n%s", err, out.String())
	}
	exp, err := verify.Snapshot(context.Background(), src, 0)
	if err != nil {
		t.Fatal(err)
	}
	vs := verify.Standalone(&redis.Options{Addr: dst.Addr})
	defer verify.Close(vs)
	if diffs, err := verify.Compare(context.Background(), vs, exp, verify.Options{}); err != nil || len(diffs) > 0 {
		t.Fatalf("%v %v", err, diffs[:min(len(diffs), 10)])
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRestoreCluster(t *testing.T) {
	fixture := sharedFile(t, "generated/redis-7.2/cluster.rdb")
	multi := sharedFile(t, "generated/redis-7.2/multidb.rdb")
	cl := redistest.StartCluster(t, 3)
	url := "redis://" + cl.Nodes[1].Addr
	code, stdout, stderr := runCLI(t, "restore", fixture, "--to", url)
	if code != exitOK || !strings.Contains(stderr, "cluster") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	vs := verify.Cluster(cl.Client(t))
	defer verify.Close(vs)
	compareFixture(t, vs, fixture, verify.Options{})

	code, _, stderr = runCLI(t, "restore", fixture, "--to", url+"/2")
	if code != exitUsage || !strings.Contains(stderr, "only database 0") {
		t.Fatalf("restore into database 2 of a cluster: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "restore", fixture, "--to", url, "--db-map", "0=1")
	if code != exitUsage || !strings.Contains(stderr, "only database 0") {
		t.Fatalf("--db-map 0=1 into a cluster: exit %d, %s", code, stderr)
	}
	// Keys of other databases are named, not lost silently.
	code, stdout, _ = runCLI(t, "restore", multi, "--to", url)
	if code != exitFailure || !strings.Contains(stdout, "a Redis Cluster has only database 0 (key of database 1; use --db-map 1=0)") {
		t.Fatalf("multidb into a cluster: exit %d\n%s", code, stdout)
	}
}

func TestProbeCommand(t *testing.T) {
	srv := redistest.Start(t, redistest.WithACLUser("limited on >lpw ~* +@all -sync -psync -config"))
	code, stdout, stderr := runCLI(t, "probe", "redis://"+srv.Addr, "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	var rep probeReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Probe == nil || rep.RDBVersion != 10 || rep.Mode != "standalone" || rep.Role != "master" || rep.ProtoMaxBulkLen != 512<<20 {
		t.Fatalf("%s", stdout)
	}
	code, stdout, _ = runCLI(t, "probe", "redis://limited:lpw@"+srv.Addr)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"permits RESTORE:     yes", "permits SYNC:        no", "permits CONFIG:      no", "proto-max-bulk-len:  unknown"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("probe output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "lpw") {
		t.Errorf("password printed:\n%s", stdout)
	}
	if code, _, _ := runCLI(t, "probe"); code != exitUsage {
		t.Errorf("probe without URL: exit %d", code)
	}
}
