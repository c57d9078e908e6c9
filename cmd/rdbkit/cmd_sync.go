package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/source"
	"github.com/urfave/cli/v2"
)

type syncOptions struct {
	from             string
	fromPasswordFile string
	fromTLS          source.TLSFiles
	dest             destOptions
	filter           filterOptions
	writeOptions
	untilSynced  bool
	checkpoint   string
	resume       bool
	metricsAddr  string
	ttlMargin    time.Duration
	reconnectFor time.Duration
	noMark       bool
	json         bool

	// For tests: the progress period (0: 250 ms on a terminal, 5 s
	// otherwise), how long the source must be quiet before --until-synced
	// ends (0: defaultSettle; see syncRun.settled), a hook called once the snapshot is
	// loaded and before the stream is applied, the replication options,
	// and a way to stop as if killed.
	progressEvery time.Duration
	settle        time.Duration
	beforeStream  func()
	afterKey      func(keys int64) // after each key of a snapshot given to the loader
	sourceOpts    source.Options
	// abandon stops as a killed process would: no final checkpoint (the
	// last one saved every second stays), marks and kept-alive TTLs left.
	abandon bool
}

// Defaults of sync.
const (
	defaultTTLMargin    = time.Minute
	defaultReconnectFor = 5 * time.Minute
	defaultSettle       = time.Second
)

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:      "sync",
		Usage:     "copy a live server into another and follow its writes (replication without REPLICAOF)",
		ArgsUsage: " ",
		Description: "sync connects to the source as a replica does (PSYNC), loads the snapshot into the destination\n" +
			"as it arrives (as restore: RESTORE ... ABSTTL, transcoded or rewritten for older servers, the same\n" +
			"filters, --mode, conflict policy and --db-map), then applies the source's command stream in order:\n" +
			"SELECT followed, MULTI/EXEC sent as transactions, PING/REPLCONF/SELECT/PUBLISH dropped, filters\n" +
			"applied to keyed commands (key positions from the destination's COMMAND INFO / COMMAND GETKEYS),\n" +
			"every reply checked: a failed command is reported with its key. The destination is only a client\n" +
			"(no REPLICAOF), so it may be any managed Redis or a Redis Cluster (commands routed by slot).\n" +
			"Keys that expire within --ttl-margin (in the snapshot, or by an expiry of the stream) are held on\n" +
			"the destination with a later expiry while sync follows the source, whose DELs expire them as on a\n" +
			"replica, and get their true expiry when sync ends (saved in the checkpoint to resume), so that a\n" +
			"TTL the source renews while the destination lags behind is not lost.\n" +
			"The lag (source offset read from the link vs offset applied, bytes and seconds) is shown on stderr;\n" +
			"--metrics-addr serves it with the other counters as Prometheus metrics (rdbkit_sync_*) on\n" +
			"HOST:PORT/metrics.\n" +
			"sync runs until Ctrl-C, or with --until-synced until the destination has caught up with a source\n" +
			"quiet for a second: no command for that long (the snapshot's time included) and the source's\n" +
			"replication offset (INFO) reached, or, if INFO is refused, caught up for a second. A dropped\n" +
			"link is resumed with PSYNC (nothing applied twice or skipped). With --checkpoint the position\n" +
			"(replication ID, offsets, database) is saved atomically every second and at the end; --resume\n" +
			"continues from it with PSYNC instead of a new full sync, if the source still has the backlog.\n" +
			"A Redis Cluster source (found with CLUSTER NODES from the --from node) is synced with one link per\n" +
			"master, in parallel, each with its own position (checkpoint FILE.<node id>); --until-synced ends\n" +
			"once every master has caught up; function libraries come from the master of slot 0; a FLUSHALL\n" +
			"or FLUSHDB of one master is reported, not applied (it would flush every master's keys).\n" +
			"Exit status: 0 when every key and command was applied or deliberately left out, 1 otherwise,\n" +
			"130 when interrupted before the snapshot was loaded.",
		Flags: slices.Concat([]cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the source `URL`"},
			&cli.StringFlag{Name: "to", Usage: "the destination `URL`"},
			&cli.StringFlag{Name: "from-password-file", Usage: "read the source's password from `FILE`"},
			&cli.StringFlag{Name: "from-tls-ca", Usage: "trust the CA certificates in `FILE` (PEM) for a rediss:// source"},
			&cli.StringFlag{Name: "from-tls-cert", Usage: "client certificate `FILE` (PEM) for a rediss:// source"},
			&cli.StringFlag{Name: "from-tls-key", Usage: "client private key `FILE` (PEM) for a rediss:// source"},
			&cli.BoolFlag{Name: "from-tls-insecure", Usage: "do not verify the source's TLS certificate"},
			&cli.BoolFlag{Name: "until-synced", Usage: "exit once the destination has caught up with the source"},
			&cli.StringFlag{Name: "checkpoint", Usage: "save the replication position to `FILE` (atomically, every second and at the end)"},
			&cli.BoolFlag{Name: "resume", Usage: "continue from the --checkpoint FILE with PSYNC instead of a full sync"},
			metricsFlag(),
			&cli.DurationFlag{Name: "ttl-margin", Value: defaultTTLMargin, Usage: "hold keys expiring within `DURATION` until sync ends (0: never)"},
			&cli.DurationFlag{Name: "reconnect-for", Value: defaultReconnectFor, Usage: "give up after the source (or the destination) has been unreachable for `DURATION`"},
			&cli.BoolFlag{Name: "no-position-mark", Usage: "keep no position key (" + markPrefix + "HOST:PORT, one per slot on a cluster) on the destination; a lost connection with commands in flight then stops sync"},
		}, writeFlags(true, map[string]string{
			"replace":       "overwrite existing keys (and function libraries) of the snapshot",
			"skip-existing": "leave existing keys of the snapshot alone and count them as skipped",
			"mode":          "`MODE` of the snapshot: auto, restore (RESTORE only) or rewrite (commands only)",
			"workers":       "`N` connections per node for the snapshot",
			"retries":       "send a command again up to `N` times after a failover or a busy server",
			"no-functions":  "do not load function libraries and Lua scripts, nor apply FUNCTION commands",
		}, &cli.BoolFlag{Name: "json", Usage: "write the summary as JSON"}),
			destFlags(), filterFlags()),
		Action: func(c *cli.Context) error {
			const name = "sync"
			opts := syncOptions{
				from:             c.String("from"),
				fromPasswordFile: c.String("from-password-file"),
				fromTLS: source.TLSFiles{
					CA: c.String("from-tls-ca"), Cert: c.String("from-tls-cert"),
					Key: c.String("from-tls-key"), Insecure: c.Bool("from-tls-insecure"),
				},
				dest:         destOptionsFrom(c, c.String("to")),
				filter:       filterOptionsFrom(c),
				untilSynced:  c.Bool("until-synced"),
				checkpoint:   c.String("checkpoint"),
				resume:       c.Bool("resume"),
				ttlMargin:    c.Duration("ttl-margin"),
				reconnectFor: c.Duration("reconnect-for"),
				noMark:       c.Bool("no-position-mark"),
				json:         c.Bool("json"),
			}
			var err error
			switch {
			case c.NArg() > 0:
				return usagef(name, "unexpected argument %q (the source is --from URL)", c.Args().First())
			case opts.from == "":
				return usagef(name, "missing --from URL")
			case opts.dest.url == "":
				return usagef(name, "missing --to URL")
			}
			if opts.writeOptions, err = writeOptionsFrom(c, name); err != nil {
				return err
			}
			if opts.metricsAddr, err = metricsAddrFrom(c, name); err != nil {
				return err
			}
			switch {
			case opts.resume && opts.checkpoint == "":
				return usagef(name, "--resume needs --checkpoint FILE")
			case opts.ttlMargin < 0:
				return usagef(name, "--ttl-margin is 0 or more")
			}
			return runSync(c.Context, opts, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// The phases of a sync, as the metrics name them.
const (
	phaseConnecting = iota
	phaseSnapshot
	phaseStream
	phaseStopped
	numPhases
)

var phaseNames = [numPhases]string{"connecting", "snapshot", "stream", "stopped"}

// syncRun is one run of sync: its source, loader, position and counters.
type syncRun struct {
	opts   syncOptions
	stderr io.Writer
	ep     source.Endpoint
	sopts  source.Options
	lo     loader.Options
	f      *filter
	dest   string // redacted URLs
	src    string
	start  time.Time

	lmu      sync.Mutex
	l        *loader.Loader // replaced after a forced full resync
	ap       *loader.Applier
	prevSt   loader.Stats // of the loaders replaced
	snapshot bool         // a snapshot has been loaded (or started) in this run

	// The position. applied is the offset just after the last command
	// applied (the snapshot's offset before the first); appliedDB is the
	// database selected there. Both change only in the applying goroutine.
	replID    string
	applied   atomic.Int64
	appliedDB int
	link      atomic.Pointer[source.Conn]
	linkBase  atomic.Int64 // the link offset where this run's count of stream bytes starts

	phase    atomic.Int32
	ready    atomic.Bool // the destination holds a whole snapshot: the stream can be applied
	keep     *keepAlive
	mark     *syncMark // nil with --no-position-mark
	cp       *syncCheckpoint
	counters syncCounters
	lag      lagState
	notes    []string // said once on stderr, kept for the summary
	outMu    sync.Mutex
	term     bool // stderr is a terminal

	// name starts the lines on stderr: "sync", or "sync HOST:PORT" for a
	// master of a Cluster source, whose runs are members of a group.
	name   string
	group  *syncGroup
	member int
}

// runSync syncs opts.from into the destination until Ctrl-C, until the
// destination has caught up (--until-synced), or until an error stops it.
// The summary goes to stdout, progress and notes to stderr.
func runSync(ctx context.Context, opts syncOptions, stdout, stderr io.Writer) error {
	run := &syncRun{opts: opts, stderr: stderr, start: time.Now(), term: isTerminal(stderr), name: "sync"}
	if err := run.setup(); err != nil {
		return err
	}
	quietRedisLogs()
	masters, err := run.sourceMasters(ctx)
	if err != nil {
		return err
	}
	if masters != nil {
		return runSyncCluster(ctx, run, masters, stdout)
	}
	ms, err := serveMetrics("sync", opts.metricsAddr, run.logf, newRunCollector(syncMetrics, run.metricSamples))
	if err != nil {
		return err
	}
	defer ms.Close()
	rep, err := run.execute(ctx)
	if rep != nil {
		if werr := rep.write(stdout, opts.json); werr != nil {
			return werr
		}
	}
	return err
}

// execute runs a sync prepared by setup: it opens the loader, follows the
// source until the run ends, and returns the report (nil when the run
// could not start) and the error the command ends with.
func (run *syncRun) execute(ctx context.Context) (*syncReport, error) {
	const name = "sync"
	opts := run.opts
	if opts.resume {
		pos, err := run.cp.read()
		if err != nil {
			return nil, err
		}
		run.cp.prev = pos
	}
	l, err := loader.New(ctx, run.lo)
	if errors.Is(err, loader.ErrClusterDB) {
		return nil, usagef(name, "%s: %v: use --db-map N=0 for the keys of database N", run.dest, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", run.name, run.dest, err)
	}
	if l.IsCluster() && (hasNonZero(opts.filter.dbs) || run.lo.UseDefaultDB && run.lo.DefaultDB != 0) {
		l.Close()
		return nil, usagef(name, "%s is a Redis Cluster, which has only database 0: use --db-map N=0", run.dest)
	}
	if !opts.noMark {
		run.mark = newSyncMark(run.ep.Addr, l.IsCluster())
	}
	run.setLoader(l)
	info := l.Info()
	topo := "standalone"
	if l.IsCluster() {
		topo = "cluster"
	}
	run.logf("%s -> %s (%s %s, %s, %s)", run.src, run.dest, info.Server, info.Version, l.Target(), topo)
	stopProgress := run.startProgress()
	runErr := run.loop(ctx)
	if !run.opts.abandon {
		run.settleAtStop(runErr)
		run.dropMark()
	}
	run.phase.Store(phaseStopped)
	stopProgress()
	st, fatal := run.closeLoader()
	if run.opts.abandon {
		return run.report(&st, firstErr(runErr, fatal)), errors.New("sync: abandoned (a test's kill)")
	}
	if err := run.saveCheckpoint(); err != nil {
		run.logf("%v", err)
	}
	rep := run.report(&st, firstErr(runErr, fatal))
	switch {
	case errors.Is(runErr, errInterrupted):
		return rep, ctx.Err()
	case runErr != nil || fatal != nil:
		return rep, &reportedError{errors.Join(runErr, fatal)}
	case !rep.OK:
		return rep, &reportedError{errors.New("some keys or commands were not applied")}
	}
	return rep, nil
}

// settleAtStop gives the keys still kept alive their true expiry when
// sync stops without a checkpoint to resume from (with one, they are
// saved in it, and the resumed run settles them).
func (run *syncRun) settleAtStop(runErr error) {
	n := run.keep.len()
	if n == 0 || run.opts.checkpoint != "" || !run.ready.Load() || errors.Is(runErr, errInterrupted) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run.logf("stopping: giving %d keys kept alive their expiry", n)
	if err := run.settleKeep(ctx, time.Now(), settleAll); err != nil {
		run.logf("%v", err)
	}
}

// errInterrupted is the error of a sync stopped before its snapshot was
// loaded.
var errInterrupted = errors.New("sync: interrupted before the snapshot was loaded")

// setup checks the options and prepares the endpoints, filter and loader
// options.
func (run *syncRun) setup() error {
	const name = "sync"
	opts := &run.opts
	var err error
	if run.f, err = newFilter(name, opts.filter); err != nil {
		return err
	}
	if run.ep, err = source.ParseEndpoint(opts.from); err != nil {
		return usagef(name, "--from: %v", err)
	}
	if err := run.ep.LoadPassword(opts.fromPasswordFile, source.EnvPassword); err != nil {
		return err
	}
	run.sopts = opts.sourceOpts
	run.sopts.RDBOnly, run.sopts.FunctionsOnly = false, false
	if !opts.fromTLS.IsZero() {
		if !run.ep.TLS {
			return usagef(name, "--from-tls-* options need a rediss:// source URL")
		}
		if run.sopts.TLS, err = opts.fromTLS.Config(); err != nil {
			return err
		}
	}
	if run.sopts.Logf == nil {
		run.sopts.Logf = run.logf
	}
	run.src = run.ep.Redacted()
	ro, dep, err := opts.dest.redisOptions(name)
	if err != nil {
		return err
	}
	run.dest = dep.Redacted()
	run.lo = opts.loaderOptions(ro, dep)
	if run.ep.DB != 0 {
		run.logf("the replication stream holds every database; /%d in the source URL is ignored (use --db)", run.ep.DB)
	}
	if opts.ttlMargin == 0 && opts.untilSynced {
		run.logf("--ttl-margin 0: keys of the snapshot that expire before the stream has caught up may lose a TTL the source renewed")
	}
	run.keep = newKeepAlive(opts.ttlMargin)
	run.cp = &syncCheckpoint{path: opts.checkpoint, source: run.src, dest: run.dest}
	if opts.untilSynced && opts.settle <= 0 {
		opts.settle = defaultSettle
	}
	return nil
}

// logf writes a note on stderr.
func (run *syncRun) logf(format string, args ...any) {
	run.outMu.Lock()
	defer run.outMu.Unlock()
	if run.term {
		fmt.Fprint(run.stderr, "\r\x1b[K")
	}
	fmt.Fprintf(run.stderr, run.name+": "+format+"\n", args...)
}

// note says something once on stderr and keeps it for the summary.
func (run *syncRun) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	run.logf("%s", msg)
	run.outMu.Lock()
	run.notes = append(run.notes, msg)
	run.outMu.Unlock()
}

func (run *syncRun) setLoader(l *loader.Loader) {
	run.lmu.Lock()
	defer run.lmu.Unlock()
	run.l, run.ap = l, l.Applier()
}

func (run *syncRun) loader() *loader.Loader {
	run.lmu.Lock()
	defer run.lmu.Unlock()
	return run.l
}

// loaderStats returns the snapshot counters of every loader of the run.
func (run *syncRun) loaderStats() loader.Stats {
	run.lmu.Lock()
	l, prev := run.l, run.prevSt
	run.lmu.Unlock()
	st := l.Stats()
	addStats(&st, &prev)
	return st
}

// closeLoader closes the loader and returns the counters of the run.
func (run *syncRun) closeLoader() (loader.Stats, error) {
	run.lmu.Lock()
	l, prev := run.l, run.prevSt
	run.lmu.Unlock()
	st, err := l.Close()
	addStats(&st, &prev)
	return st, err
}

// replaceLoader closes the loader and opens another with the conflict
// policy ConflictReplace, for a snapshot loaded again after a forced
// full resync: the keys already there are the previous snapshot's.
func (run *syncRun) replaceLoader(ctx context.Context) error {
	old := run.loader()
	st, err := old.Close()
	if err != nil {
		return err
	}
	lo := run.lo
	lo.Conflict = loader.ConflictReplace
	l, err := loader.New(ctx, lo)
	if err != nil {
		return fmt.Errorf("sync: %s: %w", run.dest, err)
	}
	run.lmu.Lock()
	addStats(&run.prevSt, &st)
	run.lmu.Unlock()
	run.setLoader(l)
	return nil
}

// applier returns the Applier of the current loader.
func (run *syncRun) applier() *loader.Applier {
	run.lmu.Lock()
	defer run.lmu.Unlock()
	return run.ap
}

// addStats adds the counters of b to a.
func addStats(a, b *loader.Stats) {
	a.Read += b.Read
	a.Restored += b.Restored
	a.Set += b.Set
	a.Transcoded += b.Transcoded
	a.Rewritten += b.Rewritten
	a.Expired += b.Expired
	a.Conflicts += b.Conflicts
	a.Skipped += b.Skipped
	a.Failed += b.Failed
	a.Bytes += b.Bytes
	a.Redirects += b.Redirects
	a.Retries += b.Retries
	a.Streamed += b.Streamed
	a.Recovered += b.Recovered
	a.Functions += b.Functions
	a.FunctionConflicts += b.FunctionConflicts
	a.FunctionsSkipped += b.FunctionsSkipped
	a.FunctionsFailed += b.FunctionsFailed
	a.Scripts += b.Scripts
	a.Failures = append(a.Failures, b.Failures...)
	a.ConflictKeys = append(a.ConflictKeys, b.ConflictKeys...)
	a.FunctionErrors = append(a.FunctionErrors, b.FunctionErrors...)
	a.Loss.Add(b.Loss)
	a.RewriteLoss.Add(b.RewriteLoss)
	a.LossKeys = append(a.LossKeys, b.LossKeys...)
}
