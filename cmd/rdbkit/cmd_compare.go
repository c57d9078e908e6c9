package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/rdbkit/rdbkit/internal/compare"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/rdbkit/rdbkit/source"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
)

type compareOptions struct {
	src       string            // FILE or URL
	live      liveSourceOptions // when src is a URL
	dest      destOptions
	filter    filterOptions
	now       time.Time
	tolerance time.Duration
	sample    int
	bothWays  bool
	maxDiffs  int
	dbMap     map[int]int
	cluster   bool
	maxBuffer int64 // rdb.Reader.MaxPayload, 0: the default
	bigKey    int64 // compare.Options.BigKey, 0: the default
	json      bool

	progressEvery time.Duration // for tests; 0: 250 ms on a terminal, 10 s otherwise
}

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "check a live Redis against a dump.rdb or another live Redis, key by key",
		ArgsUsage: "SRC --to URL",
		Description: "compare checks that every selected key of SRC (a dump.rdb, or a live server given as\n" +
			"redis://, rediss:// or unix://) is on the destination, of the same type, with the same\n" +
			"value and the same expiry (within --ttl-tolerance). Values are compared by content: a\n" +
			"listpack hash equals a hashtable hash with the same fields; sets and hashes are compared\n" +
			"in any order, lists and streams in order, zset scores exactly, hash field TTLs too.\n" +
			"Small keys are fetched with pipelined DUMP and PTTL and decoded; big keys (over 1 MiB\n" +
			"serialized) are compared in windows (GETRANGE, LRANGE, SMISMEMBER, ZMSCORE, HMGET and\n" +
			"HPEXPIRETIME, XRANGE and XINFO), so memory stays bounded.\n" +
			"A key whose expiry has passed and that is gone from the destination counts as expired,\n" +
			"not as missing. --both-ways also scans the destination for keys SRC lacks (extra).\n" +
			"--sample N compares N keys chosen at random (reservoir sampling over SRC).\n" +
			"Delivery times and seen times of stream consumer groups are not compared.\n" +
			"Exit status: 0 when equal, 1 when some key differs, 2 when the comparison could not be\n" +
			"completed (a key could not be compared, or a server could not be read).\n" +
			"The destination's password comes from its URL, --password-file or $REDISCLI_AUTH; a live\n" +
			"source's from its URL, --from-password-file or $" + envFromPassword + ".",
		Flags: append(append(append([]cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the destination `URL`"},
			&cli.DurationFlag{Name: "ttl-tolerance", Value: compare.DefaultTolerance, Usage: "expiries this far apart (`DURATION`) are equal"},
			&cli.IntFlag{Name: "sample", Usage: "compare `N` keys picked at random instead of every key"},
			&cli.BoolFlag{Name: "both-ways", Usage: "also report destination keys that SRC lacks"},
			&cli.IntFlag{Name: "max-diffs", Value: compare.DefaultMaxDiffs, Usage: "name the first `N` differences"},
			&cli.StringSliceFlag{Name: "db-map", Usage: "database SRC of the source is database DST of the destination: `SRC=DST` (repeatable)"},
			&cli.BoolFlag{Name: "cluster", Usage: "the destination is a Redis Cluster (detected otherwise)"},
			&cli.StringFlag{Name: "max-buffer", Usage: "values of a file larger than `SIZE` are streamed (default 64m)"},
			&cli.StringFlag{Name: "big-key", Usage: "compare values larger than `SIZE` in windows (default 1m)"},
			&cli.BoolFlag{Name: "json", Usage: "write the result as JSON"},
		}, destFlags()...), liveSourceFlags()...), filterFlags()...),
		Action: func(c *cli.Context) error {
			const name = "compare"
			src, err := fileArg(c)
			if err != nil {
				return usagef(name, "%v", err)
			}
			opts := compareOptions{
				src: src, live: liveSourceFrom(c, src), dest: destOptionsFrom(c, c.String("to")),
				filter: filterOptionsFrom(c), now: time.Now(), tolerance: c.Duration("ttl-tolerance"),
				sample: c.Int("sample"), bothWays: c.Bool("both-ways"), maxDiffs: c.Int("max-diffs"),
				cluster: c.Bool("cluster"), json: c.Bool("json"),
			}
			switch {
			case opts.dest.url == "":
				return usagef(name, "missing --to URL")
			case opts.sample < 0 || opts.maxDiffs < 0 || opts.tolerance < 0:
				return usagef(name, "--sample, --max-diffs and --ttl-tolerance are 0 or more")
			}
			if err := opts.live.check(name); err != nil {
				return err
			}
			if opts.dbMap, err = parseDBMap(name, c.StringSlice("db-map")); err != nil {
				return err
			}
			if opts.maxBuffer, err = sizeFlag(c, name, "max-buffer"); err != nil {
				return err
			}
			if opts.bigKey, err = sizeFlag(c, name, "big-key"); err != nil {
				return err
			}
			return runCompare(c.Context, opts, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// exitIncomplete is compare's exit status when it could not compare
// (DESIGN.md: 0 same, 1 differences, 2 could not compare).
const exitIncomplete = 2

// compareIncomplete is a comparison that could not be completed. Its
// ExitCode is exitIncomplete, for main to return.
type compareIncomplete struct{ err error }

func (e *compareIncomplete) Error() string { return e.err.Error() }
func (e *compareIncomplete) Unwrap() error { return e.err }
func (e *compareIncomplete) ExitCode() int { return exitIncomplete }

// runCompare compares opts.src with the destination and writes the
// report to stdout.
func runCompare(ctx context.Context, opts compareOptions, stdout, stderr io.Writer) error {
	dro, dep, err := opts.dest.redisOptions("compare")
	if err != nil {
		return err
	}
	rep, err := compareWith(ctx, opts, dro, dep, stderr)
	if err != nil {
		return err
	}
	if err := rep.write(stdout, opts.json); err != nil {
		return err
	}
	return rep.exitErr(ctx)
}

// compareWith compares opts.src with the destination dro (whose URL is
// dep) and returns the report. Its error is a usage error or a
// destination that could not be reached; what went wrong later is in the
// report's Error.
func compareWith(ctx context.Context, opts compareOptions, dro *redis.Options, dep source.Endpoint, stderr io.Writer) (*compareReport, error) {
	const name = "compare"
	f, err := newFilter(name, opts.filter)
	if err != nil {
		return nil, err
	}
	cr := &compareRun{opts: opts, f: f, start: time.Now()}
	cr.rep.Source = opts.src
	cr.rep.Destination = dep.Redacted()
	co := cr.compareOptions(dro, dep)
	if isLiveSource(opts.src) {
		sro, sep, err := opts.live.redisOptions(name)
		if err != nil {
			return nil, err
		}
		cr.rep.Source = sep.Redacted()
		so := opts.live.scanOptions(sro, sep, opts.filter, f)
		cr.scan = &so
		cr.srcEP = sep
		if co.ExtraDBs == nil && so.DBs != nil { // the URL's database
			co.ExtraDBs = []int{cr.destDB(co, sep.DB)}
		}
	}
	quietRedisLogs()
	c, err := compare.New(ctx, co)
	if err != nil {
		return nil, &compareIncomplete{fmt.Errorf("compare: destination %s: %w", cr.rep.Destination, err)}
	}
	cr.c = c
	cr.rep.Server, cr.rep.Version = c.Server()
	cr.rep.Cluster = c.IsCluster()
	fmt.Fprintf(stderr, "compare: %s -> %s (%s %s)\n", cr.rep.Source, cr.rep.Destination, cr.rep.Server, cr.rep.Version)
	stop := startLiveProgress(stderr, opts.progressEvery, cr.progressLine)
	runErr := cr.feed(ctx)
	rep, cerr := c.Close(ctx)
	stop()
	cr.finish(rep, firstErr(runErr, cerr))
	return &cr.rep, nil
}

// compareRun is one comparison, of compare or of copy --verify.
type compareRun struct {
	opts  compareOptions
	f     *filter
	c     *compare.Comparer
	scan  *source.ScanOptions // a live source; nil for a file
	srcEP source.Endpoint
	start time.Time
	rep   compareReport
}

// compareOptions returns the Comparer's options.
func (cr *compareRun) compareOptions(dro *redis.Options, dep source.Endpoint) compare.Options {
	o := cr.opts
	co := compare.Options{
		Redis: dro, Cluster: o.cluster, DBMap: o.dbMap, TTLTolerance: o.tolerance,
		BothWays: o.bothWays, MaxDiffs: o.maxDiffs, BigKey: o.bigKey,
		Types: scanFilterTypes(cr.f), Now: time.Now,
	}
	if o.tolerance == 0 {
		co.TTLTolerance = time.Nanosecond // exact: 0 would be the default
	}
	if dep.DB != 0 {
		co.UseDefaultDB, co.DefaultDB = true, dep.DB
	}
	if cr.f.hasGlob {
		co.Match = string(cr.f.glob)
	}
	if cr.f.re != nil {
		co.KeyFilter = cr.f.re.Match
	}
	for _, db := range o.filter.dbs {
		co.ExtraDBs = append(co.ExtraDBs, cr.destDB(co, db))
	}
	return co
}

// destDB returns the destination database of a source database, as the
// Comparer maps it.
func (cr *compareRun) destDB(co compare.Options, db int) int {
	if m, ok := co.DBMap[db]; ok {
		return m
	}
	if co.UseDefaultDB {
		return co.DefaultDB
	}
	return db
}

// feed gives the source's keys to the Comparer: every selected key, or a
// random sample of them.
func (cr *compareRun) feed(ctx context.Context) error {
	switch {
	case cr.scan != nil && cr.opts.sample > 0:
		return cr.sampleLive(ctx)
	case cr.scan != nil:
		return cr.feedLive(ctx, *cr.scan)
	case cr.opts.sample > 0:
		return cr.sampleFile(ctx)
	}
	return cr.feedFile(ctx, nil)
}

// feedFile compares the keys of the file that pass the filter and, if
// pick is not nil, whose offset it holds; with a pick, the other keys are
// noted for --both-ways.
func (cr *compareRun) feedFile(ctx context.Context, pick map[int64]bool) error {
	in, err := openRDB(cr.opts.src, int(cr.opts.maxBuffer))
	if err != nil {
		return err
	}
	defer in.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := in.r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return in.wrap(err)
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		if pick == nil {
			cr.rep.SourceKeys++
		}
		switch {
		case !cr.f.match(e, cr.opts.now):
			if pick == nil {
				cr.rep.Filtered++
			}
		case pick != nil && !pick[e.Offset]:
		default:
			if err := cr.c.Add(ctx, e); err != nil {
				return err
			}
		}
	}
}

// sampleFile picks a random sample of the file's selected keys (their
// offsets, reservoir sampling, noting every key for --both-ways), then
// reads the file again and compares them.
func (cr *compareRun) sampleFile(ctx context.Context) error {
	in, err := openRDB(cr.opts.src, int(cr.opts.maxBuffer))
	if err != nil {
		return err
	}
	res := compareReservoir[int64]{n: cr.opts.sample}
	for {
		e, err := in.r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			in.Close()
			return in.wrap(err)
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		cr.rep.SourceKeys++
		if !cr.f.match(e, cr.opts.now) {
			cr.rep.Filtered++
			continue
		}
		cr.c.Note(e.DB, e.Key)
		res.add(e.Offset)
	}
	in.Close()
	cr.rep.Sample, cr.rep.Population = len(res.items), res.seen
	pick := make(map[int64]bool, len(res.items))
	for _, off := range res.items {
		pick[off] = true
	}
	return cr.feedFile(ctx, pick)
}

// feedLive compares the keys a scan of the live source reads.
func (cr *compareRun) feedLive(ctx context.Context, so source.ScanOptions) error {
	s, err := openLiveScanner(ctx, "compare", so, cr.srcEP)
	if err != nil {
		return err
	}
	defer func() {
		s.Close()
		st := s.Stats()
		cr.rep.SourceKeys += st.Read
		cr.rep.Vanished += st.Vanished
		cr.rep.SourceFailed += st.Failed
	}()
	filtered := func() { cr.rep.Filtered++ }
	return scanLive(s, cr.f, cr.opts.now, filtered, func(e *source.ScanEntry) error {
		return cr.c.Add(ctx, &e.Entry)
	})
}

// sampleLive picks a random sample of the source's keys with a scan of
// keys only (noting every key for --both-ways), then reads and compares
// those.
func (cr *compareRun) sampleLive(ctx context.Context) error {
	so := *cr.scan
	so.KeysOnly = true
	s, err := openLiveScanner(ctx, "compare", so, cr.srcEP)
	if err != nil {
		return err
	}
	res := compareReservoir[source.ScanKey]{n: cr.opts.sample}
	for {
		e, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.Close()
			return err
		}
		if (cr.f.re != nil && !cr.f.re.Match(e.Key)) || (cr.f.dbs != nil && !cr.f.dbs[e.DB]) {
			continue
		}
		cr.c.Note(e.DB, e.Key)
		res.add(source.ScanKey{DB: e.DB, Key: e.Key})
	}
	s.Close()
	cr.rep.Sample, cr.rep.Population = len(res.items), res.seen
	if len(res.items) == 0 {
		return nil
	}
	so = *cr.scan
	so.Keys = res.items
	return cr.feedLive(ctx, so)
}

