// Package redistest starts real redis-server processes for integration tests.
//
// [Start] runs one server on a free 127.0.0.1 port with persistence off
// (--save "" --appendonly no) in a temporary directory, waits until it
// answers PING, and registers a t.Cleanup that kills it by PID and reaps it.
// [StartCluster] does the same for a Redis Cluster made with
// `redis-cli --cluster create`, with replicas if asked ([WithReplicas]);
// [Cluster.Failover] promotes a replica.
//
// Integration tests skip under `go test -short`. When redis-server is not
// installed they skip, except when the CI environment variable is set: then
// they fail, so a CI run cannot pass by skipping them. The binaries are found
// on PATH, or named by RDBKIT_REDIS_SERVER and RDBKIT_REDIS_CLI.
//
// The package uses only the standard library and go-redis; it speaks raw RESP
// to the server while starting it, so a broken client cannot hide a broken
// server.
package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultStartTimeout is how long Start, Restart and StartCluster wait for a
// server to answer PING.
const DefaultStartTimeout = 10 * time.Second

// An Option configures a server started by [Start] or [StartCluster].
type Option func(*config)

type config struct {
	password string
	acl      []string
	args     []string
	dir      string
	timeout  time.Duration
	replicas int
}

// WithPassword sets requirepass, the password of the default user. Clients
// returned by [Server.Client] and [Cluster.Client] use it.
func WithPassword(p string) Option { return func(c *config) { c.password = p } }

// WithACLUser adds an ACL user once the server answers PING (and again after
// each [Server.Restart]). rule is split on white space into the arguments of
// ACL SETUSER, for example "alice on >pw ~* +@all"; passwords with spaces
// are not supported.
func WithACLUser(rule string) Option {
	return func(c *config) { c.acl = append(c.acl, rule) }
}

// WithArgs appends configuration arguments to the redis-server command
// line, for example WithArgs("--maxmemory-policy", "allkeys-lfu"). They come
// after the defaults, so they override them.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// WithDir runs the server in dir instead of a new t.TempDir(), for example to
// load a dump.rdb placed there (the file name is set with
// WithArgs("--dbfilename", name)). dir is created if missing and is not
// removed afterwards. StartCluster does not accept it.
func WithDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithReplicas gives each master of [StartCluster] n replicas
// (`redis-cli --cluster create ... --cluster-replicas n`). Start does not
// accept it.
func WithReplicas(n int) Option { return func(c *config) { c.replicas = n } }

// WithStartTimeout changes how long the server may take to answer PING, for
// example when it loads a large dump.rdb. The default is DefaultStartTimeout.
func WithStartTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// A Server is a running redis-server. Its exported fields describe the
// current process; PID changes on Restart. Methods are safe for concurrent
// use, but reading PID while another goroutine calls Restart is a data race.
type Server struct {
	Addr     string // "127.0.0.1:port"
	Port     int
	Dir      string // working directory (--dir): dump.rdb, nodes.conf
	PID      int
	Password string // requirepass, "" if none
	LogFile  string // server log (--logfile), also its stdout and stderr

	bin     string
	cluster bool
	args    []string // WithArgs, after the defaults
	acl     []string
	timeout time.Duration

	mu   sync.Mutex
	proc *process
}

// A process is one run of the server binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been reaped
	err  error         // from cmd.Wait, valid after done
}

// Start starts a redis-server for the test t and returns when it answers
// PING. It skips under -short and when the binary is missing (failing instead
// when CI is set), and calls t.Fatal with the tail of the server log if the
// server does not come up within the start timeout. The server is killed and
// reaped when t and its subtests finish.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin := lookServer(t)
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.replicas != 0 {
		t.Fatal("redistest: Start: WithReplicas is for StartCluster")
	}
	return start(t, bin, &c, false)
}

// start starts one server, as a cluster node if cluster is set.
func start(t testing.TB, bin string, c *config, cluster bool) *Server {
	t.Helper()
	s := &Server{
		Password: c.password,
		bin:      bin,
		cluster:  cluster,
		args:     c.args,
		acl:      c.acl,
		timeout:  c.timeout,
	}
	if s.timeout <= 0 {
		s.timeout = DefaultStartTimeout
	}
	s.Dir = c.dir
	if s.Dir == "" {
		s.Dir = t.TempDir()
	} else if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	dir, err := filepath.Abs(s.Dir) // redis-server chdirs to --dir
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.Dir = dir
	s.LogFile = filepath.Join(t.TempDir(), "redis.log")
	// Registered after the TempDir calls, so it runs before they are removed.
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("redistest: %s log tail (%s):\n%s", s.Addr, s.LogFile, tail(s.LogFile, 20))
		}
	})

	for attempt := 1; ; attempt++ {
		s.Port = freePort(t, cluster)
		s.Addr = "127.0.0.1:" + strconv.Itoa(s.Port)
		_ = os.Remove(s.LogFile)
		err := s.launch()
		if err == nil {
			break
		}
		log := tail(s.LogFile, 30)
		// Another process may take the port between FreePort and bind.
		if attempt < 3 && strings.Contains(log, "Address already in use") {
			continue
		}
		t.Fatalf("redistest: start redis-server on %s: %v\n--- %s (tail) ---\n%s", s.Addr, err, s.LogFile, log)
	}
	s.applyACL(t)
	return s
}

