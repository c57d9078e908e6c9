package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/urfave/cli/v2"
)

type restoreOptions struct {
	file   string
	dest   destOptions
	filter filterOptions
	now    time.Time // for --no-expired
	writeOptions
	dryRun      bool
	checkpoint  string
	resume      bool
	json        bool
	failedKeys  string // --failed-keys FILE
	metricsAddr string // --metrics-addr HOST:PORT

	// For tests: the progress period (0: 250 ms on a terminal, 10 s
	// otherwise), a hook called after each key given to the loader, and
	// one called at the end of the run (phase done) before the metrics
	// server stops, with the address it listens on.
	progressEvery time.Duration
	afterKey      func(keys int64)
	atEnd         func(metricsAddr string)
}

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "write the keys of a dump.rdb into a live Redis or Redis Cluster",
		ArgsUsage: "FILE --to URL",
		Description: "restore sends each key with RESTORE key <expiry> <payload> ABSTTL [IDLETIME n | FREQ n],\n" +
			"pipelined over several connections. With --mode auto (the default) a payload goes as it is\n" +
			"when the destination knows its encoding (with the destination's RDB version in its footer),\n" +
			"is transcoded to an encoding it knows when it does not, and the key is written with commands\n" +
			"(RPUSH, SADD, ZADD, HSET, XADD, ...; big keys under a temporary key then RENAMEd into place)\n" +
			"where no payload can carry it. What could not be carried (hash field TTLs before Redis 7.4,\n" +
			"...) is reported. On a standalone server, strings without expiry or LRU/LFU hint (up to\n" +
			"16 KiB) go many to one MSETNX (MSET with --replace), which costs the server less than a\n" +
			"RESTORE each; --mode restore sends them by RESTORE too. LZF-compressed blobs (listpacks,\n" +
			"quicklist nodes, ...) go plain where that at most doubles them, which spares the server\n" +
			"their decompression, unless --keep-compressed.\n" +
			"A Redis Cluster is detected: keys go to the node owning their slot.\n" +
			"Existing keys are left alone and reported as conflicts unless --replace or --skip-existing.\n" +
			"Keys whose expiry has passed are skipped and counted. With --checkpoint the offset of the\n" +
			"last key acknowledged with every key before it is saved every second and on Ctrl-C, and\n" +
			"--resume continues from it. --metrics-addr serves Prometheus metrics (rdbkit_restore_*: phase,\n" +
			"keys and bytes read and written, errors by class) on HOST:PORT/metrics while restore runs.\n" +
			"Exit status: 0 when every selected key was written or deliberately skipped, 1 otherwise\n" +
			"(the keys are listed).\n" +
			"URL: redis://[[user]:password@]host[:port][/db], rediss://... for TLS, unix:///path/to/socket.\n" +
			"The password comes from the URL, --password-file or $REDISCLI_AUTH, and is never printed.\n" +
			"A database in the URL receives every key (unless --db-map names its database).",
		Flags: slices.Concat([]cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the destination `URL`"},
		}, writeFlags(true, nil,
			&cli.BoolFlag{Name: "dry-run", Usage: "write nothing: decode, route and count, and report what would go wrong"},
			&cli.StringFlag{Name: "checkpoint", Usage: "save progress to `FILE` (atomically, every second and on Ctrl-C)"},
			&cli.BoolFlag{Name: "resume", Usage: "continue from the --checkpoint FILE of an interrupted run"},
			&cli.BoolFlag{Name: "json", Usage: "write the summary as JSON"},
		), []cli.Flag{
			&cli.StringFlag{Name: "failed-keys", Usage: "write every key not written (failed or conflicting) to `FILE`, as JSON Lines"},
			metricsFlag(),
		}, destFlags(), filterFlags()),
		Action: func(c *cli.Context) error {
			const name = "restore"
			file, err := fileArg(c)
			if err != nil {
				return err
			}
			opts := restoreOptions{
				file:       file,
				dest:       destOptionsFrom(c, c.String("to")),
				filter:     filterOptionsFrom(c),
				now:        time.Now(),
				dryRun:     c.Bool("dry-run"),
				checkpoint: c.String("checkpoint"),
				resume:     c.Bool("resume"),
				json:       c.Bool("json"),
				failedKeys: c.String("failed-keys"),
			}
			if opts.dest.url == "" {
				return usagef(name, "missing --to URL")
			}
			if opts.writeOptions, err = writeOptionsFrom(c, name); err != nil {
				return err
			}
			if opts.metricsAddr, err = metricsAddrFrom(c, name); err != nil {
				return err
			}
			if opts.resume && opts.checkpoint == "" {
				return usagef(name, "--resume needs --checkpoint FILE")
			}
			if opts.checkpoint != "" && file == "-" {
				return usagef(name, "--checkpoint needs a FILE, not the standard input")
			}
			return runRestore(c.Context, opts, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// restoreRun is one run of restore: its input, loader and counters.
type restoreRun struct {
	opts   restoreOptions
	in     *rdbInput
	l      *loader.Loader
	dest   string // the destination's URL, redacted
	start  time.Time
	offset atomic.Int64 // input offset of the last record read
	read   atomic.Int64 // keys read (filtered and resumed included)
	phase  atomic.Int32 // restoreReading, ...

	filtered  atomic.Int64
	resumed   atomic.Int64 // keys skipped: written by the interrupted run
	functions int64        // function records read
	cp        *restoreCheckpoint
	decodeErr error
}

// runRestore restores opts.file into the destination. The summary goes to
// stdout, progress and notes to stderr.
func runRestore(ctx context.Context, opts restoreOptions, stdout, stderr io.Writer) error {
	const name = "restore"
	f, err := newFilter(name, opts.filter)
	if err != nil {
		return err
	}
	ro, ep, err := opts.dest.redisOptions(name)
	if err != nil {
		return err
	}
	lo := opts.loaderOptions(ro, ep)
	lo.DryRun = opts.dryRun
	if opts.cluster && (ep.DB != 0 || hasNonZero(opts.filter.dbs)) {
		return usagef(name, "a Redis Cluster has only database 0: use --db-map N=0 for the keys of another database")
	}
	in, err := openRDB(opts.file, int(opts.maxBuffer))
	if err != nil {
		return err
	}
	defer in.Close()
	run := &restoreRun{opts: opts, in: in, dest: ep.Redacted(), start: time.Now()}
	if opts.checkpoint != "" {
		if run.cp, err = openCheckpoint(opts.checkpoint, opts.file, run.dest, opts.resume); err != nil {
			return err
		}
		if opts.resume {
			lo.InDoubt = run.cp.inDoubt
		}
	}
	if opts.failedKeys != "" {
		fk, err := newFailedKeys(opts.failedKeys)
		if err != nil {
			return err
		}
		defer fk.close(stderr)
		lo.OnKeyError = fk.add
	}
	quietRedisLogs()
	l, err := loader.New(ctx, lo)
	if errors.Is(err, loader.ErrClusterDB) {
		return usagef(name, "%s: %v: use --db-map N=0 for the keys of database N", run.dest, err)
	}
	if err != nil {
		return fmt.Errorf("restore: %s: %w", run.dest, err)
	}
	run.l = l
	info := l.Info()
	topo := "standalone"
	if l.IsCluster() {
		topo = "cluster"
		if ep.DB != 0 || hasNonZero(opts.filter.dbs) {
			l.Close()
			return usagef(name, "%s is a Redis Cluster, which has only database 0: use --db-map N=0", run.dest)
		}
	}
	fmt.Fprintf(stderr, "restore: %s -> %s (%s %s, %s, %s)\n", opts.file, run.dest, info.Server, info.Version, l.Target(), topo)
	if opts.resume && run.cp.prev != nil {
		fmt.Fprintf(stderr, "restore: resuming after offset %d (%d keys settled before)\n", run.cp.prev.Offset, run.cp.prev.Keys)
	}

	ms, err := run.serveMetrics(stderr)
	if err != nil {
		l.Close()
		return err
	}
	defer ms.Close()

	stopProgress := run.startProgress(stderr)
	stopCheckpoint := run.startCheckpoints(stderr)
	runErr := run.readAll(ctx, f)
	run.phase.Store(restoreWriting)
	stats, fatal := l.Close()
	stopProgress()
	interrupted := errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded)
	complete := runErr == nil && fatal == nil
	if err := stopCheckpoint(complete); err != nil {
		fmt.Fprintf(stderr, "restore: %v\n", err)
	}
	rep := run.report(&stats, fatal, runErr, complete)
	run.phase.Store(restoreDone)
	if opts.atEnd != nil {
		opts.atEnd(ms.Addr())
	}
	if err := rep.write(stdout, opts.json); err != nil {
		return err
	}
	switch {
	case interrupted:
		return runErr
	case runErr != nil || fatal != nil:
		return &reportedError{errors.Join(runErr, fatal)}
	case !stats.OK():
		return &reportedError{fmt.Errorf("%d keys not written", stats.Failed+stats.Conflicts)}
	}
	return nil
}

func hasNonZero(dbs []int) bool {
	for _, d := range dbs {
		if d != 0 {
			return true
		}
	}
	return false
}

// readAll reads the file and gives its keys, functions and scripts to the
// loader. It returns a decoding error, ctx's error, or the loader's fatal
// error.
func (run *restoreRun) readAll(ctx context.Context, f *filter) error {
	r, l := run.in.r, run.l
	var funcs []string
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := r.Next()
		if err == io.EOF {
			run.offset.Store(r.Offset())
			break
		}
		if err != nil {
			run.decodeErr = run.in.wrap(err)
			return run.decodeErr
		}
		run.offset.Store(e.Offset)
		switch e.Kind {
		case rdb.KindKey:
			n := run.read.Add(1)
			switch {
			case !f.match(e, run.opts.now):
				run.filtered.Add(1)
			case run.cp != nil && run.cp.skip(e.Offset):
				run.resumed.Add(1)
			default:
				err = l.Write(ctx, e)
			}
			if run.opts.afterKey != nil {
				run.opts.afterKey(n)
			}
		case rdb.KindFunction:
			run.functions++
			if run.opts.noFuncs || run.cp != nil && run.cp.skip(e.Offset) {
				continue
			}
			funcs = append(funcs, "FUNCTION")
			err = l.Function(ctx, e.Aux.Name, e.Aux.Value)
		case rdb.KindAux:
			if string(e.Aux.Name) == "lua" && !run.opts.noFuncs && (run.cp == nil || !run.cp.skip(e.Offset)) {
				funcs = append(funcs, "SCRIPT")
				err = l.Script(ctx, e.Aux.Value)
			}
		}
		if err != nil {
			return err
		}
	}
	if run.opts.dryRun {
		l.FinishPlan(ctx, funcs...)
	}
	return nil
}