// A compareReservoir keeps a uniform random sample of n items of a stream
// (Algorithm R).
type compareReservoir[T any] struct {
	n     int
	seen  int64
	items []T
}

func (r *compareReservoir[T]) add(x T) {
	r.seen++
	if len(r.items) < r.n {
		r.items = append(r.items, x)
		return
	}
	if j := rand.Int64N(r.seen); j < int64(r.n) {
		r.items[j] = x
	}
}

// progressLine describes the progress: keys compared, differences,
// keys/s.
func (cr *compareRun) progressLine() string {
	rep := cr.c.Report()
	n := rep.Compared()
	line := fmt.Sprintf("compare: %d keys compared, %d differ", n, rep.Differences())
	if el := time.Since(cr.start).Seconds(); el > 0 {
		line += fmt.Sprintf(", %.0f keys/s", float64(n)/el)
	}
	return line
}

// finish fills in the report.
func (cr *compareRun) finish(rep *compare.Report, err error) {
	r := &cr.rep
	r.Elapsed = time.Since(cr.start).Seconds()
	r.Counts = map[string]int64{}
	for o := compare.Outcome(0); o < compare.NumOutcomes; o++ {
		if o != compare.Extra || cr.opts.bothWays {
			r.Counts[o.String()] = rep.Counts[o]
		}
	}
	r.Compared, r.Differences, r.Chunked = rep.Compared(), rep.Differences(), rep.Chunked
	r.Failed = rep.Counts[compare.Failed] + r.SourceFailed
	for _, d := range rep.Diffs {
		r.Diffs = append(r.Diffs, compareDiff{d.DB, jsonBytes(d.Key), d.Outcome.String(), d.Reason})
	}
	r.BothWays, r.Tolerance = cr.opts.bothWays, cr.opts.tolerance.String()
	if err != nil {
		r.Error = err.Error()
	}
	r.Equal = err == nil && r.Differences == 0 && r.Failed == 0
}

