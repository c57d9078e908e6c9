package rdb

import "strconv"

// Type is the logical type of a key, as the TYPE command reports it.
type Type uint8

// The logical types.
const (
	TypeString Type = iota
	TypeList
	TypeSet
	TypeZSet
	TypeHash
	TypeStream
	TypeModule
)

var typeNames = [...]string{"string", "list", "set", "zset", "hash", "stream", "module"}

// String returns the name TYPE would give ("string", "list", ...).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType returns the Type named s ("string", "list", "set", "zset", "hash",
// "stream" or "module").
func ParseType(s string) (Type, bool) {
	for i, n := range typeNames {
		if n == s {
			return Type(i), true
		}
	}
	return 0, false
}

// Encoding is the on-disk object type of a value. For files written by Redis
// it equals the type byte of the record; types whose number means something
// else in a Valkey file are offset by valkeyBase, so that every Encoding has
// one meaning whatever wrote the file.
type Encoding uint16

const valkeyBase = 0x100

// The object types, named after their Redis (or Valkey) C names.
// See redis/src/rdb.h and valkey/src/rdb.h.
const (
	EncString              Encoding = 0  // RDB_TYPE_STRING
	EncList                Encoding = 1  // RDB_TYPE_LIST (linked list, RDB <= 6)
	EncSet                 Encoding = 2  // RDB_TYPE_SET
	EncZSet                Encoding = 3  // RDB_TYPE_ZSET (scores as strings)
	EncHash                Encoding = 4  // RDB_TYPE_HASH
	EncZSet2               Encoding = 5  // RDB_TYPE_ZSET_2 (binary scores)
	EncModulePreGA         Encoding = 6  // RDB_TYPE_MODULE_PRE_GA
	EncModule2             Encoding = 7  // RDB_TYPE_MODULE_2
	EncHashZipmap          Encoding = 9  // RDB_TYPE_HASH_ZIPMAP
	EncListZiplist         Encoding = 10 // RDB_TYPE_LIST_ZIPLIST
	EncSetIntset           Encoding = 11 // RDB_TYPE_SET_INTSET
	EncZSetZiplist         Encoding = 12 // RDB_TYPE_ZSET_ZIPLIST
	EncHashZiplist         Encoding = 13 // RDB_TYPE_HASH_ZIPLIST
	EncListQuicklist       Encoding = 14 // RDB_TYPE_LIST_QUICKLIST
	EncStreamListpacks     Encoding = 15 // RDB_TYPE_STREAM_LISTPACKS
	EncHashListpack        Encoding = 16 // RDB_TYPE_HASH_LISTPACK
	EncZSetListpack        Encoding = 17 // RDB_TYPE_ZSET_LISTPACK
	EncListQuicklist2      Encoding = 18 // RDB_TYPE_LIST_QUICKLIST_2
	EncStreamListpacks2    Encoding = 19 // RDB_TYPE_STREAM_LISTPACKS_2
	EncSetListpack         Encoding = 20 // RDB_TYPE_SET_LISTPACK
	EncStreamListpacks3    Encoding = 21 // RDB_TYPE_STREAM_LISTPACKS_3
	EncHashMetadataPreGA   Encoding = 22 // RDB_TYPE_HASH_METADATA_PRE_GA (Redis 7.4 RC)
	EncHashListpackExPreGA Encoding = 23 // RDB_TYPE_HASH_LISTPACK_EX_PRE_GA (Redis 7.4 RC)
	EncHashMetadata        Encoding = 24 // RDB_TYPE_HASH_METADATA
	EncHashListpackEx      Encoding = 25 // RDB_TYPE_HASH_LISTPACK_EX
	EncStreamListpacks4    Encoding = 26 // RDB_TYPE_STREAM_LISTPACKS_4 (RDB 13)

	EncValkeyHash2 Encoding = valkeyBase + 22 // Valkey RDB_TYPE_HASH_2
)

type encInfo struct {
	name   string // C name without RDB_TYPE_; "" for an unknown encoding
	typ    Type
	object string // OBJECT ENCODING after load, "" for strings (depends on the value)
}

