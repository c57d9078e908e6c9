package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/rdbkit/rdbkit/source"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
)

// runFetchCLI runs "rdbkit fetch args..." through the command line parser,
// registering the fetch command if main.go does not yet.
func runFetchCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp(&out, &errb)
	if app.Command("fetch") == nil {
		cmd := fetchCommand()
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return &usageError{cmd: "fetch", err: err}
		}
		app.Commands = append(app.Commands, cmd)
	}
	err = app.RunContext(context.Background(), permuteArgs(app, append([]string{"rdbkit", "fetch"}, args...)))
	return out.String(), errb.String(), err
}

// startFetchSource starts a server that sends diskless snapshots at once
// (Redis 7.0 waits 5 s by default) unless args say otherwise.
func startFetchSource(t *testing.T, opts ...redistest.Option) *redistest.Server {
	t.Helper()
	return redistest.Start(t, append([]redistest.Option{redistest.WithArgs("--repl-diskless-sync-delay", "0")}, opts...)...)
}

// fillSource writes keys of every type, some with TTLs, into dbs 0, 2 and
// 7, and returns the number of keys.
func fillSource(t *testing.T, srv *redistest.Server, n int) int {
	t.Helper()
	ctx := context.Background()
	total := 0
	for _, db := range []int{0, 2, 7} {
		rc := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: srv.Password, DB: db})
		pipe := rc.Pipeline()
		for i := range n + db {
			k := fmt.Sprintf("key:%d:%d", db, i)
			switch i % 7 {
			case 0:
				pipe.Set(ctx, k, strings.Repeat("value", i), 0)
			case 1:
				pipe.Set(ctx, k, i, time.Duration(i+1)*time.Hour)
			case 2:
				pipe.RPush(ctx, k, "a", i, strings.Repeat("long", 30))
			case 3:
				pipe.HSet(ctx, k, "f", i, "g", "x")
				pipe.Expire(ctx, k, 90*time.Minute)
			case 4:
				pipe.SAdd(ctx, k, "m", i, "z")
			case 5:
				pipe.ZAdd(ctx, k, redis.Z{Score: float64(i) / 3, Member: "a"}, redis.Z{Score: -1, Member: "b"})
			case 6:
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: k, ID: fmt.Sprintf("%d-1", i+1), Values: []string{"f", "v"}})
			}
			total++
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	return total
}

// checkFetched decodes file (checksum OK) and returns its keys and
// function libraries.
func checkFetched(t *testing.T, file string) (keys, functions int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rdb.NewReader(f)
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch e.Kind {
		case rdb.KindKey:
			keys++
		case rdb.KindFunction:
			functions++
		}
	}
	if _, _, st := r.Checksum(); st != rdb.ChecksumOK {
		t.Fatalf("checksum %v", st)
	}
	if rest, _ := io.Copy(io.Discard, f); rest != 0 {
		t.Fatalf("%d bytes after the RDB", rest)
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("%s.tmp left behind: %v", file, err)
	}
	return keys, functions
}

// compareLoaded loads file into a fresh server and compares every
// database, key, value and expiry with src.
func compareLoaded(t *testing.T, src *redistest.Server, file string) {
	t.Helper()
	dst := redistest.Start(t, redistest.WithDir(filepath.Dir(file)), redistest.WithArgs("--dbfilename", filepath.Base(file)))
	ctx := context.Background()
	srcSpace := keyspace(t, src.Client(t))
	if dstSpace := keyspace(t, dst.Client(t)); !slices.Equal(srcSpace, dstSpace) {
		t.Fatalf("keyspace: source %q, loaded %q", srcSpace, dstSpace)
	}
	for _, line := range srcSpace {
		db, _ := strconv.Atoi(strings.TrimPrefix(line[:strings.Index(line, ":")], "db"))
		a := redis.NewClient(&redis.Options{Addr: src.Addr, Password: src.Password, DB: db})
		b := redis.NewClient(&redis.Options{Addr: dst.Addr, DB: db})
		keys, err := a.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if va, vb := dumpValue(t, a, k), dumpValue(t, b, k); va != vb {
				t.Errorf("db %d key %q: source %s, loaded %s", db, k, va, vb)
			}
		}
		a.Close()
		b.Close()
	}
}

