// Command genbench builds, once, a large and realistic dump.rdb written by a
// real redis-server, for rdbkit's benchmarks.
//
// The benchmarks described in BENCHMARKS.md parse, scan and report on this file,
// so it must exercise every encoding a production RDB contains and be big
// enough that timings mean something, yet it must never be checked into git.
// genbench therefore caches it outside the repository:
//
//	$RDBKIT_BENCH_DIR/bench-1m.rdb   (default dir: $XDG_CACHE_HOME/rdbkit,
//	                                  else $HOME/.cache/rdbkit)
//
// `make bench-data` runs `go run ./internal/cmd/genbench`. When the file exists
// and its sidecar bench-1m.rdb.json records the same parameters (key count,
// seed) and generator version, genbench does nothing but print the path, so the
// expensive build happens once per machine.
//
// To build the file, genbench starts its own redis-server (from PATH, or the
// binary named by $RDBKIT_REDIS_SERVER) on a free 127.0.0.1 port with
// persistence disabled, writes RESP commands straight to a pipelined TCP
// connection while a second goroutine reads and checks every reply (any error
// reply aborts the build), runs SAVE, moves dump.rdb into place under a
// temporary name followed by a rename, and stops the server by PID.
//
// The content is deterministic for a given -keys and -seed (math/rand/v2 PCG);
// only stream consumer-group delivery times depend on the wall clock. With the
// default one million keys the dataset is:
//
//   - ~50% strings: small integers, short text (10-60 B), 200 B-2 KiB text,
//     compressible JSON (stored LZF-compressed), ~1% binary blobs;
//   - ~12% hashes: mostly small listpacks with 5-20 fields, ~1% hashtables
//     (600 fields, or one value longer than hash-max-listpack-value);
//   - ~10% lists: mostly small, ~1% with 2,000-10,000 elements;
//   - ~10% sets: intsets, small string sets, ~1% with 1,000 members;
//   - ~10% sorted sets: small listpacks, ~1% skiplists with 1,000 members;
//   - ~2% streams with 10-200 entries, some with a consumer group and pending
//     entries created by XREADGROUP;
//   - ~6% volatile keys of all types with PEXPIREAT deadlines in the year 2100.
//
// Keys carry prefixes such as user:<id>:profile, session:<hex>,
// cache:<a>:<b>, q:<n> and lb:<n>, so that a prefix report is meaningful, and
// are spread over databases 0 (most), 1 and 2.
//
// Usage:
//
//	go run ./internal/cmd/genbench [-keys 1000000] [-seed 1] [-o path] [-force]
package main

import (
	"github.com/rdbkit/rdbkit/internal/benchdata"

	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// genVersion must be bumped whenever the generated content changes, so that
// cached files built by an older generator are rebuilt.
const genVersion = 1

const defaultKeys = 1_000_000

// ttlBase is 2100-01-01T00:00:00Z in Unix milliseconds.
const ttlBase = 4102444800000

// meta is the sidecar written next to the RDB file as <file>.json.
type meta struct {
	Generator    string         `json:"generator"`
	Version      int            `json:"version"`
	Keys         int            `json:"keys"`
	Seed         uint64         `json:"seed"`
	Size         int64          `json:"size"`
	RedisVersion string         `json:"redis_version"`
	DBSize       map[string]int `json:"dbsize"`
	Types        map[string]int `json:"types"`
	Volatile     int            `json:"volatile"`
	Commands     int64          `json:"commands"`
	BuildSeconds float64        `json:"build_seconds"`
	Built        string         `json:"built"`
}

func main() {
	log := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "genbench: "+format+"\n", args...)
	}
	var (
		out   = flag.String("o", "", "output file (default $RDBKIT_BENCH_DIR/bench-1m.rdb)")
		keys  = flag.Int("keys", defaultKeys, "number of keys to generate")
		seed  = flag.Uint64("seed", 1, "random seed")
		force = flag.Bool("force", false, "rebuild even if a matching cached file exists")
	)
	flag.Parse()
	if *keys < 1 {
		log("-keys must be positive")
		os.Exit(2)
	}
	path, err := outputPath(*out, *keys)
	if err != nil {
		log("%v", err)
		os.Exit(1)
	}
	if !*force && upToDate(path, *keys, *seed) {
		log("%s is up to date (keys=%d seed=%d version=%d)", path, *keys, *seed, genVersion)
		fmt.Println(path)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := build(ctx, path, *keys, *seed, log); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted (%v)", err)
		}
		log("error: %v", err)
		stop()
		os.Exit(1)
	}
	fmt.Println(path)
}

