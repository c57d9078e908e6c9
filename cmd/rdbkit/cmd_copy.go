package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rdbkit/rdbkit/internal/compare"
	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/source"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
)

type copyOptions struct {
	src    liveSourceOptions
	dest   destOptions // --to
	output string      // -o FILE
	filter filterOptions
	now    time.Time // for --no-expired
	writeOptions
	verify      bool
	tolerance   time.Duration
	json        bool
	metricsAddr string // --metrics-addr HOST:PORT

	// For tests: the progress period (0: 250 ms on a terminal, 10 s
	// otherwise), a hook called after each key read, and one called at
	// the end of the run (phase done) before the metrics server stops,
	// with the address it listens on.
	progressEvery time.Duration
	afterKey      func(keys int64)
	atEnd         func(metricsAddr string)
}

func copyCommand() *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy the keys of a live Redis into another one, or into a dump.rdb, with SCAN and DUMP",
		ArgsUsage: "--from URL (--to URL | -o FILE)",
		Description: "copy reads the source as an ordinary client: SCAN (with MATCH and TYPE when --match and\n" +
			"--type allow, database by database, every master of a Cluster in parallel), then DUMP and\n" +
			"PTTL (and OBJECT IDLETIME / FREQ with --keep-idle / --keep-freq) in pipelines of up to\n" +
			"--scan-batch keys, several in flight. --rate bounds the keys read per second, so that a\n" +
			"production source is not starved; by default at most 4 pipelines per master are in flight.\n" +
			"With --to the keys are written as restore writes them (RESTORE ... ABSTTL, transcoded for\n" +
			"an older destination, or commands; the same --mode, --replace, --skip-existing, --db-map).\n" +
			"With -o FILE they are written into a valid RDB file of the source's RDB version (aux\n" +
			"fields, function libraries, per-database sections with exact counts, expiries, CRC64),\n" +
			"through spool files beside FILE, and renamed into place once complete.\n" +
			"A scan is not a point-in-time snapshot: keys written during the copy may or may not be\n" +
			"copied, and a key deleted between SCAN and DUMP is counted as vanished, not as an error.\n" +
			"--verify compares the source with the copy once the copy is done (values by content, TTLs\n" +
			"within --ttl-tolerance); keys changed on the source since then show as differences.\n" +
			"--metrics-addr serves Prometheus metrics (rdbkit_copy_*: phase, keys and bytes read and written,\n" +
			"vanished keys, errors by class) on HOST:PORT/metrics while copy runs.\n" +
			"Exit status: 0 when every key read was written or deliberately skipped (and, with --verify,\n" +
			"the copy is equal), 1 otherwise.\n" +
			"The destination's password comes from its URL, --password-file or $REDISCLI_AUTH; the\n" +
			"source's from its URL, --from-password-file or $" + envFromPassword + ".",
		Flags: slices.Concat([]cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the source `URL`"},
			&cli.StringFlag{Name: "to", Usage: "the destination `URL`"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write a dump.rdb to `FILE` instead"},
		}, writeFlags(false, map[string]string{
			"workers":      "`N` connections per destination node",
			"pipeline":     "`N` commands per round trip to the destination",
			"no-functions": "do not copy function libraries",
		}), []cli.Flag{
			&cli.BoolFlag{Name: "keep-idle", Usage: "read each key's OBJECT IDLETIME and keep it (needs an LRU or no maxmemory-policy)"},
			&cli.BoolFlag{Name: "keep-freq", Usage: "read each key's OBJECT FREQ and keep it (needs an LFU maxmemory-policy)"},
			&cli.BoolFlag{Name: "verify", Usage: "compare the source with the copy at the end"},
			&cli.DurationFlag{Name: "ttl-tolerance", Value: compare.DefaultTolerance, Usage: "--verify: expiries this far apart (`DURATION`) are equal"},
			&cli.BoolFlag{Name: "json", Usage: "write the summary as JSON"},
			metricsFlag(),
		}, destFlags(), liveSourceFlags(), filterFlags()),
		Action: func(c *cli.Context) error {
			const name = "copy"
			if c.NArg() > 0 {
				return usagef(name, "unexpected argument %q (the source is --from URL)", c.Args().First())
			}
			opts := copyOptions{
				src: liveSourceFrom(c, c.String("from")), dest: destOptionsFrom(c, c.String("to")),
				output: c.String("output"), filter: filterOptionsFrom(c), now: time.Now(),
				verify: c.Bool("verify"), tolerance: c.Duration("ttl-tolerance"), json: c.Bool("json"),
			}
			opts.src.idle, opts.src.freq = c.Bool("keep-idle"), c.Bool("keep-freq")
			switch {
			case opts.src.conn.url == "":
				return usagef(name, "missing --from URL")
			case (opts.dest.url == "") == (opts.output == ""):
				return usagef(name, "want one of --to URL and -o FILE")
			case opts.output == "-":
				return usagef(name, "-o -: copy writes a file (renamed into place once complete), not the standard output")
			case opts.src.idle && opts.src.freq:
				return usagef(name, "--keep-idle and --keep-freq exclude each other (RESTORE takes one)")
			}
			var err error
			if opts.writeOptions, err = writeOptionsFrom(c, name); err != nil {
				return err
			}
			if opts.metricsAddr, err = metricsAddrFrom(c, name); err != nil {
				return err
			}
			if err := opts.src.check(name); err != nil {
				return err
			}
			return runCopy(c.Context, opts, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// copyRun is one run of copy.
type copyRun struct {
	opts     copyOptions
	f        *filter
	s        *source.Scanner
	l        *loader.Loader // --to
	file     *copyFile      // -o
	src      source.Endpoint
	dest     string // redacted URL, or the file
	start    time.Time
	read     atomic.Int64 // keys read from the source that passed the filter
	filtered atomic.Int64
	phase    atomic.Int32 // copyReading, ...
	// -o FILE: the keys spooled and their payload bytes.
	fileKeys  atomic.Int64
	fileBytes atomic.Int64
	libs      []source.Library
	funcErr   error
}

// runCopy copies the source into the destination or the file. The
// summary goes to stdout, progress and notes to stderr.
func runCopy(ctx context.Context, opts copyOptions, stdout, stderr io.Writer) error {
	const name = "copy"
	f, err := newFilter(name, opts.filter)
	if err != nil {
		return err
	}
	sro, sep, err := opts.src.redisOptions(name)
	if err != nil {
		return err
	}
	run := &copyRun{opts: opts, f: f, src: sep, dest: opts.output, start: time.Now()}
	var lo loader.Options
	if opts.output == "" {
		if lo, err = run.loaderOptions(); err != nil {
			return err
		}
	}
	so := opts.src.scanOptions(sro, sep, opts.filter, f)
	if run.s, err = openLiveScanner(ctx, name, so, sep); err != nil {
		return err
	}
	defer run.s.Close()
	info := run.s.Info()
	if opts.output != "" {
		run.file = newCopyFile(opts.output)
		defer run.file.abort()
	} else {
		if run.l, err = loader.New(ctx, lo); err != nil {
			if errors.Is(err, loader.ErrClusterDB) {
				return usagef(name, "%s: %v: use --db-map N=0 for the keys of database N", run.dest, err)
			}
			return fmt.Errorf("copy: %s: %w", run.dest, err)
		}
	}
	fmt.Fprintf(stderr, "copy: %s (%s %s, %s) -> %s\n", sep.Redacted(), info.Server, info.Version, copyTopology(info.Cluster, len(info.Masters)), run.dest)
	ms, err := run.serveMetrics(stderr)
	if err != nil {
		if run.l != nil {
			run.l.Close()
		}
		return err
	}
	defer ms.Close()
	stop := run.startProgress(stderr)
	runErr := run.readAll(ctx)
	run.phase.Store(copyWriting)
	rep := &copyReport{}
	var stats loader.Stats
	var fatal error
	if run.l != nil {
		stats, fatal = run.l.Close()
	}
	stop()
	run.s.Close()
	if run.file != nil && runErr == nil {
		res, err := run.file.finish(info, run.libs, time.Now())
		runErr = err
		rep.File = &res
	}
	run.report(rep, &stats, firstErr(runErr, fatal))
	if opts.verify && rep.Complete {
		run.phase.Store(copyVerifying)
		fmt.Fprintf(stderr, "copy: verifying\n")
		rep.Verify = run.verifyCopy(ctx, sro, sep)
		rep.OK = rep.OK && rep.Verify.Equal
	}
	run.phase.Store(copyDone)
	if opts.atEnd != nil {
		opts.atEnd(ms.Addr())
	}
	if err := rep.write(stdout, opts.json); err != nil {
		return err
	}
	switch {
	case errors.Is(runErr, context.Canceled) && ctx.Err() != nil:
		return runErr
	case !rep.OK:
		return &reportedError{errors.New("copy not complete")}
	}
	return nil
}

// loaderOptions returns the loader's options for the destination, and
// sets run.dest.
func (run *copyRun) loaderOptions() (loader.Options, error) {
	o := run.opts
	ro, ep, err := o.dest.redisOptions("copy")
	if err != nil {
		return loader.Options{}, err
	}
	run.dest = ep.Redacted()
	return o.loaderOptions(ro, ep), nil
}

// readAll reads the source's keys and function libraries and gives them
// to the loader or the file.
func (run *copyRun) readAll(ctx context.Context) error {
	filtered := func() { run.filtered.Add(1) }
	err := scanLive(run.s, run.f, run.opts.now, filtered, func(e *source.ScanEntry) error {
		n := run.read.Add(1)
		var err error
		if run.l != nil {
			err = run.l.Write(ctx, &e.Entry)
		} else if err = run.file.add(e); err == nil {
			run.fileKeys.Add(1)
			run.fileBytes.Add(int64(len(e.Payload)))
		}
		if run.opts.afterKey != nil {
			run.opts.afterKey(n)
		}
		return err
	})
	if err != nil || run.opts.noFuncs {
		return err
	}
	run.libs, run.funcErr = run.s.Functions(ctx)
	if run.l != nil {
		for _, lib := range run.libs {
			if err := run.l.Function(ctx, []byte(lib.Name), lib.Code); err != nil {
				return err
			}
		}
	}
	return nil
}

// verifyCopy compares the source with what was written: the destination
// with the source, or, for -o, the file with the source.
func (run *copyRun) verifyCopy(ctx context.Context, sro *redis.Options, sep source.Endpoint) *compareReport {
	o := run.opts
	co := compareOptions{
		src: sep.String(), live: o.src, filter: o.filter, now: time.Now(), tolerance: o.tolerance,
		maxDiffs: compare.DefaultMaxDiffs, dbMap: o.dbMap, cluster: o.cluster,
	}
	co.live.idle, co.live.freq = false, false
	co.src = o.src.conn.url
	dro, dep := sro, sep
	if o.output != "" { // the file against the live source
		co.src, co.dbMap, co.cluster = o.output, nil, o.src.cluster
	} else {
		var err error
		if dro, dep, err = o.dest.redisOptions("copy"); err != nil {
			return &compareReport{Error: err.Error()}
		}
	}
	rep, err := compareWith(ctx, co, dro, dep, io.Discard)
	if err != nil {
		return &compareReport{Error: err.Error()}
	}
	return rep
}

// startProgress prints progress on stderr until the returned function is
// called.
func (run *copyRun) startProgress(stderr io.Writer) func() {
	return startLiveProgress(stderr, run.opts.progressEvery, run.progressLine)
}

// progressLine describes the progress: keys read, written, vanished,
// keys/s.
func (run *copyRun) progressLine() string {
	st := run.s.Stats()
	el := time.Since(run.start).Seconds()
	line := fmt.Sprintf("copy: %d keys read (%s), %d vanished", st.Read, byteSize(st.Bytes), st.Vanished)
	if run.l != nil {
		ls := run.l.Stats()
		line += fmt.Sprintf(", %d written or settled", ls.Done())
		if ls.Failed+ls.Conflicts > 0 {
			line += fmt.Sprintf(", %d failed, %d conflicts", ls.Failed, ls.Conflicts)
		}
	}
	if el > 0 {
		line += fmt.Sprintf(", %.0f keys/s", float64(st.Read)/el)
	}
	return line
}

// topology names a source's topology.
func copyTopology(cluster bool, masters int) string {
	if cluster {
		return fmt.Sprintf("cluster of %d masters", masters)
	}
	return "standalone"
}
