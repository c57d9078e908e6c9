package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// rdbFile assembles an RDB file: magic, body, EOF opcode and CRC64.
func rdbFile(magic string, body ...[]byte) []byte {
	b := []byte(magic)
	for _, p := range body {
		b = append(b, p...)
	}
	b = append(b, opEOF)
	return binary.LittleEndian.AppendUint64(b, CRC64(0, b))
}

// rstr encodes a raw RDB string.
func rstr(s string) []byte { return append(rlen(uint64(len(s))), s...) }

// rlen encodes an RDB length in its shortest form.
func rlen(n uint64) []byte {
	switch {
	case n < 1<<6:
		return []byte{byte(n)}
	case n < 1<<14:
		return []byte{0x40 | byte(n>>8), byte(n)}
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32([]byte{0x80}, uint32(n))
	}
	return binary.BigEndian.AppendUint64([]byte{0x81}, n)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func le64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

// moduleID encodes a module type name and encoding version as a module id.
func moduleID(name string, ver int) uint64 {
	var id uint64
	for i := range 9 {
		id = id<<6 | uint64(strings.IndexByte(moduleNameChars, name[i]))
	}
	return id<<10 | uint64(ver)
}

func readAll(t *testing.T, data []byte) ([]*Entry, []string, error) {
	t.Helper()
	r := NewReader(bytes.NewReader(data))
	var entries []*Entry
	var values []string
	for {
		e, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return entries, values, err
		}
		entries = append(entries, e.Clone())
		if e.Kind != KindKey {
			continue
		}
		v := e.Value()
		var parts []string
		for v.Next() {
			el := v.Elem()
			parts = append(parts, string(el.Member)+"="+string(el.Value))
			if el.ExpireAt != 0 {
				parts[len(parts)-1] += "@" + strconv.FormatInt(el.ExpireAt, 10)
			}
		}
		if v.Type == TypeModule {
			parts = append(parts, v.ModuleName+"/"+strconv.Itoa(v.ModuleVersion))
		}
		if err := v.Err(); err != nil {
			return entries, values, err
		}
		values = append(values, strings.Join(parts, ","))
	}
}

