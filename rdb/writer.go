package rdb

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// A Writer writes an RDB file: the header, then records (AUX fields,
// function libraries, databases and keys) in the order they are given, and
// on Close the EOF opcode and the CRC64 of everything before it. It
// buffers its output and computes the checksum as it writes.
//
//	w := rdb.NewWriter(f, 10, false)
//	w.WriteAux([]byte("redis-ver"), []byte("7.0.15"))
//	w.SelectDB(0, n, expires)
//	w.WriteKey(key, payload, expireAt, -1, -1) // payload as in Entry.Payload
//	err := w.Close()
//
// A payload is written as it is: use Transcode first for a version older
// than the one it was read from. Errors are sticky: after one, every method
// returns it. A Writer is not safe for concurrent use.
type Writer struct {
	bw      *bufio.Writer
	version int
	valkey  bool // Valkey type numbers (VALKEY magic)
	crc     uint64
	err     error
	started bool
	closed  bool
	buf     []byte
}

// NewWriter returns a Writer of an RDB file of the given version to w:
// "REDIS%04d" for Redis versions 1 to 13 (and Valkey before 9, which
// writes RDB 11), "VALKEY%03d" for Valkey 9 and later (version 80 and up,
// valkey set). The header is written with the first record. An invalid
// version makes every method fail with an error wrapping ErrVersion.
func NewWriter(w io.Writer, version int, valkey bool) *Writer {
	wr := &Writer{bw: bufio.NewWriterSize(w, 64<<10), version: version}
	switch {
	case version >= MinValkeyVersion && version <= MaxValkeyVersion && valkey:
		wr.valkey = true
	case version >= 1 && version <= MaxRedisVersion:
	default:
		name := "Redis"
		if valkey {
			name = "Valkey"
		}
		wr.err = fmt.Errorf("rdb: writer: %s RDB version %d: %w", name, version, ErrVersion)
	}
	return wr
}

// Version returns the RDB version the Writer writes.
func (w *Writer) Version() int { return w.version }

// write adds b to the output and the checksum.
func (w *Writer) write(b []byte) error {
	if w.err != nil {
		return w.err
	}
	if !w.started {
		w.started = true
		var hdr []byte
		if w.valkey {
			hdr = fmt.Appendf(nil, "VALKEY%03d", w.version)
		} else {
			hdr = fmt.Appendf(nil, "REDIS%04d", w.version)
		}
		w.crc = CRC64(w.crc, hdr)
		if _, err := w.bw.Write(hdr); err != nil {
			w.err = fmt.Errorf("rdb: writer: header: %w", err)
			return w.err
		}
	}
	w.crc = CRC64(w.crc, b)
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("rdb: writer: %w", err)
	}
	return w.err
}

// fail records a usage error and returns it.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

func (w *Writer) check(what string, minVersion int) error {
	switch {
	case w.err != nil:
		return w.err
	case w.closed:
		return w.fail(fmt.Errorf("rdb: writer: %s after Close", what))
	case w.version < minVersion:
		return w.fail(fmt.Errorf("rdb: writer: %s needs RDB %d, the file is RDB %d: %w", what, minVersion, w.version, ErrVersion))
	}
	return nil
}

// WriteAux writes an AUX field (RDB_OPCODE_AUX, RDB 7+), such as
// "redis-ver" or "ctime". Integer-looking values are written as integers,
// as Redis does.
func (w *Writer) WriteAux(name, value []byte) error {
	if err := w.check("aux field", 7); err != nil {
		return err
	}
	b := append(w.buf[:0], opAux)
	b = AppendString(b, name)
	b = AppendString(b, value)
	w.buf = b
	return w.write(b)
}

// WriteFunction writes a function library (RDB_OPCODE_FUNCTION2, RDB 10+):
// its whole source, starting "#!lua name=...".
func (w *Writer) WriteFunction(code []byte) error {
	if err := w.check("function library", 10); err != nil {
		return err
	}
	b := append(w.buf[:0], opFunction2)
	b = AppendString(b, code)
	w.buf = b
	return w.write(b)
}

