package exporter

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/rdbkit/rdbkit/rdb"
)

// JSONL writes one JSON object a line (JSON Lines): a record per key, aux
// field, function library and module aux data, in the order of the input.
// The records are those of DESIGN.md, described field by field in
// docs/export-schema.md and docs/export.schema.json:
//
//	{"db":0,"key":"k","type":"string","encoding":"embstr","expire_at":null,"value":"abc"}
//	{"kind":"aux","name":"redis-ver","value":"7.2.6"}
//	{"kind":"function","library":"mylib","code":"#!lua name=mylib ..."}
//
// Byte strings are lossless (see [AppendString]), scores exact (see
// [AppendScore]), object keys always in the same order.
//
// Values are written as they are read. A string that a streamed value
// delivers in pieces (rdb.Elem.More) is written out as soon as a byte is
// found that is not valid UTF-8 (as {"base64":...}); while it is valid
// UTF-8 its bytes are held (in memory up to 4 MiB, then in a temporary
// file in TempDir) until its end decides between a JSON string and base64.
// The output is the same byte for byte whatever Reader.MaxPayload and
// Reader.ChunkSize are.
type JSONL struct {
	// TempDir is the directory of the temporary file that holds a long
	// streamed string; "" means os.TempDir(). The file is removed at once
	// where the system allows it, and by Close otherwise.
	TempDir string

	enc jsonEnc
}

// NewJSONL returns a JSONL writer to w. Output is buffered: call Close.
func NewJSONL(w io.Writer) *JSONL {
	return &JSONL{enc: newJSONEnc(w)}
}

// Write writes e's record and a newline; see [Writer].
func (j *JSONL) Write(e *rdb.Entry) error {
	if !isRecord(e) {
		return j.enc.err
	}
	j.enc.tempDir = j.TempDir
	return j.enc.line(j.enc.record(e))
}

// WriteAux writes {"kind":"aux","name":...,"value":...}.
func (j *JSONL) WriteAux(name, value []byte) error {
	return j.enc.line(j.enc.aux(name, value))
}

// WriteFunction writes {"kind":"function","library":...,"code":...}.
func (j *JSONL) WriteFunction(library, code []byte) error {
	return j.enc.line(j.enc.function(library, code))
}

// Close flushes the output and removes the temporary file, if any.
func (j *JSONL) Close() error { return j.enc.close() }

// JSON writes one JSON array of the records of [JSONL], one a line:
//
//	[
//	{"kind":"aux","name":"redis-ver","value":"7.2.6"},
//	{"db":0,"key":"k","type":"string","encoding":"embstr","expire_at":null,"value":"abc"}
//	]
//
// or [] when there is none. It streams like JSONL: nothing is gathered
// before it is written.
type JSON struct {
	// TempDir is as for JSONL.
	TempDir string

	enc jsonEnc
	n   int64 // records written
}

// NewJSON returns a JSON writer to w. Output is buffered, and the array is
// closed by Close.
func NewJSON(w io.Writer) *JSON {
	return &JSON{enc: newJSONEnc(w)}
}

// Write writes e's record as the next element of the array; see [Writer].
func (j *JSON) Write(e *rdb.Entry) error {
	if !isRecord(e) {
		return j.enc.err
	}
	j.enc.tempDir = j.TempDir
	j.sep()
	return j.enc.done(j.enc.record(e))
}

// WriteAux writes {"kind":"aux","name":...,"value":...}.
func (j *JSON) WriteAux(name, value []byte) error {
	j.sep()
	return j.enc.done(j.enc.aux(name, value))
}

// WriteFunction writes {"kind":"function","library":...,"code":...}.
func (j *JSON) WriteFunction(library, code []byte) error {
	j.sep()
	return j.enc.done(j.enc.function(library, code))
}

func (j *JSON) sep() {
	if j.n == 0 {
		j.enc.buf = append(j.enc.buf, "[\n"...)
	} else {
		j.enc.buf = append(j.enc.buf, ",\n"...)
	}
	j.n++
}

// Close ends the array, flushes the output and removes the temporary
// file, if any.
func (j *JSON) Close() error {
	if j.enc.err == nil {
		if j.n == 0 {
			j.enc.buf = append(j.enc.buf, "[]\n"...)
		} else {
			j.enc.buf = append(j.enc.buf, "\n]\n"...)
		}
	}
	return j.enc.close()
}

