// Package source reads live Redis servers: the replication client that
// fetches a snapshot and follows the command stream, as a replica does.
//
// A connection introduces itself as a replica ([Dial]: AUTH, REPLCONF
// listening-port, capa eof, capa psync2, and optionally rdb-only and
// rdb-filter-only functions), asks for a snapshot ([Conn.FullSync]: PSYNC ?
// -1, or SYNC on servers without PSYNC), and returns it as a [Snapshot], an
// io.Reader of exactly the RDB's bytes for rdb.NewReader, whether the
// source wrote it to disk first ("$<size>") or streamed it diskless
// ("$EOF:<mark>", the mark stripped). After the snapshot, [Conn.Commands]
// returns the [Stream] of commands the source propagates, with their
// database and replication offset; the connection acknowledges the offset
// every second and whenever the source asks (REPLCONF GETACK), so that the
// source keeps it as a healthy replica. [Conn.PartialSync] resumes a stream
// from an offset (PSYNC <replid> <offset+1>).
//
//	c, err := source.Dial(ctx, ep, source.Options{})
//	if err != nil {
//		return err // a *source.ServerError with advice when the source refuses
//	}
//	defer c.Close()
//	snap, err := c.FullSync(ctx)
//	if err != nil {
//		return err
//	}
//	r := rdb.NewReader(snap) // Next until io.EOF: the snapshot's keys
//	...
//	cmds := c.Commands()
//	for {
//		cmd, err := cmds.Next()
//		if err != nil {
//			return err
//		}
//		apply(cmd.DB, cmd.Args) // then cmd.Offset is where to resume
//	}
//
// [ParseEndpoint] reads the URLs of the command line (redis://, rediss://,
// unix://); [Endpoint.Redacted] prints them without the password.
//
// The protocol is described in redis/src/replication.c (syncWithMaster,
// readSyncBulkPayload, slaveTryPartialResynchronization on the replica's
// side; syncCommand, replconfCommand on the master's) and redis-cli's
// --rdb and --functions-rdb (redis/src/redis-cli.c sendSync, getRDB).
package source
