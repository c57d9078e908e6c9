package rdb

// A Target is the server a payload is written for: RESTORE accepts a
// payload only if its footer version is at most the server's RDB version
// and every encoding in it is one the server knows.
type Target struct {
	Version int  // the server's RDB version: 10 Redis 7.0, 11 Redis 7.2 and Valkey 7.2-8.x, 12 Redis 7.4-8.4, 13 Redis 8.6, 80 Valkey 9.0
	Valkey  bool // Valkey 9 or later: type numbers above 21 are Valkey's
}

// minVersion is the first RDB version of each encoding. See redis/src/rdb.h.
var minVersion = map[Encoding]int{
	EncHashZipmap:          2,
	EncListZiplist:         2,
	EncSetIntset:           2,
	EncZSetZiplist:         2,
	EncHashZiplist:         3,
	EncListQuicklist:       7,
	EncZSet2:               8,
	EncModule2:             8,
	EncStreamListpacks:     9,
	EncHashListpack:        10,
	EncZSetListpack:        10,
	EncListQuicklist2:      10,
	EncStreamListpacks2:    10,
	EncSetListpack:         11,
	EncStreamListpacks3:    11,
	EncHashMetadataPreGA:   12,
	EncHashListpackExPreGA: 12,
	EncHashMetadata:        12,
	EncHashListpackEx:      12,
	EncStreamListpacks4:    13,
}

// Knows reports whether the target's RESTORE accepts values of encoding
// enc. Valkey 9 knows what Redis 7.2 knows plus HASH_2; Redis knows no
// Valkey type.
func (t Target) Knows(enc Encoding) bool {
	if !enc.Known() {
		return false
	}
	if enc >= valkeyBase {
		return t.Valkey && t.Version >= MinValkeyVersion
	}
	v := t.Version
	if t.Valkey {
		v = 11 // Valkey refuses Redis's 12+ ("foreign") types
	}
	return minVersion[enc] <= v
}

// DumpVersion is the footer version for payloads sent to the target.
func (t Target) DumpVersion() uint16 { return uint16(t.Version) }
