package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/rdb"
)

// Keeping snapshot keys alive until the stream has caught up.
//
// The race: a key of the snapshot expires at T. The destination is a
// master, not a replica, so it deletes the key on its own at T, whereas a
// replica waits for its master's DEL. If the source renews the key just
// before T (PEXPIREAT, SET ... PXAT: a Redis 7.0 master propagates every
// expiry as an absolute time, and an expiry as DEL, which we rely on), the
// renewal reaches the destination only once sync has applied the stream
// up to it. The snapshot is loaded first and the stream applied after it,
// so a key due to expire within the time the stream needs to catch up
// would be deleted on the destination before its renewal arrives, and the
// renewal would then find no key: the key would be lost for good.
//
// So while the snapshot is loaded, a key whose expiry lies within
// --ttl-margin of now (or has passed since the snapshot was taken: the
// source may have renewed it after the fork) is written with a placeholder
// expiry ("hold", keepFor ahead) instead, and remembered with its true
// expiry. The same race exists whenever the stream lags (after a
// reconnection, or a --resume: the source went on writing meanwhile), so
// the stream's own expiries are treated alike: PEXPIREAT key ms and
// SET ... PXAT ms (EXPIREAT and EXAT too) with a time within the margin
// are sent with the placeholder instead (PEXPIREAT without its NX, XX, GT
// or LT: the source propagates it only once it took effect there), and
// the key is remembered; a later expiry of the key far enough ahead
// makes it forgotten. Once the stream has caught up (every command read applied, the
// link quiet), each remembered key gets its true expiry back with
// PEXPIREAT, which deletes it if that time has passed, unless the stream
// changed the key's expiry in the meantime: the key is set only when its
// expiry on the destination is still exactly the placeholder
// (PEXPIRETIME, Redis 7.0+; PTTL within a second before). A renewal
// (PEXPIREAT, SET ... PXAT), PERSIST, a DEL (the source's own expiry) or a
// new value without KEEPTTL all change it, and the source's later commands
// win. A key whose true expiry is past waits until keepGrace after it, so
// that any renewal the source made before its expiry has had time to
// arrive and be applied. RENAME, RENAMENX, MOVE, COPY and SWAPDB carry
// the memory along; DEL, UNLINK, FLUSHDB and FLUSHALL drop it.
//
// Keys that had expired before the snapshot was taken (its ctime aux
// field) cannot have been renewed and are left to the loader, which skips
// them. Keys not yet settled are saved in the checkpoint, so that a
// resumed run settles them; without a checkpoint they are settled when
// sync stops. If sync is killed they keep the placeholder: they live at
// most keepFor too long. Relative expiries (EXPIRE, SETEX, ... from a
// source before Redis 7.0, which propagates them as they were sent) are
// applied as they come.
const (
	keepFor   = time.Hour
	keepGrace = 2 * time.Second
)

// A keptKey is a key written with a placeholder expiry.
type keptKey struct {
	DB       int       `json:"db"` // the source's database
	Key      jsonBytes `json:"key"`
	ExpireAt int64     `json:"expire_at"` // the true expiry, Unix ms
	Hold     int64     `json:"hold"`      // the expiry written instead, Unix ms
}

// keepAlive remembers the keys kept alive.
type keepAlive struct {
	margin   time.Duration
	mu       sync.Mutex
	snapTime int64 // Unix ms the snapshot was taken at; 0: unknown
	keys     map[string]*keptKey
	total    int64 // keys kept alive
	expired  int64 // settled: given their true expiry (deleted if past)
	changed  int64 // settled: the stream had changed their expiry
}

func newKeepAlive(margin time.Duration) *keepAlive {
	return &keepAlive{margin: margin, keys: map[string]*keptKey{}}
}

func keepID(db int, key []byte) string { return strconv.Itoa(db) + "\x00" + string(key) }

// reset prepares for a new snapshot. The keys remembered stay: those the
// new snapshot holds are overwritten (with their new placeholder, or an
// expiry of their own that settling finds changed), and those it lacks,
// deleted on the source meanwhile, still get their true expiry.
func (k *keepAlive) reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.snapTime = 0
}

