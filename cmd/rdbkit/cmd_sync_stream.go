package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/rdbkit/rdbkit/source"
	"github.com/redis/go-redis/v9"
)

// Limits of a batch of stream commands applied in one round trip.
const (
	streamQueue    = 4096    // commands read ahead of the applying
	maxBatch       = 1024    // commands in a batch
	maxBatchBytes  = 8 << 20 // argument bytes in a batch
	housekeepEvery = 100 * time.Millisecond
)

// A streamItem is a command of the stream, copied out of the reader's
// buffer, or the error that ended the stream.
type streamItem struct {
	db     int
	args   [][]byte
	offset int64 // the replication offset just after it
	recv   int64 // when it was read, Unix ns
	size   int   // bytes of its arguments
	err    error
}

// A streamReader reads the stream of a link in its own goroutine, so that
// the source's output buffer drains while the destination is slow (or
// while the snapshot's last keys are written).
type streamReader struct {
	conn   *source.Conn
	ch     chan streamItem
	handed atomic.Int64 // offset of the last command put in ch
	quit   chan struct{}
	done   chan struct{}
}

func startStreamReader(conn *source.Conn) *streamReader {
	rd := &streamReader{conn: conn, ch: make(chan streamItem, streamQueue), quit: make(chan struct{}), done: make(chan struct{})}
	rd.handed.Store(conn.Offset())
	go rd.run()
	return rd
}

