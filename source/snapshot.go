package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// A Snapshot is the RDB the source sends for a full sync: an io.Reader of
// exactly the RDB's bytes, from "REDIS" to the checksum. A diskless
// transfer's end mark is stripped: the last 40 bytes read are held back
// until the stream ends at the mark. Read returns io.EOF at the end of the
// RDB, after which the command stream can be read with Conn.Commands.
//
// The Snapshot reads straight from the connection, without a context: a
// source that sends nothing for Options.ReadTimeout fails it, and
// Conn.Close from another goroutine interrupts it. A source cut off before
// the end fails it with an error wrapping io.ErrUnexpectedEOF.
type Snapshot struct {
	ReplID string // the source's replication ID; "" after SYNC
	Offset int64  // the replication offset the snapshot stands at; -1 after SYNC
	Size   int64  // the RDB's length in bytes; -1 for a diskless transfer

	c   *Conn
	r   io.Reader
	n   int64
	err error
}

// Read reads the RDB. It returns io.EOF with the RDB's last bytes when the
// end is known by then (always with a buffer of 64 KiB or more), so that
// rdb.Reader, which reads no further than the checksum, sees it. Errors are
// sticky.
func (s *Snapshot) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	switch {
	case err == io.EOF:
		s.err = io.EOF
		if derr := s.c.snapshotDone(); derr != nil {
			s.err = derr
		}
		err = s.err
	case err != nil:
		s.c.state = stateBroken
		s.err = err
	}
	return n, err
}

// finish ends a snapshot whose RDB was read up to its last byte without
// io.EOF yet, without consuming any RDB byte: it fails if some are left.
func (s *Snapshot) finish() error {
	if s.err != nil {
		if s.err == io.EOF {
			return nil
		}
		return s.err
	}
	var end bool
	var err error
	switch r := s.r.(type) {
	case *sizeReader:
		end = r.left <= 0
	case *markReader:
		end, err = r.atEnd()
	}
	if err != nil {
		s.c.state = stateBroken
		s.err = err
		return err
	}
	if !end {
		return errors.New("source: the snapshot has not been read to its end")
	}
	s.err = io.EOF
	if err := s.c.snapshotDone(); err != nil {
		s.err = err
	}
	if s.err == io.EOF {
		return nil
	}
	return s.err
}

// N returns the number of RDB bytes read so far.
func (s *Snapshot) N() int64 { return s.n }

// snapshotDone moves the connection to its command stream once the
// snapshot has been read: an ACK right away (a source that sent the
// snapshot diskless starts the stream only on the first ACK; see
// redis/src/replication.c replconfCommand, repl_start_cmd_stream_on_ack),
// then one every AckInterval.
func (c *Conn) snapshotDone() error {
	c.state = stateStream
	return c.startAck()
}

// sizeReader reads the left bytes of a snapshot of known size.
type sizeReader struct {
	r    io.Reader
	left int64
}

func (s *sizeReader) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	if err == io.EOF {
		if s.left > 0 {
			return n, fmt.Errorf("source: the source closed the connection %d bytes before the end of the snapshot: %w",
				s.left, io.ErrUnexpectedEOF)
		}
		err = nil
	}
	if err == nil && s.left == 0 {
		err = io.EOF
	}
	return n, err
}

// markReader reads a diskless snapshot: the stream up to, and without,
// the 40-byte mark that ends it. The master sends nothing after the mark
// until the replica acknowledges, so the mark is the last 40 bytes of the
// data read when they equal it (redis/src/replication.c
// readSyncBulkPayload does the same).
type markReader struct {
	r    io.Reader
	mark []byte
	buf  []byte // buf[pos:safe]: RDB bytes to return; buf[safe:end]: held back
	pos  int
	safe int
	end  int
	done bool // the mark was seen: buf[safe:end] is the mark
}

const markReadSize = 32 << 10

func newMarkReader(r io.Reader, mark []byte) *markReader {
	return &markReader{r: r, mark: mark, buf: make([]byte, replIDSize+markReadSize)}
}

func (m *markReader) Read(p []byte) (int, error) {
	for m.pos == m.safe {
		if m.done {
			return 0, io.EOF
		}
		if err := m.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, m.buf[m.pos:m.safe])
	m.pos += n
	if m.done && m.pos == m.safe {
		return n, io.EOF // with the last bytes, for readers that stop at the checksum
	}
	return n, nil
}

// atEnd reports whether every RDB byte has been returned and the mark
// seen, reading more of the stream (and holding it) to find out.
func (m *markReader) atEnd() (bool, error) {
	for m.pos == m.safe && !m.done {
		if err := m.fill(); err != nil {
			return false, err
		}
	}
	return m.done && m.pos == m.safe, nil
}

// fill reads more of the stream after the bytes held back.
func (m *markReader) fill() error {
	held := copy(m.buf, m.buf[m.pos:m.end]) // at most the mark's size
	m.pos, m.safe, m.end = 0, 0, held
	n, err := m.r.Read(m.buf[m.end:])
	m.end += n
	if m.end >= len(m.mark) && n > 0 && bytes.Equal(m.buf[m.end-len(m.mark):m.end], m.mark) {
		m.safe = m.end - len(m.mark)
		m.done = true
		return nil
	}
	m.safe = max(0, m.end-len(m.mark))
	switch {
	case err == io.EOF:
		return fmt.Errorf("source: the source closed the connection before the end of the diskless snapshot: %w",
			io.ErrUnexpectedEOF)
	case err != nil:
		return err
	}
	return nil
}