// outputPath resolves the destination file.
func outputPath(out string, keys int) (string, error) {
	if out != "" {
		return filepath.Abs(out)
	}
	dir, err := benchdata.Dir()
	if err != nil {
		return "", fmt.Errorf("no RDBKIT_BENCH_DIR, XDG_CACHE_HOME or home directory: %w", err)
	}
	name := benchdata.Name
	if keys != defaultKeys {
		// Keep the 1M cache intact when a different size is asked for.
		name = "bench-" + strconv.Itoa(keys) + ".rdb"
	}
	return filepath.Abs(filepath.Join(dir, name))
}

// upToDate reports whether path exists and its sidecar matches the parameters.
func upToDate(path string, keys int, seed uint64) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	b, err := os.ReadFile(path + ".json")
	if err != nil {
		return false
	}
	var m meta
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	return m.Version == genVersion && m.Keys == keys && m.Seed == seed && m.Size == st.Size()
}

func build(ctx context.Context, path string, keys int, seed uint64, log func(string, ...any)) error {
	start := time.Now()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The server's working directory lives next to the output so that the
	// finished dump can be renamed into place instead of copied.
	work, err := os.MkdirTemp(dir, ".genbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	srv, err := startServer(ctx, work)
	if err != nil {
		return err
	}
	defer srv.stop(log)
	log("redis-server %s pid %d listening on %s (dir %s)", srv.version, srv.cmd.Process.Pid, srv.addr, work)

	p, err := newPipe(srv.addr)
	if err != nil {
		return err
	}
	defer p.conn.Close()
	// An interrupt unblocks any pending read or write (including SAVE).
	defer context.AfterFunc(ctx, func() { p.conn.Close() })()

	g := newGen(p, seed)
	const progressEvery = 50_000
	lastLog := time.Now()
	for i := range keys {
		if i%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := p.failed(); err != nil {
				return err
			}
		}
		g.key(i, keys)
		if (i+1)%progressEvery == 0 || time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			log("%d/%d keys sent, %d commands, %d replies, %.1fs", i+1, keys, p.sent, p.replies.Load(), time.Since(start).Seconds())
		}
	}
	if p.werr != nil {
		return p.werr
	}
	if err := p.finish(ctx); err != nil {
		return err
	}
	log("all %d keys loaded: %d commands, 0 errors, %.1fs", keys, p.sent, time.Since(start).Seconds())

	// From here on the connection is used synchronously.
	c := &syncConn{conn: p.conn, r: p.r}
	dbsize := map[string]int{}
	total := 0
	for db := range 3 {
		if _, err := c.do("SELECT", strconv.Itoa(db)); err != nil {
			return err
		}
		v, err := c.do("DBSIZE")
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("DBSIZE: %q", v)
		}
		dbsize["db"+strconv.Itoa(db)] = n
		total += n
	}
	if total != keys {
		return fmt.Errorf("server holds %d keys (%v), want %d", total, dbsize, keys)
	}
	saveStart := time.Now()
	log("SAVE ...")
	if v, err := c.do("SAVE"); err != nil || v != "OK" {
		return fmt.Errorf("SAVE: %q %v", v, err)
	}
	log("SAVE done in %.1fs", time.Since(saveStart).Seconds())
	p.conn.Close()
	srv.stop(log)

	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := os.Rename(filepath.Join(work, "dump.rdb"), tmp); err != nil {
		if err := copyFile(filepath.Join(work, "dump.rdb"), tmp); err != nil {
			return err
		}
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	m := meta{
		Generator:    "github.com/rdbkit/rdbkit/internal/cmd/genbench",
		Version:      genVersion,
		Keys:         keys,
		Seed:         seed,
		Size:         st.Size(),
		RedisVersion: srv.version,
		DBSize:       dbsize,
		Types:        g.types,
		Volatile:     g.volatile,
		Commands:     p.sent,
		BuildSeconds: math.Round(elapsed.Seconds()*10) / 10,
		Built:        time.Now().UTC().Format(time.RFC3339),
	}
	js, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return err
	}
	// Remove the old sidecar first: a crash between the two renames must not
	// leave a stale sidecar describing a new file (the size check would also
	// catch most such cases).
	os.Remove(path + ".json")
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if err := writeFileAtomic(path+".json", append(js, '\n')); err != nil {
		return err
	}
	log("wrote %s: %s (%d bytes), %d keys (db0=%d db1=%d db2=%d), %d volatile",
		path, human(st.Size()), st.Size(), total, dbsize["db0"], dbsize["db1"], dbsize["db2"], g.volatile)
	log("types: string=%d hash=%d list=%d set=%d zset=%d stream=%d",
		g.types["string"], g.types["hash"], g.types["list"], g.types["set"], g.types["zset"], g.types["stream"])
	log("elapsed %.1fs", elapsed.Seconds())
	return nil
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ---------------------------------------------------------------------------
// redis-server process

