package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
)

// replIDSize is the length of a replication ID and of the diskless EOF
// mark (CONFIG_RUN_ID_SIZE and RDB_EOF_MARK_SIZE in redis/src/server.h).
const replIDSize = 40

// FullSync asks for a snapshot with PSYNC ? -1 (SYNC when the source does
// not know PSYNC, or refuses it to this user but allows SYNC) and returns
// it once the source has started sending it. While the source forks and
// writes the RDB it sends newlines, which only keep the link alive; ctx
// bounds that wait. Reading the Snapshot is bounded by Options.ReadTimeout
// and Close instead.
//
// The Snapshot must be read to io.EOF before Commands. A refusal is a
// *ServerError with advice.
func (c *Conn) FullSync(ctx context.Context) (*Snapshot, error) {
	return c.sync(ctx, "?", -1, 0)
}

// PartialSync asks to resume the command stream of replication ID replID
// after offset (the Offset of the last command applied; the request is
// PSYNC replID offset+1). db is the database selected at that point of the
// stream: the source does not repeat SELECT on a resumed stream.
//
// If the source accepts (+CONTINUE), PartialSync returns a nil Snapshot and
// Commands reads the stream from offset on; ReplID is the source's current
// ID, which differs from replID after a failover. If it cannot resume (the
// offset fell out of its backlog, or the ID is not its own), it answers
// with a full resync and PartialSync returns the Snapshot to read first,
// as FullSync does.
func (c *Conn) PartialSync(ctx context.Context, replID string, offset int64, db int) (*Snapshot, error) {
	if len(replID) != replIDSize || offset < 0 {
		return nil, fmt.Errorf("source: PartialSync: bad position %q %d", replID, offset)
	}
	if c.opts.RDBOnly {
		return nil, errors.New("source: PartialSync on an rdb-only connection")
	}
	return c.sync(ctx, replID, offset+1, db)
}

// sync sends PSYNC replID psyncOffset and reads the reply, up to the
// snapshot's bulk header.
func (c *Conn) sync(ctx context.Context, replID string, psyncOffset int64, db int) (snap *Snapshot, err error) {
	if c.state != stateReady {
		return nil, errors.New("source: a sync was already requested on this connection")
	}
	c.state = stateBroken // until it succeeds
	done := c.watch(ctx)
	defer func() {
		if cerr := done(); cerr != nil {
			snap, err = nil, cerr
		}
	}()
	cmd := "PSYNC"
	if err := c.writeCommand(cmd, replID, strconv.FormatInt(psyncOffset, 10)); err != nil {
		return nil, err
	}
	r, err := c.readPSYNCReply()
	var se *ServerError
	if errors.As(err, &se) && replID == "?" && (errors.Is(se, ErrUnsupported) || errors.Is(se, ErrPermission)) {
		cmd, err = "SYNC", c.syncFallback(se)
		r = psyncReply{full: true, offset: -1}
	}
	if err != nil {
		return nil, err
	}
	if !r.full {
		c.replID = r.replID
		if c.replID == "" {
			c.replID = replID
		}
		c.offset.Store(psyncOffset - 1)
		c.stream.db = db
		c.state = stateStream
		return nil, c.startAck()
	}
	c.replID = r.replID
	c.offset.Store(max(r.offset, 0))
	size, mark, err := c.readBulkHeader(cmd)
	if err != nil {
		return nil, err
	}
	snap = &Snapshot{ReplID: r.replID, Offset: r.offset, Size: size, c: c}
	if mark != nil {
		snap.r = newMarkReader(c.br, mark)
	} else {
		snap.r = &sizeReader{r: c.br, left: size}
	}
	c.state = stateSnapshot
	c.snap = snap
	return snap, nil
}

