package exporter

import (
	"bytes"
	"slices"

	"github.com/rdbkit/rdbkit/rdb"
)

// This file estimates streams.

// stream models a stream: its radix tree of listpack nodes, the listpacks,
// and its consumer groups with their PELs and consumers, as
// objectComputeSize counts them (streamRadixTreeMemoryUsage's 16 bytes an
// ID and 244 bytes a rax node).
func (m *MemoryEstimator) stream(e *rdb.Entry) (KeyMemory, error) {
	w := payloadWalker{b: e.Payload, pos: 1}
	nodes, err := w.plainLen()
	if err != nil {
		return KeyMemory{}, err
	}
	km := KeyMemory{Encoding: "stream"}
	m.keys = m.keys[:0]
	var lps, last int64
	for i := uint64(0); i < nodes; i++ {
		k, err := w.str()
		if err != nil {
			return km, err
		}
		if k.raw == nil || len(k.raw) != sizeStreamID {
			return km, errPayload
		}
		m.keys = append(m.keys, k.raw) // a view: the rax key, big-endian
		s, err := w.str()
		if err != nil {
			return km, err
		}
		last = m.a.class(s.size)
		lps += last
	}
	if nodes > 0 && !m.opt.Loaded {
		// The last node of a stream being written was preallocated by
		// lpNew (STREAM_LISTPACK_MAX_PRE_ALLOCATE) and only grown since.
		pre := int64(min(m.opt.StreamNodeMaxBytes, 4096))
		lps += max(last, m.a.class(pre)) - last
	}
	km.Bytes = sizeRobj + sizeStream + raxUsage(int64(nodes), m.sortedKeys()) + lps
	length, groups, err := m.streamTail(&w, e.Encoding)
	if err != nil {
		return km, err
	}
	km.Elements = length
	km.Bytes += groups
	return km, nil
}

// raxUsage is streamRadixTreeMemoryUsage for a rax of n keys.
func raxUsage(n int64, keys [][]byte) int64 {
	return n*sizeStreamID + raxNodes(keys)*(sizeRaxNode+8*30)
}

// streamTail reads what follows a stream's nodes: its length, ids and
// consumer groups, whose memory it returns. PEL ids are read in place,
// big-endian as the rax keys them. See redis/src/rdb.c rdbLoadObject.
func (m *MemoryEstimator) streamTail(w *payloadWalker, enc rdb.Encoding) (length, mem int64, err error) {
	n, err := w.plainLen()
	if err != nil {
		return 0, 0, err
	}
	length = int64(min(n, 1<<62))
	skip := 2 // last_id
	if enc >= rdb.EncStreamListpacks2 {
		skip += 5 // first_id, max_deleted_entry_id, entries_added
	}
	if err := w.lens(skip); err != nil {
		return 0, 0, err
	}
	groups, err := w.plainLen()
	if err != nil {
		return 0, 0, err
	}
	for ; groups > 0; groups-- {
		g, err := m.streamGroup(w, enc)
		if err != nil {
			return 0, 0, err
		}
		mem += g
	}
	if w.pos != len(w.b) {
		return 0, 0, errPayload
	}
	return length, mem, nil
}

// streamGroup reads a consumer group and returns its memory: the group,
// its PEL (a rax and a streamNACK an entry) and its consumers (each with a
// PEL rax sharing the group's NACKs).
func (m *MemoryEstimator) streamGroup(w *payloadWalker, enc rdb.Encoding) (int64, error) {
	if _, err := w.str(); err != nil { // name
		return 0, err
	}
	k := 2 // last_id
	if enc >= rdb.EncStreamListpacks2 {
		k++ // entries_read
	}
	if err := w.lens(k); err != nil {
		return 0, err
	}
	pel, err := w.plainLen()
	if err != nil {
		return 0, err
	}
	m.keys = m.keys[:0]
	for ; pel > 0; pel-- {
		if len(w.b)-w.pos < 24 {
			return 0, errPayload
		}
		m.keys = append(m.keys, w.b[w.pos:w.pos+16])
		w.pos += 24                       // id, delivery time
		if err := w.lens(1); err != nil { // delivery count
			return 0, err
		}
	}
	mem := sizeStreamCG + raxUsage(int64(len(m.keys)), m.sortedKeys()) + sizeStreamNACK*int64(len(m.keys))
	consumers, err := w.plainLen()
	if err != nil {
		return 0, err
	}
	for ; consumers > 0; consumers-- {
		name, err := w.str()
		if err != nil {
			return 0, err
		}
		times := 8 // seen_time
		if enc >= rdb.EncStreamListpacks3 {
			times += 8 // active_time
		}
		if err := w.skip(times); err != nil {
			return 0, err
		}
		np, err := w.plainLen()
		if err != nil {
			return 0, err
		}
		if np > uint64(len(w.b)-w.pos)/16 {
			return 0, errPayload
		}
		m.keys = m.keys[:0]
		for i := uint64(0); i < np; i++ {
			m.keys = append(m.keys, w.b[w.pos:w.pos+16])
			w.pos += 16
		}
		mem += m.consumerSize() + name.size + raxUsage(int64(np), m.sortedKeys())
	}
	return mem, nil
}

