package rdb

import "bytes"

// An Entry is one record of an RDB stream. For KindKey it is a key with its
// value; other kinds carry their fields in Aux.
//
// Every byte slice in an Entry returned by [Reader.Next] is valid until the
// next call to Next; [Entry.Clone] makes a copy that is not.
type Entry struct {
	Kind     Kind
	DB       int      // database of the key (KindKey), or the one selected (KindSelectDB)
	Key      []byte   // the key's bytes
	Type     Type     // logical type
	Encoding Encoding // on-disk object type
	ExpireAt int64    // absolute expiry in Unix ms; 0 = none
	Idle     int64    // LRU idle time in seconds (RDB_OPCODE_IDLE); -1 if absent
	Freq     int64    // LFU counter (RDB_OPCODE_FREQ); -1 if absent
	Offset   int64    // input offset of the record's first byte (its first prefix opcode)
	// Payload is the value exactly as serialized: the type byte followed by
	// the value's bytes, as DUMP and RESTORE carry it (without their version
	// and checksum footer; see AppendDump). It is nil when the value is
	// larger than Reader.MaxPayload: Value then streams it.
	Payload []byte
	// KeyMeta is the key's RDB_OPCODE_KEY_META block (module metadata,
	// Redis 8.6+) without its opcode byte, nil if it has none.
	KeyMeta []byte
	Aux     Aux

	r          *Reader // the Reader that returned the entry, nil for a clone
	payloadOff int64   // input offset of Payload[0]
}

// Aux holds the fields of the records that are not keys.
type Aux struct {
	Name  []byte // KindAux: field name; KindFunction: library name; KindModuleAux: module name; KindSlotImport: job name
	Value []byte // KindAux: value; KindFunction: the library's source code; KindModuleAux: module data (opcode format)

	ModuleID      uint64 // KindModuleAux
	ModuleVersion int    // KindModuleAux: encoding version of the module type
	When          int    // KindModuleAux: 1 before keys, 2 after keys

	DBSize, ExpiresSize uint64 // KindResizeDB

	Slot, SlotSize, SlotExpires uint64 // KindSlotInfo

	SlotRanges [][2]uint64 // KindSlotImport: inclusive ranges
}

// Clone returns a deep copy of e whose slices stay valid after Next. A
// streamed entry (nil Payload) is cloned without its value.
func (e *Entry) Clone() *Entry {
	c := *e
	c.r = nil
	c.Key = bytes.Clone(e.Key)
	c.Payload = bytes.Clone(e.Payload)
	c.KeyMeta = bytes.Clone(e.KeyMeta)
	c.Aux.Name = bytes.Clone(e.Aux.Name)
	c.Aux.Value = bytes.Clone(e.Aux.Value)
	if e.Aux.SlotRanges != nil {
		c.Aux.SlotRanges = append([][2]uint64(nil), e.Aux.SlotRanges...)
	}
	return &c
}

// Streamed reports whether the value was too large for Reader.MaxPayload
// and is read element by element from the input (Payload is nil).
func (e *Entry) Streamed() bool { return e.Kind == KindKey && e.Payload == nil }

// Value returns a typed view of the key's value. It decodes the Payload, or,
// for a streamed entry, reads the value from the Reader's input, which only
// works once and before the next call to Next. The Value is valid until
// the next call to Next.
func (e *Entry) Value() *Value {
	r := e.r
	if r == nil || r.e.Offset != e.Offset {
		v := new(Value)
		v.init(e.Payload, e.Encoding, e.Key, e.payloadOff, nil)
		return v
	}
	v := &r.val
	if e.Payload != nil {
		v.init(e.Payload, e.Encoding, e.Key, e.payloadOff, r)
		return v
	}
	if r.valStart < 0 {
		v.fail(corrupt("streamed value read twice"))
		return v
	}
	r.valStart = -1
	v.initStream(&r.c, e.Encoding, e.Key, r)
	return v
}

// ObjectEncoding returns what OBJECT ENCODING reports for the key once
// loaded: for strings "int", "embstr" or "raw" from the value, otherwise
// the encoding's name ("listpack", "quicklist", "hashtable", ...).
func (e *Entry) ObjectEncoding() string {
	if e.Encoding != EncString {
		return e.Encoding.ObjectEncoding()
	}
	if e.Payload == nil {
		return "raw"
	}
	c := cursor{buf: e.Payload, pos: 1, end: len(e.Payload), mark: -1}
	n, enc, err := c.length()
	switch {
	case err != nil:
		return "raw"
	case enc && n <= encInt32:
		return "int"
	case enc: // LZF
		_, ul, _ := c.lzfHeader(1 << 62)
		n = uint64(ul)
	case n <= 20 && isInt(c.buf[c.pos:min(c.end, c.pos+int(n))]):
		return "int"
	}
	if n <= 44 {
		return "embstr"
	}
	return "raw"
}

// isInt reports whether s is the canonical decimal form of an int64, which
// Redis stores as an integer. See redis/src/object.c tryObjectEncoding.
func isInt(s []byte) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	neg := s[0] == '-'
	d := s
	if neg {
		d = s[1:]
	}
	if len(d) == 0 || (d[0] == '0' && (len(d) > 1 || neg)) {
		return false
	}
	var v uint64
	for _, b := range d {
		if b < '0' || b > '9' {
			return false
		}
		nv := v*10 + uint64(b-'0')
		if nv/10 != v {
			return false
		}
		v = nv
	}
	if neg {
		return v <= 1<<63
	}
	return v < 1<<63
}

// PayloadOffset returns the input offset of e.Payload: Payload[1:] is a
// copy of the input from PayloadOffset()+1 on, and Payload[0], the type
// byte, stands where the key's last byte is in the input.
func (e *Entry) PayloadOffset() int64 { return e.payloadOff }

// SetPayload makes payload e's value, read at input offset off (as
// PayloadOffset), and detaches e from its Reader: Value then decodes
// payload and names offsets in the input, and e can be filled in and used
// on another goroutine. The decoding reads payload from its second byte on,
// the encoding being e.Encoding, so a window of the input itself
// (input[off:off+n]) serves as well as a copy of the Payload.
func (e *Entry) SetPayload(payload []byte, off int64) {
	e.Payload, e.payloadOff, e.r = payload, off, nil
}