// syncFallback sends SYNC after PSYNC was refused with psyncErr; on
// success the bulk header comes next.
func (c *Conn) syncFallback(psyncErr *ServerError) error {
	c.opts.logf("the source refused PSYNC (%s); trying SYNC", psyncErr.Reply)
	if err := c.writeCommand("SYNC"); err != nil {
		return err
	}
	c.oldSync = true
	line, err := c.skipKeepAlives()
	if err != nil {
		return err
	}
	if len(line) > 0 && line[0] == '-' {
		se := newServerError("SYNC", string(line), "")
		switch {
		case errors.Is(se, ErrUnsupported) && errors.Is(psyncErr, ErrUnsupported):
			se.Advice = adviceNoSync
		case errors.Is(se, ErrUnsupported) && errors.Is(psyncErr, ErrPermission):
			se.Advice = adviceNoPerm
		}
		return se
	}
	c.pending = append(c.pending[:0], line...) // the bulk header
	return nil
}

// A psyncReply is the source's answer to PSYNC.
type psyncReply struct {
	full   bool   // +FULLRESYNC; else +CONTINUE
	replID string // "" for a +CONTINUE without ID (a source before PSYNC2)
	offset int64  // +FULLRESYNC's offset
}

// readPSYNCReply reads the reply to PSYNC, after any keep-alive newlines.
// See redis/src/replication.c slaveTryPartialResynchronization.
func (c *Conn) readPSYNCReply() (psyncReply, error) {
	line, err := c.skipKeepAlives()
	if err != nil {
		return psyncReply{}, err
	}
	return parsePSYNCReply(line)
}

// skipKeepAlives returns the first line that is not empty: a source sends
// bare newlines while it prepares the snapshot.
func (c *Conn) skipKeepAlives() ([]byte, error) {
	for {
		line, err := c.readLine()
		if err != nil || len(line) > 0 {
			return line, err
		}
	}
}

// parsePSYNCReply parses "+FULLRESYNC <replid> <offset>", "+CONTINUE" and
// "+CONTINUE <replid>"; an error reply is a *ServerError.
func parsePSYNCReply(line []byte) (psyncReply, error) {
	if len(line) > 0 && line[0] == '-' {
		return psyncReply{}, newServerError("PSYNC", string(line), "")
	}
	fields := bytes.Fields(line)
	switch {
	case len(fields) == 3 && string(fields[0]) == "+FULLRESYNC":
		off, err := strconv.ParseInt(string(fields[2]), 10, 64)
		if len(fields[1]) != replIDSize || err != nil || off < 0 {
			return psyncReply{}, protocolError("PSYNC reply", line)
		}
		return psyncReply{full: true, replID: string(fields[1]), offset: off}, nil
	case len(fields) == 1 && string(fields[0]) == "+CONTINUE":
		return psyncReply{}, nil
	case len(fields) == 2 && string(fields[0]) == "+CONTINUE" && len(fields[1]) == replIDSize:
		return psyncReply{replID: string(fields[1])}, nil
	}
	return psyncReply{}, protocolError("PSYNC reply", line)
}

// readBulkHeader reads the line that starts the snapshot, after any
// keep-alive newlines: "$<size>" (a file the source wrote to disk) or
// "$EOF:<40-byte mark>" (diskless: the RDB ends with the mark). An error
// reply (the source's BGSAVE failed) is a *ServerError naming cmd. See
// redis/src/replication.c readSyncBulkPayload.
func (c *Conn) readBulkHeader(cmd string) (size int64, mark []byte, err error) {
	var line []byte
	if c.pending != nil {
		line, c.pending = c.pending, nil
	} else if line, err = c.skipKeepAlives(); err != nil {
		return 0, nil, err
	}
	return parseBulkHeader(cmd, line)
}

func parseBulkHeader(cmd string, line []byte) (size int64, mark []byte, err error) {
	switch {
	case len(line) > 0 && line[0] == '-':
		return 0, nil, newServerError(cmd, string(line), "")
	case bytes.HasPrefix(line, []byte("$EOF:")):
		if len(line) < 5+replIDSize {
			return 0, nil, protocolError("bulk header", line)
		}
		return -1, bytes.Clone(line[5 : 5+replIDSize]), nil
	case len(line) > 1 && line[0] == '$':
		n, err := strconv.ParseInt(string(line[1:]), 10, 64)
		if err != nil || n < 0 {
			return 0, nil, protocolError("bulk header", line)
		}
		return n, nil, nil
	}
	return 0, nil, protocolError("bulk header", line)
}
