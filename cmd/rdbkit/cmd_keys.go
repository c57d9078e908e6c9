package main

import (
	"bufio"
	"context"
	"io"
	"strconv"

	"github.com/rdbkit/rdbkit/exporter"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/urfave/cli/v2"
)

// keysOptions are the options of keys.
type keysOptions = fileOptions

func keysCommand() *cli.Command {
	return fileCommand(&cli.Command{
		Name:  "keys",
		Usage: "list the keys of a dump.rdb, one a line: db, type, encoding, key, expiry, size",
		Description: "Each line holds, tab-separated: the database, the type, the encoding (as OBJECT\n" +
			"ENCODING would report it), the key (as is when it is printable UTF-8 that does not start\n" +
			"with a double quote, else Go-quoted), the expiry (RFC 3339 UTC with ms, or -) and the size\n" +
			"of the serialized value in bytes (- when it was too large to keep in memory).\n" +
			"With --json, each line is a JSON object:\n" +
			`{"db":0,"key":"k","type":"hash","encoding":"listpack","expire_at":1767225600000,"size":123}` + "\n" +
			`where a key that is not valid UTF-8 is {"base64":"..."}, and expire_at (ms) and size may be null.` + "\n" +
			"FILE - reads the standard input.",
	}, "write JSON Lines", runKeys)
}

// runKeys writes a line per key of opts.file that passes the filters. It
// decodes no values.
func runKeys(ctx context.Context, opts keysOptions, stdout io.Writer) error {
	f, err := newFilter("keys", opts.filter)
	if err != nil {
		return err
	}
	in, err := openRDB(opts.file, opts.maxPayload)
	if err != nil {
		return err
	}
	defer in.Close()
	w := bufio.NewWriterSize(stdout, 64<<10)
	line := make([]byte, 0, 256)
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := in.r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ferr := w.Flush(); ferr != nil {
				return ferr
			}
			return in.wrap(err)
		}
		if e.Kind != rdb.KindKey || !f.match(e, opts.now) {
			continue
		}
		if opts.json {
			line = exporter.AppendKeyRecord(line[:0], e)
		} else {
			line = appendKeyLine(line[:0], e)
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return w.Flush()
}

// appendKeyLine appends the text line of a key without its newline:
// db, type, encoding, key, expiry and size, tab-separated.
func appendKeyLine(dst []byte, e *rdb.Entry) []byte {
	dst = strconv.AppendInt(dst, int64(e.DB), 10)
	dst = append(dst, '\t')
	dst = append(dst, e.Type.String()...)
	dst = append(dst, '\t')
	dst = append(dst, e.ObjectEncoding()...)
	dst = append(dst, '\t')
	dst = appendKeyText(dst, e.Key)
	dst = append(dst, '\t')
	dst = appendExpiryText(dst, e.ExpireAt)
	dst = append(dst, '\t')
	if e.Payload == nil {
		return append(dst, '-')
	}
	return strconv.AppendInt(dst, int64(len(e.Payload)), 10)
}