// encodings is indexed by Encoding: Redis types, then Valkey's from valkeyBase.
var encodings = [valkeyBase + 32]encInfo{
	EncString:              {"string", TypeString, ""},
	EncList:                {"list", TypeList, "linkedlist"},
	EncSet:                 {"set", TypeSet, "hashtable"},
	EncZSet:                {"zset", TypeZSet, "skiplist"},
	EncHash:                {"hash", TypeHash, "hashtable"},
	EncZSet2:               {"zset_2", TypeZSet, "skiplist"},
	EncModulePreGA:         {"module_pre_ga", TypeModule, "module"},
	EncModule2:             {"module_2", TypeModule, "module"},
	EncHashZipmap:          {"hash_zipmap", TypeHash, "zipmap"},
	EncListZiplist:         {"list_ziplist", TypeList, "ziplist"},
	EncSetIntset:           {"set_intset", TypeSet, "intset"},
	EncZSetZiplist:         {"zset_ziplist", TypeZSet, "ziplist"},
	EncHashZiplist:         {"hash_ziplist", TypeHash, "ziplist"},
	EncListQuicklist:       {"list_quicklist", TypeList, "quicklist"},
	EncStreamListpacks:     {"stream_listpacks", TypeStream, "stream"},
	EncHashListpack:        {"hash_listpack", TypeHash, "listpack"},
	EncZSetListpack:        {"zset_listpack", TypeZSet, "listpack"},
	EncListQuicklist2:      {"list_quicklist_2", TypeList, "quicklist"},
	EncStreamListpacks2:    {"stream_listpacks_2", TypeStream, "stream"},
	EncSetListpack:         {"set_listpack", TypeSet, "listpack"},
	EncStreamListpacks3:    {"stream_listpacks_3", TypeStream, "stream"},
	EncHashMetadataPreGA:   {"hash_metadata_pre_ga", TypeHash, "hashtable"},
	EncHashListpackExPreGA: {"hash_listpack_ex_pre_ga", TypeHash, "listpackex"},
	EncHashMetadata:        {"hash_metadata", TypeHash, "hashtable"},
	EncHashListpackEx:      {"hash_listpack_ex", TypeHash, "listpackex"},
	EncStreamListpacks4:    {"stream_listpacks_4", TypeStream, "stream"},
	EncValkeyHash2:         {"valkey_hash_2", TypeHash, "hashtable"},
}

// String returns the C name of the encoding without its RDB_TYPE_ prefix,
// in lower case ("hash_listpack").
func (e Encoding) String() string {
	if e.known() {
		return encodings[e].name
	}
	if e >= valkeyBase {
		return "valkey_type(" + strconv.Itoa(int(e-valkeyBase)) + ")"
	}
	return "rdb_type(" + strconv.Itoa(int(e)) + ")"
}

// Type returns the logical type of values stored with encoding e.
func (e Encoding) Type() Type {
	if e.known() {
		return encodings[e].typ
	}
	return 0
}

func (e Encoding) known() bool { return int(e) < len(encodings) && encodings[e].name != "" }

// Known reports whether e is an encoding this package can decode.
func (e Encoding) Known() bool {
	return e.known() && e != EncModulePreGA
}

// ObjectEncoding returns what OBJECT ENCODING would report for a value
// loaded from this encoding ("listpack", "hashtable", ...); strings report
// "" because their encoding depends on the value (see [Entry.ObjectEncoding]).
func (e Encoding) ObjectEncoding() string {
	if e.known() {
		return encodings[e].object
	}
	return ""
}

// Kind tells what a record returned by [Reader.Next] is.
type Kind uint8

// The record kinds.
const (
	KindKey        Kind = iota // a key and its value
	KindAux                    // an AUX field (RDB_OPCODE_AUX)
	KindFunction               // a function library (RDB_OPCODE_FUNCTION2 or _PRE_GA)
	KindModuleAux              // module auxiliary data (RDB_OPCODE_MODULE_AUX)
	KindSelectDB               // the start of a database (RDB_OPCODE_SELECTDB)
	KindResizeDB               // size hints for the current database (RDB_OPCODE_RESIZEDB)
	KindSlotInfo               // cluster slot sizes (Redis RDB_OPCODE_SLOT_INFO)
	KindSlotImport             // Valkey RDB_OPCODE_SLOT_IMPORT
)

var kindNames = [...]string{"key", "aux", "function", "module_aux", "select_db", "resize_db", "slot_info", "slot_import"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Opcodes. See redis/src/rdb.h RDB_OPCODE_*.
const (
	opSlotImport   = 243 // Valkey RDB_OPCODE_SLOT_IMPORT
	opKeyMeta      = 243 // Redis RDB_OPCODE_KEY_META (RDB 13+)
	opSlotInfo     = 244 // RDB_OPCODE_SLOT_INFO
	opFunction2    = 245 // RDB_OPCODE_FUNCTION2
	opFunctionPre  = 246 // RDB_OPCODE_FUNCTION_PRE_GA
	opModuleAux    = 247 // RDB_OPCODE_MODULE_AUX
	opIdle         = 248 // RDB_OPCODE_IDLE
	opFreq         = 249 // RDB_OPCODE_FREQ
	opAux          = 250 // RDB_OPCODE_AUX
	opResizeDB     = 251 // RDB_OPCODE_RESIZEDB
	opExpireTimeMS = 252 // RDB_OPCODE_EXPIRETIME_MS
	opExpireTime   = 253 // RDB_OPCODE_EXPIRETIME
	opSelectDB     = 254 // RDB_OPCODE_SELECTDB
	opEOF          = 255 // RDB_OPCODE_EOF
)