type server struct {
	cmd     *exec.Cmd
	addr    string
	version string
	done    chan struct{}
	stopped bool
}

func startServer(ctx context.Context, dir string) (*server, error) {
	bin := os.Getenv("RDBKIT_REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			return nil, fmt.Errorf("redis-server not found in PATH (set RDBKIT_REDIS_SERVER): %w", err)
		}
	}
	logFile := filepath.Join(dir, "redis.log")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin,
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--dbfilename", "dump.rdb",
			"--logfile", logFile,
			"--daemonize", "no",
			"--databases", "16",
		)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		// Own process group: a Ctrl-C in the terminal goes to genbench, which
		// then stops the server itself.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		s := &server{cmd: cmd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done: make(chan struct{})}
		go func() { cmd.Wait(); close(s.done) }()
		if lastErr = s.waitReady(ctx); lastErr == nil {
			return s, nil
		}
		s.stop(func(string, ...any) {})
		if tail, err := os.ReadFile(logFile); err == nil {
			lines := strings.Split(strings.TrimSpace(string(tail)), "\n")
			if len(lines) > 5 {
				lines = lines[len(lines)-5:]
			}
			lastErr = fmt.Errorf("%w\nredis log:\n%s", lastErr, strings.Join(lines, "\n"))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-s.done:
			return errors.New("redis-server exited during startup")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		conn, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c := &syncConn{conn: conn, r: bufio.NewReader(conn)}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			v, err := c.do("INFO", "server")
			conn.Close()
			if err == nil {
				for _, line := range strings.Split(v, "\n") {
					if rest, ok := strings.CutPrefix(line, "redis_version:"); ok {
						s.version = strings.TrimSpace(rest)
					}
				}
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server not ready on %s after 15s", s.addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop terminates the server by PID: SIGTERM, then SIGKILL after 20s. With
// --save "" a SIGTERM does not write another dump.
func (s *server) stop(log func(string, ...any)) {
	if s.stopped {
		return
	}
	s.stopped = true
	pid := s.cmd.Process.Pid
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		log("redis-server pid %d stopped", pid)
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		log("redis-server pid %d killed", pid)
	}
}

// ---------------------------------------------------------------------------
// RESP

// syncConn issues one command at a time and returns the reply flattened to a
// string (bulk, simple string or integer); error replies become errors.
type syncConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func (c *syncConn) do(args ...string) (string, error) {
	var b []byte
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	if _, err := c.conn.Write(b); err != nil {
		return "", err
	}
	var val string
	err := readReply(c.r, func(s string) { val = s })
	return val, err
}

// respError is an error reply from the server.
type respError string

func (e respError) Error() string { return string(e) }

// readReply reads one RESP2 reply. Scalar values are passed to scalar (if
// non-nil); aggregates are read and discarded. An error reply, also nested,
// is returned as a respError after the whole reply has been consumed.
func readReply(r *bufio.Reader, scalar func(string)) error {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("protocol error: bad line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', ':':
		if scalar != nil {
			scalar(string(body))
		}
		return nil
	case '-':
		return respError(string(body))
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return fmt.Errorf("protocol error: bad bulk length %q", body)
		}
		if n < 0 {
			return nil
		}
		if scalar == nil {
			_, err = r.Discard(n + 2)
			return err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		scalar(string(buf[:n]))
		return nil
	case '*':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return fmt.Errorf("protocol error: bad array length %q", body)
		}
		var first error
		for range n {
			err := readReply(r, nil)
			if err != nil {
				if _, ok := err.(respError); !ok {
					return err
				}
				if first == nil {
					first = err
				}
			}
		}
		return first
	}
	return fmt.Errorf("protocol error: unexpected reply %q", line)
}

