package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/rdbkit/rdbkit/source"
	"github.com/urfave/cli/v2"
)

type fetchOptions struct {
	from          string // the source's URL
	output        string // FILE
	functionsOnly bool
	cluster       bool // every master of a Cluster, into the directory output
	passwordFile  string
	tls           source.TLSFiles

	// For tests: the progress period (0: 250ms on a terminal, 10s
	// otherwise) and the replication options' Logf destination.
	progressEvery time.Duration
	sourceOpts    source.Options
}

func fetchCommand() *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "fetch a snapshot (dump.rdb) from a live server over the replication protocol",
		ArgsUsage: " ",
		Description: "fetch connects to the source as a replica does (PSYNC, or SYNC on old servers), asking\n" +
			"for the snapshot only (REPLCONF rdb-only, Redis 7.0+), so that the source keeps no replica\n" +
			"state. It writes the RDB byte for byte to FILE.tmp while decoding it, and renames it to FILE\n" +
			"only once it decoded completely and its CRC64 checked out; on any failure no file is left.\n" +
			"The user needs the psync (or sync) and replconf commands. The password comes from the URL,\n" +
			"--password-file, or the REDISCLI_AUTH environment variable, and is never printed.\n" +
			"URL: redis://[[user]:password@]host[:port], rediss://... for TLS, unix:///path/to/socket.\n" +
			"With --cluster, URL is any node of a Redis Cluster and -o names a directory: every master is\n" +
			"fetched in parallel into DIR/<node id>.rdb, and DIR/manifest.json says which slots each file\n" +
			"holds; the files are renamed into place only once every snapshot arrived whole.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the source `URL`"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the snapshot to `FILE` (with --cluster: a directory)"},
			&cli.BoolFlag{Name: "functions-only", Usage: "fetch the function libraries only, no key (Redis 7.0+)"},
			&cli.StringFlag{Name: "password-file", Usage: "read the source's password from `FILE`"},
			&cli.StringFlag{Name: "tls-ca", Usage: "trust the CA certificates in `FILE` (PEM) for rediss://"},
			&cli.StringFlag{Name: "tls-cert", Usage: "client certificate `FILE` (PEM) for rediss://"},
			&cli.StringFlag{Name: "tls-key", Usage: "client private key `FILE` (PEM) for rediss://"},
			&cli.BoolFlag{Name: "tls-insecure", Usage: "do not verify the server's TLS certificate"},
			&cli.BoolFlag{Name: "cluster", Usage: "fetch every master of the Cluster that --from belongs to, into the directory -o"},
		},
		Action: func(c *cli.Context) error {
			const name = "fetch"
			switch {
			case c.NArg() > 0:
				return usagef(name, "unexpected argument %q (the source is --from URL)", c.Args().First())
			case c.String("from") == "":
				return usagef(name, "missing --from URL")
			case c.String("output") == "":
				return usagef(name, "missing -o FILE")
			case c.String("output") == "-":
				return usagef(name, "-o -: fetch writes a file (renamed into place once verified), not the standard output")
			}
			return runFetch(c.Context, fetchOptions{
				from:          c.String("from"),
				output:        c.String("output"),
				functionsOnly: c.Bool("functions-only"),
				cluster:       c.Bool("cluster"),
				passwordFile:  c.String("password-file"),
				tls: source.TLSFiles{
					CA:       c.String("tls-ca"),
					Cert:     c.String("tls-cert"),
					Key:      c.String("tls-key"),
					Insecure: c.Bool("tls-insecure"),
				},
			}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// fetchResult is what a fetch wrote.
type fetchResult struct {
	bytes     int64
	keys      int64
	functions int64
	elapsed   time.Duration
	sum       uint64
	checksum  rdb.ChecksumState
}

// runFetch fetches a snapshot from opts.from into opts.output (with
// --cluster, one per master into the directory opts.output). Progress
// goes to stderr, the summary to stdout. On any failure the temporary
// files are removed and the output is left as it was.
func runFetch(ctx context.Context, opts fetchOptions, stdout, stderr io.Writer) error {
	ep, sopts, err := fetchEndpoint(opts)
	if err != nil {
		return err
	}
	stderr = newLockedWriter(stderr) // notes of several nodes and the progress
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "fetch: "+format+"\n", args...)
	}
	if sopts.Logf == nil {
		sopts.Logf = logf
	}
	if ep.DB != 0 {
		logf("the snapshot holds every database; /%d in the URL is ignored", ep.DB)
	}
	quietRedisLogs() // the Cluster's layout is read with go-redis
	start := time.Now()
	if opts.cluster {
		return runFetchCluster(ctx, opts, ep, sopts, stdout, stderr)
	}
	warnIfClusterNode(ctx, ep, sopts, logf)
	tmp := opts.output + ".tmp"
	p := newFetchProgress(stderr, opts.progressEvery, 1, start)
	logf("%s -> %s", ep.Redacted(), opts.output)
	res, err := fetchTo(ctx, ep, sopts, tmp, p)
	p.stop()
	if err != nil {
		return err
	}
	if err := renameSynced(tmp, opts.output); err != nil {
		os.Remove(tmp)
		return err
	}
	res.elapsed = time.Since(start)
	return writeFetchSummary(stdout, stderr, opts.output, res)
}

