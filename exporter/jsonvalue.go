package exporter

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/rdbkit/rdbkit/rdb"
)

// errNoValue: a string or module value gave no element.
var errNoValue = errors.New("exporter: value without data")

// value appends the JSON value of key e, reading e.Value() to its end.
// See docs/export-schema.md for the shape of each type.
func (j *jsonEnc) value(e *rdb.Entry) error {
	v := e.Value()
	var err error
	switch e.Type {
	case rdb.TypeString:
		err = j.stringValue(v)
	case rdb.TypeList, rdb.TypeSet:
		err = j.members(v)
	case rdb.TypeZSet:
		err = j.zset(v)
	case rdb.TypeHash:
		err = j.hash(v)
	case rdb.TypeStream:
		err = j.stream(v)
	case rdb.TypeModule:
		err = j.module(v)
	default:
		err = fmt.Errorf("exporter: type %v", e.Type)
	}
	if verr := v.Err(); verr != nil {
		return verr
	}
	return err
}

// stringValue appends "abc" (or {"base64":...}); a streamed string comes
// in pieces.
func (j *jsonEnc) stringValue(v *rdb.Value) error {
	n := 0
	for v.Next() {
		el := v.Elem()
		if err := j.piece(el.Value, el.More); err != nil {
			return err
		}
		n++
	}
	if n == 0 && v.Err() == nil {
		return errNoValue
	}
	return nil
}

// members appends ["a","b"]: list elements in order, set members in file
// order.
func (j *jsonEnc) members(v *rdb.Value) error {
	j.buf = append(j.buf, '[')
	first, cont := true, false
	for v.Next() {
		el := v.Elem()
		if !cont {
			j.comma(&first)
		}
		if err := j.piece(el.Member, el.More); err != nil {
			return err
		}
		cont = el.More
	}
	j.buf = append(j.buf, ']')
	return nil
}

// zset appends [["member",1.5],["m2","inf"]] in file order.
func (j *jsonEnc) zset(v *rdb.Value) error {
	j.buf = append(j.buf, '[')
	first := true
	for v.Next() {
		el := v.Elem()
		j.comma(&first)
		j.buf = append(j.buf, '[')
		if err := j.bytes(el.Member); err != nil {
			return err
		}
		j.buf = append(j.buf, ',')
		j.buf = AppendScore(j.buf, el.Score)
		j.buf = append(j.buf, ']')
		if err := j.maybeFlush(); err != nil {
			return err
		}
	}
	j.buf = append(j.buf, ']')
	return nil
}

// hash appends [["field","value"],["f2","v2",1767225600000]] in file
// order, the third item being the field's expiry in Unix ms.
func (j *jsonEnc) hash(v *rdb.Value) error {
	j.buf = append(j.buf, '[')
	first, cont := true, false
	for v.Next() {
		el := v.Elem()
		if !cont {
			j.comma(&first)
			j.buf = append(j.buf, '[')
			if err := j.bytes(el.Member); err != nil {
				return err
			}
			j.buf = append(j.buf, ',')
		}
		if err := j.piece(el.Value, el.More); err != nil {
			return err
		}
		if cont = el.More; cont {
			continue
		}
		if el.ExpireAt != 0 {
			j.buf = append(j.buf, ',')
			j.buf = strconv.AppendInt(j.buf, el.ExpireAt, 10)
		}
		j.buf = append(j.buf, ']')
	}
	j.buf = append(j.buf, ']')
	return nil
}

// module appends {"module":"name","version":n,"payload":{"base64":...}}:
// the module type's name and encoding version, and its data as the RDB
// holds it (module opcode format), always base64.
func (j *jsonEnc) module(v *rdb.Value) error {
	if !v.Next() {
		if v.Err() != nil {
			return nil
		}
		return errNoValue
	}
	j.buf = append(j.buf, `{"module":`...)
	j.buf = appendText(j.buf, v.ModuleName)
	j.buf = append(j.buf, `,"version":`...)
	j.buf = strconv.AppendInt(j.buf, int64(v.ModuleVersion), 10)
	j.buf = append(j.buf, `,"payload":`...)
	if err := j.base64(v.Elem().Value); err != nil {
		return err
	}
	j.buf = append(j.buf, '}')
	for v.Next() { // there is no other element; read to the end for Err
	}
	return nil
}

