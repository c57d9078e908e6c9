package exporter

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/rdbkit/rdbkit/rdb"
)

// RESPOptions control what [RESP] writes.
type RESPOptions struct {
	// Restore writes each key as RESTORE key <expiry> <payload> ABSTTL
	// [IDLETIME n | FREQ n] with its serialized value, transcoded when
	// Target does not know its encoding, instead of commands. A key whose
	// value is not in memory (streamed: larger than Reader.MaxPayload) or
	// that Target cannot hold in a payload is written with commands all
	// the same (counted in RESPStats.Rewritten).
	Restore bool
	// Replace overwrites keys that exist: RESTORE ... REPLACE, or a DEL
	// before the commands of a key; FUNCTION LOAD REPLACE. Without it, an
	// existing key makes RESTORE fail, and commands add to a key of the
	// same type.
	Replace bool
	// Target is the server the output is for: the footer version of
	// RESTORE payloads, which encodings need transcoding, and which
	// commands exist (HPEXPIREAT from Redis 7.4 and Valkey 9; XSETID
	// ENTRIESADDED and XGROUP CREATE ENTRIESREAD from Redis 7.0). The zero
	// Target is Redis 7.0 (RDB 10).
	Target rdb.Target
	// Now (Unix ms) leaves out hash fields whose expiry is at or before it
	// (a hash left with no field is not written: RESPStats.Expired); 0
	// leaves out none. Keys that have expired are written: their expiry in
	// the past makes the server drop them.
	Now int64
	// MaxBytes and MaxArgs bound the size and the element count of a
	// command that rebuilds a collection (RPUSH, SADD, ZADD, HSET), and
	// the chunks of a long string (SET, SETRANGE); 0 means the defaults of
	// the rewrite package (1 MiB, 1024 elements).
	MaxBytes, MaxArgs int
}

// RESPStats counts what a [RESP] wrote.
type RESPStats struct {
	Keys      int64 // keys written
	Restored  int64 // with RESTORE
	Rewritten int64 // with commands
	Expired   int64 // hashes left out because every field had expired (RESPOptions.Now)
	Functions int64 // function libraries (FUNCTION LOAD)
	Commands  int64 // commands written in all
}

// RESP writes Redis commands in the RESP protocol that rebuild the data on
// a server, for `redis-cli --pipe`: SELECT before the keys of each
// database, FUNCTION LOAD for each function library, and for each key
// either the commands of the rewrite package (SET, RPUSH, SADD, ZADD,
// HSET, XADD and the stream's groups, consumers, pending entries and ids,
// in batches of bounded size; PEXPIREAT for the key's expiry, HPEXPIREAT
// for hash field expiries) or, with RESPOptions.Restore, RESTORE with the
// payload. Aux fields and module aux data have no command and are left
// out. A module value has no command either: it is written with RESTORE
// whatever the options, and fails if its payload is not in memory.
//
// What the commands cannot carry (consumers' seen and active times, hash
// field expiries for a target without them, ...) is counted; see Lost.
type RESP struct {
	out
	o         RESPOptions
	db        int // database selected, -1 before the first key
	stats     RESPStats
	cmdLoss   rewrite.Loss
	tcLoss    rdb.Loss
	emitFn    func([][]byte) error
	args      [][]byte
	num, num2 []byte
	tc, dump  []byte
}

// NewRESP returns a RESP writer to w. Output is buffered: call Close.
func NewRESP(w io.Writer, opts RESPOptions) *RESP {
	if opts.Target.Version == 0 {
		opts.Target = rdb.Target{Version: 10}
	}
	r := &RESP{out: newOut(w), o: opts, db: -1}
	r.emitFn = r.command
	return r
}

// Write writes the commands of a key, or FUNCTION LOAD for a function
// library; other records are ignored. See [Writer].
func (r *RESP) Write(e *rdb.Entry) error {
	if r.err != nil {
		return r.err
	}
	switch e.Kind {
	case rdb.KindFunction:
		return r.WriteFunction(e.Aux.Name, e.Aux.Value)
	case rdb.KindKey:
	default:
		return nil
	}
	if e.DB != r.db {
		r.num = strconv.AppendInt(r.num[:0], int64(e.DB), 10)
		r.args = append(r.args[:0], []byte("SELECT"), r.num)
		if err := r.command(r.args); err != nil {
			return err
		}
		r.db = e.DB
	}
	var err error
	if r.o.Restore || e.Type == rdb.TypeModule {
		err = r.restore(e)
	} else {
		err = r.rewrite(e)
	}
	if err != nil {
		if r.err == nil {
			r.err = fmt.Errorf("exporter: key %q: %w", e.Key, err)
		}
		return r.err
	}
	return r.maybeFlush()
}

