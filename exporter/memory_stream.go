package exporter

import (
	"bytes"
	"errors"
	"slices"

	"github.com/rdbkit/rdbkit/rdb"
)

// This file estimates streams.

// stream models a stream: its radix tree of listpack nodes, the listpacks,
// and its consumer groups with their PELs and consumers, as
// objectComputeSize counts them (streamRadixTreeMemoryUsage's 16 bytes an
// ID and 244 bytes a rax node).
func (m *MemoryEstimator) stream(e *rdb.Entry) (KeyMemory, error) {
	km := KeyMemory{Encoding: "stream"}
	m.nodeKeys = m.nodeKeys[:0]
	var lps, last, groups int64
	length, err := m.streams.Walk(e.Payload, e.Encoding, func(key []byte, lp rdb.StringLayout) error {
		m.nodeKeys = append(m.nodeKeys, key) // a view: the rax key, big-endian
		last = m.a.class(lp.Len)
		lps += last
		return nil
	}, func(g *rdb.StreamGroupLayout) error {
		groups += m.streamGroup(g)
		return nil
	})
	if err != nil {
		return km, err
	}
	nodes := int64(len(m.nodeKeys))
	if nodes > 0 && !m.opt.Loaded {
		// The last node of a stream being written was preallocated by
		// lpNew (STREAM_LISTPACK_MAX_PRE_ALLOCATE) and only grown since.
		pre := int64(min(m.opt.StreamNodeMaxBytes, 4096))
		lps += max(last, m.a.class(pre)) - last
	}
	m.keys = append(m.keys[:0], m.nodeKeys...)
	km.Bytes = sizeRobj + sizeStream + raxUsage(nodes, m.sortedKeys()) + lps
	km.Elements = int64(min(length, 1<<62))
	km.Bytes += groups
	return km, nil
}

// raxUsage is streamRadixTreeMemoryUsage for a rax of n keys.
func raxUsage(n int64, keys [][]byte) int64 {
	return n*sizeStreamID + raxNodes(keys)*(sizeRaxNode+8*30)
}

// streamGroup returns the memory of a consumer group: the group, its PEL
// (a rax and a streamNACK an entry) and its consumers (each with a PEL rax
// sharing the group's NACKs). PEL ids are the serialized ones, big-endian
// as the rax keys them.
func (m *MemoryEstimator) streamGroup(g *rdb.StreamGroupLayout) int64 {
	m.keys = append(m.keys[:0], g.Pending...)
	mem := sizeStreamCG + raxUsage(int64(len(m.keys)), m.sortedKeys()) + sizeStreamNACK*int64(len(m.keys))
	for i := range g.Consumers {
		c := &g.Consumers[i]
		np := int64(len(c.Pending))
		m.keys = append(m.keys[:0], c.Pending...)
		mem += m.consumerSize() + c.Name.Len + raxUsage(np, m.sortedKeys())
	}
	return mem
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

// errPayload reports a stream value without its stream information.
var errPayload = errors.New("exporter: malformed payload")

// streamElems models a stream whose payload is not in memory or whose
// encoding the estimator does not walk (Redis 8.6's): its entries are
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
