package resp

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A Pool keeps idle connections to one server, for any number of
// goroutines.
type Pool struct {
	o       *redis.Options
	maxIdle int

	mu     sync.Mutex
	idle   []*Conn
	closed bool
}

// NewPool returns a pool of connections made with o, keeping up to
// maxIdle of them idle.
func NewPool(o *redis.Options, maxIdle int) *Pool {
	return &Pool{o: o, maxIdle: maxIdle}
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
	return Dial(ctx, p.o)
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
