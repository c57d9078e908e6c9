package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
)

// Default limits of a Reader.
const (
	DefaultMaxPayload = 64 << 20
	DefaultChunkSize  = 1 << 20
	DefaultMaxAlloc   = 512 << 20
)

// Highest versions this package reads.
const (
	MaxRedisVersion  = 13
	MinValkeyVersion = 80
	MaxValkeyVersion = 81
)

// A Reader decodes an RDB stream: a dump.rdb file, the snapshot of a
// replication full sync, or an AOF preamble. It reads its input through one
// buffer of its own, so the io.Reader needs no buffering; it reads ahead, so
// what follows the RDB in the input (the commands of an AOF after its
// preamble) is in Buffered once Next has returned io.EOF.
//
// Set the exported options before the first call to Next. A Reader is not
// safe for concurrent use.
type Reader struct {
	// MaxPayload is the largest record kept whole in memory (type byte and
	// value). A larger value is streamed: its Entry has a nil Payload and
	// Entry.Value reads its elements straight from the input.
	// 0 means DefaultMaxPayload.
	MaxPayload int
	// ChunkSize is the size of the pieces in which strings longer than it
	// are returned while a value is streamed. 0 means DefaultChunkSize.
	ChunkSize int
	// MaxAlloc bounds every allocation whose size comes from the input
	// (LZF and blob lengths); a larger one fails with ErrTooLarge.
	// 0 means DefaultMaxAlloc.
	MaxAlloc int
	// VerifyChecksum makes the reader compute the CRC64 of the input and
	// compare it with the one stored at the end. NewReader sets it.
	VerifyChecksum bool

	c       cursor
	err     error
	started bool
	version int
	valkey  bool
	db      int

	e        Entry
	keyBuf   []byte
	metaBuf  []byte
	scratch  [2][]byte
	val      Value
	streamed bool // e's value is being streamed from c and not yet passed
	valStart int  // with streamed: where the value starts in c.buf, -1 once Value was called
	patch    int  // index in c.buf overwritten with the type byte, or -1
	patchOld byte

	sumStored   uint64
	sumComputed uint64
	sumState    ChecksumState
}

// ChecksumState tells what became of the CRC64 at the end of the input.
type ChecksumState uint8

// The checksum states.
const (
	ChecksumUnread   ChecksumState = iota // the end of the RDB was not reached yet
	ChecksumNone                          // RDB version < 5: there is no checksum
	ChecksumDisabled                      // stored as 0: the writer had rdbchecksum off
	ChecksumOK                            // computed and equal to the stored one
	ChecksumSkipped                       // VerifyChecksum was off
	ChecksumMismatch                      // computed and different from the stored one
)

func (s ChecksumState) String() string {
	return [...]string{"unread", "none", "disabled", "ok", "not verified", "mismatch"}[s]
}

// NewReader returns a Reader of r that verifies the checksum.
func NewReader(r io.Reader) *Reader {
	rd := &Reader{VerifyChecksum: true}
	rd.Reset(r)
	return rd
}

// Reset discards the Reader's state and makes it read from r, keeping its
// options and buffers.
func (r *Reader) Reset(src io.Reader) {
	buf := r.c.buf
	r.c = cursor{src: src, buf: buf, mark: -1}
	r.err = nil
	r.started = false
	r.version = 0
	r.valkey = false
	r.db = 0
	r.streamed = false
	r.patch = -1
	r.sumStored, r.sumComputed, r.sumState = 0, 0, ChecksumUnread
}

// Version returns the RDB version from the header (Valkey 9 files: 80 and
// up), 0 before the first call to Next.
func (r *Reader) Version() int { return r.version }

// Valkey reports whether the header is Valkey's ("VALKEY080"), whose type
// and opcode numbers above 21 differ from Redis's.
func (r *Reader) Valkey() bool { return r.valkey }

// Buffered returns the bytes the Reader has read from its input but not
// decoded: after io.EOF from Next, what followed the RDB. The slice is
// valid until the next call to Next or Reset.
func (r *Reader) Buffered() []byte { return r.c.buf[r.c.pos:r.c.end] }

