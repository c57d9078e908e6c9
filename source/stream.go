package source

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ErrNoStream is returned by Stream.Next on a link that has no command
// stream: the source accepted rdb-only.
var ErrNoStream = errors.New("source: rdb-only link: the source sends no command stream")

// A Command is one command of the replication stream.
type Command struct {
	DB     int      // the database it applies to: the last SELECT of the stream
	Args   [][]byte // the command name and its arguments, as the source propagated them
	Offset int64    // the replication offset just after the command
}

// A Stream reads the commands a source propagates to its replicas after a
// snapshot (or after +CONTINUE). Get it from [Conn.Commands].
//
// Next handles the stream's control commands itself: SELECT sets
// Command.DB, PING only advances the offset, and REPLCONF GETACK is
// answered at once with REPLCONF ACK. Every byte of the stream counts
// towards Conn.Offset. Transactions come as the MULTI, the commands and
// the EXEC the source propagated.
type Stream struct {
	c     *Conn
	db    int
	err   error
	buf   []byte   // argument bytes of the current command
	spans [][2]int // where each argument is in buf
	args  [][]byte
}

// Commands returns the command stream of c. Its Next fails until the
// Snapshot has been read to its last byte (or PartialSync was accepted),
// and with ErrNoStream on an rdb-only link.
func (c *Conn) Commands() *Stream { return c.stream }

// maxBufKeep is the largest argument buffer kept between commands; a
// bigger one, grown for a large command, is dropped.
const maxBufKeep = 4 << 20

// Next returns the next data command. Its Args are valid until the next
// call to Next. Errors are sticky: a broken connection, a command larger
// than Options.MaxCommandSize, a protocol error, or ErrClosed after Close.
func (s *Stream) Next() (Command, error) {
	if s.err != nil {
		return Command{}, s.err
	}
	c := s.c
	if c.state == stateSnapshot {
		if err := c.snap.finish(); err != nil {
			return Command{}, err
		}
	}
	switch {
	case c.state == stateStream && c.rdbOnly:
		s.err = ErrNoStream
	case c.state != stateStream:
		return Command{}, errors.New("source: no command stream: FullSync or PartialSync first")
	}
	for s.err == nil {
		if p := c.ackErr.Load(); p != nil {
			s.err = *p
			break
		}
		n, err := s.readCommand()
		if err != nil {
			s.err = err
			break
		}
		if n == 0 {
			continue
		}
		off := c.offset.Add(n)
		if err := s.control(); err != errData {
			s.err = err
			continue
		}
		return Command{DB: s.db, Args: s.args, Offset: off}, nil
	}
	return Command{}, s.err
}

var errData = errors.New("data command")

// control handles SELECT, PING and REPLCONF; it returns errData for any
// other command.
func (s *Stream) control() error {
	name := s.args[0]
	switch {
	case bytes.EqualFold(name, []byte("PING")):
		return nil
	case bytes.EqualFold(name, []byte("SELECT")):
		if len(s.args) != 2 {
			return protocolError("SELECT with arguments", bytes.Join(s.args[1:], []byte(" ")))
		}
		db, err := strconv.Atoi(string(s.args[1]))
		if err != nil || db < 0 {
			return protocolError("SELECT of", s.args[1])
		}
		s.db = db
		return nil
	case bytes.EqualFold(name, []byte("REPLCONF")):
		if len(s.args) >= 2 && bytes.EqualFold(s.args[1], []byte("GETACK")) && !s.c.oldSync {
			return s.c.sendAck()
		}
		return nil
	}
	return errData
}