// pipe writes commands without waiting; a goroutine reads the replies and
// records the first error reply.
type pipe struct {
	conn    net.Conn
	w       *bufio.Writer
	r       *bufio.Reader
	sent    int64
	werr    error
	replies atomic.Int64
	total   chan int64
	done    chan error
	errMsg  atomic.Pointer[string]
	buf     []byte
}

func newPipe(addr string) (*pipe, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &pipe{
		conn:  conn,
		w:     bufio.NewWriterSize(conn, 1<<20),
		r:     bufio.NewReaderSize(conn, 1<<20),
		total: make(chan int64, 1),
		done:  make(chan error, 1),
	}
	go p.readLoop()
	return p, nil
}

func (p *pipe) readLoop() {
	var want int64 = -1
	var n int64
	for {
		if want < 0 {
			select {
			case want = <-p.total:
			default:
			}
		}
		if want >= 0 && n == want {
			p.done <- nil
			return
		}
		err := readReply(p.r, nil)
		n++
		p.replies.Store(n)
		if err != nil {
			if re, ok := err.(respError); ok {
				if p.errMsg.Load() == nil {
					msg := fmt.Sprintf("reply #%d is an error: %s", n, string(re))
					p.errMsg.Store(&msg)
				}
				continue
			}
			p.done <- fmt.Errorf("reading reply #%d: %w", n, err)
			return
		}
	}
}

func (p *pipe) failed() error {
	if m := p.errMsg.Load(); m != nil {
		return errors.New(*m)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err == nil {
			err = errors.New("reply reader stopped early")
		}
		return err
	default:
	}
	return p.werr
}

// finish sends a final PING, flushes and waits for every reply.
func (p *pipe) finish(ctx context.Context) error {
	p.total <- p.sent + 1 // before the PING is written; see readLoop
	p.begin(1)
	p.str("PING")
	if p.werr == nil {
		p.werr = p.w.Flush()
	}
	if p.werr != nil {
		return p.werr
	}
	var err error
	select {
	case err = <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	if m := p.errMsg.Load(); m != nil {
		return errors.New(*m)
	}
	p.sent++
	return nil
}

// begin starts a command with n arguments (including the command name).
func (p *pipe) begin(n int) {
	p.sent++
	b := append(p.buf[:0], '*')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, '\r', '\n')
	p.buf = b
	p.write(b)
}

func (p *pipe) write(b []byte) {
	if p.werr != nil {
		return
	}
	_, p.werr = p.w.Write(b)
}

