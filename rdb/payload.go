package rdb

import (
	"encoding/binary"
	"strconv"
)

// AppendDump appends to dst the DUMP payload of a value: payload (type
// byte and value, as in Entry.Payload), the RDB version ver as two
// little-endian bytes, and the CRC64 of all of it, little-endian: what
// RESTORE accepts from a server whose RDB version is at least ver.
// See redis/src/cluster.c createDumpPayload.
func AppendDump(dst, payload []byte, ver uint16) []byte {
	return AppendDumpFooter(append(dst, payload...), len(dst), ver)
}

// AppendDumpFooter appends to dst the footer of the DUMP payload that
// dst[start:] holds: what AppendDump appends after it.
func AppendDumpFooter(dst []byte, start int, ver uint16) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, ver)
	return binary.LittleEndian.AppendUint64(dst, CRC64(0, dst[start:]))
}

// ParseDump checks a DUMP payload (its length and CRC64) and returns the
// serialized value it carries (type byte first) and the RDB version in its
// footer. The result is a subslice of b. See redis/src/cluster.c
// verifyDumpPayload.
func ParseDump(b []byte) (payload []byte, ver uint16, err error) {
	if len(b) < 11 {
		return nil, 0, &Error{Field: "dump payload", Detail: strconv.Itoa(len(b)) + " bytes", Err: ErrCorrupt}
	}
	n := len(b) - 10
	ver = binary.LittleEndian.Uint16(b[n:])
	stored := binary.LittleEndian.Uint64(b[n+2:])
	if sum := CRC64(0, b[:n+2]); sum != stored {
		return nil, ver, &Error{Offset: int64(n + 2), Field: "dump payload",
			Detail: "stored " + hex64(stored) + ", computed " + hex64(sum), Err: ErrChecksum}
	}
	return b[:n], ver, nil
}

func leUint64(p []byte) uint64 { return binary.LittleEndian.Uint64(p) }