// consumerSize is sizeof(streamConsumer): seen_time, name and pel, and
// from Redis 7.2 active_time.
func (m *MemoryEstimator) consumerSize() int64 {
	if m.opt.Server == Redis72 {
		return 32
	}
	return 24
}

// sortedKeys returns m.keys sorted and without duplicates, as a rax holds
// them; they normally come sorted.
func (m *MemoryEstimator) sortedKeys() [][]byte {
	if !sortedDistinct(m.keys) {
		slices.SortFunc(m.keys, bytes.Compare)
		m.keys = slices.CompactFunc(m.keys, func(a, b []byte) bool { return bytes.Equal(a, b) })
	}
	return m.keys
}

// groups returns the memory of a stream's consumer groups.
func (m *MemoryEstimator) groups(info *rdb.StreamInfo) int64 {
	consumer := m.consumerSize()
	var n int64
	for i := range info.Groups {
		g := &info.Groups[i]
		m.keys, m.keyBuf = m.keys[:0], m.keyBuf[:0]
		for _, p := range g.Pending {
			m.keyBuf = appendStreamID(m.keyBuf, p.ID)
		}
		n += sizeStreamCG + raxUsage(int64(len(g.Pending)), m.idKeys()) + sizeStreamNACK*int64(len(g.Pending))
		for j := range g.Consumers {
			c := &g.Consumers[j]
			m.keys, m.keyBuf = m.keys[:0], m.keyBuf[:0]
			for _, id := range c.Pending {
				m.keyBuf = appendStreamID(m.keyBuf, id)
			}
			n += consumer + int64(len(c.Name)) + raxUsage(int64(len(c.Pending)), m.idKeys())
		}
	}
	return n
}

// idKeys splits keyBuf into 16-byte keys, sorted as the rax keeps them.
func (m *MemoryEstimator) idKeys() [][]byte {
	for i := 0; i+sizeStreamID <= len(m.keyBuf); i += sizeStreamID {
		m.keys = append(m.keys, m.keyBuf[i:i+sizeStreamID])
	}
	return m.sortedKeys()
}

func appendStreamID(dst []byte, id rdb.StreamID) []byte {
	dst = appendBE64(dst, id.MS)
	return appendBE64(dst, id.Seq)
}

func appendBE64(dst []byte, v uint64) []byte {
	return append(dst, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// streamElems models a stream whose payload is not in memory or whose
// encoding the walker does not know (Redis 8.6's): its entries are
// assumed packed in full listpacks of stream-node-max-bytes.
func (m *MemoryEstimator) streamElems(e *rdb.Entry) (KeyMemory, error) {
	v := e.Value()
	var data int64
	for v.Next() {
		el := v.Elem()
		data += 4 // flags, ms and seq deltas, lp-count, roughly
		for _, f := range el.Fields {
			data += m.lpSize(f, int64(len(f)))
		}
	}
	if err := v.Err(); err != nil {
		return KeyMemory{}, err
	}
	info := v.Stream()
	if info == nil {
		return KeyMemory{}, errPayload
	}
	nodeMax := int64(m.opt.StreamNodeMaxBytes)
	nodes := max(1, (data+nodeMax-1)/nodeMax)
	km := KeyMemory{Elements: int64(info.Length), Encoding: "stream"}
	// A rax of n sequential IDs has about 2 nodes a key.
	km.Bytes = sizeRobj + sizeStream + nodes*sizeStreamID + 2*nodes*(sizeRaxNode+8*30) +
		nodes*m.a.class(min(data/nodes+lpHeader+lpEnd, nodeMax)) + m.groups(info)
	return km, nil
}