func (p *pipe) bulk(v []byte) {
	b := append(p.buf[:0], '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	b = append(b, '\r', '\n')
	p.buf = b
	p.write(b)
}

func (p *pipe) str(s string) {
	b := append(p.buf[:0], '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	b = append(b, '\r', '\n')
	p.buf = b
	p.write(b)
}

func (p *pipe) int(v int64) {
	var tmp [24]byte
	p.bulk(strconv.AppendInt(tmp[:0], v, 10))
}

// cmd sends a command made of string arguments.
func (p *pipe) cmd(args ...string) {
	p.begin(len(args))
	for _, a := range args {
		p.str(a)
	}
}

// ---------------------------------------------------------------------------
// dataset

type gen struct {
	p        *pipe
	rnd      *rand.Rand
	seed     uint64
	db       int
	types    map[string]int
	volatile int
	key      func(i, n int) // set in newGen
	kb, vb   []byte         // scratch buffers for the current key and value
	ids      []string       // first IDs of the current stream
	idb      []byte
}

func newGen(p *pipe, seed uint64) *gen {
	g := &gen{
		p:     p,
		rnd:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		seed:  seed,
		db:    0,
		types: map[string]int{},
	}
	g.key = g.genKey
	return g
}

var words = strings.Fields(`the of and to in is you that it he was for on are as with his they at be
this have from or one had by word but not what all were we when your can said there use an each
which she do how their if will up other about out many then them these so some her would make like
him into time has look two more write go see number no way could people my than first water been
call who oil its now find long down day did get come made may part order account payment user
session cache token status active pending shipped delivered cancelled refund invoice customer
product price total amount currency country city street email phone address created updated
deleted enabled disabled admin guest premium basic trial region cluster node shard replica
primary latency request response error warning info debug trace metric event click view search`)

var countries = []string{"US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "AU", "NL", "ES", "IT", "SE", "PL", "KR"}
var plans = []string{"free", "basic", "pro", "team", "enterprise"}
var cacheKinds = []string{"page", "api", "query", "render", "feed", "search", "img", "geo"}
var services = []string{"auth", "billing", "search", "mailer", "orders", "inventory", "notify"}
var eventTypes = []string{"order_created", "order_paid", "order_shipped", "user_signup", "login", "logout", "page_view", "cart_add"}
var hashFields = []string{"name", "email", "age", "country", "city", "plan", "created_at", "updated_at",
	"last_login", "status", "lang", "tz", "phone", "company", "title", "score", "visits", "referrer",
	"avatar", "theme", "verified", "newsletter", "role", "team"}

func (g *gen) n(lo, hi int) int { return lo + g.rnd.IntN(hi-lo+1) } // inclusive

func (g *gen) pick(s []string) string { return s[g.rnd.IntN(len(s))] }

// mix64 is the splitmix64 finaliser, a bijection, so distinct inputs give
// distinct "random-looking" ids.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *gen) text(b []byte, size int) []byte {
	start := len(b)
	for len(b)-start < size {
		if len(b) > start {
			b = append(b, ' ')
		}
		b = append(b, g.pick(words)...)
	}
	return b[:start+size]
}

func (g *gen) json(b []byte, id int, items int) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"status":"`...)
	b = append(b, g.pick(words)...)
	b = append(b, `","country":"`...)
	b = append(b, g.pick(countries)...)
	b = append(b, `","items":[`...)
	for j := range items {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"sku":"SKU-`...)
		b = strconv.AppendInt(b, int64(g.n(1000, 9999)), 10)
		b = append(b, `","qty":`...)
		b = strconv.AppendInt(b, int64(g.n(1, 5)), 10)
		b = append(b, `,"price":`...)
		b = strconv.AppendInt(b, int64(g.n(100, 99999)), 10)
		b = append(b, `,"currency":"USD","available":true}`...)
	}
	b = append(b, `],"created_at":"2024-`...)
	b = fmt.Appendf(b, `%02d-%02dT%02d:%02d:%02dZ"}`, g.n(1, 12), g.n(1, 28), g.n(0, 23), g.n(0, 59), g.n(0, 59))
	return b
}

func (g *gen) keyf(parts ...any) []byte {
	b := g.kb[:0]
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case uint64:
			b = strconv.AppendUint(b, v, 16)
		}
	}
	g.kb = b
	return b
}

// genKey generates the i-th of n keys. Databases are contiguous ranges
// (85% db 0, 10% db 1, 5% db 2) so only two SELECTs are needed.
func (g *gen) genKey(i, n int) {
	db := 0
	switch {
	case i >= n*95/100:
		db = 2
	case i >= n*85/100:
		db = 1
	}
	if db != g.db {
		g.p.cmd("SELECT", strconv.Itoa(db))
		g.db = db
	}
	r := g.rnd.IntN(1000)
	volatile := false
	if r >= 940 { // 6% volatile keys, spread over the types in the same mix
		volatile = true
		r = g.rnd.IntN(940)
	}
	var key []byte
	switch {
	case r < 500:
		key = g.stringKey(i, volatile)
		g.types["string"]++
	case r < 620:
		key = g.hashKey(i, volatile)
		g.types["hash"]++
	case r < 720:
		key = g.listKey(i, volatile)
		g.types["list"]++
	case r < 820:
		key = g.setKey(i, volatile)
		g.types["set"]++
	case r < 920:
		key = g.zsetKey(i, volatile)
		g.types["zset"]++
	default:
		key = g.streamKey(i, volatile)
		g.types["stream"]++
	}
	if volatile {
		g.volatile++
		g.p.begin(3)
		g.p.str("PEXPIREAT")
		g.p.bulk(key)
		g.p.int(ttlBase + g.rnd.Int64N(365*24*3600*1000))
	}
}

