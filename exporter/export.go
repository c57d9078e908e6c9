package exporter

import (
	"io"

	"github.com/rdbkit/rdbkit/rdb"
)

// A Writer writes the records of an RDB stream in one output format. The
// writers of this package ([JSONL], [JSON], [CSV], [RESP]) stream: memory
// stays bounded whatever the size of the input or of a single value.
//
// A Writer is not safe for concurrent use. Its errors are sticky: after a
// failed call, every later call returns the same error. Close does not
// close the underlying io.Writer.
type Writer interface {
	// Write writes a record returned by rdb.Reader.Next: a key (reading
	// its value to the end with e.Value(), so call it before the next
	// Next), an aux field, a function library or module aux data. Records
	// that only structure the file (SELECTDB, RESIZEDB, slot info) are
	// ignored.
	Write(e *rdb.Entry) error
	// WriteAux writes an aux field (redis-ver, ctime, ...).
	WriteAux(name, value []byte) error
	// WriteFunction writes a function library: its name and its source
	// code as the RDB holds it ("#!lua name=lib ...").
	WriteFunction(library, code []byte) error
	// Close writes what ends the output and flushes it.
	Close() error
}

var (
	_ Writer = (*JSONL)(nil)
	_ Writer = (*JSON)(nil)
	_ Writer = (*CSV)(nil)
	_ Writer = (*RESP)(nil)
)

// flushSize is how many bytes a writer gathers before it writes them out.
const flushSize = 64 << 10

// out is the buffered, sticky-error output of a writer.
type out struct {
	w   io.Writer
	buf []byte
	err error
}

func newOut(w io.Writer) out { return out{w: w, buf: make([]byte, 0, flushSize+4<<10)} }

// flush writes the buffer out.
func (o *out) flush() error {
	if o.err == nil && len(o.buf) > 0 {
		_, o.err = o.w.Write(o.buf)
	}
	o.buf = o.buf[:0]
	return o.err
}

// maybeFlush writes the buffer out once it holds flushSize bytes.
func (o *out) maybeFlush() error {
	if len(o.buf) >= flushSize {
		return o.flush()
	}
	return o.err
}