// commandLine returns the server's arguments.
func (s *Server) commandLine() []string {
	args := []string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--daemonize", "no",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.Dir,
		"--logfile", s.LogFile,
	}
	if s.Password != "" {
		args = append(args, "--requirepass", s.Password)
	}
	if s.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
		if s.Password != "" {
			args = append(args, "--masterauth", s.Password)
		}
	}
	return append(args, s.args...)
}

// launch starts the binary and waits for PING; on failure the process is
// killed and reaped.
func (s *Server) launch() error {
	f, err := os.OpenFile(s.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.commandLine()...)
	cmd.Stdout, cmd.Stderr = f, f // errors printed before the log file opens
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	f.Close()
	if err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.proc = p
	s.PID = cmd.Process.Pid
	s.mu.Unlock()
	if err := waitReady(s.Addr, s.Password, p, s.timeout); err != nil {
		s.Kill()
		return err
	}
	return nil
}

// waitReady polls addr with AUTH and PING until it answers PONG, the process
// exits, the server replies with a permanent error, or timeout passes.
func waitReady(addr, password string, p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("redis-server exited during startup: %v", p.err)
		default:
		}
		err := ping(addr, password)
		if err == nil {
			return nil
		}
		if re, ok := err.(replyError); ok && !re.transient() {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG after %v: %w", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// applyACL runs ACL SETUSER for each WithACLUser rule.
func (s *Server) applyACL(t testing.TB) {
	t.Helper()
	for _, rule := range s.acl {
		args := append([]string{"ACL", "SETUSER"}, strings.Fields(rule)...)
		if _, err := command(s.Addr, s.Password, args...); err != nil {
			t.Fatalf("redistest: %s: ACL SETUSER %s: %v", s.Addr, rule, err)
		}
	}
}

// Client returns a go-redis client for s that authenticates with s.Password.
// It is closed when t finishes.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	return s.ClientAs(t, "", s.Password)
}

// ClientAs returns a go-redis client for s that authenticates as the ACL user
// user ("" for the default user). It is closed when t finishes.
func (s *Server) ClientAs(t testing.TB, user, password string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Username: user, Password: password})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Version returns redis_version from INFO server, such as "7.0.15".
func (s *Server) Version(t testing.TB) string {
	t.Helper()
	info, err := command(s.Addr, s.Password, "INFO", "server")
	if err != nil {
		t.Fatalf("redistest: %s: INFO server: %v", s.Addr, err)
	}
	v, ok := infoField(info, "redis_version")
	if !ok {
		t.Fatalf("redistest: %s: no redis_version in INFO server:\n%s", s.Addr, info)
	}
	return v
}

// Restart stops the server if it is running (gracefully, as Stop) and starts
// it again with the same port, directory and arguments, so it loads the
// dump.rdb last written by SAVE or BGSAVE. ACL users are set again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.launch(); err != nil {
		t.Fatalf("redistest: restart redis-server on %s: %v\n--- %s (tail) ---\n%s", s.Addr, err, s.LogFile, tail(s.LogFile, 30))
	}
	s.applyACL(t)
}

// Stop sends SIGTERM and waits for the server to exit. With --save "" the
// server does not write dump.rdb on the way out. If it has not exited after
// 30 seconds it is killed. Stop does nothing if the server is not running.
func (s *Server) Stop() { s.signal(syscall.SIGTERM, 30*time.Second) }

// Kill sends SIGKILL and waits until the process has been reaped. It does
// nothing if the server is not running.
func (s *Server) Kill() { s.signal(os.Kill, 0) }

// running reports whether the server's process has been started and not
// yet reaped.
func (s *Server) running() bool {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the current process and waits for it to exit; after
// timeout (if positive) it sends SIGKILL.
func (s *Server) signal(sig os.Signal, timeout time.Duration) {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig) // fails only if it has already exited
	if timeout > 0 {
		select {
		case <-p.done:
			return
		case <-time.After(timeout):
			_ = p.cmd.Process.Kill()
		}
	}
	<-p.done
}

// tail returns the last n lines of the file at path, or a note why not.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