// warnIfClusterNode says when ep is a node of a Redis Cluster, whose
// snapshot holds only the node's own slots. A server that refuses the
// question is not a reason to stop.
func warnIfClusterNode(ctx context.Context, ep source.Endpoint, sopts source.Options, logf func(string, ...any)) {
	masters, err := source.ClusterMasters(ctx, ep, sopts)
	if err == nil && len(masters) > 1 {
		logf("%s is one node of a Redis Cluster of %d masters: this snapshot holds its slots only (--cluster fetches every master)",
			ep.Redacted(), len(masters))
	}
}

// fetchTo fetches ep's snapshot into the new file tmp, counting into p.
// On success the file is complete, verified, synced and closed; on
// failure it is removed.
func fetchTo(ctx context.Context, ep source.Endpoint, sopts source.Options, tmp string, p *fetchProgress) (res fetchResult, err error) {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return res, fmt.Errorf("%s exists: another fetch is writing it, or one was killed (remove it then)", tmp)
	}
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	conn, err := source.Dial(ctx, ep, sopts)
	if err != nil {
		return res, wrapSourceErr(ep, err)
	}
	defer conn.Close()
	stopWatch := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopWatch()
	snap, err := conn.FullSync(ctx)
	if err != nil {
		return res, wrapSourceErr(ep, err)
	}
	p.addSize(snap.Size)
	res, err = copySnapshot(snap, f, p)
	if ctx.Err() != nil {
		return res, context.Cause(ctx)
	}
	if err != nil {
		return res, fmt.Errorf("fetch from %s: %w", ep.Redacted(), err)
	}
	conn.Close() // an rdb-only source drops the replica anyway
	if err := f.Sync(); err != nil {
		return res, err
	}
	return res, f.Close()
}

// wrapSourceErr names the source in a refusal of the handshake.
func wrapSourceErr(ep source.Endpoint, err error) error {
	var se *source.ServerError
	if errors.As(err, &se) {
		return fmt.Errorf("fetch from %s: %w", ep.Redacted(), err)
	}
	return err
}

// fetchEndpoint parses the URL and the credentials and TLS options.
func fetchEndpoint(opts fetchOptions) (source.Endpoint, source.Options, error) {
	sopts := opts.sourceOpts
	sopts.RDBOnly = true
	sopts.FunctionsOnly = opts.functionsOnly
	ep, err := source.ParseEndpoint(opts.from)
	if err != nil {
		return ep, sopts, usagef("fetch", "--from: %v", err)
	}
	if err := ep.LoadPassword(opts.passwordFile, source.EnvPassword); err != nil {
		return ep, sopts, err
	}
	if !opts.tls.IsZero() {
		if !ep.TLS {
			return ep, sopts, usagef("fetch", "--tls-* options need a rediss:// URL")
		}
		if sopts.TLS, err = opts.tls.Config(); err != nil {
			return ep, sopts, err
		}
	}
	return ep, sopts, nil
}

// copySnapshot writes the snapshot to w byte for byte while decoding it,
// and returns once the RDB ended soundly and the snapshot with it.
func copySnapshot(snap *source.Snapshot, w io.Writer, p *fetchProgress) (fetchResult, error) {
	var res fetchResult
	tee := &teeReader{r: snap, w: w, total: &p.bytes}
	r := rdb.NewReader(tee)
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if tee.werr != nil {
			return res, tee.werr
		}
		if err != nil {
			return res, err
		}
		switch e.Kind {
		case rdb.KindKey:
			res.keys++
			p.keys.Add(1)
		case rdb.KindFunction:
			res.functions++
		}
	}
	// The RDB ended at its checksum: so must the snapshot. (The Reader
	// may have read past the checksum into its buffer, through the tee.)
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return res, err
	}
	if tee.werr != nil {
		return res, tee.werr
	}
	res.bytes = tee.n
	if extra := res.bytes - r.Offset(); extra != 0 {
		return res, fmt.Errorf("the source sent %d bytes after the end of the RDB", extra)
	}
	_, res.sum, res.checksum = r.Checksum()
	if res.checksum != rdb.ChecksumOK && res.checksum != rdb.ChecksumDisabled && res.checksum != rdb.ChecksumNone {
		return res, fmt.Errorf("checksum %s", res.checksum)
	}
	return res, nil
}

