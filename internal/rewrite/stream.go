package rewrite

import (
	"slices"
	"strconv"

	"github.com/rdbkit/rdbkit/rdb"
)

// phantomField is the field of the placeholder entries written for pending
// entries whose message was deleted; they are deleted again at the end.
var phantomField = []byte("rdbkit-deleted")

// stream writes a stream: its entries by id (XADD), its consumer groups
// (XGROUP CREATE ... ENTRIESREAD), their consumers (XGROUP CREATECONSUMER)
// and pending entries (XCLAIM ... TIME ms RETRYCOUNT n FORCE JUSTID), and
// finally its last id, entries-added and max-deleted-id (XSETID).
//
// XCLAIM ignores an id whose message no longer exists, so a pending entry
// whose message was deleted is recreated with a placeholder message, added
// in id order among the real ones, claimed, then deleted (XDEL). That needs
// the pending ids before the entries: a stream in memory is read twice.
// A streamed one is read once: placeholders above its last entry are added
// after it; for the pending ids at or below it, which of their messages
// were deleted is not known (the entry ids are not kept), and fillGaps has
// the server find out and insert the placeholders in place.
//
// Consumers' seen and active times become the time of writing (counted in
// Loss.ConsumerTimes); Redis 8.6's idempotent-producer state is dropped
// (Loss.IDMP).
func (w *writer) stream(e *rdb.Entry, v *rdb.Value) error {
	var pend []rdb.StreamID
	twoPass := e.Payload != nil
	if twoPass {
		for v.Next() {
		}
		if err := v.Err(); err != nil {
			return err
		}
		pend = pendingIDs(v.Stream())
		v = e.Value()
	}
	if err := w.prologue(); err != nil {
		return err
	}
	var phantoms []rdb.StreamID
	var first, last rdb.StreamID
	var n int64 // entries written
	added := false
	i := 0
	for v.Next() {
		el := v.Elem()
		for ; i < len(pend) && less(pend[i], el.ID); i++ {
			if err := w.xadd(pend[i], phantomField, phantomField); err != nil {
				return err
			}
			phantoms = append(phantoms, pend[i])
		}
		if i < len(pend) && pend[i] == el.ID {
			i++
		}
		if err := w.xadd(el.ID, el.Fields...); err != nil {
			return err
		}
		if !added {
			first = el.ID
		}
		last, added = el.ID, true
		n++
	}
	if err := v.Err(); err != nil {
		return err
	}
	info := v.Stream()
	var below []rdb.StreamID // pending ids at or below the last entry, streamed
	if !twoPass {
		pend = pendingIDs(info)
		i = 0
		for i < len(pend) && added && !less(last, pend[i]) {
			i++
		}
		below = pend[:i]
		if info.EntriesAdded > 0 {
			// RDB 7.0+: an entry above MaxDeletedID (XDEL) and the
			// first one (XTRIM) was not deleted.
			below = slices.DeleteFunc(below, func(id rdb.StreamID) bool {
				return less(info.MaxDeletedID, id) && !less(id, first)
			})
		}
	}
	for ; i < len(pend); i++ {
		if err := w.xadd(pend[i], phantomField, phantomField); err != nil {
			return err
		}
		phantoms = append(phantoms, pend[i])
		added = true
	}
	if !added { // an empty stream: add an entry and trim it away at once
		id := info.LastID
		if id == (rdb.StreamID{}) {
			id.Seq = 1
		}
		if err := w.one("XADD", w.dst, []byte("MAXLEN"), []byte("0"), w.id(id), phantomField, phantomField); err != nil {
			return err
		}
	}
	w.made = true
	var side [][]byte
	if len(below) > 0 {
		var err error
		if side, err = w.fillGaps(below, n); err != nil {
			return err
		}
	}
	if err := w.groups(info); err != nil {
		return err
	}
	for len(phantoms) > 0 {
		n := min(len(phantoms), w.o.MaxArgs)
		c := &w.aux
		c.reset()
		c.addString("XDEL")
		c.add(w.dst)
		for _, id := range phantoms[:n] {
			c.add(w.id(id))
		}
		if err := w.send(c); err != nil {
			return err
		}
		phantoms = phantoms[n:]
	}
	if len(side) > 0 {
		if err := w.steps(side, "d", int64(len(below))); err != nil {
			return err
		}
	}
	if err := w.xsetid(info); err != nil {
		return err
	}
	if info.IDMP != nil {
		w.loss.IDMP++
	}
	return w.epilogue()
}

