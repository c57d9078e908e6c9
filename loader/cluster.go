package loader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/redis/go-redis/v9"
)

// slotMap says which master owns each hash slot of a Redis Cluster.
type slotMap struct {
	mu        sync.RWMutex
	owner     [rewrite.Slots]string // "host:port", "" if unassigned
	masters   []string              // every master seen, seeds for a refresh
	refreshed time.Time
	refreshMu sync.Mutex // one refresh at a time
}

func (m *slotMap) get(slot int) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.owner[slot]
}

func (m *slotMap) set(slot int, addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.owner[slot] = addr
}

// ErrClusterDB is returned by New when a database other than 0 is asked
// of a Redis Cluster, which has only database 0.
var ErrClusterDB = errors.New("loader: a Redis Cluster has only database 0")

// initCluster reads the slot map and makes a node (with its workers) for
// every master. A database other than 0 is refused.
func (l *Loader) initCluster(ctx context.Context) error {
	if l.o.UseDefaultDB && l.o.DefaultDB != 0 {
		return fmt.Errorf("%w, not %d", ErrClusterDB, l.o.DefaultDB)
	}
	for src, dst := range l.o.DBMap {
		if dst != 0 {
			return fmt.Errorf("%w: database %d mapped to %d", ErrClusterDB, src, dst)
		}
	}
	l.slots = &slotMap{masters: []string{l.base.Addr}}
	if err := l.refreshSlots(ctx, true); err != nil {
		return err
	}
	for _, addr := range l.slots.masters {
		l.addNode(addr)
	}
	return nil
}

// owner returns the address of the node that owns slot: the slot map's
// for a cluster, the one server's otherwise.
func (l *Loader) owner(slot int) string {
	if l.slots == nil {
		return l.base.Addr
	}
	if a := l.slots.get(slot); a != "" {
		return a
	}
	return l.base.Addr
}

// refreshSlots reads CLUSTER SLOTS from the first master that answers.
// Unless forced, it does nothing if the map was read in the last 100 ms.
func (l *Loader) refreshSlots(ctx context.Context, force bool) error {
	m := l.slots
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	if !force && time.Since(m.refreshed) < 100*time.Millisecond {
		return nil
	}
	m.mu.RLock()
	seeds := append([]string(nil), m.masters...)
	m.mu.RUnlock()
	var errs []error
	for _, addr := range seeds {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ranges, err := clusterSlots(cctx, l.client(addr), addr)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		var owner [rewrite.Slots]string
		masters := []string{}
		seen := map[string]bool{}
		for _, r := range ranges {
			for i := r.start; i <= r.end && i < rewrite.Slots; i++ {
				owner[i] = r.addr
			}
			if !seen[r.addr] {
				seen[r.addr] = true
				masters = append(masters, r.addr)
			}
		}
		m.mu.Lock()
		m.owner = owner
		for _, a := range m.masters { // keep old seeds: a failed master may come back
			if !seen[a] {
				seen[a] = true
				masters = append(masters, a)
			}
		}
		m.masters = masters
		m.refreshed = time.Now()
		m.mu.Unlock()
		return nil
	}
	m.refreshed = time.Now()
	return fmt.Errorf("loader: CLUSTER SLOTS: %w", errors.Join(errs...))
}

// slotRange is a range of slots and the address of the master owning it.
type slotRange struct {
	start, end int
	addr       string
}

// clusterSlots reads CLUSTER SLOTS (kept for servers before 7.0, which
// lack CLUSTER SHARDS) from the node at addr: for each range its first
// node, the master. A master that does not know its own address ("" or
// "?") is given the host of addr.
func clusterSlots(ctx context.Context, c *redis.Client, addr string) ([]slotRange, error) {
	reply, err := c.Do(ctx, "CLUSTER", "SLOTS").Slice()
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	var out []slotRange
	for _, x := range reply {
		r, _ := x.([]any)
		if len(r) < 3 {
			continue
		}
		start, ok1 := r[0].(int64)
		end, ok2 := r[1].(int64)
		n, _ := r[2].([]any)
		if !ok1 || !ok2 || len(n) < 2 {
			return nil, fmt.Errorf("loader: CLUSTER SLOTS: unexpected reply %v", r)
		}
		h, _ := n[0].(string)
		port, _ := n[1].(int64)
		if h == "" || h == "?" {
			h = host
		}
		out = append(out, slotRange{int(start), int(end), net.JoinHostPort(h, strconv.FormatInt(port, 10))})
	}
	return out, nil
}

// follow reads a MOVED or ASK reply: it records a MOVED in the slot map,
// counts the redirection, and returns where to send the command again
// and whether with ASKING; ok is false for a reply it cannot read.
func (l *Loader) follow(msg string) (to string, asking, ok bool) {
	kind, slot, to, ok := redirect(msg)
	if !ok {
		return "", false, false
	}
	if kind == "MOVED" && l.slots != nil {
		l.slots.set(slot, to)
	}
	l.redirects.Add(1)
	return to, kind == "ASK", true
}

// isRefusedForNow reports a reply that says to send the command again
// later: the slot is migrating, the server is loading or busy, the
// cluster or a master is down.
func isRefusedForNow(err error) bool {
	return hasCode(err, "TRYAGAIN", "LOADING", "CLUSTERDOWN", "MASTERDOWN", "BUSY")
}

// redirect parses a MOVED or ASK error: "MOVED 3999 127.0.0.1:6381".
func redirect(msg string) (kind string, slot int, addr string, ok bool) {
	f := strings.Fields(msg)
	if len(f) != 3 || f[0] != "MOVED" && f[0] != "ASK" {
		return "", 0, "", false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 || n >= rewrite.Slots {
		return "", 0, "", false
	}
	return f[0], n, f[2], true
}

// masters returns the address of every master (the one server of a
// standalone destination).
func (l *Loader) masters() []string {
	if l.slots == nil {
		return []string{l.base.Addr}
	}
	l.slots.mu.RLock()
	defer l.slots.mu.RUnlock()
	seen := map[string]bool{}
	var out []string
	for _, a := range l.slots.owner {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// addNode makes the node at addr and starts its workers, if it has none.
func (l *Loader) addNode(addr string) *node {
	l.nodesMu.Lock()
	defer l.nodesMu.Unlock()
	if n := l.nodes[addr]; n != nil {
		return n
	}
	n := newNode(addr)
	for range l.o.Workers {
		n.workers = append(n.workers, &worker{node: n})
	}
	for _, w := range n.workers {
		l.wg.Add(1)
		go l.runWorker(w)
	}
	l.nodes[addr] = n
	return n
}

// nodeFor returns the node that owns slot.
func (l *Loader) nodeFor(slot int) *node {
	if l.server != nil {
		return l.server
	}
	return l.addNode(l.owner(slot))
}

// pickWorker returns a worker of the node that owns slot, in turn.
func (l *Loader) pickWorker(slot int) *worker {
	n := l.nodeFor(slot)
	l.rr++
	return n.workers[l.rr%len(n.workers)]
}

// isRedisError reports whether err is a reply from the server (and not a
// failure to reach it), and returns its text.
func isRedisError(err error) (string, bool) {
	if err == nil || err == redis.Nil {
		return "", false
	}
	var re redis.Error
	if errors.As(err, &re) {
		return re.Error(), true
	}
	return "", false
}

// hasCode reports whether err is a server error whose code (first word)
// is one of codes.
func hasCode(err error, codes ...string) bool {
	msg, ok := isRedisError(err)
	if !ok {
		return false
	}
	for _, c := range codes {
		if strings.HasPrefix(msg, c+" ") || msg == c {
			return true
		}
	}
	return false
}