func (g *gen) set(key, val []byte) {
	g.p.begin(3)
	g.p.str("SET")
	g.p.bulk(key)
	g.p.bulk(val)
}

func (g *gen) stringKey(i int, volatile bool) []byte {
	v := g.vb[:0]
	var key []byte
	r := g.rnd.IntN(100)
	switch {
	case volatile && r < 50:
		// Session token.
		key = g.keyf("session:", mix64(uint64(i)^g.seed))
		v = append(v, "v1."...)
		for range 4 {
			v = strconv.AppendUint(v, g.rnd.Uint64(), 36)
		}
	case volatile && r < 60:
		key = g.keyf("lock:", g.pick(services), ":", i)
		v = strconv.AppendInt(v, int64(g.rnd.IntN(1<<20)), 10)
	case volatile:
		key = g.keyf("cache:", g.pick(cacheKinds), ":", i)
		v = g.json(v, i, g.n(1, 8))
	case r < 30:
		// Small integers (stored as integer encodings).
		key = g.keyf("counter:", g.pick(cacheKinds), ":", i)
		v = strconv.AppendInt(v, int64(g.rnd.IntN(100000)), 10)
	case r < 70:
		// Short text, 10-60 bytes.
		if r < 50 {
			key = g.keyf("user:", i, ":email")
			v = append(v, g.pick(words)...)
			v = append(v, '.')
			v = strconv.AppendInt(v, int64(i), 10)
			v = append(v, "@example.com"...)
			if len(v) < 10 {
				v = append(v, ".invalid"...)
			}
		} else {
			key = g.keyf("user:", i, ":name")
			v = g.text(v, g.n(10, 60))
		}
	case r < 85:
		// 200 B - 2 KiB text, skewed towards the small end.
		key = g.keyf("cache:", g.pick(cacheKinds), ":", i)
		f := g.rnd.Float64()
		v = g.text(v, 200+int(f*f*f*1848))
	case r < 99:
		// Compressible JSON documents (LZF).
		key = g.keyf("doc:", g.pick(cacheKinds), ":", i)
		v = g.json(v, i, g.n(1, 12))
	default:
		// Binary.
		key = g.keyf("blob:", i)
		size := g.n(16, 512)
		for range size {
			v = append(v, byte(g.rnd.Uint32()))
		}
	}
	g.vb = v
	g.set(key, v)
	return key
}