// compareReport is the result of compare; also its --json output.
type compareReport struct {
	Source       string           `json:"source"`      // file or redacted URL
	Destination  string           `json:"destination"` // redacted
	Server       string           `json:"server"`
	Version      string           `json:"version"`
	Cluster      bool             `json:"cluster"`
	Equal        bool             `json:"equal"`
	Elapsed      float64          `json:"elapsed_seconds"`
	Tolerance    string           `json:"ttl_tolerance"`
	BothWays     bool             `json:"both_ways"`
	SourceKeys   int64            `json:"source_keys"`          // keys read from the source
	Filtered     int64            `json:"filtered"`             // left out by the filters
	Sample       int              `json:"sample,omitempty"`     // keys picked by --sample
	Population   int64            `json:"population,omitempty"` // selected keys the sample was picked from
	Vanished     int64            `json:"vanished"`             // live source: gone between SCAN and DUMP
	SourceFailed int64            `json:"source_failed"`        // live source: bad DUMP payloads
	Compared     int64            `json:"compared"`
	Chunked      int64            `json:"compared_in_windows"`
	Counts       map[string]int64 `json:"counts"`
	Differences  int64            `json:"differences"`
	Failed       int64            `json:"failed"`
	Diffs        []compareDiff    `json:"diffs"`
	Error        string           `json:"error,omitempty"`
}

