// Package loader writes the keys of an RDB stream into a live Redis or
// Redis Cluster as an ordinary client: RESTORE ... ABSTTL with the
// payloads as they are when the server knows their encoding, transcoded
// payloads when it does not, and commands that rebuild the value where no
// payload can carry it (see DESIGN.md, "Restoring into an older or
// different server").
//
// A [Loader] sends keys over several connections (Options.Workers per
// node), each a pipeline of up to Options.Pipeline commands, with the bytes
// of the payloads in flight bounded by Options.MaxInFlight. Every reply is
// matched to its key: each key ends in exactly one of the outcomes counted
// in [Stats], and a key that was not written is named there with the
// reason. On a Redis Cluster keys are routed by hash slot to the node that
// owns it; MOVED and ASK are followed and the slot map refreshed.
//
//	l, err := loader.New(ctx, loader.Options{Redis: &redis.Options{Addr: addr}})
//	for each entry e of kind rdb.KindKey {
//		if err := l.Write(ctx, e); err != nil { ... } // a fatal error: the destination is gone
//	}
//	stats, err := l.Close()
package loader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbkit/rdbkit/internal/bytesem"
	"github.com/rdbkit/rdbkit/internal/resp"
	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// Mode chooses how values are written.
type Mode int

// The modes.
const (
	// ModeAuto sends the payload as is when the target knows its
	// encoding, transcodes it when it does not, and writes commands where
	// neither works (a module or a stream the target lacks, a payload over
	// the target's size limit, a value too large to buffer). On a
	// standalone server, strings without expiry go many to an MSETNX
	// (see mset.go).
	ModeAuto Mode = iota
	// ModeRestore always sends the file's payload with RESTORE.
	ModeRestore
	// ModeRewrite always writes commands.
	ModeRewrite
)

// ParseMode parses "auto", "restore" or "rewrite".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "auto", "":
		return ModeAuto, nil
	case "restore":
		return ModeRestore, nil
	case "rewrite":
		return ModeRewrite, nil
	}
	return 0, fmt.Errorf("loader: unknown mode %q (want auto, restore or rewrite)", s)
}

func (m Mode) String() string { return [...]string{"auto", "restore", "rewrite"}[m] }

// Conflict is the policy for keys that already exist in the destination.
type Conflict int

// The policies.
const (
	// ConflictReport leaves an existing key alone and reports it (the
	// server's BUSYKEY) as a conflict: the run does not succeed.
	ConflictReport Conflict = iota
	// ConflictReplace overwrites existing keys (RESTORE ... REPLACE).
	ConflictReplace
	// ConflictSkip leaves existing keys alone and counts them as skipped.
	ConflictSkip
)

// Options configure a Loader.
type Options struct {
	// Redis is how to reach the destination, or any node of a cluster:
	// address, credentials, TLS. It is copied; its DB is ignored (see
	// DBMap), as are its retry and pool settings.
	Redis *redis.Options
	// Cluster forces the cluster mode; by default the destination's INFO
	// decides.
	Cluster bool
	// Workers is the number of connections per node; 0 means 4.
	Workers int
	// Pipeline is the number of commands per round trip; 0 means 256.
	Pipeline int
	// MaxInFlight bounds the payload bytes sent and not yet acknowledged;
	// 0 means 64 MiB. A single larger payload is still sent, alone.
	MaxInFlight int64
	// Mode chooses RESTORE, transcoding or commands.
	Mode Mode
	// KeepCompressed sends the payloads of ModeAuto as they are. By
	// default their LZF-compressed blobs go plain where that at most
	// doubles them (rdb.AppendInflated): the destination has that much
	// less to do, for more bytes on the wire.
	KeepCompressed bool
	// Conflict is the policy for keys that already exist.
	Conflict Conflict
	// DBMap maps a database of the file to one of the destination. A
	// database it does not name keeps its number, or, with UseDefaultDB,
	// goes to DefaultDB.
	DBMap        map[int]int
	DefaultDB    int
	UseDefaultDB bool
	// MaxPayload is the largest argument the destination accepts; 0 reads
	// proto-max-bulk-len with CONFIG GET (512 MiB if that is forbidden).
	// A payload larger than it is written with commands.
	MaxPayload int64
	// RDBVersion, if not 0, overrides the RDB version read from INFO.
	RDBVersion int
	// DryRun sends nothing that writes: keys are decoded, routed and
	// counted, and EXISTS tells which would conflict.
	DryRun bool
	// Retries is how many times a command is sent again after a dropped
	// connection, a failover or a busy server; 0 means 8, -1 none.
	Retries int
	// RetryBackoff is the first wait between retries, doubled each time up
	// to 2 s; 0 means 100 ms.
	RetryBackoff time.Duration
	// FailLimit is the number of failed (and conflicting) keys named in
	// Stats; 0 means 100.
	FailLimit int
	// Now returns the current time (expiry decisions); nil means time.Now.
	Now func() time.Time
	// InDoubt, if not nil, names the keys (by Entry.Offset) that an
	// interrupted run may already have written: when one exists, its value
	// is compared with the file's (DUMP), and an equal one counts as
	// written. See Checkpoint.
	InDoubt func(offset int64) bool
	// OnKeyError, if not nil, is called with every key that was not
	// written (failed, or conflicting under ConflictReport), beyond the
	// first FailLimit that Stats names. Calls may come from several
	// goroutines at once.
	OnKeyError func(k KeyError, conflict bool)
	// TempTTL is the expiry of the temporary keys that big values are
	// built under, while they are built; 0 means one hour.
	TempTTL time.Duration
}