// readCommand reads one RESP array of bulk strings into s.args and
// returns its length on the wire; 0 for a bare newline or an empty array,
// which carry no command.
func (s *Stream) readCommand() (int64, error) {
	br := s.c.br
	line, err := s.readHeader('*')
	if err != nil || line == nil {
		return 0, err
	}
	wire := int64(len(line) + 3)
	argc, err := strconv.Atoi(string(line))
	if err != nil || argc < 0 {
		return 0, protocolError("array header", line)
	}
	if argc == 0 {
		return 0, nil
	}
	if cap(s.buf) > maxBufKeep {
		s.buf = nil
	}
	limit := orDefaultInt(s.c.opts.MaxCommandSize, DefaultMaxCommandSize)
	size := 0
	s.buf, s.spans = s.buf[:0], s.spans[:0]
	for i := 0; i < argc; i++ {
		line, err := s.readHeader('$')
		if err == nil && line == nil {
			err = protocolError("newline in", []byte("a command"))
		}
		if err != nil {
			return 0, err
		}
		wire += int64(len(line) + 3)
		n, err := strconv.Atoi(string(line))
		if err != nil || n < 0 {
			return 0, protocolError("bulk string header", line)
		}
		if size += n + 16; size > limit || size < 0 {
			return 0, fmt.Errorf("source: a command of the stream at offset %d is larger than the limit of %d bytes "+
				"(Options.MaxCommandSize; argument %d is %d bytes)", s.c.offset.Load(), limit, i, n)
		}
		start := len(s.buf)
		s.buf = grow(s.buf, n+2)
		if _, err := io.ReadFull(br, s.buf[start:start+n+2]); err != nil {
			return 0, s.readErr(err)
		}
		if s.buf[start+n] != '\r' || s.buf[start+n+1] != '\n' {
			return 0, protocolError("end of bulk string", s.buf[start+n:start+n+2])
		}
		s.buf = s.buf[:start+n]
		s.spans = append(s.spans, [2]int{start, start + n})
		wire += int64(n + 2)
	}
	s.args = s.args[:0]
	for _, sp := range s.spans {
		s.args = append(s.args, s.buf[sp[0]:sp[1]:sp[1]])
	}
	return wire, nil
}

// readHeader reads a line starting with kind ('*' or '$') and returns
// what follows kind, without the CRLF; nil for a bare newline. The slice
// is valid until the next read.
func (s *Stream) readHeader(kind byte) ([]byte, error) {
	line, err := s.c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, protocolError("line longer than", []byte(strconv.Itoa(readBufferSize)))
	case err != nil:
		return nil, s.readErr(err)
	case len(line) == 1:
		return nil, nil
	case len(line) < 3 || line[len(line)-2] != '\r':
		return nil, protocolError("line", line)
	case line[0] == '-':
		return nil, newServerError("the command stream", string(line[:len(line)-2]), "")
	case line[0] != kind:
		return nil, protocolError("line", line)
	}
	return line[1 : len(line)-2], nil
}

func (s *Stream) readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("source: %s closed the connection: %w", s.c.ep.Redacted(), io.ErrUnexpectedEOF)
	}
	return err
}

func orDefaultInt(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// grow extends b by n bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// sendAck sends REPLCONF ACK with the current offset.
func (c *Conn) sendAck() error {
	return c.writeCommand("REPLCONF", "ACK", strconv.FormatInt(c.offset.Load(), 10))
}

// startAck sends the first ACK and starts the goroutine that sends one
// every AckInterval, on a link that has a command stream.
func (c *Conn) startAck() error {
	if c.rdbOnly || c.oldSync {
		return nil
	}
	if err := c.sendAck(); err != nil {
		return err
	}
	c.amu.Lock()
	defer c.amu.Unlock()
	if c.closed.Load() || c.ackStop != nil {
		return nil
	}
	c.ackStop, c.ackDone = make(chan struct{}), make(chan struct{})
	go c.ackLoop(c.ackStop, c.ackDone, orDuration(c.opts.AckInterval, DefaultAckInterval))
	return nil
}

func (c *Conn) ackLoop(stop <-chan struct{}, done chan<- struct{}, every time.Duration) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := c.sendAck(); err != nil {
				c.ackErr.Store(&err)
				return
			}
		}
	}
}
