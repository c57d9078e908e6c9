package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rdbkit/rdbkit/rdb"
)

// An rdbInput is an RDB file (or the standard input) open for decoding.
type rdbInput struct {
	name string
	rc   io.ReadCloser
	src  *countingReader // rc, counted
	size int64           // -1 when unknown (not a regular file)
	r    *rdb.Reader
}

// A countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openRDB opens path ("-" for the standard input) and returns a Reader of
// it that verifies the checksum and keeps values of up to maxPayload bytes
// whole (0: rdb.DefaultMaxPayload).
func openRDB(path string, maxPayload int) (*rdbInput, error) {
	rc, err := openInput(path)
	if err != nil {
		return nil, err
	}
	in := &rdbInput{name: path, rc: rc, src: &countingReader{r: rc}, size: -1}
	if f, ok := rc.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			in.size = st.Size()
		}
	}
	in.r = rdb.NewReader(in.src)
	in.r.MaxPayload = maxPayload
	return in, nil
}

func (in *rdbInput) Close() error { return in.rc.Close() }

// mapped maps the input in memory if it is a regular file; nil if not.
func (in *rdbInput) mapped() *mapping {
	f, ok := in.rc.(*os.File)
	if !ok || in.size < 0 {
		return nil
	}
	return mapFile(f, in.size)
}

// wrap names the input in an error.
func (in *rdbInput) wrap(err error) error {
	return fmt.Errorf("%s: %w", in.name, err)
}

// trailing returns the number of bytes after the end of the RDB (the
// checksum), once Next has returned io.EOF: the AOF of a file with an RDB
// preamble, or garbage. For a pipe it reads the input to its end. The
// Reader may have read some of those bytes into its buffer already, so
// they are counted from what came through src, not from what is left.
func (in *rdbInput) trailing() (int64, error) {
	if in.size >= 0 {
		return in.size - in.r.Offset(), nil
	}
	if _, err := io.Copy(io.Discard, in.src); err != nil {
		return 0, err
	}
	return in.src.n - in.r.Offset(), nil
}