// TestRecords decodes hand-made files with the records that the fixtures
// lack: every opcode, old and rare encodings, and the errors.
func TestRecords(t *testing.T) {
	mod := moduleID("ReJSON-RL", 3)
	tests := []struct {
		name   string
		data   []byte
		check  func(t *testing.T, es []*Entry, vals []string)
		errIs  error
		errMsg string
	}{
		{
			name: "expire seconds, idle, freq",
			data: rdbFile("REDIS0009", []byte{opExpireTime}, binary.LittleEndian.AppendUint32(nil, 1700000000),
				[]byte{opIdle}, rlen(300), []byte{0}, rstr("k"), rstr("v"),
				[]byte{opFreq, 7, 0}, rstr("k2"), rstr("v2")),
			check: func(t *testing.T, es []*Entry, vals []string) {
				if es[0].ExpireAt != 1700000000000 || es[0].Idle != 300 || es[0].Freq != -1 {
					t.Errorf("k: expire %d idle %d freq %d", es[0].ExpireAt, es[0].Idle, es[0].Freq)
				}
				if es[1].ExpireAt != 0 || es[1].Freq != 7 || es[1].Idle != -1 || vals[1] != "=v2" {
					t.Errorf("k2: %+v %q", es[1], vals[1])
				}
			},
		},
		{
			name: "function pre-GA",
			data: rdbFile("REDIS0010", []byte{opFunctionPre}, rstr("mylib"), rstr("LUA"), rlen(1), rstr("desc"),
				rstr("redis.register_function('f', function() return 1 end)")),
			check: func(t *testing.T, es []*Entry, _ []string) {
				want := "#!lua name=mylib\nredis.register_function('f', function() return 1 end)"
				if es[0].Kind != KindFunction || string(es[0].Aux.Name) != "mylib" || string(es[0].Aux.Value) != want {
					t.Errorf("got %v %q %q", es[0].Kind, es[0].Aux.Name, es[0].Aux.Value)
				}
			},
		},
		{
			name: "module aux and module value",
			data: rdbFile("REDIS0009", []byte{opModuleAux}, rlen(mod), rlen(moduleOpUint), rlen(2),
				rlen(moduleOpString), rstr("aux"), rlen(moduleOpEOF),
				[]byte{byte(EncModule2)}, rstr("doc"), rlen(mod), rlen(moduleOpSint), rlen(5),
				rlen(moduleOpFloat), []byte{0, 0, 0x80, 0x3f}, rlen(moduleOpDouble), le64(0),
				rlen(moduleOpString), rstr("{}"), rlen(moduleOpEOF)),
			check: func(t *testing.T, es []*Entry, vals []string) {
				a := es[0].Aux
				if es[0].Kind != KindModuleAux || string(a.Name) != "ReJSON-RL" || a.ModuleVersion != 3 || a.When != 2 {
					t.Errorf("module aux: %+v", a)
				}
				if es[1].Type != TypeModule || !strings.HasSuffix(vals[0], "ReJSON-RL/3") {
					t.Errorf("module value: %v %q", es[1].Type, vals[0])
				}
			},
		},
		{
			name: "key metadata (RDB 13)",
			data: rdbFile("REDIS0013", []byte{opExpireTimeMS}, le64(1800000000000), []byte{opKeyMeta}, rlen(1),
				[]byte{1, 2, 3, 4}, rlen(moduleOpUint), rlen(9), rlen(moduleOpEOF), []byte{0}, rstr("k"), rstr("v")),
			check: func(t *testing.T, es []*Entry, vals []string) {
				if es[0].ExpireAt != 1800000000000 || len(es[0].KeyMeta) != 8 || vals[0] != "=v" {
					t.Errorf("got %+v %q", es[0], vals)
				}
			},
		},
		{
			name: "slot info, resize db, select db",
			data: rdbFile("REDIS0012", []byte{opSelectDB}, rlen(3), []byte{opResizeDB}, rlen(10), rlen(2),
				[]byte{opSlotInfo}, rlen(100), rlen(5), rlen(1), []byte{0}, rstr("k"), rstr("v")),
			check: func(t *testing.T, es []*Entry, _ []string) {
				if es[0].Kind != KindSelectDB || es[0].DB != 3 || es[1].Aux.DBSize != 10 || es[1].Aux.ExpiresSize != 2 {
					t.Errorf("db records: %+v %+v", es[0], es[1])
				}
				if a := es[2].Aux; es[2].Kind != KindSlotInfo || a.Slot != 100 || a.SlotSize != 5 || a.SlotExpires != 1 {
					t.Errorf("slot info: %+v", es[2])
				}
				if es[3].DB != 3 {
					t.Errorf("key db %d", es[3].DB)
				}
			},
		},
		{
			name: "valkey slot import and HASH_2",
			data: rdbFile("VALKEY080", []byte{opSlotImport}, rstr("job"), rlen(2), rlen(0), rlen(99), rlen(200), rlen(300),
				[]byte{22}, rstr("h"), rlen(2), rstr("f1"), rstr("v1"), le64(-1), rstr("f2"), rstr("v2"), le64(1900000000000)),
			check: func(t *testing.T, es []*Entry, vals []string) {
				if es[0].Kind != KindSlotImport || string(es[0].Aux.Name) != "job" || len(es[0].Aux.SlotRanges) != 2 || es[0].Aux.SlotRanges[1] != [2]uint64{200, 300} {
					t.Errorf("slot import: %+v", es[0])
				}
				if es[1].Encoding != EncValkeyHash2 || vals[0] != "f1=v1,f2=v2@1900000000000" {
					t.Errorf("hash2: %v %q", es[1].Encoding, vals[0])
				}
			},
		},
		{
			name: "hash metadata pre-GA and listpack ex pre-GA",
			data: rdbFile("REDIS0012", []byte{22}, rstr("h"), rlen(2), rlen(0), rstr("a"), rstr("1"), rlen(1900000000000), rstr("b"), rstr("2")),
			check: func(t *testing.T, _ []*Entry, vals []string) {
				if vals[0] != "a=1,b=2@1900000000000" {
					t.Errorf("got %q", vals[0])
				}
			},
		},
		{
			name: "zero checksum means disabled",
			data: func() []byte {
				b := rdbFile("REDIS0009", []byte{0}, rstr("k"), rstr("v"))
				copy(b[len(b)-8:], make([]byte, 8))
				return b
			}(),
			check: func(t *testing.T, es []*Entry, _ []string) {
				if len(es) != 1 {
					t.Errorf("%d entries", len(es))
				}
			},
		},
		{
			name: "no checksum before RDB 5",
			data: append([]byte("REDIS0004"), cat([]byte{0}, rstr("k"), rstr("v"), []byte{opEOF})...),
		},
		{
			name:  "bad checksum",
			data:  func() []byte { b := rdbFile("REDIS0009", []byte{0}, rstr("k"), rstr("v")); b[len(b)-1] ^= 1; return b }(),
			errIs: ErrChecksum, errMsg: "offset 15: checksum: stored",
		},
		{name: "not RDB", data: []byte("*1\r\n$4\r\nPING\r\n"), errIs: ErrNotRDB, errMsg: "offset 0: header"},
		{name: "too short", data: []byte("REDIS"), errIs: ErrNotRDB},
		{name: "future version", data: rdbFile("REDIS0099"), errIs: ErrVersion, errMsg: "REDIS0099"},
		{name: "valkey 79", data: rdbFile("VALKEY079"), errIs: ErrVersion},
		{name: "unknown type", data: rdbFile("REDIS0011", []byte{30}, rstr("k")), errIs: ErrUnknown, errMsg: "offset 9: type: object type 30 in a REDIS11 file"},
		{name: "valkey type 23", data: rdbFile("VALKEY080", []byte{23}, rstr("k")), errIs: ErrUnknown, errMsg: "object type 23 in a VALKEY80 file"},
		{name: "module pre-GA", data: rdbFile("REDIS0008", []byte{6}, rstr("k")), errIs: ErrUnknown},
		{name: "redis opcode 243 before RDB 13", data: rdbFile("REDIS0012", []byte{243}), errIs: ErrUnknown, errMsg: "opcode 243 in a REDIS12 file"},
		{name: "bad length encoding", data: rdbFile("REDIS0011", []byte{0}, []byte{0x85}), errIs: ErrCorrupt, errMsg: "unknown length encoding 0x85"},
		{name: "bad string encoding", data: rdbFile("REDIS0011", []byte{0}, rstr("k"), []byte{0xc9}), errIs: ErrCorrupt, errMsg: `key "k": value: unknown string encoding 9`},
		{name: "lzf garbage", data: rdbFile("REDIS0011", []byte{0}, rstr("k"), []byte{0xc3}, rlen(3), rlen(10), []byte{0xff, 0xff, 0xff}), errIs: ErrCorrupt, errMsg: "lzf"},
		{name: "bad quicklist container", data: rdbFile("REDIS0011", []byte{18}, rstr("l"), rlen(1), rlen(7), rstr("x")), errIs: ErrCorrupt, errMsg: "quicklist container 7"},
		{name: "bad listpack", data: rdbFile("REDIS0011", []byte{16}, rstr("h"), rstr("not a listpack")), errIs: ErrCorrupt, errMsg: "listpack header"},
		{name: "intset", data: rdbFile("REDIS0011", []byte{11}, rstr("s"), rstr("\x02\x00\x00\x00\x01\x00\x00\x00\x05\x00")), errIs: nil},
		{name: "intset size mismatch", data: rdbFile("REDIS0011", []byte{11}, rstr("s"), rstr("\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00")), errIs: ErrCorrupt, errMsg: "intset of 2 2-byte elements in 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, vals, err := readAll(t, tt.data)
			if tt.errIs == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, es, vals)
				}
				return
			}
			var e *Error
			if !errors.Is(err, tt.errIs) || !errors.As(err, &e) {
				t.Fatalf("error %v, want %v as *Error", err, tt.errIs)
			}
			if !strings.Contains(err.Error(), tt.errMsg) {
				t.Errorf("error %q does not say %q", err, tt.errMsg)
			}
		})
	}
}