// Offset returns the input offset of the next byte the Reader will decode.
func (r *Reader) Offset() int64 { return r.c.offset() }

// Checksum returns the stored and the computed CRC64 and what was made of
// them. It is meaningful once Next has returned io.EOF.
func (r *Reader) Checksum() (stored, computed uint64, state ChecksumState) {
	return r.sumStored, r.sumComputed, r.sumState
}

func (r *Reader) maxPayload() int { return orDefault(r.MaxPayload, DefaultMaxPayload) }
func (r *Reader) chunkSize() int  { return orDefault(r.ChunkSize, DefaultChunkSize) }
func (r *Reader) maxAlloc() int   { return orDefault(r.MaxAlloc, DefaultMaxAlloc) }

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// Next returns the next record of the input, in file order: keys, AUX
// fields, function libraries, module aux data, database changes, size hints
// and slot information. At the end of a sound input (the EOF opcode read and
// the checksum verified) it returns io.EOF. Any other error is an *Error
// naming the offset (and key) where decoding failed; errors are sticky.
//
// The Entry and every byte slice in it are valid until the next call to Next
// or Reset; use Entry.Clone to keep them.
func (r *Reader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	if err := r.next(); err != nil {
		r.err = err
		return nil, err
	}
	return &r.e, nil
}

func (r *Reader) next() error {
	if !r.started {
		if err := r.readHeader(); err != nil {
			return err
		}
	}
	if err := r.finishEntry(); err != nil {
		return err
	}
	r.resetEntry()
	e := &r.e
	for {
		off := r.c.offset()
		op, err := r.c.readByte()
		if err != nil {
			return r.fail(off, "opcode", err)
		}
		if e.Offset < 0 {
			e.Offset = off
		}
		if err := r.opcode(op, off); err != errNotOpcode {
			if err == errPrefix {
				continue
			}
			return err
		}
		return r.readKey(op, off)
	}
}

// resetEntry clears r.e for the next record field by field, Aux only
// after a record that is not a key: a key leaves Aux zero, and storing the
// whole Entry costs about as much as a key-only scan's other work per key.
// It covers every field of Entry.
func (r *Reader) resetEntry() {
	e := &r.e
	if e.Kind != KindKey {
		e.Aux = Aux{}
	}
	e.Kind, e.DB, e.Key, e.Type, e.Encoding, e.ExpireAt = KindKey, r.db, nil, 0, 0, 0
	e.Idle, e.Freq, e.Offset = -1, -1, -1
	e.Payload, e.KeyMeta, e.r, e.payloadOff = nil, nil, r, 0
}

var (
	errNotOpcode = errors.New("not an opcode")
	errPrefix    = errors.New("key prefix")
)

// opcode handles op if it is an opcode: errPrefix for an opcode that
// prefixes a key (expiry, LRU, LFU), nil for a record now in r.e, io.EOF at
// the end, errNotOpcode for an object type.
func (r *Reader) opcode(op byte, off int64) error {
	c, e := &r.c, &r.e
	switch {
	case op == opExpireTimeMS:
		v, err := c.uint64LE()
		e.ExpireAt = int64(v)
		return r.prefixErr(off, "expire time", err)
	case op == opExpireTime:
		p, err := c.next(4)
		if err == nil {
			e.ExpireAt = int64(int32(binary.LittleEndian.Uint32(p))) * 1000
		}
		return r.prefixErr(off, "expire time", err)
	case op == opFreq:
		b, err := c.readByte()
		e.Freq = int64(b)
		return r.prefixErr(off, "lfu freq", err)
	case op == opIdle:
		n, err := c.plainLen()
		e.Idle = int64(n)
		return r.prefixErr(off, "lru idle", err)
	case op == opKeyMeta && !r.valkey && r.version >= 13:
		return r.prefixErr(off, "key metadata", r.keyMeta())
	case op == opEOF:
		return r.readEOF(off)
	case op == opSelectDB:
		return r.selectDB(off)
	case op == opResizeDB:
		return r.resizeDB(off)
	case op == opAux:
		return r.aux(off)
	case op == opModuleAux:
		return r.moduleAux(off)
	case op == opFunction2:
		return r.function2(off)
	case op == opFunctionPre:
		return r.functionPreGA(off)
	case op == opSlotInfo:
		return r.slotInfo(off)
	case op == opSlotImport && r.valkey:
		return r.slotImport(off)
	case op >= 242:
		return r.fail(off, "opcode", &detailError{"opcode " + strconv.Itoa(int(op)) + " in a " + r.producer() + " file", ErrUnknown})
	}
	return errNotOpcode
}