// restore takes the keys of a checkpoint.
func (k *keepAlive) restore(keys []keptKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range keys {
		kk := keys[i]
		k.keys[keepID(kk.DB, kk.Key)] = &kk
	}
}

// snapshotTime records when the snapshot was taken (its ctime, in ms).
func (k *keepAlive) snapshotTime(ms int64) {
	k.mu.Lock()
	k.snapTime = ms
	k.mu.Unlock()
}

// hold returns the expiry to write for the key e of the snapshot: its
// own, or a placeholder if it expires within the margin (remembering
// it).
func (k *keepAlive) hold(e *rdb.Entry, now time.Time) int64 {
	exp := e.ExpireAt
	nowMS := now.UnixMilli()
	if exp == 0 || k.margin <= 0 || exp >= nowMS+k.margin.Milliseconds() {
		return exp
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// Expired before the fork (ctime is rounded down to the second).
	if k.snapTime > 0 && exp < k.snapTime-1000 {
		return exp
	}
	h := nowMS + keepFor.Milliseconds()
	k.keys[keepID(e.DB, e.Key)] = &keptKey{DB: e.DB, Key: bytes.Clone(e.Key), ExpireAt: exp, Hold: h}
	k.total++
	return h
}

func (k *keepAlive) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}

// list returns the keys not settled, sorted, for a checkpoint.
func (k *keepAlive) list() []keptKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]keptKey, 0, len(k.keys))
	for _, kk := range k.keys {
		out = append(out, *kk)
	}
	slices.SortFunc(out, func(a, b keptKey) int {
		if a.DB != b.DB {
			return a.DB - b.DB
		}
		return bytes.Compare(a.Key, b.Key)
	})
	return out
}

// due returns the keys that may be settled now: those whose true expiry
// is ahead, and those past it by keepGrace (all of them with all).
func (k *keepAlive) due(now time.Time, all bool) []*keptKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	nowMS := now.UnixMilli()
	var out []*keptKey
	for _, kk := range k.keys {
		if all || kk.ExpireAt > nowMS || kk.ExpireAt <= nowMS-keepGrace.Milliseconds() {
			out = append(out, kk)
		}
	}
	return out
}

// done forgets a settled key.
func (k *keepAlive) done(kk *keptKey, changed bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys[keepID(kk.DB, kk.Key)] == kk {
		delete(k.keys, keepID(kk.DB, kk.Key))
	}
	if changed {
		k.changed++
	} else {
		k.expired++
	}
}

// track follows the commands that move keys between names or databases,
// once applied.
func (k *keepAlive) track(c *loader.Command) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 || len(c.Args) == 0 {
		return
	}
	name := strings.ToLower(string(c.Args[0]))
	a := c.Args
	replied1 := func() bool { n, ok := c.Reply.(int64); return ok && n == 1 }
	switch {
	case (name == "rename" || name == "renamenx" && replied1()) && len(a) == 3:
		k.move(c.DB, a[1], c.DB, a[2], true)
	case name == "move" && len(a) == 3 && replied1():
		if db, err := strconv.Atoi(string(a[2])); err == nil {
			k.move(c.DB, a[1], db, a[1], true)
		}
	case name == "copy" && len(a) >= 3 && replied1():
		db := c.DB
		for i := 3; i+1 < len(a); i++ {
			if strings.EqualFold(string(a[i]), "db") {
				if n, err := strconv.Atoi(string(a[i+1])); err == nil {
					db = n
				}
			}
		}
		k.move(c.DB, a[1], db, a[2], false)
	case name == "swapdb" && len(a) == 3:
		x, err1 := strconv.Atoi(string(a[1]))
		y, err2 := strconv.Atoi(string(a[2]))
		if err1 != nil || err2 != nil {
			return
		}
		keys := map[string]*keptKey{}
		for _, kk := range k.keys {
			switch kk.DB {
			case x:
				kk.DB = y
			case y:
				kk.DB = x
			}
			keys[keepID(kk.DB, kk.Key)] = kk
		}
		k.keys = keys
	case name == "del" || name == "unlink":
		for _, key := range a[1:] {
			delete(k.keys, keepID(c.DB, key)) // the source's own expiry, most often
		}
	case name == "flushdb":
		for id, kk := range k.keys {
			if kk.DB == c.DB {
				delete(k.keys, id)
			}
		}
	case name == "flushall":
		k.keys = map[string]*keptKey{}
	}
}