// keyspace returns INFO keyspace's lines without the average TTL.
func keyspace(t *testing.T, rc *redis.Client) []string {
	t.Helper()
	info, err := rc.Info(context.Background(), "keyspace").Result()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(info, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "db") {
			lines = append(lines, regexp.MustCompile(`,avg_ttl=\d+`).ReplaceAllString(l, ""))
		}
	}
	return lines
}

// dumpValue describes a key's type, value and absolute expiry.
func dumpValue(t *testing.T, rc *redis.Client, k string) string {
	t.Helper()
	ctx := context.Background()
	typ := rc.Type(ctx, k).Val()
	var v any
	var err error
	switch typ {
	case "string":
		v, err = rc.Get(ctx, k).Result()
	case "list":
		v, err = rc.LRange(ctx, k, 0, -1).Result()
	case "hash":
		v, err = rc.HGetAll(ctx, k).Result()
	case "set":
		var m []string
		m, err = rc.SMembers(ctx, k).Result()
		slices.Sort(m)
		v = m
	case "zset":
		v, err = rc.ZRangeWithScores(ctx, k, 0, -1).Result()
	case "stream":
		v, err = rc.XRange(ctx, k, "-", "+").Result()
	}
	if err != nil {
		t.Fatal(err)
	}
	exp, err := rc.Do(ctx, "PEXPIRETIME", k).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s %v expire=%d", typ, v, exp)
}

var summaryRE = regexp.MustCompile(`^fetched (.+): (\d+) bytes \([^)]+\), (\d+) keys(, \d+ function libraries)?, [0-9.]+[mµn]?s, checksum ok \(crc64 [0-9a-f]{16}\)\n$`)

// TestFetchIntegration fetches with and without diskless replication and
// loads the file into a fresh server.
func TestFetchIntegration(t *testing.T) {
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"disk", []string{"--repl-diskless-sync", "no"}},
		{"diskless", []string{"--repl-diskless-sync", "yes"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			src := startFetchSource(t, redistest.WithArgs(mode.args...))
			want := fillSource(t, src, 200)
			out := filepath.Join(t.TempDir(), "fetched.rdb")
			stdout, stderr, err := runFetchCLI(t, "--from", "redis://"+src.Addr, "-o", out)
			if err != nil {
				t.Fatalf("%v\nstderr: %s", err, stderr)
			}
			m := summaryRE.FindStringSubmatch(stdout)
			if m == nil || m[1] != out || m[3] != strconv.Itoa(want) {
				t.Errorf("summary %q, want %d keys", stdout, want)
			}
			keys, _ := checkFetched(t, out)
			if keys != want {
				t.Errorf("%d keys in the file, want %d", keys, want)
			}
			st, err := os.Stat(out)
			if err != nil || strconv.FormatInt(st.Size(), 10) != m[2] {
				t.Errorf("file size %v, summary says %s bytes", st, m[2])
			}
			if mode.name == "disk" {
				// The source wrote the RDB it sent to its own dump.rdb.
				sent, err := os.ReadFile(filepath.Join(src.Dir, "dump.rdb"))
				got, _ := os.ReadFile(out)
				if err != nil || !bytes.Equal(got, sent) {
					t.Errorf("the file differs from the source's dump.rdb (%v)", err)
				}
			}
			if n := src.Client(t).Info(context.Background(), "replication").Val(); !strings.Contains(n, "connected_slaves:0") {
				t.Errorf("the source keeps a replica after an rdb-only fetch:\n%s", n)
			}
			compareLoaded(t, src, out)
		})
	}
}