func (rd *streamReader) run() {
	defer close(rd.done)
	s := rd.conn.Commands()
	for {
		cmd, err := s.Next()
		it := streamItem{err: err}
		if err == nil {
			it = streamItem{db: cmd.DB, offset: cmd.Offset, recv: time.Now().UnixNano()}
			it.args, it.size = cloneArgs(cmd.Args)
			rd.handed.Store(cmd.Offset)
		}
		select {
		case rd.ch <- it:
		case <-rd.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// stop closes the link and waits for the goroutine.
func (rd *streamReader) stop() {
	close(rd.quit)
	rd.conn.Close()
	<-rd.done
}

// cloneArgs copies args into one allocation.
func cloneArgs(args [][]byte) ([][]byte, int) {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out, n
}

// applyStream applies the commands of rd in batches until the link
// drops (a *linkError), ctx ends, --until-synced is satisfied
// (errSynced), or the destination fails (in doubt).
func (run *syncRun) applyStream(ctx context.Context, rd *streamReader) error {
	// A batch in flight is finished after Ctrl-C: its replies decide the
	// applied offset that the checkpoint records.
	actx := context.WithoutCancel(ctx)
	tick := time.NewTicker(housekeepEvery)
	defer tick.Stop()
	var last time.Time
	batch := make([]streamItem, 0, maxBatch)
	for {
		var it streamItem
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := run.housekeep(actx, rd); err != nil {
				return err
			}
			last = time.Now()
			continue
		case it = <-rd.ch:
		}
		batch = append(batch[:0], it)
		size, inTx, cut := it.size, isCmd(it, "multi"), false
	fill:
		for it.err == nil && (inTx || len(batch) < maxBatch && size < maxBatchBytes) {
			if inTx {
				select { // a transaction is applied whole: wait for its EXEC
				case it = <-rd.ch:
				case <-ctx.Done():
					// Its start is not applied, so nothing after it may be.
					cut = true
					break fill
				}
			} else {
				select {
				case it = <-rd.ch:
				default:
					break fill
				}
			}
			batch = append(batch, it)
			size += it.size
			switch {
			case isCmd(it, "multi"):
				inTx = true
			case isCmd(it, "exec"):
				inTx = false
			}
		}
		run.lag.oldest.Store(batch[0].recv)
		run.lag.lastCmd = time.Now()
		err := run.applyBatch(actx, batch)
		run.lag.oldest.Store(0)
		if err != nil {
			return err
		}
		if end := batch[len(batch)-1]; end.err != nil || cut {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &linkError{end.err}
		}
		if time.Since(last) >= housekeepEvery {
			if err := run.housekeep(actx, rd); err != nil {
				return err
			}
			last = time.Now()
		}
	}
}

// isCmd reports whether it is the command name (lower case).
func isCmd(it streamItem, name string) bool {
	return it.err == nil && len(it.args) > 0 && len(it.args[0]) == len(name) && bytes.EqualFold(it.args[0], []byte(name))
}

// A pendingCmd is a command of a batch with the stream item it came from.
type pendingCmd struct {
	it     *streamItem
	cmd    *loader.Command
	kept   *keptKey // sent with a placeholder expiry: remember it once applied
	forget bool     // sets an expiry far enough ahead: forget the key once applied
}

// batchState is what applyBatch builds: the ops to send, and the last
// item whose effect is complete once they are applied.
type batchState struct {
	items    []streamItem
	ops      []*loader.Op
	cmds     []pendingCmd
	complete int // index of the last item outside an open transaction, -1 for none
	types    map[string]rdb.Type
}

// applyBatch applies the commands of items in order: MULTI ... EXEC as
// transactions, filters applied, replies checked. The applied offset
// moves to the last item whose effect is complete; a transaction cut
// short by the end of the stream is left for the next link to send
// again.
func (run *syncRun) applyBatch(ctx context.Context, items []streamItem) error {
	b := &batchState{items: items, complete: -1}
	now := time.Now()
	var tx *loader.Op
	var txCmds []pendingCmd
	for i := range items {
		it := &items[i]
		if it.err != nil {
			break
		}
		switch {
		case isCmd(*it, "multi"):
			tx, txCmds = &loader.Op{Tx: true}, nil
			continue
		case isCmd(*it, "exec"):
			if tx != nil && len(tx.Cmds) > 0 {
				b.ops = append(b.ops, tx)
			}
			if tx != nil {
				b.cmds = append(b.cmds, txCmds...)
			}
			tx = nil
			b.complete = i
			continue
		}
		cmd, verdict, err := run.prepare(ctx, it, b)
		if err != nil {
			return err
		}
		var pc pendingCmd
		if verdict == verdictApply {
			pc = pendingCmd{it: it, cmd: cmd}
			pc.kept, pc.forget = run.keep.rewrite(cmd, now)
		}
		// A command a killed run applied is counted as applied, and not
		// sent again.
		done := verdict == verdictApply && run.appliedBefore(cmd, it.offset)
		switch {
		case done && tx != nil:
			txCmds = append(txCmds, pc)
		case done:
			b.cmds = append(b.cmds, pc)
		case verdict == verdictApply && tx != nil:
			tx.Cmds = append(tx.Cmds, cmd)
			txCmds = append(txCmds, pc)
		case verdict == verdictApply:
			b.ops = append(b.ops, &loader.Op{Cmds: []*loader.Command{cmd}})
			b.cmds = append(b.cmds, pc)
		case verdict == verdictFailed:
			run.cmdFailed(ctx, it, cmd)
		}
		if tx == nil {
			b.complete = i
		}
	}
	return run.flushOps(ctx, b)
}

// flushOps sends the ops built so far, checks their replies, and moves
// the applied offset.
func (run *syncRun) flushOps(ctx context.Context, b *batchState) error {
	if run.mark != nil && b.complete >= 0 {
		end := b.items[b.complete]
		if err := run.applyMarked(ctx, b.ops, markValue(run.replID, end.offset, end.db)); err != nil {
			return fmt.Errorf("sync: applying the commands after offset %d: %w", run.applied.Load(), err)
		}
	}
	if len(b.ops) > 0 {
		var err error
		if run.mark == nil {
			ap := run.applier()
			err = ap.Apply(ctx, b.ops)
		}
		for _, op := range b.ops {
			if op.Split {
				run.counters.txSplit.Add(1)
			}
		}
		for _, pc := range b.cmds {
			if pc.cmd.Err != nil {
				if errors.Is(err, loader.ErrInDoubt) && !isReplyErr(pc.cmd.Err) {
					continue // counted once, below
				}
				run.cmdFailed(ctx, pc.it, pc.cmd)
				continue
			}
			run.counters.applied.Add(1)
			run.counters.bytesApplied.Add(int64(pc.it.size))
			switch {
			case pc.kept != nil:
				run.keep.add(pc.kept)
			case pc.forget:
				run.keep.forget(pc.cmd.DB, pc.cmd.Args[1])
			}
			run.keep.track(&loader.Command{DB: pc.cmd.DB, Args: pc.it.args, Reply: pc.cmd.Reply}) // source databases
		}
		b.ops, b.cmds = b.ops[:0], b.cmds[:0]
		if err != nil {
			run.counters.classify("IN_DOUBT")
			return fmt.Errorf("sync: applying the commands after offset %d: %w", run.applied.Load(), err)
		}
	}
	if b.complete >= 0 {
		run.applied.Store(b.items[b.complete].offset)
		run.appliedDB = b.items[b.complete].db
	}
	return nil
}

// isReplyErr reports whether err is a command's own failure (an error
// reply, or a command sync did not send) rather than a lost connection.
func isReplyErr(err error) bool {
	var ce *syncCmdError
	var cs *loader.CrossSlotError
	var re redis.Error
	return errors.As(err, &ce) || errors.As(err, &cs) || errors.As(err, &re) || strings.HasPrefix(err.Error(), "not sent")
}

// The verdicts of prepare.
const (
	verdictApply    = iota
	verdictFiltered // left out by a filter
	verdictDropped  // not data: PUBLISH
	verdictFailed   // cannot be applied: cmd.Err says why
)

// A syncCmdError is a command sync did not send, with the class it is
// counted under.
type syncCmdError struct {
	class string
	msg   string
}

func (e *syncCmdError) Error() string { return e.msg }

// prepare makes the command of it and decides its fate: the filters
// (databases, keys by glob or regex, types), functions (--no-functions),
// PUBLISH (dropped: messages are not data), and on a cluster the keys
// that route it. The error is a failure to ask the destination.
func (run *syncRun) prepare(ctx context.Context, it *streamItem, b *batchState) (*loader.Command, int, error) {
	cmd := &loader.Command{DB: it.db, Args: it.args}
	if v := run.mapDBArgs(it, cmd); v != verdictApply {
		return cmd, v, nil
	}
	f := run.f
	if f != nil && f.dbs != nil && !f.dbs[it.db] {
		run.counters.filtered.Add(1)
		return cmd, verdictFiltered, nil
	}
	run.lmu.Lock()
	ap, cluster := run.ap, run.l.IsCluster()
	run.lmu.Unlock()
	var spec *loader.CommandSpec
	err := run.untilReachable(ctx, func() (err error) {
		spec, err = ap.Spec(ctx, it.args)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sync: %w", err)
	}
	switch {
	case run.group != nil && (isCmd(*it, "flushall") || isCmd(*it, "flushdb")):
		cmd.Err = &syncCmdError{"FLUSH", "not sent: one master of a Cluster source flushed its keys; on the destination it would flush every master's"}
		return cmd, verdictFailed, nil
	case spec.HasCategory("pubsub") || !spec.Known && (isCmd(*it, "publish") || isCmd(*it, "spublish")):
		run.counters.dropped.Add(1)
		return cmd, verdictDropped, nil
	case run.opts.noFuncs && spec.HasCategory("scripting"):
		run.counters.filtered.Add(1)
		return cmd, verdictFiltered, nil
	}
	keyFilter := f != nil && (f.hasGlob || f.re != nil || f.types != 0)
	if !cluster && !keyFilter {
		return cmd, verdictApply, nil
	}
	if spec.Refused != nil {
		cmd.Err = &syncCmdError{"KEYS", "not sent: its keys are unknown (the destination refused " + spec.Refused.Error() + ")"}
		return cmd, verdictFailed, nil
	}
	var keys [][]byte
	err = run.untilReachable(ctx, func() (err error) {
		keys, _, err = ap.Keys(ctx, it.args)
		return err
	})
	if err != nil {
		if strings.HasPrefix(err.Error(), "COMMAND GETKEYS") {
			cmd.Err = &syncCmdError{"KEYS", "not sent: the destination cannot find its keys: " + err.Error()}
			return cmd, verdictFailed, nil
		}
		return nil, 0, fmt.Errorf("sync: %w", err)
	}
	cmd.Keys = keys
	if !keyFilter {
		return cmd, verdictApply, nil
	}
	if len(keys) == 0 {
		if spec.HasCategory("keyspace") && spec.HasFlag("write") {
			cmd.Err = &syncCmdError{"FILTER", "not applied: a command on whole databases under a key filter (it would touch keys the filter leaves out)"}
			return cmd, verdictFailed, nil
		}
		return cmd, verdictApply, nil
	}
	v, err := run.filterKeys(ctx, it, cmd, spec, b)
	if err != nil {
		return nil, 0, err
	}
	if v == verdictFiltered {
		run.counters.filtered.Add(1)
	}
	return cmd, v, nil
}

// mapDBArgs maps the database numbers in the arguments of MOVE, COPY ...
// DB and SWAPDB with --db-map (and the database of the destination's
// URL), as the database of every command is. FLUSHALL is not applied
// when databases are filtered or mapped: it would empty databases of the
// destination that sync does not write.
func (run *syncRun) mapDBArgs(it *streamItem, cmd *loader.Command) int {
	mapped := len(run.lo.DBMap) > 0 || run.lo.UseDefaultDB
	switch {
	case isCmd(*it, "flushall") && (mapped || run.f != nil && run.f.dbs != nil):
		cmd.Err = &syncCmdError{"FILTER", "not applied: FLUSHALL would empty databases of the destination that --db or --db-map leave out"}
		return verdictFailed
	case !mapped:
		return verdictApply
	case isCmd(*it, "move") && len(it.args) == 3:
		cmd.Args = mapDBArg(cmd.Args, 2, run.destDB)
	case isCmd(*it, "swapdb") && len(it.args) == 3:
		cmd.Args = mapDBArg(mapDBArg(cmd.Args, 1, run.destDB), 2, run.destDB)
	case isCmd(*it, "copy"):
		for i := 3; i+1 < len(it.args); i++ {
			if bytes.EqualFold(it.args[i], []byte("db")) {
				cmd.Args = mapDBArg(cmd.Args, i+1, run.destDB)
			}
		}
	}
	return verdictApply
}

// mapDBArg returns args with the database number at i mapped (a copy
// when it changes).
func mapDBArg(args [][]byte, i int, dest func(int) int) [][]byte {
	db, err := strconv.Atoi(string(args[i]))
	if err != nil || dest(db) == db {
		return args
	}
	out := slices.Clone(args)
	out[i] = []byte(strconv.Itoa(dest(db)))
	return out
}

// destDB maps a database of the source to the destination's, as the
// loader does.
func (run *syncRun) destDB(db int) int {
	if d, ok := run.lo.DBMap[db]; ok {
		return d
	}
	if run.lo.UseDefaultDB {
		return run.lo.DefaultDB
	}
	return db
}

// filterKeys applies --match, --regex and --type to a keyed command: it
// is applied when every key is selected, left out when none is, and
// reported when its keys are partly selected.
func (run *syncRun) filterKeys(ctx context.Context, it *streamItem, cmd *loader.Command, spec *loader.CommandSpec, b *batchState) (int, error) {
	f := run.f
	in := 0
	for _, k := range cmd.Keys {
		if (!f.hasGlob || globMatch(f.glob, k)) && (f.re == nil || f.re.Match(k)) {
			in++
		}
	}
	switch {
	case in == 0:
		return verdictFiltered, nil
	case in < len(cmd.Keys):
		cmd.Err = &syncCmdError{"FILTER", "not applied: its keys are partly selected by --match/--regex"}
		return verdictFailed, nil
	case f.types == 0:
		return verdictApply, nil
	}
	t, ok := commandType(spec, it.args)
	if ok {
		for _, k := range cmd.Keys {
			b.setType(it.db, k, t)
		}
		if f.types&(1<<t) == 0 {
			return verdictFiltered, nil
		}
		return verdictApply, nil
	}
	// A command of any type (DEL, EXPIRE, RENAME, ...): the type of its
	// keys, from the commands before it in the batch, else from the
	// destination once they are applied.
	selected, known := false, rdb.Type(0)
	for _, k := range cmd.Keys {
		t, found := b.typeOf(it.db, k)
		if !found {
			var err error
			if t, found, err = run.destType(ctx, it.db, k, b); err != nil {
				return 0, err
			}
		}
		if found {
			known = t
			if f.types&(1<<t) != 0 {
				selected = true
			}
		}
	}
	if isCmd(*it, "rename") || isCmd(*it, "renamenx") || isCmd(*it, "copy") {
		if len(cmd.Keys) == 2 {
			if t, ok := b.typeOf(it.db, cmd.Keys[0]); ok {
				known = t
			}
			b.setType(it.db, cmd.Keys[1], known)
		}
	}
	if !selected {
		return verdictFiltered, nil
	}
	return verdictApply, nil
}

// commandType returns the type of the keys of a command from its ACL
// categories (@hash, @list, ...), or from its payload for RESTORE.
func commandType(spec *loader.CommandSpec, args [][]byte) (rdb.Type, bool) {
	if spec.Name == "restore" && len(args) > 3 && len(args[3]) > 10 {
		enc := rdb.NewPayloadValue(args[3][:len(args[3])-10], 0).Encoding
		return enc.Type(), true
	}
	var found []rdb.Type
	for _, c := range spec.Categories {
		var t rdb.Type
		switch c {
		case "string", "bitmap", "hyperloglog":
			t = rdb.TypeString
		case "list":
			t = rdb.TypeList
		case "set":
			t = rdb.TypeSet
		case "sortedset", "geo":
			t = rdb.TypeZSet
		case "hash":
			t = rdb.TypeHash
		case "stream":
			t = rdb.TypeStream
		default:
			continue
		}
		found = append(found, t)
	}
	if len(found) == 1 {
		return found[0], true
	}
	return 0, false
}

func typeKey(db int, key []byte) string { return fmt.Sprintf("%d\x00%s", db, key) }

func (b *batchState) setType(db int, key []byte, t rdb.Type) {
	if b.types == nil {
		b.types = map[string]rdb.Type{}
	}
	b.types[typeKey(db, key)] = t
}

func (b *batchState) typeOf(db int, key []byte) (rdb.Type, bool) {
	t, ok := b.types[typeKey(db, key)]
	return t, ok
}

// destType asks the destination for the type of key, once the ops built
// so far are applied (so that it sees their effect). found is false for
// a key it lacks.
func (run *syncRun) destType(ctx context.Context, db int, key []byte, b *batchState) (rdb.Type, bool, error) {
	if err := run.flushOps(ctx, b); err != nil {
		return 0, false, err
	}
	c := &loader.Command{DB: db, Args: [][]byte{[]byte("TYPE"), key}, Keys: [][]byte{key}}
	ap := run.applier()
	if err := ap.Apply(ctx, []*loader.Op{{Cmds: []*loader.Command{c}}}); err != nil {
		return 0, false, fmt.Errorf("sync: TYPE: %w", err)
	}
	if c.Err != nil {
		return 0, false, nil
	}
	name, _ := c.Reply.(string)
	t, ok := rdb.ParseType(name)
	if ok {
		b.setType(db, key, t)
	}
	return t, ok, nil
}

// cmdFailed counts and reports a command that failed, with its key.
func (run *syncRun) cmdFailed(ctx context.Context, it *streamItem, cmd *loader.Command) {
	keys := cmd.Keys
	if keys == nil {
		ap := run.applier()
		keys, _, _ = ap.Keys(ctx, it.args)
	}
	class := errClass(cmd.Err)
	fl := cmdFailure{Offset: it.offset, DB: it.db, Command: strings.ToUpper(string(it.args[0])), Class: class, Error: cmd.Err.Error()}
	if len(keys) > 0 {
		fl.Key = jsonBytes(bytes.Clone(keys[0]))
	}
	n := run.counters.fail(fl)
	if n <= maxFailuresLogged {
		key := "no key"
		if fl.Key != nil {
			key = "key " + string(appendKeyText(nil, fl.Key))
		}
		run.logf("command failed at offset %d (db %d, %s): %s: %s", fl.Offset, fl.DB, key, fl.Command, fl.Error)
		if n == maxFailuresLogged {
			run.logf("more failed commands are counted, not shown")
		}
	}
}

// maxFailuresLogged is the number of failed commands shown on stderr and
// kept for the summary.
const maxFailuresLogged = 100

// errClass returns the class an error is counted under: the code of an
// error reply (WRONGTYPE, ERR, OOM, EXECABORT, ...), or sync's own
// (CROSSSLOT, FILTER, KEYS, NOT_SENT).
func errClass(err error) string {
	var ce *syncCmdError
	if errors.As(err, &ce) {
		return ce.class
	}
	var cs *loader.CrossSlotError
	if errors.As(err, &cs) {
		return "CROSSSLOT"
	}
	var re redis.Error
	if errors.As(err, &re) {
		code, _, _ := strings.Cut(re.Error(), " ")
		if code != "" && strings.ToUpper(code) == code {
			return code
		}
		return "ERR"
	}
	if strings.HasPrefix(err.Error(), "not sent") {
		return "NOT_SENT"
	}
	return "OTHER"
}