// SelectDB starts database db: RDB_OPCODE_SELECTDB, then (RDB 7+)
// RDB_OPCODE_RESIZEDB with the number of keys and of keys with an expiry
// that follow, a hint for the loader's hash tables (0 if unknown).
func (w *Writer) SelectDB(db int, size, expires uint64) error {
	if err := w.check("select db", 1); err != nil {
		return err
	}
	if db < 0 {
		return w.fail(fmt.Errorf("rdb: writer: select db %d", db))
	}
	b := AppendLength(append(w.buf[:0], opSelectDB), uint64(db))
	if w.version >= 7 {
		b = append(b, opResizeDB)
		b = AppendLength(b, size)
		b = AppendLength(b, expires)
	}
	w.buf = b
	return w.write(b)
}

// WriteKey writes a key: its expiry (expireAt, Unix ms, if not 0; RDB 1 and
// 2 store seconds, rounded up, up to 2038), its LRU
// idle time in seconds (idle, if >= 0) and LFU counter (freq, if >= 0; both
// need RDB 8 and are left out before), then the type byte of payload, the
// key and the rest of payload. payload is a value as in Entry.Payload, or a
// DUMP payload without its footer (see ParseDump); its type must be one
// the file's version knows (see Target.Knows), else WriteKey fails with an
// error wrapping ErrUnknown. The payload is not otherwise checked.
func (w *Writer) WriteKey(key, payload []byte, expireAt, idle, freq int64) error {
	if err := w.check("key", 1); err != nil {
		return err
	}
	if len(payload) == 0 {
		return w.fail(fmt.Errorf("rdb: writer: key %q: empty payload: %w", key, ErrCorrupt))
	}
	enc := Encoding(payload[0])
	if w.valkey && payload[0] >= 22 {
		enc += valkeyBase
	}
	if t := (Target{Version: w.version, Valkey: w.valkey}); !t.Knows(enc) {
		return w.fail(fmt.Errorf("rdb: writer: key %q: object type %d (%v) in an RDB %d file: %w",
			key, payload[0], enc, w.version, ErrUnknown))
	}
	b := w.buf[:0]
	switch {
	case expireAt == 0:
	case w.version >= 3:
		b = binary.LittleEndian.AppendUint64(append(b, opExpireTimeMS), uint64(expireAt))
	case expireAt > 0 && (expireAt+999)/1000 <= math.MaxInt32: // seconds, rounded up
		b = binary.LittleEndian.AppendUint32(append(b, opExpireTime), uint32((expireAt+999)/1000))
	default:
		return w.fail(fmt.Errorf("rdb: writer: key %q: expiry %d does not fit the 32-bit seconds of RDB %d", key, expireAt, w.version))
	}
	if idle >= 0 && w.version >= 8 {
		b = AppendLength(append(b, opIdle), uint64(idle))
	}
	if freq >= 0 && w.version >= 8 {
		b = append(b, opFreq, byte(min(freq, 255)))
	}
	b = append(b, payload[0])
	b = AppendString(b, key)
	w.buf = b
	if err := w.write(b); err != nil {
		return err
	}
	if err := w.write(payload[1:]); err != nil {
		return fmt.Errorf("rdb: writer: key %q: %w", key, err)
	}
	return nil
}

// Close writes the EOF opcode and, for RDB 5 and later, the CRC64, and
// flushes the buffer. It does not close the underlying io.Writer. It
// returns the first error met; calling it again returns that error or nil.
func (w *Writer) Close() error {
	if w.closed || w.err != nil {
		return w.err
	}
	w.closed = true
	if err := w.write([]byte{opEOF}); err != nil {
		return err
	}
	if w.version >= 5 {
		var sum [8]byte
		binary.LittleEndian.PutUint64(sum[:], w.crc)
		if _, err := w.bw.Write(sum[:]); err != nil {
			return w.fail(fmt.Errorf("rdb: writer: checksum: %w", err))
		}
	}
	if err := w.bw.Flush(); err != nil {
		return w.fail(fmt.Errorf("rdb: writer: flush: %w", err))
	}
	return nil
}

// Checksum returns the CRC64 of what was written so far; after Close, the
// one stored at the end of the file.
func (w *Writer) Checksum() uint64 { return w.crc }