// DefaultWorkers and the other defaults of Options. DefaultRetries, with
// the default RetryBackoff (0.1 s doubled up to 2 s), waits about 33 s in
// all: longer than a Cluster's automatic failover with Redis's default
// cluster-node-timeout of 15 s.
const (
	DefaultWorkers     = 4
	DefaultPipeline    = 256
	DefaultMaxInFlight = 64 << 20
	DefaultRetries     = 20
	DefaultFailLimit   = 100
)

// ErrStopped is returned by Write after a fatal error (the destination
// could not be reached after every retry); the error names the cause.
var ErrStopped = errors.New("loader: stopped")

// A Loader writes keys into a destination. Write is not safe for
// concurrent use; Stats and Checkpoint are.
type Loader struct {
	o      Options
	setBuf []byte // the value of the last string set (setValue)
	info   *ServerInfo
	target rdb.Target
	knows  [512]bool // target.Knows of the encodings below 512 (Redis's, Valkey's)
	maxArg int64
	runID  string

	base    *redis.Options
	nodesMu sync.Mutex
	clients map[string]*nodeConns // by address
	slots   *slotMap              // nil for a standalone destination
	nodes   map[string]*node      // by address: worker queues
	server  *node                 // the one node of a standalone destination

	sem     *bytesem.Sem
	track   tracker
	statsMu sync.Mutex
	stats   Stats
	fatal   atomic.Pointer[error]
	noSet   atomic.Bool // the server refused MSETNX: strings go by RESTORE

	redirects, retries atomic.Int64
	wg                 sync.WaitGroup
	closed             bool
	rr                 int // round robin over workers

	ctx    context.Context // the workers': cancelled by Abort only
	cancel context.CancelFunc
	dbMu   sync.Mutex
	dbs    map[int]error // databases checked with SELECT
	bufs   sync.Pool     // *[]byte: transcoded payloads
}

