package main

import (
	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/source"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
)

// writeOptions are the options of restore, copy and sync that say how
// keys are written into the destination.
type writeOptions struct {
	mode       loader.Mode
	conflict   loader.Conflict
	workers    int
	pipeline   int
	dbMap      map[int]int
	maxPayload int64 // the destination's limit (--max-payload), 0: CONFIG GET
	maxBuffer  int64 // rdb.Reader.MaxPayload (--max-buffer), 0: the default
	retries    int
	rdbVersion int
	cluster    bool
	noFuncs    bool
	compressed bool // --keep-compressed
}

// writeFlags are the flags of restore, copy and sync that say how keys
// are written. usage replaces the usage of the flags it names; extra go
// between --db-map and --max-payload; --max-buffer is left out unless
// maxBuffer.
func writeFlags(maxBuffer bool, usage map[string]string, extra ...cli.Flag) []cli.Flag {
	text := func(name, def string) string {
		if u, ok := usage[name]; ok {
			return u
		}
		return def
	}
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "replace", Usage: text("replace", "overwrite existing keys (and function libraries)")},
		&cli.BoolFlag{Name: "skip-existing", Usage: text("skip-existing", "leave existing keys alone and count them as skipped")},
		&cli.StringFlag{Name: "mode", Value: "auto", Usage: text("mode", "`MODE`: auto, restore (RESTORE only) or rewrite (commands only)")},
		&cli.IntFlag{Name: "workers", Value: loader.DefaultWorkers, Usage: text("workers", "`N` connections per node")},
		&cli.IntFlag{Name: "pipeline", Value: loader.DefaultPipeline, Usage: text("pipeline", "`N` commands per round trip")},
		&cli.StringSliceFlag{Name: "db-map", Usage: "write database SRC into database DST: `SRC=DST` (repeatable)"},
		&cli.BoolFlag{Name: "keep-compressed", Usage: "send the LZF-compressed blobs of payloads as they are (fewer bytes on a slow link, more work for the destination)"},
	}
	flags = append(flags, extra...)
	flags = append(flags, &cli.StringFlag{Name: "max-payload", Usage: "largest argument the destination accepts, `SIZE` (default: its proto-max-bulk-len)"})
	if maxBuffer {
		flags = append(flags, &cli.StringFlag{Name: "max-buffer", Usage: "values larger than `SIZE` are streamed and written with commands (default 64m)"})
	}
	return append(flags,
		&cli.IntFlag{Name: "retries", Value: loader.DefaultRetries, Usage: text("retries", "send a command again up to `N` times after a dropped connection or a failover")},
		&cli.IntFlag{Name: "rdb-version", Usage: "take the destination's RDB version to be `N` instead of reading INFO"},
		&cli.BoolFlag{Name: "cluster", Usage: "the destination is a Redis Cluster (detected otherwise)"},
		&cli.BoolFlag{Name: "no-functions", Usage: text("no-functions", "do not load function libraries and Lua scripts")},
	)
}

// writeOptionsFrom reads and checks the flags of writeFlags for the
// command name.
func writeOptionsFrom(c *cli.Context, name string) (writeOptions, error) {
	w := writeOptions{
		workers:    c.Int("workers"),
		pipeline:   c.Int("pipeline"),
		retries:    c.Int("retries"),
		rdbVersion: c.Int("rdb-version"),
		cluster:    c.Bool("cluster"),
		noFuncs:    c.Bool("no-functions"),
		compressed: c.Bool("keep-compressed"),
	}
	switch {
	case c.Bool("replace") && c.Bool("skip-existing"):
		return w, usagef(name, "--replace and --skip-existing exclude each other")
	case c.Bool("replace"):
		w.conflict = loader.ConflictReplace
	case c.Bool("skip-existing"):
		w.conflict = loader.ConflictSkip
	}
	var err error
	if w.mode, err = loader.ParseMode(c.String("mode")); err != nil {
		return w, usagef(name, "--mode %q: want auto, restore or rewrite", c.String("mode"))
	}
	switch {
	case name == "copy" && (w.workers < 1 || w.pipeline < 1 || w.retries < 0):
		// copy has always said both in one message.
		return w, usagef(name, "--workers and --pipeline are 1 or more, --retries 0 or more")
	case w.workers < 1 || w.pipeline < 1:
		return w, usagef(name, "--workers and --pipeline are 1 or more")
	case w.retries < 0:
		return w, usagef(name, "--retries is 0 or more")
	}
	if w.dbMap, err = parseDBMap(name, c.StringSlice("db-map")); err != nil {
		return w, err
	}
	if w.maxPayload, err = sizeFlag(c, name, "max-payload"); err != nil {
		return w, err
	}
	if w.maxBuffer, err = sizeFlag(c, name, "max-buffer"); err != nil {
		return w, err
	}
	return w, nil
}

// loaderOptions returns the loader's options for writing into the
// destination ro, ep.
func (w writeOptions) loaderOptions(ro *redis.Options, ep source.Endpoint) loader.Options {
	lo := loader.Options{
		Redis: ro, Cluster: w.cluster, Workers: w.workers, Pipeline: w.pipeline,
		Mode: w.mode, Conflict: w.conflict, DBMap: w.dbMap,
		MaxPayload: w.maxPayload, RDBVersion: w.rdbVersion, Retries: w.retries,
		KeepCompressed: w.compressed,
	}
	if w.retries == 0 {
		lo.Retries = -1
	}
	if ep.DB != 0 {
		lo.UseDefaultDB, lo.DefaultDB = true, ep.DB
	}
	return lo
}