func TestBuffered(t *testing.T) {
	file := rdbFile("REDIS0011", []byte{0}, rstr("k"), rstr("v"))
	r := NewReader(bytes.NewReader(append(bytes.Clone(file), "*1\r\n$4\r\nPING\r\n"...)))
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := string(r.Buffered()); got != "*1\r\n$4\r\nPING\r\n" {
		t.Errorf("Buffered() = %q", got)
	}
	if r.Offset() != int64(len(file)) {
		t.Errorf("Offset() = %d, want %d", r.Offset(), len(file))
	}
	bad := bytes.Clone(file)
	bad[len(bad)-1] ^= 1
	r.Reset(bytes.NewReader(bad))
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	if _, _, st := r.Checksum(); st != ChecksumMismatch {
		t.Errorf("checksum state %v, want mismatch", st)
	}
}

func TestAppendDecimal(t *testing.T) {
	for _, n := range []int64{0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, -1, -9999, math.MaxInt64, math.MinInt64} {
		got := appendDecimal(nil, n)
		if string(got) != strconv.FormatInt(n, 10) {
			t.Errorf("appendDecimal(%d) = %q", n, got)
		}
		if len(got) != cap(got) && n >= 0 && n <= smallDecimalMax {
			t.Errorf("appendDecimal(%d): capacity %d allows writing into the table", n, cap(got))
		}
	}
}

// TestResetEntry checks that resetEntry, which clears the Entry field by
// field, leaves no field of the record before, whatever exported fields
// Entry gains: they are all set by reflection first.
func TestResetEntry(t *testing.T) {
	r := NewReader(bytes.NewReader(nil))
	r.db = 3
	fill(reflect.ValueOf(&r.e).Elem())
	r.e.Kind, r.e.r, r.e.payloadOff = KindAux, nil, 1
	r.resetEntry()
	want := Entry{r: r, DB: 3, Idle: -1, Freq: -1, Offset: -1}
	if !reflect.DeepEqual(r.e, want) {
		t.Fatalf("after resetEntry: %+v, want %+v", r.e, want)
	}
}

// fill sets every field of v, recursively, to a value other than zero.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				fill(v.Field(i))
			}
		}
		return
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		return
	}
	v.Set(reflect.ValueOf(1).Convert(v.Type()))
}
