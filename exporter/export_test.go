package exporter

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
)

// testNow is the "current time" of the golden outputs (RESP leaves out
// hash fields expired by then): after the near-future expiries of the
// generated fixtures (Nov 2026), before the year-2100 ones.
var testNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// dumpRDB is the project's own small snapshot (testdata/README.md).
const dumpRDB = "../testdata/dump.rdb"

// An exportConfig says how to export a file in a test.
type exportConfig struct {
	format     string // jsonl, json, csv, resp
	restore    bool   // resp: RESTORE
	target     int    // resp: target RDB version; 0: the file's
	maxPayload int    // rdb.Reader.MaxPayload
	chunkSize  int    // rdb.Reader.ChunkSize
	holdMax    int    // jsonEnc.holdMax; 0: the default
	streamed   *int   // if not nil, counts the keys whose value was streamed
}

// exportFile exports the file at path as the cmd/rdbkit export command
// does (without filters) and returns the output.
func exportFile(t testing.TB, path string, cfg exportConfig) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := exportTo(&out, f, cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out.Bytes()
}

func exportTo(out io.Writer, in io.Reader, cfg exportConfig) error {
	r := rdb.NewReader(in)
	r.MaxPayload, r.ChunkSize = cfg.maxPayload, cfg.chunkSize
	var w Writer
	for {
		e, err := r.Next()
		if w == nil && (err == nil || err == io.EOF) {
			w = newTestWriter(out, r, cfg)
		}
		if err == io.EOF {
			return w.Close()
		}
		if err != nil {
			return err
		}
		if e.Streamed() && cfg.streamed != nil {
			*cfg.streamed++
		}
		if err := w.Write(e); err != nil {
			return err
		}
	}
}

func newTestWriter(out io.Writer, r *rdb.Reader, cfg exportConfig) Writer {
	switch cfg.format {
	case "json":
		w := NewJSON(out)
		if cfg.holdMax > 0 {
			w.enc.holdMax = cfg.holdMax
		}
		return w
	case "csv":
		return NewCSV(out)
	case "resp":
		t := rdb.Target{Version: r.Version(), Valkey: r.Valkey()}
		if cfg.target != 0 {
			t = rdb.Target{Version: cfg.target, Valkey: cfg.target >= rdb.MinValkeyVersion}
		}
		return NewRESP(out, RESPOptions{Restore: cfg.restore, Target: t, Now: testNow.UnixMilli()})
	}
	w := NewJSONL(out)
	if cfg.holdMax > 0 {
		w.enc.holdMax = cfg.holdMax
	}
	return w
}

// goldenFiles are the inputs of the golden tests: the project's dump.rdb
// and shared fixtures, with the label that names their golden files.
var goldenFiles = []struct{ label, path string }{
	{"dump", dumpRDB},
	{"7.2-strings", "generated/redis-7.2/strings.rdb"},
	{"7.2-lists", "generated/redis-7.2/lists.rdb"},
	{"7.2-sets", "generated/redis-7.2/sets.rdb"},
	{"7.2-zsets", "generated/redis-7.2/zsets.rdb"},
	{"7.2-hashes", "generated/redis-7.2/hashes.rdb"},
	{"7.2-streams", "generated/redis-7.2/streams.rdb"},
	{"7.2-ttl", "generated/redis-7.2/ttl.rdb"},
	{"7.2-multidb", "generated/redis-7.2/multidb.rdb"},
	{"7.2-functions", "generated/redis-7.2/functions.rdb"},
	{"7.4-hash-fe", "generated/redis-7.4/hash-fe.rdb"},
	{"7.0-streams", "generated/redis-7.0.15/streams.rdb"},
	{"module", "corpus/librdb/test/dumps/module_aux_v12.rdb"},
}

// goldenPath returns the path of a golden input.
func goldenPath(t testing.TB, path string) string {
	if path == dumpRDB {
		return path
	}
	return sharedFile(t, path)
}

// goldenFormats are the outputs each golden input is written in.
var goldenFormats = []struct {
	name string
	cfg  exportConfig
}{
	{"jsonl", exportConfig{format: "jsonl"}},
	{"json", exportConfig{format: "json"}},
	{"csv", exportConfig{format: "csv"}},
	{"resp", exportConfig{format: "resp"}},
	{"resp-7.0", exportConfig{format: "resp", target: 10}},
	{"restore", exportConfig{format: "resp", restore: true}},
}