// comma appends a comma before every element but the first.
func (j *jsonEnc) comma(first *bool) {
	if *first {
		*first = false
		return
	}
	j.buf = append(j.buf, ',')
}

// stream appends the stream object: entries as they come, then what the
// RDB stores after them. A counter or id the encoding does not store
// (before RDB_TYPE_STREAM_LISTPACKS_2) is null.
func (j *jsonEnc) stream(v *rdb.Value) error {
	j.buf = append(j.buf, `{"entries":[`...)
	first := true
	for v.Next() {
		el := v.Elem()
		j.comma(&first)
		j.buf = append(j.buf, '[')
		j.buf = appendID(j.buf, el.ID)
		j.buf = append(j.buf, ",["...)
		for i, f := range el.Fields {
			if i > 0 {
				j.buf = append(j.buf, ',')
			}
			if err := j.bytes(f); err != nil {
				return err
			}
		}
		j.buf = append(j.buf, "]]"...)
		if err := j.maybeFlush(); err != nil {
			return err
		}
	}
	info := v.Stream()
	if info == nil {
		return v.Err()
	}
	meta := v.Encoding != rdb.EncStreamListpacks
	activeTime := meta && v.Encoding != rdb.EncStreamListpacks2
	j.buf = append(j.buf, `],"length":`...)
	j.buf = strconv.AppendUint(j.buf, info.Length, 10)
	j.buf = append(j.buf, `,"last_id":`...)
	j.buf = appendID(j.buf, info.LastID)
	j.buf = append(j.buf, `,"first_id":`...)
	j.buf = appendIDIf(j.buf, info.FirstID, meta)
	j.buf = append(j.buf, `,"max_deleted_id":`...)
	j.buf = appendIDIf(j.buf, info.MaxDeletedID, meta)
	j.buf = append(j.buf, `,"entries_added":`...)
	if meta {
		j.buf = strconv.AppendUint(j.buf, info.EntriesAdded, 10)
	} else {
		j.buf = append(j.buf, "null"...)
	}
	j.buf = append(j.buf, `,"groups":[`...)
	for i := range info.Groups {
		if i > 0 {
			j.buf = append(j.buf, ',')
		}
		if err := j.group(&info.Groups[i], activeTime); err != nil {
			return err
		}
	}
	j.buf = append(j.buf, ']')
	if info.IDMP != nil {
		if err := j.idmp(info.IDMP); err != nil {
			return err
		}
	}
	j.buf = append(j.buf, '}')
	return nil
}