// rewrite writes e with the commands of the rewrite package.
func (r *RESP) rewrite(e *rdb.Entry) error {
	opts := rewrite.Options{
		Replace:  r.o.Replace,
		Now:      r.o.Now,
		MaxBytes: r.o.MaxBytes,
		MaxArgs:  r.o.MaxArgs,
		Loss:     &r.cmdLoss,
	}.ForTarget(r.o.Target)
	err := rewrite.Commands(e, e.Value(), opts, r.emitFn)
	switch {
	case err == rewrite.ErrEmpty:
		r.stats.Expired++
		return nil
	case err != nil:
		return err
	}
	r.stats.Keys++
	r.stats.Rewritten++
	return nil
}

// restore writes e with RESTORE, or with commands when its payload is not
// in memory or Target cannot hold it.
func (r *RESP) restore(e *rdb.Entry) error {
	if e.Payload == nil {
		if e.Type == rdb.TypeModule {
			return errors.New("module value larger than the read buffer (MaxPayload): RESTORE needs it whole")
		}
		return r.rewrite(e)
	}
	p, loss, err := rdb.Transcode(r.tc[:0], e.Payload, e.Encoding, r.o.Target, r.o.Now)
	switch {
	case errors.Is(err, rdb.ErrUnknown) && e.Type != rdb.TypeModule:
		return r.rewrite(e)
	case err != nil:
		return err
	case loss.Expired:
		r.stats.Expired++
		return nil
	}
	r.tc = p
	r.tcLoss.Add(loss)
	r.dump = rdb.AppendDump(r.dump[:0], p, r.o.Target.DumpVersion())
	r.num = strconv.AppendInt(r.num[:0], e.ExpireAt, 10)
	args := append(r.args[:0], []byte("RESTORE"), e.Key, r.num, r.dump, []byte("ABSTTL"))
	switch {
	case e.Idle >= 0:
		r.num2 = strconv.AppendInt(r.num2[:0], e.Idle, 10)
		args = append(args, []byte("IDLETIME"), r.num2)
	case e.Freq >= 0:
		r.num2 = strconv.AppendInt(r.num2[:0], e.Freq, 10)
		args = append(args, []byte("FREQ"), r.num2)
	}
	if r.o.Replace {
		args = append(args, []byte("REPLACE"))
	}
	r.args = args
	if err := r.command(args); err != nil {
		return err
	}
	r.stats.Keys++
	r.stats.Restored++
	return nil
}

// WriteAux does nothing: aux fields have no command.
func (r *RESP) WriteAux(name, value []byte) error { return r.err }

// WriteFunction writes FUNCTION LOAD [REPLACE] code.
func (r *RESP) WriteFunction(library, code []byte) error {
	if r.err != nil {
		return r.err
	}
	args := append(r.args[:0], []byte("FUNCTION"), []byte("LOAD"))
	if r.o.Replace {
		args = append(args, []byte("REPLACE"))
	}
	args = append(args, code)
	r.args = args
	if err := r.command(args); err != nil {
		return err
	}
	r.stats.Functions++
	return r.maybeFlush()
}

// Close flushes the output.
func (r *RESP) Close() error { return r.flush() }

// Stats returns the counts so far.
func (r *RESP) Stats() RESPStats { return r.stats }

// Lost describes what the output could not carry, "" if nothing: hash
// field expiries, stream consumers' times, ... (see rewrite.Loss and
// rdb.Loss).
func (r *RESP) Lost() string {
	var parts []string
	if !r.cmdLoss.Zero() {
		parts = append(parts, r.cmdLoss.String())
	}
	if !r.tcLoss.IsZero() {
		parts = append(parts, r.tcLoss.String())
	}
	return strings.Join(parts, "; ")
}

// command appends one command as a RESP array of bulk strings.
func (r *RESP) command(args [][]byte) error {
	b := append(r.buf, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		if len(a) > flushSize {
			r.buf = b
			if err := r.flush(); err != nil {
				return err
			}
			if _, err := r.w.Write(a); err != nil {
				r.err = err
				return err
			}
			b = r.buf
		} else {
			b = append(b, a...)
		}
		b = append(b, '\r', '\n')
	}
	r.buf = b
	r.stats.Commands++
	return r.maybeFlush()
}