// New connects to the destination, reads its version, limits and
// topology, and starts the workers. It fails if the destination cannot be
// reached or refuses the credentials.
func New(ctx context.Context, o Options) (*Loader, error) {
	if o.Redis == nil {
		return nil, errors.New("loader: Options.Redis is nil")
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Pipeline <= 0 {
		o.Pipeline = DefaultPipeline
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 100 * time.Millisecond
	}
	if o.FailLimit <= 0 {
		o.FailLimit = DefaultFailLimit
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TempTTL <= 0 {
		o.TempTTL = time.Hour
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	l := &Loader{
		o:       o,
		runID:   hex.EncodeToString(id[:]),
		clients: map[string]*nodeConns{},
		nodes:   map[string]*node{},
		sem:     bytesem.New(o.MaxInFlight),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.base = clientOptions(o.Redis, o.Workers)
	c := l.client(l.base.Addr)
	info, err := readServerInfo(ctx, c)
	if err != nil {
		l.cancel()
		l.closeClients()
		return nil, err
	}
	l.info = info
	l.target = info.Target
	if o.RDBVersion != 0 {
		l.target.Version = o.RDBVersion
		l.target.Valkey = o.RDBVersion >= rdb.MinValkeyVersion
	}
	for enc := range l.knows {
		l.knows[enc] = l.target.Knows(rdb.Encoding(enc))
	}
	l.maxArg = o.MaxPayload
	if l.maxArg <= 0 {
		l.maxArg = info.ProtoMaxBulkLen
	}
	if l.maxArg <= 0 {
		l.maxArg = DefaultProtoMaxBulkLen
	}
	if !info.Cluster && !o.Cluster && info.Role == "replica" && !o.DryRun {
		l.cancel()
		l.closeClients()
		return nil, fmt.Errorf("loader: %s is a replica, which refuses writes: give the master's address", l.base.Addr)
	}
	if info.Cluster || o.Cluster {
		if err := l.initCluster(ctx); err != nil {
			l.cancel()
			l.closeClients()
			return nil, err
		}
	} else {
		l.server = l.addNode(l.base.Addr)
	}
	return l, nil
}

// clientOptions returns the options of the loader's clients: no retries
// of their own (the loader retries, knowing what is safe to send again),
// RESP2, no CLIENT SETINFO.
func clientOptions(base *redis.Options, workers int) *redis.Options {
	o := *base
	o.DB = 0
	o.MaxRetries = -1
	o.Protocol = 2
	o.DisableIdentity = true
	o.PoolSize = workers + 2
	o.PipelinePoolSize = workers + 2
	o.ReadTimeout = 60 * time.Second
	o.WriteTimeout = 60 * time.Second
	o.ContextTimeoutEnabled = true
	o.MaintNotificationsConfig = nil
	o.OnConnect = nil
	o.DialerRetries = 1 // the loader retries, and says so
	return &o
}

// nodeConns are the connections to one node: a go-redis client, and a
// pool for the pipelines of RESTOREs and commands.
type nodeConns struct {
	client *redis.Client
	pool   *resp.Pool
}

// conns returns the connections to the node at addr, made on first use.
func (l *Loader) conns(addr string) *nodeConns {
	l.nodesMu.Lock()
	defer l.nodesMu.Unlock()
	n := l.clients[addr]
	if n == nil {
		o := *l.base
		o.Addr = addr
		n = &nodeConns{client: redis.NewClient(&o), pool: resp.NewPool(&o, l.o.Workers+2)}
		l.clients[addr] = n
	}
	return n
}

// client returns the go-redis client of the node at addr.
func (l *Loader) client(addr string) *redis.Client { return l.conns(addr).client }

// pool returns the pool of pipeline connections to the node at addr.
func (l *Loader) pool(addr string) *resp.Pool { return l.conns(addr).pool }

func (l *Loader) closeClients() {
	l.nodesMu.Lock()
	defer l.nodesMu.Unlock()
	for _, n := range l.clients {
		_ = n.client.Close()
		n.pool.Close()
	}
}

// Info returns what the destination reported when the Loader connected.
func (l *Loader) Info() *ServerInfo { return l.info }

// knowsEnc reports whether the target knows encoding enc: rdb.Target.Knows
// (which reads a map), from a table.
func (l *Loader) knowsEnc(enc rdb.Encoding) bool {
	if int(enc) < len(l.knows) {
		return l.knows[enc]
	}
	return l.target.Knows(enc)
}

// Target returns the RDB version payloads are written for.
func (l *Loader) Target() rdb.Target { return l.target }

// MaxArg returns the largest argument sent to the destination.
func (l *Loader) MaxArg() int64 { return l.maxArg }

// IsCluster reports whether the destination is a Redis Cluster.
func (l *Loader) IsCluster() bool { return l.slots != nil }

// Stats returns a copy of the counters so far.
func (l *Loader) Stats() Stats {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	s := l.stats.clone()
	s.Redirects, s.Retries = l.redirects.Load(), l.retries.Load()
	return s
}

// Err returns the fatal error that stopped the Loader, nil if none.
func (l *Loader) Err() error {
	if p := l.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

func (l *Loader) setFatal(err error) {
	err = fmt.Errorf("%w: %w", ErrStopped, err)
	l.fatal.CompareAndSwap(nil, &err)
}

// destDB returns the destination database of a database of the file.
func (l *Loader) destDB(db int) int {
	if d, ok := l.o.DBMap[db]; ok {
		return d
	}
	if l.o.UseDefaultDB {
		return l.o.DefaultDB
	}
	return db
}

// Close waits until every key given to Write has been written (or has
// failed), stops the workers, closes the connections and returns the
// final counters. The returned error is the fatal error, if any.
func (l *Loader) Close() (Stats, error) {
	if !l.closed {
		l.closed = true
		l.nodesMu.Lock()
		for _, n := range l.nodes {
			n.close()
		}
		l.nodesMu.Unlock()
		l.wg.Wait()
		l.cancel()
		l.closeClients()
	}
	return l.Stats(), l.Err()
}

// Abort makes the workers give up what they are waiting for (a retry, a
// reply): keys in flight fail. Close still has to be called.
func (l *Loader) Abort() { l.cancel() }

// now returns the current time in Unix ms.
func (l *Loader) now() int64 { return l.o.Now().UnixMilli() }

// rewriteOptions returns the options of commands for a key.
func (l *Loader) rewriteOptions(key []byte, seq uint64) rewrite.Options {
	o := rewrite.Options{
		Temp:     rewrite.TempKey(key, l.runID+":"+strconv.FormatUint(seq, 10)),
		Replace:  l.o.Conflict == ConflictReplace,
		Now:      l.now(),
		MaxBulk:  int(min(l.maxArg, 1<<40)),
		MaxBytes: int(min(l.maxArg/2, rewrite.DefaultMaxBytes)),
		TempTTL:  l.o.TempTTL.Milliseconds(),
	}
	return o.ForTarget(l.target)
}