func (g *gen) hashKey(i int, volatile bool) []byte {
	var key []byte
	if volatile {
		key = g.keyf("session:", mix64(uint64(i)^g.seed), ":data")
	} else if g.rnd.IntN(3) == 0 {
		key = g.keyf("product:", i)
	} else {
		key = g.keyf("user:", i, ":profile")
	}
	big := g.rnd.IntN(100) == 0
	if big && g.rnd.IntN(2) == 0 {
		// 600 fields: hashtable encoding, sent in chunks.
		key = g.keyf("idx:", g.pick(services), ":", i)
		for c := 0; c < 600; c += 200 {
			g.p.begin(2 + 2*200)
			g.p.str("HSET")
			g.p.bulk(key)
			for f := c; f < c+200; f++ {
				b := append(g.vb[:0], "field:"...)
				b = strconv.AppendInt(b, int64(f), 10)
				g.p.bulk(b)
				b = g.text(b[:0], g.n(5, 50))
				g.p.bulk(b)
				g.vb = b
			}
		}
		return key
	}
	nf := g.n(5, 20)
	g.p.begin(2 + 2*nf)
	g.p.str("HSET")
	g.p.bulk(key)
	perm := g.rnd.Perm(len(hashFields))
	for j := range nf {
		f := hashFields[perm[j]]
		g.p.str(f)
		v := g.vb[:0]
		switch {
		case big && j == 0:
			// One value longer than hash-max-listpack-value (64): hashtable.
			v = g.text(v, g.n(100, 1500))
		case f == "age" || f == "score" || f == "visits" || f == "created_at" || f == "updated_at" || f == "last_login":
			v = strconv.AppendInt(v, int64(g.rnd.IntN(2_000_000_000)), 10)
		case f == "country":
			v = append(v, g.pick(countries)...)
		case f == "plan":
			v = append(v, g.pick(plans)...)
		case f == "email":
			v = append(v, g.pick(words)...)
			v = strconv.AppendInt(v, int64(i), 10)
			v = append(v, "@example.org"...)
		default:
			v = g.text(v, g.n(3, 40))
		}
		g.vb = v
		g.p.bulk(v)
	}
	return key
}

func (g *gen) listKey(i int, volatile bool) []byte {
	var key []byte
	var n int
	switch {
	case volatile:
		key = g.keyf("notify:", i)
		n = g.n(1, 20)
	case g.rnd.IntN(100) == 0:
		// 2,000-10,000 elements (skewed low): several quicklist nodes.
		key = g.keyf("q:", g.pick(services), ":", i)
		f := g.rnd.Float64()
		n = 2000 + int(f*f*8000)
	default:
		key = g.keyf("q:", i)
		n = g.n(1, 30)
	}
	long := n > 1000
	for sent := 0; sent < n; {
		c := min(n-sent, 1000)
		g.p.begin(2 + c)
		g.p.str("RPUSH")
		g.p.bulk(key)
		for range c {
			v := g.vb[:0]
			r := g.rnd.IntN(10)
			switch {
			case r < 3 || long && r < 7:
				// Long queues mostly hold numeric job ids.
				v = strconv.AppendInt(v, g.rnd.Int64N(1<<31), 10)
			case r < 5 || long:
				v = append(v, "job:"...)
				v = strconv.AppendUint(v, g.rnd.Uint64()>>32, 16)
			default:
				v = g.text(v, g.n(8, 40))
			}
			g.vb = v
			g.p.bulk(v)
		}
		sent += c
	}
	return key
}

func (g *gen) setKey(i int, volatile bool) []byte {
	var key []byte
	r := g.rnd.IntN(100)
	switch {
	case volatile:
		key = g.keyf("online:", g.pick(services), ":", i)
	case r == 0:
		key = g.keyf("members:", i)
	case r < 50:
		key = g.keyf("user:", i, ":following")
	default:
		key = g.keyf("tags:", i)
	}
	switch {
	case r == 0:
		// 1,000 string members: hashtable.
		for c := 0; c < 1000; c += 250 {
			g.p.begin(2 + 250)
			g.p.str("SADD")
			g.p.bulk(key)
			for j := c; j < c+250; j++ {
				v := append(g.vb[:0], "member:"...)
				v = strconv.AppendInt(v, int64(j), 10)
				v = append(v, ':')
				v = strconv.AppendUint(v, g.rnd.Uint64()>>20, 36)
				g.vb = v
				g.p.bulk(v)
			}
		}
	case r < 50 || volatile && r < 75:
		// Integer members: intset.
		n := g.n(3, 120)
		g.p.begin(2 + n)
		g.p.str("SADD")
		g.p.bulk(key)
		for range n {
			g.p.int(g.rnd.Int64N(10_000_000))
		}
	default:
		// A few short strings (listpack on Redis >= 7.2, hashtable before).
		n := g.n(2, 20)
		g.p.begin(2 + n)
		g.p.str("SADD")
		g.p.bulk(key)
		for j := range n {
			v := append(g.vb[:0], g.pick(words)...)
			v = append(v, '-')
			v = strconv.AppendInt(v, int64(j), 10)
			g.vb = v
			g.p.bulk(v)
		}
	}
	return key
}

