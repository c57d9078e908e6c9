package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/urfave/cli/v2"
)

// checkOptions are the options of check.
type checkOptions = fileOptions

func checkCommand() *cli.Command {
	return fileCommand(&cli.Command{
		Name:  "check",
		Usage: "check the structure and checksum of a dump.rdb, decoding every value",
		Description: "check reads every record and decodes every value to its end, then verifies the\n" +
			"CRC64 at the end of the file. It prints \"ok: N keys, checksum STATE\" and exits 0, or\n" +
			"\"corrupt: ERROR\" with the byte offset (and key) of the first fault and exits 1.\n" +
			"Keys left out by the filters are still read, but their values are not decoded.",
	}, "write the result as a JSON object", runCheck)
}

// checkResult is what check found; it is also its --json output.
type checkResult struct {
	File     string     `json:"file"`
	OK       bool       `json:"ok"`
	Status   string     `json:"status"`   // "ok", "corrupt", or "unsupported" (an RDB version this build does not read)
	Keys     int64      `json:"keys"`     // keys read
	Decoded  int64      `json:"decoded"`  // keys whose value was decoded (those the filters select)
	Checksum string     `json:"checksum"` // rdb.ChecksumState
	Trailing int64      `json:"trailing_bytes,omitempty"`
	Error    *errorInfo `json:"error,omitempty"`
}

// runCheck decodes opts.file entirely. A corrupt file is reported on
// stdout and returned as a *reportedError; a file that cannot be read (an
// I/O error rather than bad contents) is an ordinary error.
func runCheck(ctx context.Context, opts checkOptions, stdout io.Writer) error {
	f, err := newFilter("check", opts.filter)
	if err != nil {
		return err
	}
	in, err := openRDB(opts.file, opts.maxPayload)
	if err != nil {
		return err
	}
	defer in.Close()
	res := checkResult{File: opts.file}
	err = checkRecords(ctx, in.r, f, opts.now, &res)
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case err == nil:
		res.OK, res.Status = true, "ok"
		if res.Trailing, err = in.trailing(); err != nil {
			return in.wrap(err)
		}
	case !badContents(err):
		return in.wrap(err)
	case errors.Is(err, rdb.ErrVersion):
		res.Status, res.Error = "unsupported", newErrorInfo(err)
	default:
		res.Status, res.Error = "corrupt", newErrorInfo(err)
	}
	res.Checksum = checksumState(in.r, err)
	if werr := writeCheck(stdout, opts.json, &res); werr != nil {
		return werr
	}
	if err != nil {
		return &reportedError{in.wrap(err)}
	}
	return nil
}

// checkRecords reads every record and decodes the values of the keys f
// selects; it returns nil at a sound end of the RDB.
func checkRecords(ctx context.Context, r *rdb.Reader, f *filter, now time.Time, res *checkResult) error {
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if e.Kind != rdb.KindKey {
			continue
		}
		res.Keys++
		if !f.match(e, now) {
			continue
		}
		if err := decodeValue(e); err != nil {
			return err
		}
		res.Decoded++
	}
}

// badContents reports whether a decoding error is about the input's bytes,
// not about reading them.
func badContents(err error) bool {
	for _, s := range []error{rdb.ErrNotRDB, rdb.ErrVersion, rdb.ErrCorrupt, rdb.ErrChecksum,
		rdb.ErrTooLarge, rdb.ErrUnknown, io.ErrUnexpectedEOF} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// decodeValue reads e's value to its end, and for a stream its metadata
// and consumer groups too. It does not require a stream's stored length to
// equal its number of live entries: some real files differ (a Redis 5
// development build wrote 120 for 118 in hdt3213/rdb's
// stream_listpacks_1.rdb), and Redis loads them.
func decodeValue(e *rdb.Entry) error {
	v := e.Value()
	for v.Next() {
	}
	if err := v.Err(); err != nil {
		return err
	}
	if e.Type == rdb.TypeStream && v.Stream() == nil {
		return &rdb.Error{Offset: e.Offset, Key: string(e.Key), Field: "stream", Err: rdb.ErrCorrupt,
			Detail: "no stream metadata after the entries"}
	}
	return nil
}

func writeCheck(w io.Writer, asJSON bool, res *checkResult) error {
	if asJSON {
		return writeJSON(w, res)
	}
	if res.Error != nil {
		_, err := fmt.Fprintf(w, "%s: %s\n", res.Status, res.Error.Message)
		return err
	}
	msg := fmt.Sprintf("ok: %d keys", res.Keys)
	if res.Decoded != res.Keys {
		msg += fmt.Sprintf(" (%d decoded, %d left out by the filters)", res.Decoded, res.Keys-res.Decoded)
	}
	msg += ", checksum " + res.Checksum
	if res.Trailing > 0 {
		msg += fmt.Sprintf(", %d bytes after the end of the RDB", res.Trailing)
	}
	_, err := fmt.Fprintln(w, msg)
	return err
}