type compareDiff struct {
	DB      int       `json:"db"`
	Key     jsonBytes `json:"key"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason"`
}

// write prints the report: text, or indented JSON.
func (r *compareReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		if r.Diffs == nil {
			r.Diffs = []compareDiff{}
		}
		return writeJSON(w, r)
	}
	var b []byte
	b = fmt.Appendf(b, "compare: %s -> %s (%s %s%s)\n", r.Source, r.Destination, r.Server, r.Version, map[bool]string{true: ", cluster"}[r.Cluster])
	b = fmt.Appendf(b, "keys: %d compared in %s", r.Compared, time.Duration(r.Elapsed*float64(time.Second)).Round(time.Millisecond))
	if r.Sample > 0 {
		b = fmt.Appendf(b, " (a random sample of %d of %d)", r.Sample, r.Population)
	}
	b = fmt.Appendf(b, "; %d filtered", r.Filtered)
	if r.Chunked > 0 {
		b = fmt.Appendf(b, ", %d big keys compared in windows", r.Chunked)
	}
	b = append(b, '\n')
	b = fmt.Appendf(b, "  %d equal, %d missing", r.Counts["equal"], r.Counts["missing"])
	if r.BothWays {
		b = fmt.Appendf(b, ", %d extra", r.Counts["extra"])
	}
	b = fmt.Appendf(b, ", %d type differs, %d value differs, %d ttl differs\n", r.Counts["type_differs"], r.Counts["value_differs"], r.Counts["ttl_differs"])
	b = fmt.Appendf(b, "  %d expired (gone on the destination, as their TTL says), %d could not be compared", r.Counts["expired"], r.Failed)
	if r.Vanished > 0 {
		b = fmt.Appendf(b, ", %d vanished from the source during the scan", r.Vanished)
	}
	b = append(b, '\n')
	if len(r.Diffs) > 0 {
		b = fmt.Appendf(b, "differences (the first %d):\n", len(r.Diffs))
		for _, d := range r.Diffs {
			b = fmt.Appendf(b, "  db %d %s: %s", d.DB, appendKeyText(nil, d.Key), d.Outcome)
			if d.Reason != "" {
				b = fmt.Appendf(b, ": %s", d.Reason)
			}
			b = append(b, '\n')
		}
	}
	if r.Error != "" {
		b = fmt.Appendf(b, "stopped: %s\n", r.Error)
	}
	switch {
	case r.Equal:
		b = append(b, "equal: every compared key is the same on both sides\n"...)
	case r.Error != "" || r.Failed > 0:
		b = append(b, "incomplete: the comparison could not be completed\n"...)
	default:
		b = fmt.Appendf(b, "different: %d keys differ\n", r.Differences)
	}
	_, err := w.Write(b)
	return err
}

// exitErr returns the error for the exit status: nil when equal, a
// reportedError (1) when keys differ, a compareIncomplete (2) when the
// comparison could not be completed.
func (r *compareReport) exitErr(ctx context.Context) error {
	switch {
	case r.Equal:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case r.Error != "":
		return &compareIncomplete{errors.New("compare: " + r.Error)}
	case r.Failed > 0:
		return &compareIncomplete{fmt.Errorf("compare: %d keys could not be compared", r.Failed)}
	}
	return &reportedError{fmt.Errorf("%d keys differ", r.Differences)}
}
