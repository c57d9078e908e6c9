package main

import (
	"github.com/rdbkit/rdbkit/internal/fixtures"

	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is the "current time" of the golden outputs: after the
// near-future expiries of the generated fixtures (Nov 2026), before the
// year-2100 ones.
var testNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// dumpRDB is the project's own small snapshot (testdata/README.md).
const dumpRDB = "../../testdata/dump.rdb"

// sharedFile returns the path of a file of the shared fixture folder.
func sharedFile(t testing.TB, rel string) string { return fixtures.Shared(t, rel) }

// checkGolden compares got with testdata/<name>.golden, or rewrites the
// file under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	fixtures.Golden(t, "./cmd/rdbkit", name, got, *update)
}

// runCLI runs the command line like main does and returns the exit code,
// stdout and stderr.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"rdbkit"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.rdb")
	data, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring
		stderr     string // substring; "" means stderr must be empty
		stderrNone bool
	}{
		{"check ok", []string{"check", dumpRDB}, exitOK, "ok: 356 keys, checksum ok\n", "", true},
		{"check flags after file", []string{"check", dumpRDB, "--type", "hash"}, exitOK, "ok: 356 keys (1 decoded, 355 left out by the filters), checksum ok", "", true},
		{"check corrupt", []string{"check", truncated}, exitFailure, "corrupt: rdb: truncated at offset 4104", "", true},
		{"info corrupt", []string{"info", truncated}, exitFailure, "checksum:   unread", "rdbkit: " + truncated + ": rdb: truncated at offset 4104", false},
		{"keys corrupt", []string{"keys", truncated}, exitFailure, "", "rdbkit: " + truncated + ": rdb: truncated", false},
		{"missing file", []string{"check", filepath.Join(dir, "nope.rdb")}, exitFailure, "", "rdbkit: open " + filepath.Join(dir, "nope.rdb") + ": no such file or directory", false},
		{"no file argument", []string{"keys"}, exitUsage, "", "rdbkit: missing FILE argument\nRun 'rdbkit keys --help' for usage.", false},
		{"two file arguments", []string{"info", dumpRDB, dumpRDB}, exitUsage, "", "rdbkit: too many arguments: " + dumpRDB, false},
		{"unknown flag", []string{"keys", "--nope", dumpRDB}, exitUsage, "", "rdbkit: flag provided but not defined: -nope", false},
		{"unknown flag after file", []string{"keys", dumpRDB, "--nope"}, exitUsage, "", "flag provided but not defined: -nope", false},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", "rdbkit: unknown command \"frobnicate\"\nRun 'rdbkit --help' for usage.", false},
		{"bad type", []string{"keys", "--type", "blob", dumpRDB}, exitUsage, "", "rdbkit: --type \"blob\": want string, list, set, zset, hash, stream or module", false},
		{"bad regex", []string{"keys", "--regex", "(", dumpRDB}, exitUsage, "", "rdbkit: --regex: error parsing regexp", false},
		{"bad db", []string{"info", "--db", "-1", dumpRDB}, exitUsage, "", "rdbkit: --db -1: a database number is 0 or more", false},
		{"db not a number", []string{"info", "--db", "x", dumpRDB}, exitUsage, "", "invalid value \"x\" for flag -db", false},
		{"help", []string{"--help"}, exitOK, "COMMANDS", "", true},
		{"command help", []string{"keys", "--help"}, exitOK, "--no-expired", "", true},
		{"no command", nil, exitOK, "USAGE", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tt.stdout)
			}
			if tt.stderrNone && stderr != "" {
				t.Errorf("stderr not empty: %q", stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
		})
	}
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"rdbkit", "check", dumpRDB}, &out, &errb)
	if code != exitInterrupted || errb.String() != "rdbkit: interrupted\n" {
		t.Errorf("exit code %d, stderr %q; want %d, interrupted", code, errb.String(), exitInterrupted)
	}
}

func TestPermuteArgs(t *testing.T) {
	app := newApp(nil, nil)
	tests := []struct {
		in, want string
	}{
		{"rdbkit", "rdbkit"},
		{"rdbkit keys f.rdb", "rdbkit keys -- f.rdb"},
		{"rdbkit keys f.rdb --json", "rdbkit keys --json -- f.rdb"},
		{"rdbkit keys f.rdb --db 1 --match a* --type hash", "rdbkit keys --db 1 --match a* --type hash -- f.rdb"},
		{"rdbkit keys --db=1 f.rdb -json", "rdbkit keys --db=1 -json -- f.rdb"},
		{"rdbkit keys f.rdb --db -1", "rdbkit keys --db -1 -- f.rdb"},
		{"rdbkit keys -- -odd.rdb --json", "rdbkit keys -- -odd.rdb --json"},
		{"rdbkit keys - --json", "rdbkit keys --json -- -"},
		{"rdbkit keys f.rdb --match", "rdbkit keys --match -- f.rdb"},
		{"rdbkit --help keys f.rdb --json", "rdbkit --help keys --json -- f.rdb"},
		{"rdbkit nope f.rdb --json", "rdbkit nope f.rdb --json"},
	}
	for _, tt := range tests {
		got := strings.Join(permuteArgs(app, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("permuteArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestActionOptions checks that each command's Action copies its flags
// into its options: the same output as calling runX directly.
func TestActionOptions(t *testing.T) {
	f := filterOptions{dbs: []int{0}, match: "{user:1}*", types: []string{"hash", "zset"}}
	var direct bytes.Buffer
	if err := runKeys(context.Background(), keysOptions{file: dumpRDB, json: true, filter: f, now: time.Now()}, &direct); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "keys", dumpRDB, "--json", "--db", "0", "--match", "{user:1}*", "--type", "hash", "--type", "zset")
	if code != 0 || stdout != direct.String() || stderr != "" {
		t.Errorf("CLI: exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, direct.String())
	}
	if n := strings.Count(stdout, "\n"); n != 2 {
		t.Errorf("%d keys, want 2:\n%s", n, stdout)
	}
}

func TestFilterOptionsFromFlags(t *testing.T) {
	app := newApp(nil, nil)
	var got filterOptions
	for _, c := range app.Commands {
		if c.Name == "keys" {
			c.Action = func(c *cli.Context) error { got = filterOptionsFrom(c); return nil }
		}
	}
	args := []string{"rdbkit", "keys", "f", "--db", "1", "--db", "2,3", "--match", "a,b", "--regex", "^x", "--type", "hash,set", "--type", "zset", "--no-expired"}
	if err := app.Run(permuteArgs(app, args)); err != nil {
		t.Fatal(err)
	}
	want := filterOptions{dbs: []int{1, 2, 3}, match: "a,b", regex: "^x", types: []string{"hash", "set", "zset"}, noExpired: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