func (g *gen) zsetKey(i int, volatile bool) []byte {
	var key []byte
	big := !volatile && g.rnd.IntN(100) == 0
	switch {
	case volatile:
		key = g.keyf("ratelimit:", g.pick(services), ":", i)
	case big:
		key = g.keyf("lb:", i)
	case g.rnd.IntN(2) == 0:
		key = g.keyf("lb:", g.pick(countries), ":", i)
	default:
		key = g.keyf("timeline:", i)
	}
	n := g.n(3, 20)
	if big {
		n = 1000 // skiplist
	}
	intScores := g.rnd.IntN(2) == 0
	for c := 0; c < n; c += 250 {
		m := min(n-c, 250)
		g.p.begin(2 + 2*m)
		g.p.str("ZADD")
		g.p.bulk(key)
		for j := c; j < c+m; j++ {
			var tmp [32]byte
			if intScores {
				g.p.bulk(strconv.AppendInt(tmp[:0], g.rnd.Int64N(1_000_000), 10))
			} else {
				g.p.bulk(strconv.AppendFloat(tmp[:0], g.rnd.Float64()*1000, 'g', 10, 64))
			}
			v := append(g.vb[:0], "player:"...)
			v = strconv.AppendInt(v, int64(j), 10)
			v = append(v, ':')
			v = append(v, g.pick(words)...)
			g.vb = v
			g.p.bulk(v)
		}
	}
	return key
}

func (g *gen) streamKey(i int, volatile bool) []byte {
	key := g.keyf("events:", g.pick(services), ":", i)
	if volatile {
		key = g.keyf("events:tmp:", i)
	}
	// 10-200 entries, skewed towards the small end.
	f := g.rnd.Float64()
	n := 10 + int(f*f*190)
	ms := int64(1_700_000_000_000) + g.rnd.Int64N(30*24*3600*1000)
	g.ids = g.ids[:0]
	for j := range n {
		ms += 1 + g.rnd.Int64N(5000)
		b := strconv.AppendInt(g.idb[:0], ms, 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(g.rnd.IntN(3)), 10)
		g.idb = b
		if j < 8 {
			g.ids = append(g.ids, string(b))
		}
		extra := j%17 == 16 // occasionally a different field set
		if extra {
			g.p.begin(3 + 8)
		} else {
			g.p.begin(3 + 6)
		}
		g.p.str("XADD")
		g.p.bulk(key)
		g.p.bulk(b)
		g.p.str("type")
		g.p.str(g.pick(eventTypes))
		g.p.str("user")
		g.p.int(g.rnd.Int64N(5_000_000))
		g.p.str("amount")
		var tmp [32]byte
		g.p.bulk(strconv.AppendFloat(tmp[:0], float64(g.rnd.IntN(100000))/100, 'f', 2, 64))
		if extra {
			g.p.str("note")
			v := g.text(g.vb[:0], g.n(10, 80))
			g.vb = v
			g.p.bulk(v)
		}
	}
	if g.rnd.IntN(3) == 0 {
		// A consumer group with pending entries, some of them acknowledged.
		g.p.begin(5)
		g.p.str("XGROUP")
		g.p.str("CREATE")
		g.p.bulk(key)
		g.p.str("workers")
		g.p.str("0")
		consumers := g.n(1, 3)
		left := n
		for c := range consumers {
			cnt := g.n(1, max(1, left/2))
			left -= cnt
			if c == 1 {
				// Acknowledge some of what the first consumer received.
				ack := min(g.n(0, 4), len(g.ids))
				if ack > 0 {
					g.p.begin(3 + ack)
					g.p.str("XACK")
					g.p.bulk(key)
					g.p.str("workers")
					for _, id := range g.ids[:ack] {
						g.p.str(id)
					}
				}
			}
			g.p.begin(9)
			g.p.str("XREADGROUP")
			g.p.str("GROUP")
			g.p.str("workers")
			g.p.str("worker-" + strconv.Itoa(c))
			g.p.str("COUNT")
			g.p.int(int64(cnt))
			g.p.str("STREAMS")
			g.p.bulk(key)
			g.p.str(">")
			if left <= 1 {
				break
			}
		}
	}
	return key
}