func (r *Reader) prefixErr(off int64, field string, err error) error {
	if err != nil {
		return r.fail(off, field, err)
	}
	return errPrefix
}

func (r *Reader) producer() string {
	if r.valkey {
		return "VALKEY" + strconv.Itoa(r.version)
	}
	return "REDIS" + strconv.Itoa(r.version)
}

// fail wraps err in an *Error at offset off (at the end of the input when
// it is a truncation).
func (r *Reader) fail(off int64, field string, err error) error {
	return wrapErr(&r.c, off, r.keyOf(), field, err)
}

func (r *Reader) keyOf() string {
	if r.e.Kind == KindKey && r.e.Key != nil {
		return string(r.e.Key)
	}
	return ""
}

func wrapErr(c *cursor, off int64, key, field string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	e = &Error{Offset: off, Key: key, Field: field, Err: err}
	var d *detailError
	if errors.As(err, &d) {
		e.Detail, e.Err = d.detail, d.err
	}
	if err == io.ErrUnexpectedEOF {
		e.Offset = c.base + int64(c.end)
	}
	return e
}

func (r *Reader) readHeader() error {
	r.started = true
	r.c.crcOn = r.VerifyChecksum
	r.c.limit = r.maxPayload() + 1
	p, err := r.c.next(9)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return &Error{Offset: 0, Field: "header", Err: ErrNotRDB, Detail: "shorter than 9 bytes"}
		}
		return &Error{Field: "header", Err: err}
	}
	switch {
	case bytes.HasPrefix(p, []byte("REDIS")) && digits(p[5:]):
		r.version, _ = strconv.Atoi(string(p[5:]))
		if r.version < 1 || r.version > MaxRedisVersion {
			return &Error{Offset: 5, Field: "header", Detail: "REDIS" + string(p[5:]), Err: ErrVersion}
		}
	case bytes.HasPrefix(p, []byte("VALKEY")) && digits(p[6:]):
		r.valkey = true
		r.version, _ = strconv.Atoi(string(p[6:]))
		if r.version < MinValkeyVersion || r.version > MaxValkeyVersion {
			return &Error{Offset: 6, Field: "header", Detail: string(p), Err: ErrVersion}
		}
	default:
		return &Error{Offset: 0, Field: "header", Detail: strconv.Quote(string(p)), Err: ErrNotRDB}
	}
	return nil
}

func digits(p []byte) bool {
	for _, b := range p {
		if b < '0' || b > '9' {
			return false
		}
	}
	return true
}

// finishEntry undoes the payload patch of the last entry and passes over a
// streamed value that was not read to its end.
func (r *Reader) finishEntry() error {
	if r.patch >= 0 {
		r.c.buf[r.patch] = r.patchOld
		r.patch = -1
	}
	if !r.streamed {
		return nil
	}
	r.streamed = false
	if r.valStart >= 0 {
		r.c.pos = r.valStart
		return r.skipValue(r.e.Encoding)
	}
	v := &r.val
	for v.Next() {
	}
	return v.Err()
}

func (r *Reader) readEOF(off int64) error {
	c := &r.c
	c.sumTo(c.pos)
	r.sumComputed = c.crc
	r.sumState = ChecksumNone
	if r.version >= 5 {
		v, err := c.uint64LE()
		if err != nil {
			return r.fail(c.offset(), "checksum", err)
		}
		r.sumStored = v
		switch {
		case v == 0:
			r.sumState = ChecksumDisabled
		case !r.VerifyChecksum:
			r.sumState = ChecksumSkipped
		case v != r.sumComputed:
			r.sumState = ChecksumMismatch
			return &Error{Offset: off + 1, Field: "checksum",
				Detail: "stored " + hex64(v) + ", computed " + hex64(r.sumComputed), Err: ErrChecksum}
		default:
			r.sumState = ChecksumOK
		}
	}
	return io.EOF
}

