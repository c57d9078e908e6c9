package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rdbkit/rdbkit/exporter"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/urfave/cli/v2"
)

type memoryOptions struct {
	file        string
	top         int
	prefixDepth int
	separator   string
	maxPrefixes int
	html        string // output file of the HTML report, "" for none
	csv, json   bool
	server      string // "auto", "7.0" or "7.2"
	quantum     int
	loaded      bool
	cluster     bool
	filter      filterOptions
	now         time.Time
	maxPayload  int // rdb.Reader.MaxPayload; 0: the default
}

func memoryCommand() *cli.Command {
	return &cli.Command{
		Name:      "memory",
		Usage:     "estimate the memory each key takes in Redis: totals, biggest keys, prefixes, an HTML report",
		ArgsUsage: "FILE",
		Description: "memory estimates, for every key, what MEMORY USAGE key SAMPLES 0 would report on the server:\n" +
			"it models jemalloc's size classes, sds headers, dicts, listpacks, quicklists, skiplists and\n" +
			"streams, and the encoding conversions a server makes when it loads the file. It prints totals\n" +
			"by type, encoding, database and expiry, the biggest keys by memory and by element count, and\n" +
			"memory by key prefix (keys split on --separator, up to --prefix-depth segments). Memory stays\n" +
			"bounded whatever the file: the top lists are heaps and the prefix tree is capped.\n" +
			"--server auto models the version in the file's redis-ver aux field (7.0 below 7.2, else 7.2).\n" +
			"--quantum 16 models a redis-server linked with a system jemalloc (Debian's, Ubuntu's\n" +
			"packages); Redis built from source has 8. Not counted by MEMORY USAGE, and shown apart: the\n" +
			"keyspace's own buckets and the expires dict. FILE - reads the standard input.",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "top", Value: 20, Usage: "`N` keys in each list of biggest keys"},
			&cli.IntFlag{Name: "prefix-depth", Value: 3, Usage: "prefix tree depth `D` (0: no prefix tree)"},
			&cli.StringFlag{Name: "separator", Value: ":", Usage: "split keys into prefixes on `SEP`"},
			&cli.IntFlag{Name: "max-prefixes", Value: 10000, Usage: "prefix tree nodes kept while counting (`N`); smaller ones fold into (other)"},
			&cli.StringFlag{Name: "html", Usage: "also write a self-contained HTML report with charts to `OUT.html`"},
			&cli.BoolFlag{Name: "csv", Usage: "write the report as CSV rows"},
			&cli.BoolFlag{Name: "json", Usage: "write the report as a JSON object"},
			&cli.StringFlag{Name: "server", Value: "auto", Usage: "server to model: auto, 7.0 or 7.2 (7.2 and later)"},
			&cli.IntFlag{Name: "quantum", Value: 8, Usage: "jemalloc quantum `Q`: 8 (Redis's own build) or 16 (a system jemalloc)"},
			&cli.BoolFlag{Name: "loaded", Usage: "model the server right after it loads the file, not the one that wrote it"},
			&cli.BoolFlag{Name: "cluster", Usage: "model a cluster node (16 more bytes a key)"},
		}, filterFlags()...),
		Action: func(c *cli.Context) error {
			file, err := fileArg(c)
			if err != nil {
				return err
			}
			return runMemory(c.Context, memoryOptions{
				file:        file,
				top:         c.Int("top"),
				prefixDepth: c.Int("prefix-depth"),
				separator:   c.String("separator"),
				maxPrefixes: c.Int("max-prefixes"),
				html:        c.String("html"),
				csv:         c.Bool("csv"),
				json:        c.Bool("json"),
				server:      c.String("server"),
				quantum:     c.Int("quantum"),
				loaded:      c.Bool("loaded"),
				cluster:     c.Bool("cluster"),
				filter:      filterOptionsFrom(c),
				now:         time.Now(),
			}, c.App.Writer)
		},
	}
}

// check validates the options; a bad value is a usage error.
func (o *memoryOptions) check() error {
	switch {
	case o.csv && o.json:
		return usagef("memory", "--csv and --json exclude each other")
	case o.top < 1:
		return usagef("memory", "--top %d: want 1 or more", o.top)
	case o.prefixDepth < 0:
		return usagef("memory", "--prefix-depth %d: want 0 or more", o.prefixDepth)
	case o.prefixDepth > 0 && o.separator == "":
		return usagef("memory", "--separator: want a non-empty separator")
	case o.maxPrefixes < 1:
		return usagef("memory", "--max-prefixes %d: want 1 or more", o.maxPrefixes)
	case o.quantum != 8 && o.quantum != 16:
		return usagef("memory", "--quantum %d: want 8 or 16", o.quantum)
	}
	if o.server != "auto" {
		if _, ok := exporter.ParseMemoryServer(o.server); !ok {
			return usagef("memory", "--server %q: want auto, 7.0 or 7.2", o.server)
		}
	}
	return nil
}

// runMemory estimates every key of opts.file that passes the filters and
// writes the report to stdout (and the HTML page to opts.html).
func runMemory(ctx context.Context, opts memoryOptions, stdout io.Writer) error {
	if err := opts.check(); err != nil {
		return err
	}
	f, err := newFilter("memory", opts.filter)
	if err != nil {
		return err
	}
	in, err := openRDB(opts.file, opts.maxPayload)
	if err != nil {
		return err
	}
	defer in.Close()
	depth := opts.prefixDepth
	if depth == 0 {
		depth = -1 // MemoryReportOptions: negative for none
	}
	rep := exporter.NewMemoryReport(exporter.MemoryReportOptions{
		Top: opts.top, PrefixDepth: depth, Separator: opts.separator,
		MaxPrefixNodes: opts.maxPrefixes, Now: opts.now,
	})
	scan := exporter.MemoryScanOptions{
		Model:      exporter.MemoryOptions{Quantum: opts.quantum, Loaded: opts.loaded, Cluster: opts.cluster},
		AutoServer: opts.server == "auto",
		Keep:       func(e *rdb.Entry) bool { return f.match(e, opts.now) },
	}
	if s, ok := exporter.ParseMemoryServer(opts.server); ok {
		scan.Model.Server = s
	}
	if m := in.mapped(); m != nil {
		defer m.Close()
		scan.Input, scan.InputDone = m.data, m.release
	}
	model, err := exporter.ScanMemory(ctx, in.r, scan, rep)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return in.wrap(err)
	}
	sum := rep.Summary(model)
	if opts.html != "" {
		if err := writeFileAtomic(opts.html, func(w io.Writer) error {
			return sum.WriteHTML(w, filepath.Base(opts.file))
		}); err != nil {
			return err
		}
	}
	w := bufio.NewWriter(stdout)
	switch {
	case opts.json:
		err = sum.WriteJSON(w)
	case opts.csv:
		err = sum.WriteCSV(w)
	default:
		err = sum.WriteText(w)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

// writeFileAtomic writes path through a temporary file in the same
// directory, renamed into place once write succeeded and the data is
// synced, so that a failure never leaves a partial file behind.
func writeFileAtomic(path string, write func(w io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", strings.TrimPrefix(path, "./"), err)
	}
	return nil
}