// isRecord reports whether e is a record that the JSON formats write.
func isRecord(e *rdb.Entry) bool {
	switch e.Kind {
	case rdb.KindKey, rdb.KindAux, rdb.KindFunction, rdb.KindModuleAux:
		return true
	}
	return false
}

// jsonEnc encodes records as JSON into its buffer and writes them out.
type jsonEnc struct {
	out
	tempDir string
	str     strState
	spill   *os.File // holds long streamed strings; nil until needed
	rbuf    []byte   // to read the spill file back
	holdMax int      // bytes of a streamed string held in memory before they go to spill
}

func newJSONEnc(w io.Writer) jsonEnc {
	return jsonEnc{out: newOut(w), holdMax: defaultHoldMax}
}

// defaultHoldMax is how much of a streamed string that is valid UTF-8 so
// far is held in memory before the rest goes to the temporary file.
const defaultHoldMax = 4 << 20

// line ends a JSON Lines record.
func (j *jsonEnc) line(err error) error {
	if err != nil {
		return j.fail(err)
	}
	j.buf = append(j.buf, '\n')
	return j.maybeFlush()
}

// done ends a record of the JSON array.
func (j *jsonEnc) done(err error) error {
	if err != nil {
		return j.fail(err)
	}
	return j.maybeFlush()
}

func (j *jsonEnc) fail(err error) error {
	if j.err == nil {
		j.err = err
	}
	return j.err
}

// record appends the record of e, which must satisfy isRecord.
func (j *jsonEnc) record(e *rdb.Entry) error {
	if j.err != nil {
		return j.err
	}
	switch e.Kind {
	case rdb.KindAux:
		return j.aux(e.Aux.Name, e.Aux.Value)
	case rdb.KindFunction:
		return j.function(e.Aux.Name, e.Aux.Value)
	case rdb.KindModuleAux:
		return j.moduleAux(&e.Aux)
	}
	j.buf = appendKeyHead(j.buf, e)
	j.buf = append(j.buf, `,"value":`...)
	if err := j.value(e); err != nil {
		return fmt.Errorf("exporter: key %q: %w", e.Key, err)
	}
	j.buf = append(j.buf, '}')
	return nil
}

func (j *jsonEnc) aux(name, value []byte) error {
	if j.err != nil {
		return j.err
	}
	j.buf = append(j.buf, `{"kind":"aux","name":`...)
	j.buf = AppendString(j.buf, name)
	j.buf = append(j.buf, `,"value":`...)
	j.buf = AppendString(j.buf, value)
	j.buf = append(j.buf, '}')
	return nil
}

func (j *jsonEnc) function(library, code []byte) error {
	if j.err != nil {
		return j.err
	}
	j.buf = append(j.buf, `{"kind":"function","library":`...)
	j.buf = AppendString(j.buf, library)
	j.buf = append(j.buf, `,"code":`...)
	if err := j.bytes(code); err != nil {
		return err
	}
	j.buf = append(j.buf, '}')
	return nil
}

// moduleAux appends {"kind":"module_aux","module":name,"version":n,
// "when":n,"payload":{"base64":...}}.
func (j *jsonEnc) moduleAux(a *rdb.Aux) error {
	j.buf = append(j.buf, `{"kind":"module_aux","module":`...)
	j.buf = AppendString(j.buf, a.Name)
	j.buf = append(j.buf, `,"version":`...)
	j.buf = strconv.AppendInt(j.buf, int64(a.ModuleVersion), 10)
	j.buf = append(j.buf, `,"when":`...)
	j.buf = strconv.AppendInt(j.buf, int64(a.When), 10)
	j.buf = append(j.buf, `,"payload":`...)
	if err := j.base64(a.Value); err != nil {
		return err
	}
	j.buf = append(j.buf, '}')
	return nil
}

// close flushes the output and removes the spill file.
func (j *jsonEnc) close() error {
	err := j.flush()
	if j.spill != nil {
		name := j.spill.Name()
		cerr := j.spill.Close()
		j.spill = nil
		if rerr := os.Remove(name); rerr != nil && !os.IsNotExist(rerr) && err == nil {
			err = rerr
		}
		if cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}