func hex64(v uint64) string {
	s := strconv.FormatUint(v, 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}

func (r *Reader) selectDB(off int64) error {
	n, err := r.c.plainLen()
	if err != nil {
		return r.fail(off, "select db", err)
	}
	if n > 1<<31 {
		return r.fail(off, "select db", corrupt("db number %d", n))
	}
	r.db = int(n)
	r.e.Kind, r.e.DB = KindSelectDB, r.db
	return nil
}

func (r *Reader) resizeDB(off int64) error {
	a, err := r.c.plainLen()
	if err == nil {
		r.e.Aux.DBSize = a
		r.e.Aux.ExpiresSize, err = r.c.plainLen()
	}
	r.e.Kind = KindResizeDB
	return r.recordErr(off, "resize db", err)
}

func (r *Reader) recordErr(off int64, field string, err error) error {
	if err != nil {
		return r.fail(off, field, err)
	}
	return nil
}

// str reads an RDB string into scratch buffer i; the result stays valid
// until the next call to Next.
func (r *Reader) str(i int) ([]byte, error) {
	return r.c.strCopy(&r.scratch[i], r.maxAlloc())
}

func (r *Reader) aux(off int64) error {
	r.e.Kind = KindAux
	name, err := r.str(0)
	if err != nil {
		return r.fail(off, "aux name", err)
	}
	val, err := r.str(1)
	if err != nil {
		return r.fail(off, "aux value", err)
	}
	r.e.Aux.Name, r.e.Aux.Value = name, val
	return nil
}

func (r *Reader) function2(off int64) error {
	r.e.Kind = KindFunction
	code, err := r.str(1)
	if err != nil {
		return r.fail(off, "function", err)
	}
	r.e.Aux.Value = code
	r.e.Aux.Name = libraryName(code)
	return nil
}

// libraryName returns the name= argument of a "#!lua name=lib" first line.
func libraryName(code []byte) []byte {
	line, _, _ := bytes.Cut(code, []byte("\n"))
	for _, f := range bytes.Fields(line) {
		if v, ok := bytes.CutPrefix(f, []byte("name=")); ok {
			return v
		}
	}
	return nil
}

// functionPreGA reads the Redis 7.0 RC format (name, engine, description,
// code) and returns it as 7.0 GA would: "#!<engine> name=<name>\n<code>".
// See redis 7.0 src/rdb.c rdbFunctionLoad.
func (r *Reader) functionPreGA(off int64) error {
	r.e.Kind = KindFunction
	name, err := r.str(0)
	if err != nil {
		return r.fail(off, "function name", err)
	}
	var engine, code []byte
	engine, err = r.c.str(&r.scratch[1], r.maxAlloc())
	if err == nil {
		engine = bytes.Clone(engine)
		var hasDesc uint64
		if hasDesc, err = r.c.plainLen(); err == nil && hasDesc != 0 {
			err = r.c.skipStr()
		}
	}
	if err == nil {
		code, err = r.c.str(&r.scratch[1], r.maxAlloc())
	}
	if err != nil {
		return r.fail(off, "function", err)
	}
	src := append([]byte("#!"), bytes.ToLower(engine)...)
	src = append(append(append(src, " name="...), name...), '\n')
	r.e.Aux.Name, r.e.Aux.Value = name, append(src, code...)
	return nil
}

func (r *Reader) slotInfo(off int64) error {
	r.e.Kind = KindSlotInfo
	a := &r.e.Aux
	var err error
	for _, p := range []*uint64{&a.Slot, &a.SlotSize, &a.SlotExpires} {
		if *p, err = r.c.plainLen(); err != nil {
			break
		}
	}
	return r.recordErr(off, "slot info", err)
}

// slotImport reads Valkey's RDB_OPCODE_SLOT_IMPORT: a job name and slot
// ranges. See valkey/src/rdb.c.
func (r *Reader) slotImport(off int64) error {
	r.e.Kind = KindSlotImport
	name, err := r.str(0)
	if err != nil {
		return r.fail(off, "slot import", err)
	}
	r.e.Aux.Name = name
	n, err := r.c.plainLen()
	for i := uint64(0); err == nil && i < n; i++ {
		var from, to uint64
		if from, err = r.c.plainLen(); err == nil {
			to, err = r.c.plainLen()
			r.e.Aux.SlotRanges = append(r.e.Aux.SlotRanges, [2]uint64{from, to})
		}
	}
	return r.recordErr(off, "slot import", err)
}

// moduleAux reads RDB_OPCODE_MODULE_AUX: module id, when-opcode, when, and
// the module's data in the module opcode format, kept raw in Aux.Value.
// See redis/src/rdb.c rdbLoadRioWithLoadingCtx.
func (r *Reader) moduleAux(off int64) error {
	c := &r.c
	r.e.Kind = KindModuleAux
	id, err := c.plainLen()
	if err != nil {
		return r.fail(off, "module aux", err)
	}
	r.e.Aux.ModuleID = id
	r.e.Aux.Name, r.e.Aux.ModuleVersion = appendModuleName(r.scratch[0][:0], id)
	r.scratch[0] = r.e.Aux.Name
	whenOp, err := c.plainLen()
	if err == nil && whenOp != moduleOpUint {
		err = corrupt("module aux when-opcode %d, want %d", whenOp, moduleOpUint)
	}
	if err != nil {
		return r.fail(off, "module aux", err)
	}
	when, err := c.plainLen()
	if err != nil {
		return r.fail(off, "module aux", err)
	}
	r.e.Aux.When = int(when)
	c.mark = c.pos
	err = skipModuleData(c)
	start := c.mark
	c.mark = -1
	if err == errRetain {
		err = overPayload("module aux data", r.maxPayload())
	}
	if err != nil {
		return r.fail(off, "module aux", err)
	}
	r.scratch[1] = append(r.scratch[1][:0], c.buf[start:c.pos]...)
	r.e.Aux.Value = r.scratch[1]
	return nil
}

// readKey reads a key record whose type byte t was read at off: the key,
// then a look-ahead over the value that keeps it in the buffer as the
// payload, or, past MaxPayload, leaves it to be streamed.
func (r *Reader) readKey(t byte, off int64) error {
	c, e := &r.c, &r.e
	enc := Encoding(t)
	if r.valkey && t >= 22 {
		enc += valkeyBase
	}
	e.Kind, e.Encoding = KindKey, enc
	if !enc.Known() || (r.version < 13 && enc == EncStreamListpacks4) {
		return r.fail(off, "type", &detailError{"object type " + strconv.Itoa(int(t)) + " in a " + r.producer() + " file", ErrUnknown})
	}
	e.Type = enc.Type()
	k, err := c.strCopy(&r.keyBuf, r.maxAlloc())
	if err != nil {
		return r.fail(off, "key", err)
	}
	e.Key = k
	c.mark = c.pos - 1 // last byte of the key: becomes the type byte of Payload
	err = r.skipValue(enc)
	start := c.mark // reading may have moved the buffer
	c.mark = -1
	if err == nil && c.pos-start > r.maxPayload() {
		err = errRetain // it was all in the buffer already
	}
	switch err {
	case nil:
		r.patch, r.patchOld = start, c.buf[start]
		c.buf[start] = t
		e.Payload = c.buf[start:c.pos:c.pos]
		e.payloadOff = c.base + int64(start)
		return nil
	case errRetain:
		c.pos = start + 1
		r.streamed, r.valStart = true, c.pos
		return nil
	}
	return r.fail(c.offset(), "value", err)
}

// keyMeta keeps a copy of a KEY_META block (Redis 8.6+) for the key it
// precedes.
func (r *Reader) keyMeta() error {
	c := &r.c
	c.mark = c.pos
	err := skipKeyMeta(c)
	start := c.mark
	c.mark = -1
	if err == errRetain {
		return overPayload("key metadata", r.maxPayload())
	}
	if err != nil {
		return err
	}
	r.metaBuf = append(r.metaBuf[:0], c.buf[start:c.pos]...)
	r.e.KeyMeta = r.metaBuf
	return nil
}
