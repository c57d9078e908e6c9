package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/rdbkit/rdbkit/source"
)

// manifestName is the name of the manifest that fetch --cluster writes
// beside the snapshots.
const manifestName = "manifest.json"

// A fetchManifest describes the snapshots of a Cluster that fetch
// --cluster wrote: which file holds which master's slots.
type fetchManifest struct {
	Source  string         `json:"source"`  // the seed's URL, redacted
	Fetched string         `json:"fetched"` // when the fetch ended, RFC 3339 UTC
	Nodes   []manifestNode `json:"nodes"`   // in the order of their first slot
}

type manifestNode struct {
	ID    string   `json:"id"`    // the node ID
	Addr  string   `json:"addr"`  // host:port
	File  string   `json:"file"`  // the snapshot, relative to the manifest: "<id>.rdb"
	Slots [][2]int `json:"slots"` // inclusive slot ranges
	Bytes int64    `json:"bytes"`
	Keys  int64    `json:"keys"`
	CRC64 string   `json:"crc64,omitempty"` // 16 hex digits; absent when the source writes none
}

// runFetchCluster fetches every master of the Cluster that ep belongs to,
// in parallel, into the directory opts.output: "<node id>.rdb" per master
// and manifest.json. The files are renamed into place only once every
// snapshot arrived whole and verified; on any failure none is left.
func runFetchCluster(ctx context.Context, opts fetchOptions, ep source.Endpoint, sopts source.Options, stdout, stderr io.Writer) error {
	start := time.Now()
	masters, err := source.ClusterMasters(ctx, ep, sopts)
	if errors.Is(err, source.ErrNotCluster) {
		return usagef("fetch", "--cluster: %s is not a Redis Cluster node (fetch it without --cluster)", ep.Redacted())
	}
	if err != nil {
		return err
	}
	dir := opts.output
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sopts.Logf("%s: %d masters -> %s", ep.Redacted(), len(masters), dir)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := newFetchProgress(stderr, opts.progressEvery, len(masters), start)
	results := make([]fetchResult, len(masters))
	errs := make([]error, len(masters))
	var wg sync.WaitGroup
	for i, m := range masters {
		wg.Go(func() {
			results[i], errs[i] = fetchTo(ctx, m.Endpoint, sopts, nodeFile(dir, m)+".tmp", p)
			if errs[i] != nil {
				cancel(errs[i])
			}
		})
	}
	wg.Wait()
	p.stop()
	if err := firstNodeError(ctx, errs); err != nil {
		for _, m := range masters {
			os.Remove(nodeFile(dir, m) + ".tmp")
		}
		return err
	}

	mf := fetchManifest{Source: ep.Redacted(), Fetched: time.Now().UTC().Format(time.RFC3339)}
	for i, m := range masters {
		if err := renameSynced(nodeFile(dir, m)+".tmp", nodeFile(dir, m)); err != nil {
			return err
		}
		mf.Nodes = append(mf.Nodes, manifestEntry(m, results[i]))
	}
	if err := writeManifest(filepath.Join(dir, manifestName), &mf); err != nil {
		return err
	}
	var total fetchResult
	for i, m := range masters {
		results[i].elapsed = time.Since(start)
		if err := writeFetchSummary(stdout, stderr, nodeFile(dir, m), results[i]); err != nil {
			return err
		}
		total.bytes += results[i].bytes
		total.keys += results[i].keys
	}
	_, err = fmt.Fprintf(stdout, "fetched %d masters into %s: %d bytes (%s), %d keys, %s; slots in %s\n",
		len(masters), dir, total.bytes, byteSize(total.bytes), total.keys,
		time.Since(start).Round(time.Millisecond), filepath.Join(dir, manifestName))
	return err
}

// nodeFile is the snapshot of master m in dir.
func nodeFile(dir string, m source.Master) string {
	return filepath.Join(dir, m.ID+".rdb")
}

// firstNodeError returns the error that stopped the fetch: the first that
// is not only the cancellation another node's failure caused.
func firstNodeError(ctx context.Context, errs []error) error {
	cause := context.Cause(ctx)
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			if cause != nil {
				return cause
			}
			return err
		}
	}
	return nil
}

func manifestEntry(m source.Master, res fetchResult) manifestNode {
	n := manifestNode{
		ID: m.ID, Addr: m.Endpoint.Addr, File: m.ID + ".rdb", Slots: m.Slots,
		Bytes: res.bytes, Keys: res.keys,
	}
	if res.checksum == rdb.ChecksumOK {
		n.CRC64 = fmt.Sprintf("%016x", res.sum)
	}
	return n
}

// writeManifest writes mf to name atomically.
func writeManifest(name string, mf *fetchManifest) error {
	b, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameSynced(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
