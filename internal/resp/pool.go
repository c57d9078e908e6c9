package resp

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A Pool keeps idle connections to one server, for any number of
// goroutines.
type Pool struct {
	// BulkBytes makes the bulk replies of the connections made after it is
	// set []byte instead of string: values read to be kept as bytes (DUMP
	// payloads) are then copied once, not twice.
	BulkBytes bool

	o       *redis.Options
	maxIdle int
	setup   [][]any

	mu     sync.Mutex
	idle   []*Conn
	closed bool
}

// NewPool returns a pool of connections made with o, keeping up to
// maxIdle of them idle. Each new connection sends the setup commands
// first; their error replies are ignored (a server may not know one).
func NewPool(o *redis.Options, maxIdle int, setup ...[]any) *Pool {
	return &Pool{o: o, maxIdle: maxIdle, setup: setup}
}

// Get returns an idle connection, or a new one.
func (p *Pool) Get(ctx context.Context) (*Conn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := Dial(ctx, p.o)
	if err != nil {
		return nil, err
	}
	c.bulkBytes = p.BulkBytes
	if len(p.setup) == 0 {
		return c, nil
	}
	for _, cmd := range p.setup {
		c.Append(cmd...)
	}
	if _, err := c.Exec(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Put gives c back: kept if it works and the pool is open and has room,
// else closed.
func (p *Pool) Put(c *Conn) {
	p.mu.Lock()
	if !c.broken && !p.closed && len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// Close closes the idle connections, and those given back later.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
}