func TestFetchAuthIntegration(t *testing.T) {
	const password = "Pa55-word_only"
	src := startFetchSource(t, redistest.WithPassword(password),
		redistest.WithACLUser("syncer on >syncer-secret ~* +psync +replconf"),
		redistest.WithACLUser("reader on >reader-secret ~* +@read"))
	fillSource(t, src, 20)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	syncerFile := filepath.Join(dir, "syncer-pw")
	if err := os.WriteFile(syncerFile, []byte("syncer-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := []string{password, "syncer-secret", "reader-secret", "wrong-secret"}
	tests := []struct {
		name    string
		env     string
		args    []string
		wantErr string // "" for success
		is      error
	}{
		{"url", "", []string{"--from", "redis://:" + password + "@" + src.Addr}, "", nil},
		{"env", password, []string{"--from", "redis://" + src.Addr}, "", nil},
		{"file", "wrong-secret", []string{"--from", "redis://" + src.Addr, "--password-file", pwFile}, "", nil},
		{"acl user", "", []string{"--from", "redis://syncer:@" + src.Addr, "--password-file", syncerFile}, "", nil},
		{"wrong password", "", []string{"--from", "redis://:wrong-secret@" + src.Addr}, "check the user and password", source.ErrAuth},
		{"no password", "", []string{"--from", "redis://" + src.Addr}, "requires a password", source.ErrAuth},
		{"no permission", "", []string{"--from", "redis://reader:reader-secret@" + src.Addr},
			"grant +psync +sync +replconf, or use `rdbkit copy`", source.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(source.EnvPassword, tt.env)
			out := filepath.Join(t.TempDir(), "dump.rdb")
			stdout, stderr, err := runFetchCLI(t, append(tt.args, "-o", out)...)
			all := stdout + stderr
			if err != nil {
				all += err.Error()
			}
			for _, s := range secrets {
				if strings.Contains(all, s) {
					t.Errorf("the output shows a password:\n%s", all)
				}
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("%v\n%s", err, stderr)
				}
				checkFetched(t, out)
				return
			}
			if err == nil || !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %v with %q", err, tt.is, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "redis://") {
				t.Errorf("error %q does not name the source", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}

func TestFetchFunctionsOnlyIntegration(t *testing.T) {
	src := startFetchSource(t)
	fillSource(t, src, 10)
	lib := "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)"
	if err := src.Client(t).FunctionLoad(context.Background(), lib).Err(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "functions.rdb")
	stdout, stderr, err := runFetchCLI(t, "--from", "redis://"+src.Addr, "-o", out, "--functions-only")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	keys, functions := checkFetched(t, out)
	if keys != 0 || functions != 1 {
		t.Errorf("%d keys and %d functions, want 0 and 1", keys, functions)
	}
	if !strings.Contains(stdout, "0 keys, 1 function libraries") {
		t.Errorf("summary %q", stdout)
	}
}

// TestFetchProgressIntegration prints plain progress lines when stderr is
// not a terminal.
func TestFetchProgressIntegration(t *testing.T) {
	src := startFetchSource(t, redistest.WithArgs("--repl-diskless-sync", "no"))
	fillSource(t, src, 3000)
	out := filepath.Join(t.TempDir(), "dump.rdb")
	var stdout, stderr bytes.Buffer
	err := runFetch(context.Background(), fetchOptions{from: "redis://" + src.Addr, output: out, progressEvery: time.Microsecond},
		&stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	re := regexp.MustCompile(`^fetch: [0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]?i?B \(\d+%\), [0-9.]+ [KMG]?i?B/s, \d+ keys$`)
	progress := 0
	for _, l := range lines {
		if re.MatchString(l) {
			progress++
		} else if !strings.HasPrefix(l, "fetch: redis://") && l != "fetch: waiting for the snapshot (the source is saving it)" {
			t.Errorf("stderr line %q", l)
		}
	}
	if progress == 0 || strings.Contains(stderr.String(), "\r") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}

// TestFetchTLSIntegration fetches over TLS from a server with a
// certificate of the test's own CA.
func TestFetchTLSIntegration(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeCerts(t, dir)
	port := redistest.FreePort(t)
	src := startFetchSource(t, redistest.WithArgs("--tls-port", strconv.Itoa(port), "--tls-cert-file", cert,
		"--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"))
	want := fillSource(t, src, 20)
	url := "rediss://127.0.0.1:" + strconv.Itoa(port)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"ca", []string{"--tls-ca", ca}, ""},
		{"insecure", []string{"--tls-insecure"}, ""},
		{"unknown authority", nil, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "dump.rdb")
			_, stderr, err := runFetchCLI(t, append([]string{"--from", url, "-o", out}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if keys, _ := checkFetched(t, out); keys != want {
				t.Errorf("%d keys, want %d", keys, want)
			}
		})
	}
}

func TestFetchUsage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.rdb")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no from", []string{"-o", out}, "missing --from"},
		{"no output", []string{"--from", "redis://h"}, "missing -o"},
		{"stdout", []string{"--from", "redis://h", "-o", "-"}, "-o -"},
		{"argument", []string{"--from", "redis://h", "-o", out, "extra"}, "unexpected argument"},
		{"tls without rediss", []string{"--from", "redis://h", "-o", out, "--tls-insecure"}, "rediss://"},
		{"bad url", []string{"--from", "redis://u:hidden-pw@h:port", "-o", out}, "bad URL"},
		{"unknown flag", []string{"--from", "redis://h", "-o", out, "--nope"}, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runFetchCLI(t, tt.args...)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a usage error with %q", err, tt.want)
			}
			if strings.Contains(err.Error()+stdout+stderr, "hidden-pw") {
				t.Errorf("the password is shown: %v", err)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output created: %v", err)
			}
		})
	}
}