// A teeReader writes to w what it reads from r, and keeps w's error apart
// so that a full disk is not reported as a decoding error. It counts the
// bytes in n and adds them to total.
type teeReader struct {
	r     io.Reader
	w     io.Writer
	n     int64
	total *atomic.Int64
	werr  error
}

func (t *teeReader) Read(p []byte) (int, error) {
	if t.werr != nil {
		return 0, t.werr
	}
	n, err := t.r.Read(p)
	if n > 0 {
		if _, werr := t.w.Write(p[:n]); werr != nil {
			t.werr = werr
			return n, werr
		}
		t.n += int64(n)
		t.total.Add(int64(n))
	}
	return n, err
}

// renameSynced renames the synced file tmp to name, then syncs the
// directory so that the rename survives a crash.
func renameSynced(tmp, name string) error {
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(name)); err == nil {
		_ = d.Sync() // not supported everywhere; the file itself is synced
		d.Close()
	}
	return nil
}

func writeFetchSummary(stdout, stderr io.Writer, name string, res fetchResult) error {
	sum := "checksum ok (crc64 " + fmt.Sprintf("%016x", res.sum) + ")"
	switch res.checksum {
	case rdb.ChecksumDisabled:
		sum = "checksum not verified (the source has rdbchecksum no)"
		fmt.Fprintln(stderr, "fetch: warning: the source writes no checksum (rdbchecksum no): the file is decoded but not verified")
	case rdb.ChecksumNone:
		sum = "no checksum (RDB version < 5)"
	}
	keys := strconv.FormatInt(res.keys, 10) + " keys"
	if res.functions > 0 {
		keys += ", " + strconv.FormatInt(res.functions, 10) + " function libraries"
	}
	_, err := fmt.Fprintf(stdout, "fetched %s: %d bytes (%s), %s, %s, %s\n",
		name, res.bytes, byteSize(res.bytes), keys, res.elapsed.Round(time.Millisecond), sum)
	return err
}

// fetchProgress prints the progress of a fetch on stderr: a line redrawn
// in place on a terminal, plain lines otherwise.
type fetchProgress struct {
	bytes atomic.Int64
	keys  atomic.Int64

	// The total size is known once every snapshot announced its size
	// (waiting reaches 0), unless one is diskless (unknown).
	size    atomic.Int64
	waiting atomic.Int64
	unknown atomic.Bool

	start time.Time
	stop  func() // ends the output
}

// newFetchProgress starts printing the progress of the fetch of snapshots
// snapshots.
func newFetchProgress(w io.Writer, every time.Duration, snapshots int, start time.Time) *fetchProgress {
	p := &fetchProgress{start: start}
	p.waiting.Store(int64(snapshots))
	p.stop = startLiveProgress(w, every, p.line)
	return p
}

// addSize counts the size of a snapshot; -1: unknown (diskless).
func (p *fetchProgress) addSize(size int64) {
	if size < 0 {
		p.unknown.Store(true)
	} else {
		p.size.Add(size)
	}
	p.waiting.Add(-1)
}

func (p *fetchProgress) line() string {
	n := p.bytes.Load()
	if n == 0 && p.waiting.Load() > 0 {
		return "fetch: waiting for the snapshot (the source is saving it)"
	}
	line := "fetch: " + byteSize(n)
	if size := p.size.Load(); p.waiting.Load() <= 0 && !p.unknown.Load() {
		pct := 100.0
		if size > 0 {
			pct = float64(n) * 100 / float64(size)
		}
		line += fmt.Sprintf(" of %s (%.0f%%)", byteSize(size), pct)
	}
	if secs := time.Since(p.start).Seconds(); secs > 0 {
		line += ", " + byteSize(int64(float64(n)/secs)) + "/s"
	}
	return line + ", " + strconv.FormatInt(p.keys.Load(), 10) + " keys"
}