// xadd emits XADD dst id field value ...
func (w *writer) xadd(id rdb.StreamID, fields ...[]byte) error {
	c := &w.aux
	c.reset()
	c.addString("XADD")
	c.add(w.dst)
	c.add(w.id(id))
	for _, f := range fields {
		if len(f) > w.o.MaxBulk {
			return ErrTooLarge
		}
		c.add(f)
	}
	if err := w.send(c); err != nil {
		return err
	}
	return w.wrote()
}

// groups creates the consumer groups, their consumers and pending entries.
func (w *writer) groups(info *rdb.StreamInfo) error {
	for _, g := range info.Groups {
		c := &w.aux
		c.reset()
		c.addString("XGROUP")
		c.addString("CREATE")
		c.add(w.dst)
		c.add(g.Name)
		c.add(w.id(g.LastID))
		if !w.o.NoStreamMeta && g.EntriesRead >= 0 {
			c.addString("ENTRIESREAD")
			c.add(w.int(g.EntriesRead))
		}
		if err := w.send(c); err != nil {
			return err
		}
		for _, cons := range g.Consumers {
			if err := w.single("XGROUP", []byte("CREATECONSUMER"), w.dst, g.Name, cons.Name); err != nil {
				return err
			}
			w.loss.ConsumerTimes++
		}
		for _, p := range g.Pending {
			if p.Consumer == nil {
				w.loss.DeletedPending++
				continue
			}
			c.reset()
			c.addString("XCLAIM")
			c.add(w.dst)
			c.add(g.Name)
			c.add(p.Consumer)
			c.addString("0")
			c.add(w.id(p.ID))
			c.addString("TIME")
			c.add(w.int(p.DeliveryTime))
			c.addString("RETRYCOUNT")
			c.add(strconv.AppendUint(w.num[:0], p.DeliveryCount, 10))
			c.addString("FORCE")
			c.addString("JUSTID")
			if err := w.send(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// xsetid sets the stream's last id and, from Redis 7.0, its entries-added
// counter and max deleted id.
func (w *writer) xsetid(info *rdb.StreamInfo) error {
	c := &w.aux
	c.reset()
	c.addString("XSETID")
	c.add(w.dst)
	c.add(w.id(info.LastID))
	if !w.o.NoStreamMeta {
		c.addString("ENTRIESADDED")
		c.add(strconv.AppendUint(w.num[:0], max(info.EntriesAdded, info.Length), 10))
		c.addString("MAXDELETEDID")
		c.add(w.id(info.MaxDeletedID))
	}
	return w.send(c)
}

// id formats a stream id into the writer's scratch space; valid until the
// next call.
func (w *writer) id(id rdb.StreamID) []byte {
	w.idBuf = strconv.AppendUint(w.idBuf[:0], id.MS, 10)
	w.idBuf = append(w.idBuf, '-')
	w.idBuf = strconv.AppendUint(w.idBuf, id.Seq, 10)
	return w.idBuf
}

func less(a, b rdb.StreamID) bool {
	return a.MS < b.MS || a.MS == b.MS && a.Seq < b.Seq
}

// pendingIDs returns the ids pending in any group, sorted, each once.
func pendingIDs(info *rdb.StreamInfo) []rdb.StreamID {
	if info == nil {
		return nil
	}
	var ids []rdb.StreamID
	for _, g := range info.Groups {
		for _, p := range g.Pending {
			ids = append(ids, p.ID)
		}
	}
	slices.SortFunc(ids, func(a, b rdb.StreamID) int {
		switch {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return 0
	})
	return slices.Compact(ids)
}

// gapScript rebuilds, in a streamed stream, the pending entries at or below
// its last entry whose message was deleted; see fillGaps. KEYS: the stream,
// the list of candidate ids (descending), the stash (entries moved out,
// msgpack, descending), the list of placeholders added. ARGV: the step
// ("m" move, "r" restore, "d" delete placeholders), its budget, the
// placeholder field, the side keys' expiry in ms (0: none).
const gapScript = `local d, c, t, p = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local n = tonumber(ARGV[2])
if ARGV[1] == 'm' then
  while n > 0 do
    local x = redis.call('LINDEX', c, 0)
    if not x then break end
    local r = redis.call('XREVRANGE', d, '+', x, 'COUNT', n + 1)
    local found, moved = false, 0
    for _, e in ipairs(r) do
      if e[1] == x then
        found = true
      elseif moved < n then
        redis.call('RPUSH', t, cmsgpack.pack(e))
        redis.call('XDEL', d, e[1])
        moved = moved + 1
      end
    end
    n = n - moved
    if found or #r <= moved then
      if not found then
        local top = redis.call('XREVRANGE', d, '+', '-', 'COUNT', 1)
        redis.call('XSETID', d, top[1] and top[1][1] or '0-0')
        redis.call('XADD', d, x, ARGV[3], ARGV[3])
        redis.call('RPUSH', p, x)
      end
      redis.call('LPOP', c)
      n = n - 1
    end
  end
elseif ARGV[1] == 'r' then
  if redis.call('LLEN', t) > 0 then
    local top = redis.call('XREVRANGE', d, '+', '-', 'COUNT', 1)
    redis.call('XSETID', d, top[1] and top[1][1] or '0-0')
  end
  for _ = 1, n do
    local s = redis.call('RPOP', t)
    if not s then break end
    local e = cmsgpack.unpack(s)
    redis.call('XADD', d, e[1], unpack(e[2]))
  end
else
  for _ = 1, n do
    local x = redis.call('LPOP', p)
    if not x then break end
    redis.call('XDEL', d, x)
  end
end
if ARGV[4] ~= '0' then
  for _, k in ipairs({c, t, p}) do redis.call('PEXPIRE', k, ARGV[4]) end
end
return 0`

// fillGaps recreates, in a streamed stream whose n entries are written,
// the pending entries among ids (sorted, at or below the last entry)
// whose message was deleted: which ones they are is known only to the
// server, which is asked with EVAL steps of bounded work. From the highest
// id down, the entries above it are moved to a stash (a list in the same
// hash slot), and if its message is missing a placeholder is added with
// that id (after XSETID lowers the last id to the top entry); then the
// stash is added back in order (after XSETID lowers the last id again: a
// placeholder moved to the stash left it at its id). Each entry and placeholder moves at most
// once: the moving steps do at most n + 2*len(ids) units of work in all
// (a move, or the check of an id), the restoring ones n + len(ids). The
// placeholders, listed in a third key, are claimed like the real entries
// and deleted after the groups (step "d", see stream); the final XSETID
// restores the counters. It returns the side keys (candidates, stash,
// placeholders), which are empty and so gone after the last step.
//
// An entry of more than about 4000 fields cannot be moved (Lua's unpack
// limit): its restoring step fails with an error reply.
func (w *writer) fillGaps(ids []rdb.StreamID, n int64) ([][]byte, error) {
	side := make([][]byte, 3)
	for i, s := range []string{"pel-c:", "pel-s:", "pel-p:"} {
		side[i] = TempKey(w.dst, s+string(w.dst))
	}
	if err := w.one("DEL", side...); err != nil {
		return nil, err
	}
	for hi := len(ids); hi > 0; {
		lo := max(0, hi-w.o.MaxArgs)
		c := &w.aux
		c.reset()
		c.addString("RPUSH")
		c.add(side[0])
		for j := hi - 1; j >= lo; j-- {
			c.add(w.id(ids[j]))
		}
		if err := w.send(c); err != nil {
			return nil, err
		}
		hi = lo
	}
	k := int64(len(ids))
	if err := w.steps(side, "m", n+2*k); err != nil {
		return nil, err
	}
	return side, w.steps(side, "r", n+k)
}

// steps emits the EVALs of gapScript step kind that do units of work.
func (w *writer) steps(side [][]byte, kind string, units int64) error {
	budget := int64(w.o.MaxArgs)
	ttl := int64(0)
	if w.o.Temp != nil {
		ttl = w.o.TempTTL
	}
	for ; units > 0; units -= budget {
		c := &w.aux
		c.reset()
		c.addString("EVAL")
		c.addString(gapScript)
		c.addString("4")
		c.add(w.dst)
		for _, k := range side {
			c.add(k)
		}
		c.addString(kind)
		c.add(w.int(budget))
		c.add(phantomField)
		c.add(w.int(max(ttl, 0)))
		if err := w.send(c); err != nil {
			return err
		}
		if err := w.wrote(); err != nil {
			return err
		}
	}
	return nil
}
