package exporter

import (
	"encoding/base64"
	"encoding/csv"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/rdbkit/rdbkit/rdb"
)

// CSVHeader is the first row that CSV writes.
var CSVHeader = []string{"db", "key", "type", "encoding", "expire_at", "size", "elements"}

// CSV writes one row per key (RFC 4180, as encoding/csv writes it), after
// the header row CSVHeader:
//
//	db,key,type,encoding,expire_at,size,elements
//	0,user:1,hash,listpack,1767225600000,52,3
//
// The columns are:
//   - key: as is when it is valid UTF-8 and does not start with "base64:";
//     otherwise "base64:" followed by the standard, padded base64 of its
//     bytes, so that every key can be told back exactly;
//   - type and encoding: as in the JSON records (TYPE, OBJECT ENCODING);
//   - expire_at: absolute expiry in Unix ms, empty for none;
//   - size: bytes of the serialized value (rdb.Entry.Payload), empty for
//     a value too large to keep in memory (streamed);
//   - elements: the length of a string in bytes (STRLEN), the number of
//     elements of a list, set, sorted set or hash (fields with an expiry
//     included, expired or not), the number of entries of a stream (XLEN),
//     empty for a module value.
//
// Values are for the JSON formats: CSV has no room for them. Aux fields and
// function libraries are not written.
type CSV struct {
	w      *csv.Writer
	rec    [7]string
	header bool
	err    error
	buf    []byte
}

// NewCSV returns a CSV writer to w. Output is buffered: call Close.
func NewCSV(w io.Writer) *CSV {
	return &CSV{w: csv.NewWriter(w)}
}

// Write writes the row of a key, reading its value to count its elements;
// other records are ignored. See [Writer].
func (c *CSV) Write(e *rdb.Entry) error {
	if c.err != nil || e.Kind != rdb.KindKey {
		return c.err
	}
	if err := c.writeHeader(); err != nil {
		return err
	}
	n, err := countElements(e)
	if err != nil {
		c.err = err
		return err
	}
	r := &c.rec
	r[0] = strconv.Itoa(e.DB)
	r[1] = c.key(e.Key)
	r[2] = e.Type.String()
	r[3] = e.ObjectEncoding()
	r[4], r[5], r[6] = "", "", ""
	if e.ExpireAt != 0 {
		r[4] = strconv.FormatInt(e.ExpireAt, 10)
	}
	if e.Payload != nil {
		r[5] = strconv.Itoa(len(e.Payload))
	}
	if n >= 0 {
		r[6] = strconv.FormatInt(n, 10)
	}
	if err := c.w.Write(r[:]); err != nil {
		c.err = err
	}
	return c.err
}

func (c *CSV) writeHeader() error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader); err != nil {
			c.err = err
		}
	}
	return c.err
}

// key returns the CSV form of a key.
func (c *CSV) key(k []byte) string {
	if utf8.Valid(k) && !(len(k) >= 7 && string(k[:7]) == "base64:") {
		return string(k)
	}
	c.buf = append(c.buf[:0], "base64:"...)
	c.buf = base64.StdEncoding.AppendEncode(c.buf, k)
	return string(c.buf)
}

// WriteAux does nothing: CSV has rows for keys only.
func (c *CSV) WriteAux(name, value []byte) error { return c.err }

// WriteFunction does nothing: CSV has rows for keys only.
func (c *CSV) WriteFunction(library, code []byte) error { return c.err }

// Close writes the header if no row was written, and flushes the output.
func (c *CSV) Close() error {
	if err := c.writeHeader(); err != nil {
		return err
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil && c.err == nil {
		c.err = err
	}
	return c.err
}

// countElements returns what the elements column holds for key e (-1:
// empty), reading its value when the count is not stored before the
// elements.
func countElements(e *rdb.Entry) (int64, error) {
	v := e.Value()
	var n int64
	switch e.Type {
	case rdb.TypeModule:
		for v.Next() {
		}
		return -1, v.Err()
	case rdb.TypeString:
		for v.Next() {
			n += int64(len(v.Elem().Value))
		}
		return n, v.Err()
	case rdb.TypeStream:
		for v.Next() {
		}
		if info := v.Stream(); info != nil {
			n = int64(info.Length)
		}
		return n, v.Err()
	}
	if l := v.Len(); l >= 0 {
		return l, v.Err()
	}
	for v.Next() {
		if !v.Elem().More {
			n++
		}
	}
	return n, v.Err()
}
