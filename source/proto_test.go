package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReplParsePSYNCReply(t *testing.T) {
	id := strings.Repeat("a1", 20)
	tests := []struct {
		name    string
		line    string
		want    psyncReply
		wantErr error // nil, or a sentinel errors.Is matches
		proto   bool  // a *ProtocolError
	}{
		{"fullresync", "+FULLRESYNC " + id + " 1234", psyncReply{full: true, replID: id, offset: 1234}, nil, false},
		{"fullresync zero", "+FULLRESYNC " + id + " 0", psyncReply{full: true, replID: id}, nil, false},
		{"continue", "+CONTINUE", psyncReply{}, nil, false},
		{"continue new id", "+CONTINUE " + id, psyncReply{replID: id}, nil, false},
		{"short id", "+FULLRESYNC abc 12", psyncReply{}, nil, true},
		{"bad offset", "+FULLRESYNC " + id + " x", psyncReply{}, nil, true},
		{"negative offset", "+FULLRESYNC " + id + " -5", psyncReply{}, nil, true},
		{"missing offset", "+FULLRESYNC " + id, psyncReply{}, nil, true},
		{"continue bad id", "+CONTINUE xyz", psyncReply{}, nil, true},
		{"ok", "+OK", psyncReply{}, nil, true},
		{"noperm", "-NOPERM User u has no permissions to run the 'psync' command", psyncReply{}, ErrPermission, false},
		{"unknown", "-ERR unknown command 'PSYNC'", psyncReply{}, ErrUnsupported, false},
		{"unknown backquotes", "-ERR unknown command `psync`, with args beginning with: `?`, `-1`, ", psyncReply{}, ErrUnsupported, false},
		{"loading", "-LOADING Redis is loading the dataset in memory", psyncReply{}, ErrTryLater, false},
		{"nomasterlink", "-NOMASTERLINK Can't SYNC while not connected with my master", psyncReply{}, ErrTryLater, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePSYNCReply([]byte(tt.line))
			var pe *ProtocolError
			switch {
			case tt.proto:
				if !errors.As(err, &pe) {
					t.Fatalf("error %v, want a protocol error", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case got != tt.want:
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReplParseBulkHeader(t *testing.T) {
	mark := strings.Repeat("0123456789", 4)
	tests := []struct {
		line     string
		size     int64
		mark     string
		errMatch string
	}{
		{"$1234", 1234, "", ""},
		{"$0", 0, "", ""},
		{"$EOF:" + mark, -1, mark, ""},
		{"$EOF:" + mark + "extra", -1, mark, ""}, // redis takes the first 40 bytes
		{"$EOF:short", 0, "", "protocol error"},
		{"$-1", 0, "", "protocol error"},
		{"$abc", 0, "", "protocol error"},
		{"+OK", 0, "", "protocol error"},
		{"-ERR BGSAVE failed, replication can't continue", 0, "", "BGSAVE failed"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			size, m, err := parseBulkHeader("PSYNC", []byte(tt.line))
			if tt.errMatch != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errMatch) {
					t.Fatalf("error %v, want %q", err, tt.errMatch)
				}
				return
			}
			if err != nil || size != tt.size || string(m) != tt.mark {
				t.Fatalf("got %d %q %v, want %d %q", size, m, err, tt.size, tt.mark)
			}
		})
	}
}

// TestReplMarkReader strips the diskless end mark whatever the read
// boundaries, including a mark split across reads and an RDB shorter
// than the mark.
func TestReplMarkReader(t *testing.T) {
	mark := []byte(strings.Repeat("m", 39) + "!")
	long := bytes.Repeat([]byte("REDIS0011 some rdb bytes mmmm!"), 1000)
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+err": iotest.DataErrReader,
		"bufio":    func(r io.Reader) io.Reader { return bufio.NewReaderSize(r, 16) },
	}
	for _, body := range [][]byte{long, []byte("short"), {}, mark[:20], mark[1:]} {
		for name, wrap := range readers {
			t.Run(fmt.Sprintf("%s/%d", name, len(body)), func(t *testing.T) {
				in := append(append([]byte{}, body...), mark...)
				r := newMarkReader(wrap(bytes.NewReader(in)), mark)
				got, err := io.ReadAll(iotest.OneByteReader(r))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, body) {
					t.Fatalf("got %d bytes, want %d", len(got), len(body))
				}
				if err := iotest.TestReader(newMarkReader(bytes.NewReader(in), mark), body); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestReplMarkReaderStopsAtMark leaves what follows the mark unread when
// the mark ends a read, as the command stream follows it.
func TestReplMarkReaderStopsAtMark(t *testing.T) {
	mark := []byte(strings.Repeat("k", replIDSize))
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("RDB bytes"))
		pw.Write(mark)
		pw.Write([]byte("*1\r\n$4\r\nPING\r\n"))
		pw.Close()
	}()
	br := bufio.NewReader(pr) // reads at most one Write at a time
	got, err := io.ReadAll(newMarkReader(br, mark))
	if err != nil || string(got) != "RDB bytes" {
		t.Fatalf("got %q, %v", got, err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "*1\r\n$4\r\nPING\r\n" {
		t.Fatalf("after the mark: %q", rest)
	}
}

func TestReplMarkReaderTruncated(t *testing.T) {
	mark := []byte(strings.Repeat("k", replIDSize))
	r := newMarkReader(iotest.OneByteReader(strings.NewReader("REDIS0011 then the link drops")), mark)
	_, err := io.ReadAll(r)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReplSizeReader(t *testing.T) {
	r := &sizeReader{r: iotest.OneByteReader(strings.NewReader("0123456789*1\r\n")), left: 10}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "0123456789" {
		t.Fatalf("got %q, %v", got, err)
	}
	r = &sizeReader{r: strings.NewReader("01234"), left: 10}
	if _, err := io.ReadAll(r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error %v, want io.ErrUnexpectedEOF", err)
	}
}

// A fakeMaster is the source's end of a net.Pipe, scripted by a test.
type fakeMaster struct {
	t    *testing.T
	conn net.Conn
	cmds chan []string // commands the replica sent, except REPLCONF ACK
	acks chan int64    // offsets of REPLCONF ACK
}

func newFakeMaster(t *testing.T) (*fakeMaster, net.Conn) {
	t.Helper()
	server, client := net.Pipe()
	m := &fakeMaster{t: t, conn: server, cmds: make(chan []string, 100), acks: make(chan int64, 1000)}
	go m.readLoop()
	t.Cleanup(func() { server.Close(); client.Close() })
	return m, client
}

func (m *fakeMaster) readLoop() {
	br := bufio.NewReader(m.conn)
	defer close(m.cmds)
	for {
		args, err := readArray(br)
		if err != nil {
			return
		}
		if len(args) == 3 && args[0] == "REPLCONF" && args[1] == "ACK" {
			off, _ := strconv.ParseInt(args[2], 10, 64)
			select {
			case m.acks <- off:
			default:
			}
			continue
		}
		m.cmds <- args
	}
}

func readArray(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || line[0] != '*' {
		return nil, fmt.Errorf("bad array header %q", line)
	}
	args := make([]string, n)
	for i := range args {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		b := make([]byte, l+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:l])
	}
	return args, nil
}

// expect reads the next command and replies with reply (if not "").
// It may run in the fake master's goroutine, so it reports with Errorf.
func (m *fakeMaster) expect(reply string, want ...string) {
	m.t.Helper()
	select {
	case got, ok := <-m.cmds:
		if !ok {
			m.t.Errorf("connection closed, want %q", want)
			return
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			m.t.Errorf("got command %q, want %q", got, want)
			return
		}
	case <-time.After(5 * time.Second):
		m.t.Errorf("no command, want %q", want)
		return
	}
	if reply != "" {
		m.send(reply)
	}
}

func (m *fakeMaster) send(s string) {
	m.t.Helper()
	if _, err := m.conn.Write([]byte(s)); err != nil {
		m.t.Errorf("fake master: %v", err)
	}
}

// ack waits for a REPLCONF ACK and returns its offset.
func (m *fakeMaster) ack() int64 {
	m.t.Helper()
	select {
	case off := <-m.acks:
		return off
	case <-time.After(5 * time.Second):
		m.t.Fatal("no REPLCONF ACK")
	}
	return 0
}

func respCmd(args ...string) string {
	s := "*" + strconv.Itoa(len(args)) + "\r\n"
	for _, a := range args {
		s += "$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n"
	}
	return s
}

// TestReplFakeMaster walks a whole session against a scripted source:
// handshake, keep-alives, a diskless snapshot cut in small writes, then a
// command stream with SELECT, PING, GETACK and a transaction.
func TestReplFakeMaster(t *testing.T) {
	m, client := newFakeMaster(t)
	ep := Endpoint{Network: "tcp", Addr: "fake:6379", User: "alice", Password: "s3cret"}
	type result struct {
		c   *Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c := newConn(client, ep, Options{ListeningPort: 4321, AckInterval: time.Hour})
		done <- result{c, c.handshake(context.Background())}
	}()
	m.expect("+OK\r\n", "AUTH", "alice", "s3cret")
	m.expect("+OK\r\n", "REPLCONF", "listening-port", "4321")
	m.expect("+OK\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	c := r.c
	defer c.Close()

	id := strings.Repeat("f0", 20)
	mark := strings.Repeat("E", replIDSize)
	rdbBytes := "REDIS0011" + strings.Repeat("x", 1000) + "\xff12345678"
	snapDone := make(chan error, 1)
	var got []byte
	go func() {
		snap, err := c.FullSync(context.Background())
		if err == nil {
			if snap.ReplID != id || snap.Offset != 100 || snap.Size != -1 {
				err = fmt.Errorf("snapshot %+v", snap)
			} else {
				got, err = io.ReadAll(snap)
			}
		}
		snapDone <- err
	}()
	m.expect("", "PSYNC", "?", "-1")
	m.send("\n\n+FULLRESYNC " + id + " 100\r\n\n\n$EOF:" + mark + "\r\n")
	payload := rdbBytes + mark
	for i := 0; i < len(payload); i += 7 {
		m.send(payload[i:min(i+7, len(payload))])
	}
	if err := <-snapDone; err != nil {
		t.Fatal(err)
	}
	if string(got) != rdbBytes {
		t.Fatalf("snapshot: got %d bytes, want %d", len(got), len(rdbBytes))
	}
	if off := m.ack(); off != 100 {
		t.Fatalf("first ACK %d, want 100", off)
	}

	stream := []string{
		respCmd("SELECT", "3"),
		respCmd("SET", "k", "v"),
		respCmd("PING"),
		respCmd("MULTI"),
		respCmd("INCR", "n"),
		respCmd("EXEC"),
		respCmd("REPLCONF", "GETACK", "*"),
		respCmd("SELECT", "0"),
		respCmd("DEL", "k"),
	}
	go func() {
		for _, s := range stream {
			m.send(s)
		}
	}()
	off := int64(100)
	var wire []int64
	for _, s := range stream {
		off += int64(len(s))
		wire = append(wire, off)
	}
	want := []struct {
		db   int
		args string
		off  int64
	}{
		{3, "SET k v", wire[1]},
		{3, "MULTI", wire[3]},
		{3, "INCR n", wire[4]},
		{3, "EXEC", wire[5]},
		{0, "DEL k", wire[8]},
	}
	cmds := c.Commands()
	for i, w := range want {
		cmd, err := cmds.Next()
		if err != nil {
			t.Fatal(err)
		}
		args := string(bytes.Join(cmd.Args, []byte(" ")))
		if cmd.DB != w.db || args != w.args || cmd.Offset != w.off {
			t.Errorf("command %d: got db %d %q offset %d, want db %d %q offset %d", i, cmd.DB, args, cmd.Offset, w.db, w.args, w.off)
		}
		if i == 4 { // the GETACK came before the DEL: answered before Next returns it
			if ack := m.ack(); ack != wire[6] {
				t.Errorf("GETACK answered with %d, want %d", ack, wire[6])
			}
		}
	}
	if c.Offset() != wire[8] {
		t.Errorf("Offset %d, want %d", c.Offset(), wire[8])
	}
	c.Close()
	if _, err := cmds.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
}

// TestReplFakeMasterDiskSnapshot reads a "$<size>" snapshot and checks that
// the stream after it starts at the snapshot's offset.
func TestReplFakeMasterDiskSnapshot(t *testing.T) {
	m, client := newFakeMaster(t)
	c := newConn(client, Endpoint{Network: "tcp", Addr: "fake:1"}, Options{AckInterval: time.Hour})
	id := strings.Repeat("0a", 20)
	body := "REDIS0011" + strings.Repeat("y", 70000)
	go func() {
		m.expect("", "PSYNC", "?", "-1")
		m.send("+FULLRESYNC " + id + " 7\r\n\n\n$" + strconv.Itoa(len(body)) + "\r\n" + body + respCmd("SET", "a", "b"))
	}()
	snap, err := c.FullSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Size != int64(len(body)) {
		t.Fatalf("Size %d", snap.Size)
	}
	if _, err := c.Commands().Next(); err == nil {
		t.Fatal("Next before the snapshot's end: no error")
	}
	got, err := io.ReadAll(iotest.HalfReader(snap))
	if err != nil || string(got) != body {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	cmd, err := c.Commands().Next()
	if err != nil || string(bytes.Join(cmd.Args, []byte(" "))) != "SET a b" || cmd.Offset != 7+int64(len(respCmd("SET", "a", "b"))) {
		t.Fatalf("got %q at %d, %v", cmd.Args, cmd.Offset, err)
	}
}

func TestReplSyncFallback(t *testing.T) {
	m, client := newFakeMaster(t)
	c := newConn(client, Endpoint{Network: "tcp", Addr: "fake:1"}, Options{AckInterval: time.Hour})
	go func() {
		m.expect("-ERR unknown command 'PSYNC'\r\n", "PSYNC", "?", "-1")
		m.expect("\n\n$9\r\nREDIS0006"+respCmd("SET", "a", "b"), "SYNC")
	}()
	snap, err := c.FullSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.ReplID != "" || snap.Offset != -1 || snap.Size != 9 {
		t.Fatalf("snapshot %+v", snap)
	}
	if b, err := io.ReadAll(snap); err != nil || string(b) != "REDIS0006" {
		t.Fatalf("got %q, %v", b, err)
	}
	cmd, err := c.Commands().Next()
	if err != nil || cmd.Offset != int64(len(respCmd("SET", "a", "b"))) {
		t.Fatalf("got %q at %d, %v", cmd.Args, cmd.Offset, err)
	}
	select {
	case off := <-m.acks:
		t.Fatalf("ACK %d sent on a SYNC link", off)
	default:
	}
}

// TestReplRefusals turns the source's refusals into errors with advice.
func TestReplRefusals(t *testing.T) {
	tests := []struct {
		name   string
		script func(m *fakeMaster)
		is     error
		advice string
	}{
		{"wrong password", func(m *fakeMaster) {
			m.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", "AUTH", "pw")
		}, ErrAuth, "check the user and password"},
		{"noauth", func(m *fakeMaster) {
			m.expect("+OK\r\n", "AUTH", "pw")
			m.expect("-NOAUTH Authentication required.\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
		}, ErrAuth, "requires a password"},
		{"replconf noperm", func(m *fakeMaster) {
			m.expect("+OK\r\n", "AUTH", "pw")
			m.expect("-NOPERM User u has no permissions to run the 'replconf' command\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
		}, ErrPermission, "grant +psync +sync +replconf"},
		{"psync and sync noperm", func(m *fakeMaster) {
			m.expect("+OK\r\n", "AUTH", "pw")
			m.expect("+OK\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
			m.expect("-NOPERM User u has no permissions to run the 'psync' command\r\n", "PSYNC", "?", "-1")
			m.expect("-NOPERM User u has no permissions to run the 'sync' command\r\n", "SYNC")
		}, ErrPermission, "or use `rdbkit copy`"},
		{"no sync at all", func(m *fakeMaster) {
			m.expect("+OK\r\n", "AUTH", "pw")
			m.expect("+OK\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
			m.expect("-ERR unknown command `PSYNC`, with args beginning with: `?`, `-1`, \r\n", "PSYNC", "?", "-1")
			m.expect("-ERR unknown command `SYNC`, with args beginning with: \r\n", "SYNC")
		}, ErrUnsupported, "managed services"},
		{"loading", func(m *fakeMaster) {
			m.expect("+OK\r\n", "AUTH", "pw")
			m.expect("+OK\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
			m.expect("\n-LOADING Redis is loading the dataset in memory\r\n", "PSYNC", "?", "-1")
		}, ErrTryLater, "try again"},
		{"reply quotes the password", func(m *fakeMaster) {
			m.expect("-ERR unknown command 'AUTH', with args beginning with: 'pw'\r\n", "AUTH", "pw")
		}, nil, "not shown: it quotes the password"},
		{"bgsave failed", func(m *fakeMaster) {
			m.expect("+OK\r\n", "AUTH", "pw")
			m.expect("+OK\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
			m.expect("+FULLRESYNC "+strings.Repeat("a", 40)+" 0\r\n\n-ERR BGSAVE failed, replication can't continue\r\n", "PSYNC", "?", "-1")
		}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, client := newFakeMaster(t)
			go tt.script(m)
			c := newConn(client, Endpoint{Network: "tcp", Addr: "fake:1", Password: "pw"}, Options{})
			defer c.Close()
			err := c.handshake(context.Background())
			if err == nil {
				_, err = c.FullSync(context.Background())
			}
			var se *ServerError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a *ServerError", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.advice) {
				t.Errorf("error %q lacks advice %q", err, tt.advice)
			}
			if strings.Contains(err.Error(), "'pw'") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestReplRDBOnlyRefused(t *testing.T) {
	m, client := newFakeMaster(t)
	var notes []string
	c := newConn(client, Endpoint{Network: "tcp", Addr: "fake:1"}, Options{RDBOnly: true,
		Logf: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }})
	defer c.Close()
	go func() {
		m.expect("-ERR Unrecognized REPLCONF option: capa\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
		m.expect("-ERR Unrecognized REPLCONF option: rdb-only\r\n", "REPLCONF", "rdb-only", "1")
	}()
	if err := c.handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.RDBOnly() || len(notes) != 2 {
		t.Fatalf("RDBOnly %v, notes %q", c.RDBOnly(), notes)
	}

	m, client = newFakeMaster(t)
	c = newConn(client, Endpoint{Network: "tcp", Addr: "fake:1"}, Options{FunctionsOnly: true})
	defer c.Close()
	go func() {
		m.expect("+OK\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
		m.expect("+OK\r\n", "REPLCONF", "rdb-only", "1")
		m.expect("-ERR Unrecognized REPLCONF option: rdb-filter-only\r\n", "REPLCONF", "rdb-filter-only", "functions")
	}()
	err := c.handshake(context.Background())
	if err == nil || !strings.Contains(err.Error(), "functions only") {
		t.Fatalf("error %v, want a refusal of functions only", err)
	}
}

func TestReplMaxCommandSize(t *testing.T) {
	m, client := newFakeMaster(t)
	c := newConn(client, Endpoint{Network: "tcp", Addr: "fake:1"}, Options{MaxCommandSize: 1000, AckInterval: time.Hour})
	defer c.Close()
	go func() {
		m.expect("+CONTINUE\r\n", "PSYNC", strings.Repeat("b", 40), "11")
		m.send(respCmd("SET", "small", strings.Repeat("v", 900)))
		m.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1000000000\r\n")
	}()
	snap, err := c.PartialSync(context.Background(), strings.Repeat("b", 40), 10, 2)
	if err != nil || snap != nil {
		t.Fatalf("PartialSync: %v, %v", snap, err)
	}
	if c.ReplID() != strings.Repeat("b", 40) {
		t.Errorf("ReplID %q", c.ReplID())
	}
	cmd, err := c.Commands().Next()
	if err != nil || cmd.DB != 2 || len(cmd.Args[2]) != 900 {
		t.Fatalf("got db %d %d args, %v", cmd.DB, len(cmd.Args), err)
	}
	_, err = c.Commands().Next()
	if err == nil || !strings.Contains(err.Error(), "MaxCommandSize") {
		t.Fatalf("error %v, want the command size limit", err)
	}
}

func TestReplContextCancel(t *testing.T) {
	m, client := newFakeMaster(t)
	c := newConn(client, Endpoint{Network: "tcp", Addr: "fake:1"}, Options{})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		m.expect("", "PSYNC", "?", "-1")
		m.send("\n")
		cancel()
	}()
	if _, err := c.FullSync(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestReplReadTimeout(t *testing.T) {
	m, client := newFakeMaster(t)
	c := newConn(client, Endpoint{Network: "tcp", Addr: "fake:1"}, Options{ReadTimeout: 50 * time.Millisecond})
	defer c.Close()
	go m.expect("", "PSYNC", "?", "-1")
	_, err := c.FullSync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "sent nothing for 50ms") {
		t.Fatalf("error %v, want a read timeout", err)
	}
}

// TestReplAuthWithoutPasswordConfigured goes on when a password (from
// REDISCLI_AUTH, say) meets a server that has none, as redis-cli does.
func TestReplAuthWithoutPasswordConfigured(t *testing.T) {
	m, client := newFakeMaster(t)
	var notes []string
	c := newConn(client, Endpoint{Network: "tcp", Addr: "fake:1", Password: "pw"},
		Options{Logf: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }})
	defer c.Close()
	go func() {
		m.expect("-ERR AUTH <password> called without any password configured for the default user. "+
			"Are you sure your configuration is correct?\r\n", "AUTH", "pw")
		m.expect("+OK\r\n", "REPLCONF", "capa", "eof", "capa", "psync2")
	}()
	if err := c.handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "no password") {
		t.Errorf("notes %q", notes)
	}
}