// TestGolden writes every golden input in every format and compares the
// output with testdata/<label>.<format>.golden (go test ./exporter
// -update rewrites them). RESP is rendered a command a line; lines longer
// than goldenLongLine are kept as their beginning and SHA-256. The JSON
// outputs are also checked against docs/export.schema.json, line by line.
func TestGolden(t *testing.T) {
	schema := loadSchema(t)
	for _, in := range goldenFiles {
		for _, f := range goldenFormats {
			name := in.label + "." + f.name
			t.Run(name, func(t *testing.T) {
				if strings.HasPrefix(f.name, "resp-") && in.label != "7.4-hash-fe" && in.label != "7.2-streams" {
					t.Skip("target variants only for field TTLs and stream metadata")
				}
				out := exportFile(t, goldenPath(t, in.path), f.cfg)
				switch f.cfg.format {
				case "resp":
					checkGolden(t, name, respText(t, out))
				default:
					checkGolden(t, name, goldenText(out))
				}
				switch f.cfg.format {
				case "jsonl":
					checkSchemaLines(t, schema, out)
				case "json":
					checkSchemaArray(t, schema, out)
				}
			})
		}
	}
}

// checkSchemaLines validates every line of JSON Lines output.
func checkSchemaLines(t *testing.T, s *schema, out []byte) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	n := 0
	for sc.Scan() {
		n++
		if err := s.validateJSON(sc.Bytes()); err != nil {
			t.Fatalf("line %d: %v\n%.300s", n, err, sc.Bytes())
		}
	}
}

// checkSchemaArray checks the layout of JSON output ("[", records one a
// line with a comma after each but the last, "]") and validates each
// record.
func checkSchemaArray(t *testing.T, s *schema, out []byte) {
	t.Helper()
	if string(out) == "[]\n" {
		return
	}
	body, ok1 := bytes.CutPrefix(out, []byte("[\n"))
	body, ok2 := bytes.CutSuffix(body, []byte("\n]\n"))
	if !ok1 || !ok2 {
		t.Fatalf("JSON output not framed by [ and ]: %.100q ... %.100q", out, out[max(0, len(out)-100):])
	}
	lines := bytes.Split(body, []byte(",\n"))
	for i, l := range lines {
		if err := s.validateJSON(l); err != nil {
			t.Fatalf("record %d: %v\n%.300s", i+1, err, l)
		}
	}
}

// allGenerated returns every generated fixture (*.rdb with its
// .expected.jsonl) of the shared folder.
func allGenerated(t testing.TB) []string {
	dir := sharedFile(t, "generated")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.rdb"))
	if err != nil || len(files) < 90 {
		t.Fatalf("generated fixtures: %d files, %v", len(files), err)
	}
	return files
}

// TestStreamedIdentical exports every generated fixture and the golden
// inputs with values kept whole and with values streamed: over 64 bytes
// in pieces of 97 bytes, over 48 bytes byte by byte with long strings
// held in the temporary file from 1000 bytes, and over 4096 bytes with a
// tiny memory hold. JSON Lines and JSON must come out byte for byte the
// same. (Below 47 bytes a streamed string would be reported as "raw"
// rather than "embstr" or "int": rdb.Entry.ObjectEncoding needs the
// payload to tell.)
func TestStreamedIdentical(t *testing.T) {
	files := allGenerated(t)
	for _, g := range goldenFiles {
		if g.path == dumpRDB || strings.HasPrefix(g.path, "corpus/") {
			files = append(files, goldenPath(t, g.path))
		}
	}
	configs := []exportConfig{
		{maxPayload: 64, chunkSize: 97},
		{maxPayload: 48, chunkSize: 1, holdMax: 1000},
		{maxPayload: 4096, chunkSize: 5000, holdMax: 7},
	}
	streamed := make([]int, len(configs))
	for _, path := range files {
		for _, format := range []string{"jsonl", "json"} {
			t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path)+"/"+format, func(t *testing.T) {
				whole := exportFile(t, path, exportConfig{format: format})
				for i, cfg := range configs {
					cfg.format, cfg.streamed = format, &streamed[i]
					streamed := exportFile(t, path, cfg)
					if !bytes.Equal(whole, streamed) {
						i := 0
						for i < min(len(whole), len(streamed)) && whole[i] == streamed[i] {
							i++
						}
						t.Fatalf("maxPayload %d chunk %d: outputs differ at byte %d:\nwhole    %.200q\nstreamed %.200q",
							cfg.maxPayload, cfg.chunkSize, i, whole[max(0, i-50):], streamed[max(0, i-50):])
					}
				}
			})
		}
	}
	for i, n := range streamed {
		t.Logf("maxPayload %d: %d values streamed", configs[i].maxPayload, n)
		if n < 100 {
			t.Errorf("maxPayload %d: only %d values streamed", configs[i].maxPayload, n)
		}
	}
}
