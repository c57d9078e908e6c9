package loader

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"

	"github.com/rdbkit/rdbkit/rdb"
)

// sameValue reports whether the key j names holds, in the destination,
// the value j writes: DUMP it and compare the decoded contents (not the
// bytes: the server may encode it otherwise). Used when a RESTORE that may
// already have run (a dropped connection, an interrupted run) meets
// BUSYKEY.
func (l *Loader) sameValue(j *job) bool {
	var mine []byte
	var ver int
	switch {
	case j.dump != nil:
		mine, ver = j.dump[:len(j.dump)-10], l.target.Version
	case j.entry != nil && j.entry.Payload != nil:
		mine = j.entry.Payload
	default:
		return false
	}
	p := &pcmd{args: []any{"DUMP", j.key}, j: j, db: j.db}
	l.exec(l.ctx, []*pcmd{p}, true)
	if p.err != nil {
		return false
	}
	reply, isStr := p.val.(string)
	if !isStr {
		return false
	}
	theirs, tver, err := rdb.ParseDump([]byte(reply))
	if err != nil {
		return false
	}
	var a [32]byte
	var ok bool
	if j.dump != nil {
		a, ok = digest(rdb.NewPayloadValue(mine, ver))
	} else {
		e := *j.entry
		a, ok = digest(e.Value())
	}
	b, ok2 := digest(rdb.NewPayloadValue(theirs, int(tver)))
	return ok && ok2 && a == b
}

// digest returns a hash of a value's contents that does not depend on its
// encoding: elements in order for strings, lists and streams, sorted for
// sets, sorted sets and hashes (hash field expiries are left out).
func digest(v *rdb.Value) ([32]byte, bool) {
	h := sha256.New()
	var items [][]byte
	var cur []byte
	pieces := false // the current element continues
	num := func(b []byte, f float64) []byte {
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	lenPrefixed := func(b, s []byte) []byte {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
		return append(b, s...)
	}
	h.Write([]byte{byte(v.Type)})
	for v.Next() {
		el := v.Elem()
		switch v.Type {
		case rdb.TypeString:
			h.Write(el.Value)
		case rdb.TypeList:
			cur = append(cur, el.Member...)
			if !el.More {
				h.Write(lenPrefixed(nil, cur))
				cur = cur[:0]
			}
		case rdb.TypeSet:
			cur = append(cur, el.Member...)
			if !el.More {
				items = append(items, bytes.Clone(cur))
				cur = cur[:0]
			}
		case rdb.TypeZSet:
			items = append(items, num(lenPrefixed(nil, el.Member), el.Score))
		case rdb.TypeHash:
			if !pieces {
				cur = lenPrefixed(cur[:0], el.Member)
			}
			cur = append(cur, el.Value...)
			if pieces = el.More; !pieces {
				items = append(items, bytes.Clone(cur))
			}
		case rdb.TypeStream:
			b := binary.BigEndian.AppendUint64(nil, el.ID.MS)
			b = binary.BigEndian.AppendUint64(b, el.ID.Seq)
			for _, f := range el.Fields {
				b = lenPrefixed(b, f)
			}
			h.Write(lenPrefixed(nil, b))
		default:
			h.Write(el.Value)
		}
	}
	if v.Err() != nil {
		return [32]byte{}, false
	}
	slices.SortFunc(items, bytes.Compare)
	for _, it := range items {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(it))))
		h.Write(it)
	}
	if s := v.Stream(); s != nil {
		var b []byte
		b = binary.BigEndian.AppendUint64(b, s.LastID.MS)
		b = binary.BigEndian.AppendUint64(b, s.LastID.Seq)
		for _, g := range s.Groups {
			b = lenPrefixed(b, g.Name)
			b = binary.BigEndian.AppendUint64(b, uint64(len(g.Pending)))
		}
		h.Write(b)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, true
}
