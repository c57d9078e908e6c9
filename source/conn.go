package source

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultDialTimeout    = 10 * time.Second
	DefaultReadTimeout    = 60 * time.Second // the server's repl-timeout
	DefaultAckInterval    = time.Second
	DefaultMaxCommandSize = 64 << 20
)

// readBufferSize is the size of the connection's read buffer, and so the
// longest line of a reply.
const readBufferSize = 64 << 10

// Options configure a replication connection. The zero value asks for a
// snapshot and the command stream that follows it.
type Options struct {
	// RDBOnly sends REPLCONF rdb-only 1 (Redis 7.0+): the source sends the
	// snapshot and no command stream, and forgets the replica once it is
	// sent. An older source refuses the option; the connection goes on
	// without it (see Conn.RDBOnly).
	RDBOnly bool
	// FunctionsOnly sends REPLCONF rdb-filter-only functions (Redis 7.0+):
	// the snapshot holds the function libraries and no key. It implies
	// RDBOnly. A source that refuses it fails Dial.
	FunctionsOnly bool
	// ListeningPort is announced with REPLCONF listening-port, which the
	// source shows in INFO replication. 0: the local port of the
	// connection (nothing is announced for a unix socket).
	ListeningPort int
	// TLS configures rediss:// endpoints; nil: the system's roots. Its
	// ServerName, when empty, is taken from the address.
	TLS *tls.Config
	// DialTimeout bounds connecting (TCP and TLS); 0: DefaultDialTimeout.
	DialTimeout time.Duration
	// ReadTimeout is how long the source may send nothing before the
	// connection fails; 0: DefaultReadTimeout. The source sends newlines
	// while it prepares a snapshot and PINGs in the command stream (every
	// repl-ping-replica-period, 10 s by default), so only a dead link is
	// this silent.
	ReadTimeout time.Duration
	// AckInterval is the period of REPLCONF ACK in the command stream;
	// 0: DefaultAckInterval.
	AckInterval time.Duration
	// MaxCommandSize bounds the memory of one command of the stream: the
	// sum of its arguments' lengths plus 16 bytes per argument. A larger
	// command fails Stream.Next. 0: DefaultMaxCommandSize.
	MaxCommandSize int
	// Logf, if set, receives notes on the handshake that are not errors,
	// such as an option an older source refused. Passwords are never in
	// them.
	Logf func(format string, args ...any)
}

