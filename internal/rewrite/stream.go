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
// the pending ids before the entries: a stream in memory is read twice;
// for a streamed one only placeholders above the last entry can be added,
// and the other deleted pending entries are lost (not counted: which ones
// they are is not known).
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
	var last rdb.StreamID
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
		last, added = el.ID, true
	}
	if err := v.Err(); err != nil {
		return err
	}
	info := v.Stream()
	if !twoPass {
		pend = pendingIDs(info)
		i = 0
		for i < len(pend) && added && !less(last, pend[i]) {
			i++
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