// move carries the memory of key (db, from) to (toDB, to); the old name
// is forgotten unless it is a copy.
func (k *keepAlive) move(db int, from []byte, toDB int, to []byte, rename bool) {
	kk := k.keys[keepID(db, from)]
	delete(k.keys, keepID(toDB, to)) // overwritten
	if kk == nil {
		return
	}
	n := *kk
	n.DB, n.Key = toDB, jsonBytes(bytes.Clone(to))
	if rename {
		delete(k.keys, keepID(db, from))
	}
	k.keys[keepID(toDB, to)] = &n
}

// How settleKeep settles the kept keys.
const (
	settlePrune = iota // forget the keys the stream changed; give no expiry
	settleDue          // also give their true expiry to the keys due it
	settleAll          // give every key its true expiry (sync stops)
)

// settleKeep settles the kept keys: each whose expiry the stream changed
// is forgotten; with settleDue and settleAll, the others get their true
// expiry. While sync follows the source, kept keys are only pruned: the
// source's own DEL expires them, as on a replica, so that a renewal that
// comes late (after a reconnection, say) still finds its key. They get
// their expiry once sync ends: --until-synced, or a stop without a
// checkpoint to resume from.
func (run *syncRun) settleKeep(ctx context.Context, now time.Time, mode int) error {
	var due []*keptKey
	switch mode {
	case settlePrune:
		due = run.keep.due(now, true)
	default:
		due = run.keep.due(now, mode == settleAll)
	}
	for len(due) > 0 {
		n := min(len(due), settleBatch)
		if err := run.settleKeys(ctx, due[:n], mode != settlePrune); err != nil {
			return err
		}
		due = due[n:]
	}
	return nil
}

// settleBatch is the number of kept keys settled in one round trip.
const settleBatch = 1000

// settleKeys settles due: PEXPIRETIME of each, then, with expire,
// PEXPIREAT of those still at their placeholder.
func (run *syncRun) settleKeys(ctx context.Context, due []*keptKey, expire bool) error {
	ap := run.applier()
	var spec *loader.CommandSpec
	err := run.untilReachable(ctx, func() (err error) {
		spec, err = ap.Spec(ctx, [][]byte{[]byte("PEXPIRETIME")})
		return err
	})
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	exact := spec.Known // before Redis 7.0: PTTL, within a second
	ask := make([]*loader.Op, len(due))
	for i, kk := range due {
		name := "PEXPIRETIME"
		if !exact {
			name = "PTTL"
		}
		ask[i] = &loader.Op{Cmds: []*loader.Command{{DB: kk.DB, Args: [][]byte{[]byte(name), kk.Key}, Keys: [][]byte{kk.Key}}}}
	}
	asked := time.Now().UnixMilli()
	// Reads, and below absolute expiries: sent again after a lost
	// connection, they do no harm.
	if err := run.untilReachable(ctx, func() error { return ap.Apply(ctx, ask) }); err != nil {
		return fmt.Errorf("sync: keep-alive: %w", err)
	}
	var set []*loader.Op
	var setKeys []*keptKey
	for i, kk := range due {
		c := ask[i].Cmds[0]
		if c.Err != nil {
			run.keepFailed(kk, c.Err)
			continue
		}
		n, _ := c.Reply.(int64)
		held := n == kk.Hold
		if !exact {
			held = n > 0 && abs(asked+n-kk.Hold) <= 1000
		}
		if !held {
			run.keep.done(kk, true)
			continue
		}
		if !expire {
			continue
		}
		at := []byte(strconv.FormatInt(kk.ExpireAt, 10))
		set = append(set, &loader.Op{Cmds: []*loader.Command{{DB: kk.DB, Args: [][]byte{[]byte("PEXPIREAT"), kk.Key, at}, Keys: [][]byte{kk.Key}}}})
		setKeys = append(setKeys, kk)
	}
	if len(set) == 0 {
		return nil
	}
	if err := run.untilReachable(ctx, func() error { return ap.Apply(ctx, set) }); err != nil {
		return fmt.Errorf("sync: keep-alive: %w", err)
	}
	for i, kk := range setKeys {
		if err := set[i].Cmds[0].Err; err != nil {
			run.keepFailed(kk, err)
			continue
		}
		run.keep.done(kk, false)
	}
	return nil
}