func TestFetchFailures(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()

	t.Run("connection refused", func(t *testing.T) {
		out := filepath.Join(dir, "refused.rdb")
		_, _, err := runFetchCLI(t, "--from", "redis://:pw-123@"+refused, "-o", out)
		if err == nil || !strings.Contains(err.Error(), "connect to redis://:xxxxx@"+refused) || strings.Contains(err.Error(), "pw-123") {
			t.Fatalf("error %v", err)
		}
		assertNoFile(t, out)
	})
	t.Run("tmp exists", func(t *testing.T) {
		out := filepath.Join(dir, "busy.rdb")
		if err := os.WriteFile(out+".tmp", []byte("another fetch"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := runFetchCLI(t, "--from", "redis://"+refused, "-o", out)
		if err == nil || !strings.Contains(err.Error(), "busy.rdb.tmp exists") {
			t.Fatalf("error %v", err)
		}
		if b, _ := os.ReadFile(out + ".tmp"); string(b) != "another fetch" {
			t.Errorf("the other fetch's file was touched: %q", b)
		}
	})

	good, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)/2] ^= 0x01
	for _, tt := range []struct {
		name, header string
		body         []byte
		want         string
	}{
		{"good", "$" + strconv.Itoa(len(good)), good, ""},
		{"good diskless", "$EOF:" + strings.Repeat("e", 40), append(bytes.Clone(good), strings.Repeat("e", 40)...), ""},
		{"checksum", "$" + strconv.Itoa(len(corrupt)), corrupt, "rdb: "},
		{"truncated", "$" + strconv.Itoa(len(good)), good[:len(good)-100], "unexpected EOF"},
		{"truncated diskless", "$EOF:" + strings.Repeat("e", 40), good, "unexpected EOF"},
		{"trailing bytes", "$" + strconv.Itoa(len(good)+3), append(bytes.Clone(good), "xyz"...), "3 bytes after the end"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeSource(t, tt.header, tt.body, 0)
			out := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".rdb")
			_, stderr, err := runFetchCLI(t, "--from", "redis://"+addr, "-o", out)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%v\n%s", err, stderr)
				}
				if got, _ := os.ReadFile(out); !bytes.Equal(got, good) {
					t.Errorf("the file differs from what was sent")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			assertNoFile(t, out)
		})
	}
}

// TestFetchInterrupted cancels a fetch whose source stalls mid-snapshot.
func TestFetchInterrupted(t *testing.T) {
	good, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	addr := fakeSource(t, "$"+strconv.Itoa(len(good)), good[:len(good)/2], 10*time.Second)
	out := filepath.Join(t.TempDir(), "dump.rdb")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	var stdout, stderr bytes.Buffer
	err = runFetch(ctx, fetchOptions{from: "redis://" + addr, output: out}, &stdout, &stderr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
	assertNoFile(t, out)
}

func assertNoFile(t *testing.T, out string) {
	t.Helper()
	for _, p := range []string{out, out + ".tmp"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// fakeSource serves one replication handshake on a free port: +OK to
// every REPLCONF, then header and body for PSYNC, then it waits for stall
// and closes.
func fakeSource(t *testing.T, header string, body []byte, stall time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveFake(c, header, body, stall)
		}
	}()
	return l.Addr().String()
}

// serveFake answers +OK to every command but PSYNC, which gets header and
// body; CLUSTER NODES gets the error of a standalone server.
func serveFake(c net.Conn, header string, body []byte, stall time.Duration) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		var args []string
		for range n {
			br.ReadString('\n')
			a, _ := br.ReadString('\n')
			args = append(args, strings.TrimSpace(a))
		}
		switch {
		case len(args) > 0 && args[0] == "PSYNC":
			fmt.Fprintf(c, "+FULLRESYNC %s 0\r\n\n%s\r\n", strings.Repeat("a", 40), header)
			c.Write(body)
			time.Sleep(50*time.Millisecond + stall)
			return
		case len(args) > 0 && strings.EqualFold(args[0], "CLUSTER"):
			io.WriteString(c, "-ERR This instance has cluster support disabled\r\n")
		default:
			io.WriteString(c, "+OK\r\n")
		}
	}
}