// startProgress prints progress on stderr until the returned function is
// called: a line rewritten in place on a terminal, else a line every 10 s.
func (run *restoreRun) startProgress(stderr io.Writer) func() {
	return startLiveProgress(stderr, run.opts.progressEvery, run.progressLine)
}

// progressLine describes the progress: bytes of the file, keys, keys/s
// and the estimated time left.
func (run *restoreRun) progressLine() string {
	st := run.l.Stats()
	el := time.Since(run.start).Seconds()
	off := run.offset.Load()
	keys := st.Done()
	line := "restore: " + byteSize(off)
	eta := ""
	if size := run.in.size; size > 0 {
		line += fmt.Sprintf(" / %s (%d%%)", byteSize(size), off*100/max(size, 1))
		if off > 0 && el > 0 {
			left := float64(size-off) / (float64(off) / el)
			eta = ", ETA " + (time.Duration(left) * time.Second).Round(time.Second).String()
		}
	}
	rate := 0.0
	if el > 0 {
		rate = float64(keys) / el
	}
	line += fmt.Sprintf(", %d keys written or settled (%d read), %.0f keys/s", keys, run.read.Load(), rate)
	if st.Failed+st.Conflicts > 0 {
		line += fmt.Sprintf(", %d failed, %d conflicts", st.Failed, st.Conflicts)
	}
	return line + eta
}