// expiryOf finds the absolute expiry a command of the stream sets:
// PEXPIREAT key ms, EXPIREAT key s, SET key value ... PXAT ms | EXAT s.
// i is the index of the time argument; seconds tells its unit.
func expiryOf(args [][]byte) (key []byte, at int64, i int, seconds, ok bool) {
	if len(args) < 3 {
		return nil, 0, 0, false, false
	}
	name := args[0]
	switch {
	case bytes.EqualFold(name, []byte("pexpireat")), bytes.EqualFold(name, []byte("expireat")):
		i, seconds = 2, len(name) == len("expireat")
	case bytes.EqualFold(name, []byte("set")):
		for j := 3; j+1 < len(args); j++ {
			if bytes.EqualFold(args[j], []byte("pxat")) || bytes.EqualFold(args[j], []byte("exat")) {
				i, seconds = j+1, len(args[j]) == 4 && (args[j][0]|0x20) == 'e'
			}
		}
		if i == 0 {
			return nil, 0, 0, false, false
		}
	default:
		return nil, 0, 0, false, false
	}
	n, err := strconv.ParseInt(string(args[i]), 10, 64)
	if err != nil {
		return nil, 0, 0, false, false
	}
	if seconds {
		n *= 1000
	}
	return args[1], n, i, seconds, true
}

// rewrite sends an absolute expiry of the stream within the margin as a
// placeholder: it changes c.Args and returns the key to remember once c
// has been applied. forget says that c sets an expiry far enough ahead:
// a key remembered is forgotten once c has been applied.
func (k *keepAlive) rewrite(c *loader.Command, now time.Time) (kept *keptKey, forget bool) {
	key, at, i, seconds, ok := expiryOf(c.Args)
	if !ok || k.margin <= 0 {
		return nil, ok
	}
	if at >= now.UnixMilli()+k.margin.Milliseconds() {
		return nil, true
	}
	h := now.UnixMilli() + keepFor.Milliseconds()
	args := slices.Clone(c.Args)
	hs := h
	if seconds {
		hs = (h + 999) / 1000
		h = hs * 1000
	}
	args[i] = []byte(strconv.FormatInt(hs, 10))
	if i == 2 {
		args = args[:3] // PEXPIREAT key ms, without NX, XX, GT, LT
	}
	c.Args = args
	return &keptKey{DB: c.DB, Key: bytes.Clone(key), ExpireAt: at, Hold: h}, false
}

// add remembers a key whose expiry command was sent with a placeholder.
func (k *keepAlive) add(kk *keptKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[keepID(kk.DB, kk.Key)] = kk
	k.total++
}

// forget drops a key whose expiry the stream set far enough ahead.
func (k *keepAlive) forget(db int, key []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) > 0 {
		delete(k.keys, keepID(db, key))
	}
}

// keepFailed reports a kept key whose true expiry could not be set: it
// keeps the placeholder.
func (run *syncRun) keepFailed(kk *keptKey, err error) {
	fl := cmdFailure{Offset: run.applied.Load(), DB: kk.DB, Key: kk.Key, Command: "PEXPIREAT (keep-alive)", Class: errClass(err), Error: err.Error()}
	if n := run.counters.fail(fl); n <= maxFailuresLogged {
		run.logf("could not give key %s of db %d its expiry back: %v", appendKeyText(nil, kk.Key), kk.DB, err)
	}
	run.keep.done(kk, true)
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
