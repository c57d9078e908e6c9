package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rdbkit/rdbkit/exporter"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/urfave/cli/v2"
)

type exportOptions struct {
	file          string
	format        string // jsonl, json, csv or resp
	out           string // "" or "-": stdout
	restore       bool   // resp: RESTORE instead of commands
	replace       bool   // resp: overwrite existing keys
	targetVersion int    // resp: the target's RDB version; 0: the file's
	filter        filterOptions
	now           time.Time // for --no-expired and the hash fields resp leaves out
	maxPayload    int       // rdb.Reader.MaxPayload; 0: the default
	chunkSize     int       // rdb.Reader.ChunkSize; 0: the default
}

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write every key of a dump.rdb as JSON Lines, JSON, CSV or Redis commands",
		ArgsUsage: "FILE",
		Description: "--format jsonl (the default) writes a JSON object a line: a record per key with its\n" +
			"value, and a record per aux field and function library (\"kind\":\"aux\", \"function\");\n" +
			"json writes the same records as one JSON array. Byte strings that are not valid UTF-8\n" +
			"are {\"base64\":\"...\"}, scores exact, expiries absolute Unix ms. The records of each type\n" +
			"are described in docs/export-schema.md.\n" +
			"csv writes a row per key: db,key,type,encoding,expire_at,size,elements (a key that is\n" +
			"not valid UTF-8, or starts with \"base64:\", is \"base64:\" and its base64).\n" +
			"resp writes the commands that rebuild the data, for redis-cli --pipe: SELECT, FUNCTION\n" +
			"LOAD, and per key SET/RPUSH/SADD/ZADD/HSET/XADD... in bounded batches with PEXPIREAT and\n" +
			"HPEXPIREAT; with --restore, RESTORE key <expiry> <payload> ABSTTL [IDLETIME n|FREQ n].\n" +
			"--target-version says which server the commands and payloads are for (its RDB version:\n" +
			"10 Redis 7.0, 11 Redis 7.2, 12 Redis 7.4-8.4, 13 Redis 8.6, 80 Valkey 9; default: the\n" +
			"file's). What the target cannot hold is reported on stderr.\n" +
			"With -o OUT the output goes to a temporary file beside OUT, renamed to OUT at the end:\n" +
			"a failed export leaves no file. FILE - reads the standard input.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "jsonl", Usage: "`FORMAT`: jsonl, json, csv or resp"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `OUT` (atomically) instead of the standard output"},
			&cli.BoolFlag{Name: "restore", Usage: "resp: write RESTORE with the serialized value instead of commands"},
			&cli.BoolFlag{Name: "replace", Usage: "resp: overwrite existing keys (RESTORE ... REPLACE, DEL first, FUNCTION LOAD REPLACE)"},
			&cli.IntFlag{Name: "target-version", Usage: "resp: write for a server of RDB version `N` (default: the file's)"},
		}, filterFlags()...),
		Action: func(c *cli.Context) error {
			const name = "export"
			file, err := fileArg(c)
			if err != nil {
				return err
			}
			opts := exportOptions{
				file:          file,
				format:        c.String("format"),
				out:           c.String("output"),
				restore:       c.Bool("restore"),
				replace:       c.Bool("replace"),
				targetVersion: c.Int("target-version"),
				filter:        filterOptionsFrom(c),
				now:           time.Now(),
			}
			switch opts.format {
			case "jsonl", "json", "csv", "resp":
			default:
				return usagef(name, "--format %q: want jsonl, json, csv or resp", opts.format)
			}
			if opts.format != "resp" && (opts.restore || opts.replace || c.IsSet("target-version")) {
				return usagef(name, "--restore, --replace and --target-version go with --format resp")
			}
			if c.IsSet("target-version") && !knownVersion(opts.targetVersion) {
				return usagef(name, "--target-version %d: want 1 to %d (Redis) or %d to %d (Valkey)",
					opts.targetVersion, rdb.MaxRedisVersion, rdb.MinValkeyVersion, rdb.MaxValkeyVersion)
			}
			return runExport(c.Context, opts, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func knownVersion(v int) bool {
	return v >= 1 && v <= rdb.MaxRedisVersion || v >= rdb.MinValkeyVersion && v <= rdb.MaxValkeyVersion
}

// exportSummary counts what an export wrote.
type exportSummary struct {
	keys, filtered, other int64
}

// runExport writes the records of opts.file that pass the filters to
// opts.out (or stdout) in opts.format, and a summary line on stderr.
func runExport(ctx context.Context, opts exportOptions, stdout, stderr io.Writer) error {
	start := time.Now()
	f, err := newFilter("export", opts.filter)
	if err != nil {
		return err
	}
	in, err := openRDB(opts.file, opts.maxPayload)
	if err != nil {
		return err
	}
	defer in.Close()
	in.r.ChunkSize = opts.chunkSize
	dst, err := createOutput(opts.out, stdout)
	if err != nil {
		return err
	}
	defer dst.abort()
	var w exporter.Writer
	var resp *exporter.RESP
	var sum exportSummary
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := in.r.Next()
		if w == nil && (err == nil || err == io.EOF) {
			w, resp = newExportWriter(opts, in.r, dst)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return in.wrap(err)
		}
		switch {
		case e.Kind != rdb.KindKey:
			sum.other++
		case !f.match(e, opts.now):
			sum.filtered++
			continue
		default:
			sum.keys++
		}
		if err := w.Write(e); err != nil {
			return in.wrap(err)
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := dst.commit(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "export: %d keys written, %d left out by the filters, %s\n",
		sum.keys, sum.filtered, time.Since(start).Round(time.Millisecond))
	if resp != nil {
		st := resp.Stats()
		fmt.Fprintf(stderr, "export: %d commands: %d keys with RESTORE, %d with commands, %d hashes whose fields had all expired left out, %d function libraries\n",
			st.Commands, st.Restored, st.Rewritten, st.Expired, st.Functions)
		if lost := resp.Lost(); lost != "" {
			fmt.Fprintf(stderr, "export: not carried: %s\n", lost)
		}
	}
	return nil
}

// newExportWriter returns the writer of opts.format; r has read the
// file's header.
func newExportWriter(opts exportOptions, r *rdb.Reader, w io.Writer) (exporter.Writer, *exporter.RESP) {
	switch opts.format {
	case "json":
		return exporter.NewJSON(w), nil
	case "csv":
		return exporter.NewCSV(w), nil
	case "resp":
		t := rdb.Target{Version: r.Version(), Valkey: r.Valkey()}
		if opts.targetVersion != 0 {
			t = rdb.Target{Version: opts.targetVersion, Valkey: opts.targetVersion >= rdb.MinValkeyVersion}
		}
		resp := exporter.NewRESP(w, exporter.RESPOptions{
			Restore: opts.restore,
			Replace: opts.replace,
			Target:  t,
			Now:     opts.now.UnixMilli(),
		})
		return resp, resp
	}
	return exporter.NewJSONL(w), nil
}

// An output is where an export goes: the standard output, or a temporary
// file renamed to its name by commit (and removed by abort, which does
// nothing after commit).
type output struct {
	io.Writer
	f    *os.File // nil for the standard output
	path string
}

// createOutput opens path for writing ("" or "-": stdout) through a
// temporary file in the same directory.
func createOutput(path string, stdout io.Writer) (*output, error) {
	if path == "" || path == "-" {
		return &output{Writer: stdout}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &output{Writer: f, f: f, path: path}, nil
}

// commit makes the file complete under its name: sync, close, rename.
func (o *output) commit() error {
	if o.f == nil {
		return nil
	}
	f := o.f
	err := f.Chmod(0o644)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), o.path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	o.f = nil
	return err
}

// abort removes the temporary file unless commit was called.
func (o *output) abort() {
	if o.f != nil {
		_ = o.f.Close()
		_ = os.Remove(o.f.Name())
		o.f = nil
	}
}
