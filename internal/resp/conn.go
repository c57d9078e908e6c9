// Package resp is a minimal RESP2 client connection for rdbkit's hot
// paths: the loader's pipelines of RESTOREs and of replicated commands.
// go-redis stays the client for everything else; here a command costs no
// object of its own, arguments are written as they are (large byte slices
// without a copy, by writev), commands can be encoded ahead of time into
// the caller's buffer (AppendCommand, AppendEncoded), and replies come back
// as go-redis reads them (string, int64, []any, nil, or an error reply),
// matched to their commands in order.
//
// A Conn is dialled with the fields of a *redis.Options that the loader
// sets: Network, Addr, Dialer, TLSConfig, Username, Password, DB,
// DialTimeout, ReadTimeout and WriteTimeout. A Conn is for one goroutine
// at a time; a Pool shares Conns between goroutines.
package resp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults where the options leave a field zero.
const (
	DefaultDialTimeout = 5 * time.Second
	DefaultTimeout     = 60 * time.Second
)

// Sizes of the buffers. Arguments of at least directArg bytes are
// handed to the kernel where they are (net.Buffers, writev on TCP), not
// copied into the write buffer.
const (
	readBufferSize = 64 << 10
	directArg      = 16 << 10
)

// An Error is an error reply ("-ERR ..."). It satisfies redis.Error, so
// code that classifies go-redis errors classifies these too.
type Error string

func (e Error) Error() string { return string(e) }

// RedisError marks Error as a server reply (the redis.Error interface).
func (Error) RedisError() {}

// A Reply is the reply to one command: Err is an error reply (an Error),
// redis.Nil for a nil reply, or nil; Val is the value as go-redis reads it
// in RESP2: string (simple and bulk strings), int64, []any (whose error
// elements are Errors), nil; bulk strings are []byte instead on the
// connections of a Pool with BulkBytes.
type Reply struct {
	Val any
	Err error
}

// Conn is one connection.
type Conn struct {
	nc     net.Conn
	br     *bufio.Reader
	wbuf   []byte      // commands being built
	bufs   net.Buffers // what to write: parts of wbuf, direct arguments, encoded commands
	mark   int         // the start of the part of wbuf not yet in bufs
	queued int         // commands queued since the last Exec
	rt, wt time.Duration
	broken bool

	bulkBytes bool // bulk replies as []byte (Pool.BulkBytes)
}

// Dial connects to o.Addr and authenticates.
func Dial(ctx context.Context, o *redis.Options) (*Conn, error) {
	network := o.Network
	if network == "" {
		network = "tcp"
	}
	dctx, cancel := context.WithTimeout(ctx, orDefault(o.DialTimeout, DefaultDialTimeout))
	defer cancel()
	var nc net.Conn
	var err error
	switch {
	case o.Dialer != nil:
		nc, err = o.Dialer(dctx, network, o.Addr)
	case o.TLSConfig != nil:
		nc, err = (&tls.Dialer{Config: o.TLSConfig}).DialContext(dctx, network, o.Addr)
	default:
		var d net.Dialer
		nc, err = d.DialContext(dctx, network, o.Addr)
	}
	if err != nil {
		return nil, err
	}
	c := &Conn{
		nc: nc, br: bufio.NewReaderSize(nc, readBufferSize),
		rt: orDefault(o.ReadTimeout, DefaultTimeout), wt: orDefault(o.WriteTimeout, DefaultTimeout),
	}
	if o.Password != "" {
		if o.Username != "" {
			c.Append("AUTH", o.Username, o.Password)
		} else {
			c.Append("AUTH", o.Password)
		}
	}
	if o.DB != 0 {
		c.Append("SELECT", o.DB)
	}
	if c.queued > 0 {
		replies, err := c.Exec(ctx)
		if err == nil {
			err = firstError(replies)
		}
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	return c, nil
}

func firstError(replies []Reply) error {
	for _, r := range replies {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Append queues a command. Arguments are strings, byte slices, ints and
// int64s (other types are written as fmt prints them); a byte slice of
// directArg bytes or more must not change until Exec returns.
func (c *Conn) Append(args ...any) {
	c.wbuf = AppendCommand(c.wbuf, len(args))
	c.queued++
	for _, a := range args {
		switch a := a.(type) {
		case string:
			c.wbuf = AppendArgString(c.wbuf, a)
		case []byte:
			c.arg(a)
		case int:
			c.wbuf = AppendArgInt(c.wbuf, int64(a))
		case int64:
			c.wbuf = AppendArgInt(c.wbuf, a)
		default: // as fmt prints it, like go-redis's writer for other types
			c.arg(fmt.Append(nil, a))
		}
	}
}

// AppendArgs queues a command whose arguments are all byte slices.
func (c *Conn) AppendArgs(args [][]byte) {
	c.wbuf = AppendCommand(c.wbuf, len(args))
	c.queued++
	for _, a := range args {
		c.arg(a)
	}
}

// AppendEncoded queues n commands encoded in b by AppendCommand and the
// AppendArg functions. b is written where it is, without a copy: it must
// not change until Exec returns.
func (c *Conn) AppendEncoded(b []byte, n int) {
	c.cut()
	c.bufs = append(c.bufs, b)
	c.queued += n
}

// arg adds an argument to the command being queued: copied into the
// write buffer if it is small, else written where it is (writev on TCP),
// so it must not change until Exec returns.
func (c *Conn) arg(b []byte) {
	if len(b) < directArg {
		c.wbuf = AppendArg(c.wbuf, b)
		return
	}
	c.wbuf = AppendArgHeader(c.wbuf, len(b))
	c.cut()
	c.bufs = append(c.bufs, b)
	c.wbuf = append(c.wbuf, '\r', '\n')
}

// cut moves the part of wbuf built since the last cut into bufs. A part
// stays valid when wbuf grows into a new array: the old array keeps the
// bytes, and nothing writes to it any more.
func (c *Conn) cut() {
	if len(c.wbuf) > c.mark {
		c.bufs = append(c.bufs, c.wbuf[c.mark:len(c.wbuf):len(c.wbuf)])
		c.mark = len(c.wbuf)
	}
}

// Exec writes the queued commands and reads their replies, in order. On
// a transport error (which also breaks the connection), it returns the
// replies read before it: the commands after them may or may not have
// run.
func (c *Conn) Exec(ctx context.Context) ([]Reply, error) {
	n := c.queued
	if c.broken {
		c.reset()
		return nil, errBroken
	}
	replies := make([]Reply, 0, n)
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	err := c.flush()
	if err == nil {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.rt))
		for range n {
			var r Reply
			if r.Val, r.Err, err = c.read(); err != nil {
				break
			}
			replies = append(replies, r)
		}
	}
	if err != nil {
		c.broken = true
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
	}
	return replies, err
}

// errBroken is the error of Exec on a connection that failed before.
var errBroken = errors.New("resp: connection broken by an earlier error")

// flush writes the queued commands.
func (c *Conn) flush() error {
	c.cut()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.wt))
	bufs := c.bufs // WriteTo consumes its receiver
	_, err := bufs.WriteTo(c.nc)
	c.reset()
	return err
}

// reset forgets the queued commands.
func (c *Conn) reset() {
	clear(c.bufs) // drop the references to direct arguments
	c.bufs, c.wbuf, c.mark, c.queued = c.bufs[:0], c.wbuf[:0], 0, 0
}

// Broken reports whether the connection failed: it must be closed.
func (c *Conn) Broken() bool { return c.broken }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Queued returns the number of commands queued since the last Exec.
func (c *Conn) Queued() int { return c.queued }