func (o *Options) readTimeout() time.Duration {
	return orDuration(o.ReadTimeout, DefaultReadTimeout)
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// Conn states.
const (
	stateReady    = iota // handshake done; FullSync or PartialSync next
	stateSnapshot        // a Snapshot is being read
	stateStream          // the command stream follows
	stateBroken          // a sync request failed part-way
)

// A Conn is a replication link to a source: a connection that introduced
// itself as a replica. [Dial] makes it; [Conn.FullSync] or
// [Conn.PartialSync] starts the transfer; [Conn.Commands] reads the command
// stream that follows the snapshot.
//
// A Conn is meant for one goroutine, except that Close and Offset may be
// called from any goroutine: Close unblocks a Read of the Snapshot or a
// Stream.Next in progress.
type Conn struct {
	ep   Endpoint
	opts Options
	nc   net.Conn
	br   *bufio.Reader

	wmu  sync.Mutex // serializes writes: Stream.Next's GETACK answers and the ACK goroutine
	wbuf []byte

	dmu         sync.Mutex // guards interrupted and read deadlines
	interrupted error      // set when a context ended an operation; reads fail with it

	state   int
	replID  string
	offset  atomic.Int64 // replication offset reached; see Offset
	rdbOnly bool         // the source accepted rdb-only
	oldSync bool         // SYNC was used: no replication ID, no ACKs
	pending []byte       // a bulk header read ahead by the SYNC fallback
	snap    *Snapshot    // the snapshot being read
	stream  *Stream

	ackErr  atomic.Pointer[error] // the ACK goroutine's write error
	amu     sync.Mutex            // guards ackStop, ackDone and closing
	ackStop chan struct{}
	ackDone chan struct{}
	closed  atomic.Bool
}

// Dial connects to ep and introduces itself as a replica: AUTH (when ep has
// a password), REPLCONF listening-port, REPLCONF capa eof capa psync2, and
// with opts.RDBOnly or opts.FunctionsOnly REPLCONF rdb-only 1 and
// REPLCONF rdb-filter-only functions. ctx bounds connecting and the
// handshake. Refusals come as a *ServerError with advice (errors.Is
// ErrAuth, ErrPermission, ...); REPLCONF options an older server does not
// know are only noted to opts.Logf. See redis/src/replication.c
// syncWithMaster for the replica's side.
func Dial(ctx context.Context, ep Endpoint, opts Options) (*Conn, error) {
	nc, err := dial(ctx, ep, &opts)
	if err != nil {
		return nil, err
	}
	c := newConn(nc, ep, opts)
	if err := c.handshake(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func dial(ctx context.Context, ep Endpoint, opts *Options) (net.Conn, error) {
	if ep.Network != "tcp" && ep.Network != "unix" {
		return nil, fmt.Errorf("source: unknown network %q", ep.Network)
	}
	d := &net.Dialer{Timeout: orDuration(opts.DialTimeout, DefaultDialTimeout), KeepAlive: 15 * time.Second}
	var nc net.Conn
	var err error
	if ep.TLS {
		if ep.Network != "tcp" {
			return nil, errors.New("source: TLS over a unix socket is not supported")
		}
		td := &tls.Dialer{NetDialer: d, Config: opts.TLS}
		nc, err = td.DialContext(ctx, ep.Network, ep.Addr)
	} else {
		nc, err = d.DialContext(ctx, ep.Network, ep.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("source: connect to %s: %w", ep.Redacted(), err)
	}
	return nc, nil
}

// newConn wraps an open connection; tests hand it one end of a net.Pipe.
func newConn(nc net.Conn, ep Endpoint, opts Options) *Conn {
	if opts.FunctionsOnly {
		opts.RDBOnly = true
	}
	c := &Conn{ep: ep, opts: opts, nc: nc}
	c.stream = &Stream{c: c}
	c.br = bufio.NewReaderSize(deadlineReader{c}, readBufferSize)
	return c
}

// deadlineReader reads from the connection with a fresh read deadline
// for every read, so that only silence fails it.
type deadlineReader struct{ c *Conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	c := d.c
	c.dmu.Lock()
	if err := c.interrupted; err != nil {
		c.dmu.Unlock()
		return 0, err
	}
	timeout := c.opts.readTimeout()
	err := c.nc.SetReadDeadline(time.Now().Add(timeout))
	c.dmu.Unlock()
	if err != nil {
		return 0, c.readErr(err, timeout)
	}
	n, err := c.nc.Read(p)
	if err != nil && err != io.EOF {
		err = c.readErr(err, timeout)
	}
	return n, err
}

// readErr turns a read error into one that says what happened.
func (c *Conn) readErr(err error, timeout time.Duration) error {
	c.dmu.Lock()
	ierr := c.interrupted
	c.dmu.Unlock()
	switch {
	case ierr != nil:
		return ierr
	case c.closed.Load() || errors.Is(err, net.ErrClosed):
		return ErrClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("source: %s sent nothing for %v: %w", c.ep.Redacted(), timeout, err)
	}
	return fmt.Errorf("source: read from %s: %w", c.ep.Redacted(), err)
}

// watch makes ctx's end interrupt the reads of the connection: they fail
// with ctx's error from then on (the protocol state is lost). The returned
// function stops watching and reports ctx's error if it ended first.
func (c *Conn) watch(ctx context.Context) func() error {
	if ctx.Done() == nil {
		return func() error { return nil }
	}
	stop := context.AfterFunc(ctx, func() {
		c.dmu.Lock()
		c.interrupted = fmt.Errorf("source: %w", context.Cause(ctx))
		_ = c.nc.SetDeadline(time.Unix(1, 0))
		c.dmu.Unlock()
	})
	return func() error {
		if !stop() && ctx.Err() != nil {
			return fmt.Errorf("source: %w", context.Cause(ctx))
		}
		return nil
	}
}

// handshake authenticates and sends the REPLCONF options.
func (c *Conn) handshake(ctx context.Context) (err error) {
	done := c.watch(ctx)
	defer func() {
		if cerr := done(); cerr != nil {
			err = cerr
		}
	}()
	if c.ep.Password != "" {
		args := []string{"AUTH", c.ep.Password}
		if c.ep.User != "" {
			args = []string{"AUTH", c.ep.User, c.ep.Password}
		}
		if err := c.simpleCommand("AUTH", args...); err != nil {
			var se *ServerError
			if errors.As(err, &se) && strings.Contains(se.Reply, "without any password configured") {
				c.opts.logf("the source has no password; continuing without one")
			} else {
				return err
			}
		}
	}
	if port := c.listeningPort(); port > 0 {
		if err := c.replconf("listening-port", strconv.Itoa(port)); err != nil {
			return err
		}
	}
	if err := c.replconf("capa", "eof", "capa", "psync2"); err != nil {
		return err
	}
	if c.opts.RDBOnly {
		err := c.simpleCommand("REPLCONF", "REPLCONF", "rdb-only", "1")
		if err := c.fatalReplconf(err); err != nil {
			return err
		}
		c.rdbOnly = err == nil
		if err != nil {
			c.opts.logf("the source does not know REPLCONF rdb-only (Redis 7.0+): %v", err)
		}
	}
	if c.opts.FunctionsOnly {
		err := c.simpleCommand("REPLCONF", "REPLCONF", "rdb-filter-only", "functions")
		if err != nil {
			if se := (*ServerError)(nil); errors.As(err, &se) && se.Advice == "" {
				se.Advice = "the source cannot send a snapshot of functions only: Redis 7.0 or later is needed"
			}
			return err
		}
	}
	return nil
}

// listeningPort returns the port to announce, 0 for none.
func (c *Conn) listeningPort() int {
	if c.opts.ListeningPort > 0 {
		return c.opts.ListeningPort
	}
	if a, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// replconf sends REPLCONF with args. An error reply other than NOPERM and
// NOAUTH is only logged: old servers do not know every option, and
// redis-cli ignores these errors too.
func (c *Conn) replconf(args ...string) error {
	err := c.simpleCommand("REPLCONF", append([]string{"REPLCONF"}, args...)...)
	if err := c.fatalReplconf(err); err != nil {
		return err
	}
	if err != nil {
		c.opts.logf("the source refused REPLCONF %s: %v", strings.Join(args, " "), err)
	}
	return nil
}

// fatalReplconf returns err if it must end the handshake: anything but a
// server's error reply, and the replies for authentication and ACL errors.
func (c *Conn) fatalReplconf(err error) error {
	var se *ServerError
	if err == nil {
		return nil
	}
	if !errors.As(err, &se) || errors.Is(err, ErrAuth) || errors.Is(err, ErrPermission) {
		return err
	}
	return nil
}

// simpleCommand sends args and expects a status reply (+OK); an error reply
// is returned as a *ServerError naming name.
func (c *Conn) simpleCommand(name string, args ...string) error {
	if err := c.writeCommand(args...); err != nil {
		return err
	}
	line, err := c.readLine()
	if err != nil {
		return err
	}
	switch {
	case len(line) > 0 && line[0] == '+':
		return nil
	case len(line) > 0 && line[0] == '-':
		password := ""
		if name == "AUTH" {
			password = c.ep.Password
		}
		return newServerError(name, string(line), password)
	}
	return protocolError("reply to "+name, line)
}

// readLine reads a line of the handshake, without its CRLF. The slice is
// valid until the next read.
func (c *Conn) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, protocolError("reply line longer than", []byte(strconv.Itoa(readBufferSize)))
	}
	if err == io.EOF {
		return nil, fmt.Errorf("source: %s closed the connection", c.ep.Redacted())
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// writeCommand sends args as a RESP array of bulk strings.
func (c *Conn) writeCommand(args ...string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(c.wbuf[:0], '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	c.wbuf = b
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.opts.readTimeout())); err != nil {
		return c.writeErr(err)
	}
	if _, err := c.nc.Write(b); err != nil {
		return c.writeErr(err)
	}
	return nil
}

func (c *Conn) writeErr(err error) error {
	c.dmu.Lock()
	ierr := c.interrupted
	c.dmu.Unlock()
	switch {
	case ierr != nil:
		return ierr
	case c.closed.Load() || errors.Is(err, net.ErrClosed):
		return ErrClosed
	}
	return fmt.Errorf("source: write to %s: %w", c.ep.Redacted(), err)
}

// RDBOnly reports whether the source accepted REPLCONF rdb-only: it will
// send no command stream after the snapshot.
func (c *Conn) RDBOnly() bool { return c.rdbOnly }

// ReplID returns the source's replication ID from +FULLRESYNC or
// +CONTINUE, "" before a sync or after a SYNC (old protocol).
func (c *Conn) ReplID() string { return c.replID }

// Offset returns the replication offset reached: the offset of the
// snapshot, plus the bytes of every command Stream.Next has handed over or
// consumed (PING, REPLCONF, SELECT). It is what the Conn acknowledges with
// REPLCONF ACK. After a SYNC it counts from 0. It is safe to call from
// any goroutine.
func (c *Conn) Offset() int64 { return c.offset.Load() }

// Endpoint returns the endpoint the Conn was dialed to.
func (c *Conn) Endpoint() Endpoint { return c.ep }

// Close stops the ACK goroutine and closes the connection. It unblocks a
// read in progress in another goroutine, which then fails with ErrClosed.
// Closing an rdb-only link after its snapshot is the normal end.
func (c *Conn) Close() error {
	c.amu.Lock()
	if c.closed.Load() {
		c.amu.Unlock()
		return nil
	}
	c.closed.Store(true)
	stop, done := c.ackStop, c.ackDone
	c.amu.Unlock()
	err := c.nc.Close()
	if stop != nil {
		close(stop)
		<-done
	}
	return err
}
