// Package rdb decodes Redis and Valkey RDB snapshots as a stream: a
// dump.rdb file, the snapshot a server sends a replica, or a DUMP payload.
//
// An RDB file is a 9-byte header ("REDIS0011", or "VALKEY080" from Valkey
// 9), a sequence of records, the EOF opcode 0xFF and, from RDB version 5 on,
// a CRC64 of everything before it. A record is an opcode (AUX field,
// SELECTDB, RESIZEDB, function library, module aux data, slot info) or a
// key: optional prefix opcodes (expiry, LRU idle time, LFU counter,
// key metadata), the object type byte, the key as an RDB string, and the
// value, whose layout depends on the type. Records carry no length: the
// only way to find where a value ends is to walk it. See
// redis/src/rdb.c rdbLoadRioWithLoadingCtx and rdbLoadObject.
//
// A [Reader] walks the input once, through one buffer, and returns each
// record from [Reader.Next] as an [Entry]. For a key, Entry.Payload is the
// value exactly as stored (type byte first), a view of the Reader's buffer:
// what RESTORE takes once [AppendDump] has added a version and a checksum.
// Entry.Value returns a [Value], a pull iterator that decodes the elements
// only when asked, so that counting keys decodes nothing. A value larger
// than Reader.MaxPayload is not buffered: its Payload is nil and Value
// reads its elements straight from the input, long strings in chunks.
//
//	r := rdb.NewReader(f)
//	for {
//		e, err := r.Next()
//		if err == io.EOF {
//			break // the EOF opcode was read and the checksum verified
//		}
//		if err != nil {
//			return err // an *rdb.Error with the offset (and key)
//		}
//		if e.Kind != rdb.KindKey {
//			continue
//		}
//		v := e.Value()
//		for v.Next() {
//			use(v.Elem())
//		}
//		if err := v.Err(); err != nil {
//			return err
//		}
//	}
//
// The package reads every RDB version written by Redis 2.x to 8.6 (1 to
// 13) and by Valkey ("REDIS0011" from 7.2 and 8.x, "VALKEY080" and 81),
// every object type and opcode they define: zipmap, ziplist, intset,
// listpack, quicklist (with PLAIN nodes), streams v1 to v4, modules, hashes
// with field expiry (Redis 7.4+, and Valkey 9's HASH_2), LZF strings,
// functions and slot information. Type and opcode numbers above 21 mean
// different things in Redis and Valkey files; the header decides which.
//
// Bad input never panics: every error is an [*Error] with the byte offset
// where decoding failed and the key when known, wrapping one of the
// sentinel errors, io.ErrUnexpectedEOF for a truncated input, or the
// reader's own error. No allocation is larger than Reader.MaxAlloc.
package rdb
