package source

import (
	"fmt"
	"hash/maphash"
	"slices"
	"time"

	"github.com/rdbkit/rdbkit/internal/resp"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// A scanBatch is the keys of one pipeline, then their entries.
type scanBatch struct {
	db      int
	keys    [][]byte
	entries []ScanEntry
	bytes   int64 // payload bytes of the entries
	held    int64 // bytes taken from Scanner.held
}

// produce cuts the keys of node n into batches for its fetchers: those
// SCAN returns for each database, or those given in ScanOptions.Keys.
func (s *Scanner) produce(n *scanNode, work chan<- *scanBatch) error {
	if s.o.Keys != nil {
		return s.produceKeys(n, work)
	}
	seed := maphash.MakeSeed()
	for _, db := range s.info.DBs {
		if err := s.scanDB(n, db, seed, work); err != nil {
			return err
		}
	}
	return nil
}

// scanDB runs SCAN over database db of node n to its end.
func (s *Scanner) scanDB(n *scanNode, db int, seed maphash.Seed, work chan<- *scanBatch) error {
	c := n.client(db)
	b := &scanBatch{db: db}
	if !s.o.NoDedupe {
		n.seen.reset(s.dbKeys[db]) // a key is in one database: no need to keep the others'
	}
	var cursor uint64
	for {
		var cmd *redis.ScanCmd
		if s.info.HasType {
			cmd = c.ScanType(s.ctx, cursor, s.o.Match, int64(s.o.Count), s.o.Type)
		} else {
			cmd = c.Scan(s.ctx, cursor, s.o.Match, int64(s.o.Count))
		}
		keys, next, err := cmd.Result()
		if err != nil {
			return fmt.Errorf("source: %s db %d: SCAN: %w", n.addr, db, err)
		}
		dups := int64(0)
		for _, k := range keys {
			kb := []byte(k)
			if !s.o.NoDedupe && !n.seen.add(keyHash(seed, db, kb)) {
				dups++
				continue
			}
			b.keys = append(b.keys, kb)
			if len(b.keys) >= s.batchSize(n) {
				if err := s.send(b, work); err != nil {
					return err
				}
				b = &scanBatch{db: db}
			}
		}
		s.statsMu.Lock()
		s.stats.Scanned += int64(len(keys))
		s.stats.Duplicates += dups
		s.statsMu.Unlock()
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(b.keys) > 0 {
		return s.send(b, work)
	}
	return nil
}

// produceKeys cuts the keys given to node n into batches of one database.
func (s *Scanner) produceKeys(n *scanNode, work chan<- *scanBatch) error {
	keys := slices.Clone(n.keys)
	slices.SortStableFunc(keys, func(a, b ScanKey) int { return a.DB - b.DB })
	var b *scanBatch
	for _, k := range keys {
		if b != nil && (b.db != k.DB || len(b.keys) >= s.batchSize(n)) {
			if err := s.send(b, work); err != nil {
				return err
			}
			b = nil
		}
		if b == nil {
			b = &scanBatch{db: k.DB}
		}
		b.keys = append(b.keys, k.Key)
	}
	s.statsMu.Lock()
	s.stats.Scanned += int64(len(keys))
	s.statsMu.Unlock()
	if b != nil {
		return s.send(b, work)
	}
	return nil
}

// send waits for the rate limit and hands b to a fetcher.
func (s *Scanner) send(b *scanBatch, work chan<- *scanBatch) error {
	if err := s.rate.wait(s.ctx, len(b.keys)); err != nil {
		return err
	}
	select {
	case work <- b:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// batchSize returns the number of keys of the next batch of node n: at
// most ScanOptions.Batch, fewer when values are large, so that the
// pipelines in flight of every node hold about a quarter of MaxHeld.
func (s *Scanner) batchSize(n *scanNode) int {
	mean := n.size.mean()
	if mean <= 0 {
		return s.o.Batch
	}
	target := max(64<<10, s.o.MaxHeld/int64(4*s.o.InFlight*len(s.nodes)))
	return int(min(int64(s.o.Batch), max(1, target/mean)))
}

// fetchAll reads the batches of work until it is closed, and hands them
// to Next. After a failure it only drains work.
func (s *Scanner) fetchAll(n *scanNode, work <-chan *scanBatch) {
	for b := range work {
		if s.ctx.Err() != nil {
			continue
		}
		if err := s.fetch(n, b); err != nil {
			s.fail(err)
			continue
		}
		if len(b.entries) == 0 {
			continue
		}
		held, err := s.held.Acquire(s.ctx, b.bytes)
		if err != nil {
			continue
		}
		b.held = held
		select {
		case s.results <- b:
		case <-s.ctx.Done():
			s.held.Release(held)
		}
	}
}

// fetch reads the values of batch b in one pipeline: per key OBJECT
// IDLETIME and OBJECT FREQ when asked (before DUMP touches the key), DUMP
// and PTTL. A key whose DUMP or PTTL says it is gone counts as vanished;
// a payload that fails its check is a failed key. Any other error reply,
// or a network error that outlived the retries, is returned.
func (s *Scanner) fetch(n *scanNode, b *scanBatch) error {
	if s.o.KeysOnly {
		b.entries = make([]ScanEntry, len(b.keys))
		for i, k := range b.keys {
			b.entries[i] = ScanEntry{Entry: rdb.Entry{Kind: rdb.KindKey, DB: b.db, Key: k, Idle: -1, Freq: -1}, Node: n.addr}
		}
		return nil
	}
	replies, cmds, now, err := s.pipeline(n, b)
	if err != nil {
		return err
	}
	var vanished int64
	b.entries = make([]ScanEntry, 0, len(b.keys))
	for i, k := range b.keys {
		e := ScanEntry{Entry: rdb.Entry{Kind: rdb.KindKey, DB: b.db, Key: k, Idle: -1, Freq: -1}, Node: n.addr}
		gone, err := s.fill(&e, replies, &cmds[i], now)
		switch {
		case err != nil:
			return fmt.Errorf("source: %s db %d: %w", n.addr, b.db, err)
		case gone:
			vanished++
		case e.Payload == nil: // failed, or another type (no SCAN TYPE)
		default:
			b.entries = append(b.entries, e)
			b.bytes += int64(len(e.Payload))
		}
	}
	n.size.add(b.bytes, int64(len(b.entries)))
	s.statsMu.Lock()
	s.stats.Vanished += vanished
	s.stats.Bytes += b.bytes
	s.stats.Batches++
	s.statsMu.Unlock()
	return nil
}

// keyCmds are where the replies of one key's commands are in a batch's
// round trip.
type keyCmds struct {
	idle, freq int // -1 unless asked for
	dump, ttl  int
}

// pipeline sends the commands of batch b in one round trip, again after
// a network error (every command is read-only) up to ScanOptions.Retries
// times, and returns their replies, where each key's are, and the time
// the replies arrived (Unix ms).
func (s *Scanner) pipeline(n *scanNode, b *scanBatch) ([]resp.Reply, []keyCmds, int64, error) {
	pool := n.pipelines(s.o.InFlight + 2)
	cmds := make([]keyCmds, len(b.keys))
	for attempt := 0; ; attempt++ {
		c, err := pool.Get(s.ctx)
		if err == nil {
			c.Append("SELECT", b.db)
			for i, k := range b.keys {
				kc := &cmds[i]
				kc.idle, kc.freq = -1, -1
				if s.o.Idle {
					kc.idle = c.Queued()
					c.Append("OBJECT", "IDLETIME", k)
				}
				if s.o.Freq {
					kc.freq = c.Queued()
					c.Append("OBJECT", "FREQ", k)
				}
				kc.dump = c.Queued()
				c.Append("DUMP", k)
				kc.ttl = c.Queued()
				c.Append("PTTL", k)
			}
			var replies []resp.Reply
			replies, err = c.Exec(s.ctx)
			pool.Put(c)
			if err == nil {
				if err := replies[0].Err; err != nil {
					return nil, nil, 0, fmt.Errorf("source: %s: SELECT %d: %w", n.addr, b.db, err)
				}
				return replies, cmds, s.now().UnixMilli(), nil
			}
		}
		if attempt >= s.o.Retries || s.ctx.Err() != nil {
			return nil, nil, 0, fmt.Errorf("source: %s db %d: DUMP pipeline: %w", n.addr, b.db, err)
		}
		_ = sleepCtx(s.ctx, retryBackoff(attempt)) // a cancelled ctx ends the next attempt
	}
}

// retryBackoff is the wait before retry attempt+1, as go-redis's default
// (8 ms doubling up to 512 ms).
func retryBackoff(attempt int) time.Duration {
	return min(8*time.Millisecond<<min(attempt, 6), 512*time.Millisecond)
}

// fill sets e from the replies of its commands, received at now (Unix
// ms). It reports whether the key is gone; a payload that fails its check
// is counted as failed and leaves e.Payload nil, as does a key of another
// type than ScanOptions.Type on a server without SCAN TYPE.
func (s *Scanner) fill(e *ScanEntry, replies []resp.Reply, c *keyCmds, now int64) (gone bool, err error) {
	dump := replies[c.dump]
	if dump.Err == redis.Nil {
		return true, nil
	}
	if dump.Err != nil {
		return false, fmt.Errorf("DUMP %q: %w", e.Key, dump.Err)
	}
	ttl, err := intReply(replies, c.ttl)
	if err != nil {
		return false, fmt.Errorf("PTTL %q: %w", e.Key, err)
	}
	if ttl == -2 { // gone right after its DUMP
		return true, nil
	}
	if ttl >= 0 {
		e.ExpireAt = now + ttl
	}
	if e.Idle, err = intReply(replies, c.idle); err != nil {
		return false, fmt.Errorf("OBJECT IDLETIME %q: %w", e.Key, err)
	}
	if e.Freq, err = intReply(replies, c.freq); err != nil {
		return false, fmt.Errorf("OBJECT FREQ %q: %w", e.Key, err)
	}
	raw, _ := dump.Val.([]byte)
	payload, ver, err := rdb.ParseDump(raw)
	if err != nil {
		s.addFailure(e.DB, e.Key, "DUMP payload: "+err.Error())
		return false, nil
	}
	enc := rdb.PayloadEncoding(payload, int(ver))
	if s.o.Type != "" && !s.info.HasType && enc.Type().String() != s.o.Type {
		return false, nil // SCAN TYPE is missing before Redis 6.0
	}
	e.Payload, e.Version, e.Encoding, e.Type = payload, ver, enc, enc.Type()
	return false, nil
}

// intReply returns the integer reply i, -1 if i is -1 (not asked for) or
// the reply is nil (the key was gone).
func intReply(replies []resp.Reply, i int) (int64, error) {
	if i < 0 || replies[i].Err == redis.Nil {
		return -1, nil
	}
	if replies[i].Err != nil {
		return 0, replies[i].Err
	}
	v, ok := replies[i].Val.(int64)
	if !ok {
		return 0, fmt.Errorf("unexpected reply %v", replies[i].Val)
	}
	return v, nil
}

// keyHash hashes a key of database db for keySet.
func keyHash(seed maphash.Seed, db int, key []byte) uint64 {
	return maphash.Bytes(seed, key) ^ uint64(db+1)*0x9e3779b97f4a7c15
}

// A keySet is a set of 64-bit key hashes, open addressing with linear
// probing: about 16 bytes a key. Two keys with the same hash count as one
// (a chance of about n²/2⁶⁵ for n keys).
type keySet struct {
	slots []uint64
	n     int
}

// add adds h and reports whether it was new.
func (ks *keySet) add(h uint64) bool {
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	if 2*(ks.n+1) > len(ks.slots) {
		ks.grow()
	}
	mask := uint64(len(ks.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch ks.slots[i] {
		case 0:
			ks.slots[i] = h
			ks.n++
			return true
		case h:
			return false
		}
	}
}

// reset empties the set, with room for n hashes (a hint) without growing.
func (ks *keySet) reset(n int64) {
	size := 1024
	for int64(size) < 2*(n+1) && size < 1<<27 { // past 1 GiB, it grows if it must
		size *= 2
	}
	if len(ks.slots) == size {
		clear(ks.slots)
	} else {
		ks.slots = make([]uint64, size)
	}
	ks.n = 0
}

func (ks *keySet) grow() {
	old := ks.slots
	ks.slots = make([]uint64, max(1024, 2*len(old)))
	ks.n = 0
	for _, h := range old {
		if h != 0 {
			ks.add(h)
		}
	}
}
