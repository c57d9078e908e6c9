package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/rdbkit/rdbkit/rdb"
)

// TestFetchClusterIntegration fetches every master of a 3-master Cluster
// and checks that each file holds exactly its master's keys and slots,
// that the manifest covers every slot once, and that each file loads into
// a server equal to its master.
func TestFetchClusterIntegration(t *testing.T) {
	cl := redistest.StartCluster(t, 3, redistest.WithArgs("--repl-diskless-sync-delay", "0"))
	ctx := context.Background()
	cc := cl.Client(t)
	const n = 600
	for i := range n {
		k := fmt.Sprintf("k:%d", i)
		var err error
		switch i % 4 {
		case 0:
			err = cc.Set(ctx, k, strings.Repeat("v", i%50), 0).Err()
		case 1:
			err = cc.Set(ctx, k, i, time.Duration(i+1)*time.Hour).Err()
		case 2:
			err = cc.RPush(ctx, k, "a", i).Err()
		case 3:
			err = cc.HSet(ctx, k, "f", i).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	seed := "redis://" + cl.Nodes[1].Addr

	t.Run("every master", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "snap")
		stdout, stderr, err := runFetchCLI(t, "--cluster", "--from", seed, "-o", dir)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if !strings.Contains(stdout, "fetched 3 masters into "+dir) {
			t.Errorf("summary:\n%s", stdout)
		}
		mf := readManifest(t, dir)
		if len(mf.Nodes) != 3 || mf.Source != seed {
			t.Fatalf("manifest: %+v", mf)
		}
		owner := make([]int, rewrite.Slots)
		total := 0
		for i, node := range mf.Nodes {
			for _, r := range node.Slots {
				for s := r[0]; s <= r[1]; s++ {
					if owner[s] != 0 {
						t.Fatalf("slot %d in two nodes", s)
					}
					owner[s] = i + 1
				}
			}
			file := filepath.Join(dir, node.File)
			keys := fileKeys(t, file)
			if int64(len(keys)) != node.Keys {
				t.Errorf("%s: %d keys, manifest says %d", node.File, len(keys), node.Keys)
			}
			for _, k := range keys {
				if owner[rewrite.Slot([]byte(k))] != i+1 {
					t.Errorf("%s: key %q of slot %d is not in the node's slots %v", node.File, k, rewrite.Slot([]byte(k)), node.Slots)
				}
			}
			total += len(keys)
			idx := slices.IndexFunc(cl.Nodes, func(s *redistest.Server) bool { return s.Addr == node.Addr })
			if idx < 0 {
				t.Fatalf("manifest names %s, not a node", node.Addr)
			}
			compareLoaded(t, cl.Nodes[idx], file)
		}
		if slices.Contains(owner, 0) {
			t.Errorf("slot %d in no node", slices.Index(owner, 0))
		}
		if total != n {
			t.Errorf("%d keys in the files, want %d", total, n)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 4 {
			t.Errorf("%d files in %s, want 3 snapshots and the manifest", len(entries), dir)
		}
	})

	t.Run("one node without --cluster", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "one.rdb")
		_, stderr, err := runFetchCLI(t, "--from", seed, "-o", out)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if !strings.Contains(stderr, "one node of a Redis Cluster of 3 masters") {
			t.Errorf("no warning that the file holds one node's slots:\n%s", stderr)
		}
	})

	t.Run("standalone", func(t *testing.T) {
		src := startFetchSource(t)
		_, _, err := runFetchCLI(t, "--cluster", "--from", "redis://"+src.Addr, "-o", t.TempDir())
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "not a Redis Cluster node") {
			t.Errorf("error %v, want a usage error saying it is not a Cluster node", err)
		}
	})

	// Last: a master that is down fails the fetch and leaves no file.
	t.Run("master down", func(t *testing.T) {
		cl.Nodes[2].Kill()
		dir := t.TempDir()
		_, _, err := runFetchCLI(t, "--cluster", "--from", seed, "-o", dir)
		if err == nil || !strings.Contains(err.Error(), cl.Nodes[2].Addr) {
			t.Fatalf("error %v, want one naming %s", err, cl.Nodes[2].Addr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("files left behind: %v", entries)
		}
	})
}

func readManifest(t *testing.T, dir string) fetchManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	var mf fetchManifest
	if err := json.Unmarshal(b, &mf); err != nil {
		t.Fatal(err)
	}
	return mf
}

// fileKeys returns the keys of an RDB file, checking its checksum.
func fileKeys(t *testing.T, file string) []string {
	t.Helper()
	keys, st := fixtures.Keys(t, file)
	if st != rdb.ChecksumOK {
		t.Fatalf("%s: checksum %v", file, st)
	}
	return keys
}