// group appends {"name":...,"last_id":...,"entries_read":n or null,
// "pending":[[id,consumer,delivery_time,delivery_count]],"consumers":[...]}.
// A consumer's active_time is null when the encoding does not store it
// (before RDB_TYPE_STREAM_LISTPACKS_3), and -1, as XINFO says, for a
// consumer that never was active.
func (j *jsonEnc) group(g *rdb.StreamGroup, activeTime bool) error {
	j.buf = append(j.buf, `{"name":`...)
	j.buf = AppendString(j.buf, g.Name)
	j.buf = append(j.buf, `,"last_id":`...)
	j.buf = appendID(j.buf, g.LastID)
	j.buf = append(j.buf, `,"entries_read":`...)
	j.buf = appendOptInt(j.buf, g.EntriesRead)
	j.buf = append(j.buf, `,"pending":[`...)
	for i := range g.Pending {
		p := &g.Pending[i]
		if i > 0 {
			j.buf = append(j.buf, ',')
		}
		j.buf = append(j.buf, '[')
		j.buf = appendID(j.buf, p.ID)
		j.buf = append(j.buf, ',')
		if p.Consumer == nil {
			j.buf = append(j.buf, "null"...)
		} else {
			j.buf = AppendString(j.buf, p.Consumer)
		}
		j.buf = append(j.buf, ',')
		j.buf = strconv.AppendInt(j.buf, p.DeliveryTime, 10)
		j.buf = append(j.buf, ',')
		j.buf = strconv.AppendUint(j.buf, p.DeliveryCount, 10)
		j.buf = append(j.buf, ']')
		if err := j.maybeFlush(); err != nil {
			return err
		}
	}
	j.buf = append(j.buf, `],"consumers":[`...)
	for i := range g.Consumers {
		c := &g.Consumers[i]
		if i > 0 {
			j.buf = append(j.buf, ',')
		}
		j.buf = append(j.buf, `{"name":`...)
		j.buf = AppendString(j.buf, c.Name)
		j.buf = append(j.buf, `,"seen_time":`...)
		j.buf = strconv.AppendInt(j.buf, c.SeenTime, 10)
		j.buf = append(j.buf, `,"active_time":`...)
		if activeTime {
			j.buf = strconv.AppendInt(j.buf, c.ActiveTime, 10)
		} else {
			j.buf = append(j.buf, "null"...)
		}
		j.buf = append(j.buf, '}')
	}
	j.buf = append(j.buf, "]}"...)
	return j.maybeFlush()
}

// idmp appends ,"idmp":{...}: the idempotent-producer state of a Redis
// 8.6 stream (RDB_TYPE_STREAM_LISTPACKS_4).
func (j *jsonEnc) idmp(m *rdb.StreamIDMP) error {
	j.buf = append(j.buf, `,"idmp":{"duration":`...)
	j.buf = strconv.AppendUint(j.buf, m.Duration, 10)
	j.buf = append(j.buf, `,"max_entries":`...)
	j.buf = strconv.AppendUint(j.buf, m.MaxEntries, 10)
	j.buf = append(j.buf, `,"producers":[`...)
	for i := range m.Producers {
		p := &m.Producers[i]
		if i > 0 {
			j.buf = append(j.buf, ',')
		}
		j.buf = append(j.buf, `{"pid":`...)
		j.buf = AppendString(j.buf, p.PID)
		j.buf = append(j.buf, `,"entries":[`...)
		for k, e := range p.Entries {
			if k > 0 {
				j.buf = append(j.buf, ',')
			}
			j.buf = append(j.buf, '[')
			j.buf = AppendString(j.buf, e.IID)
			j.buf = append(j.buf, ',')
			j.buf = appendID(j.buf, e.ID)
			j.buf = append(j.buf, ']')
		}
		j.buf = append(j.buf, "]}"...)
		if err := j.maybeFlush(); err != nil {
			return err
		}
	}
	j.buf = append(j.buf, `],"iids_added":`...)
	j.buf = strconv.AppendUint(j.buf, m.IIDsAdded, 10)
	j.buf = append(j.buf, `,"iid_duplicates":`...)
	j.buf = strconv.AppendUint(j.buf, m.IIDDuplicates, 10)
	j.buf = append(j.buf, '}')
	return nil
}

// appendID appends a stream id as a JSON string: "1700000000000-0".
func appendID(dst []byte, id rdb.StreamID) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, id.MS, 10)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, id.Seq, 10)
	return append(dst, '"')
}

// appendIDIf appends id, or null when the encoding does not store it.
func appendIDIf(dst []byte, id rdb.StreamID, stored bool) []byte {
	if !stored {
		return append(dst, "null"...)
	}
	return appendID(dst, id)
}

// appendOptInt appends n, or null for -1 (unknown or not stored).
func appendOptInt(dst []byte, n int64) []byte {
	if n == -1 {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, n, 10)
}
