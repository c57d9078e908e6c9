package rdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// copyRecords reads the RDB at path and writes every record the Writer
// can write to w, each key's payload passed through fn (nil: as read). It
// reports whether every record could be written (no module aux data or
// slot records, which the Writer does not write).
func copyRecords(t *testing.T, path string, w *Writer, fn func(e *Entry) ([]byte, bool)) (all bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(data))
	all = true
	db, pending := 0, false
	flushDB := func(size, expires uint64) {
		if pending {
			if err := w.SelectDB(db, size, expires); err != nil {
				t.Fatal(err)
			}
			pending = false
		}
	}
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch e.Kind {
		case KindAux:
			if w.Version() < 7 { // a file from a tool, not a server
				all = false
				continue
			}
			err = w.WriteAux(e.Aux.Name, e.Aux.Value)
		case KindFunction:
			err = w.WriteFunction(e.Aux.Value)
		case KindSelectDB:
			flushDB(0, 0)
			db, pending = e.DB, true
			if w.Version() < 7 {
				flushDB(0, 0)
			}
		case KindResizeDB:
			flushDB(e.Aux.DBSize, e.Aux.ExpiresSize)
		case KindKey:
			flushDB(0, 0)
			p := e.Payload
			if fn != nil {
				var ok bool
				if p, ok = fn(e); !ok {
					all = false
					continue
				}
			}
			err = w.WriteKey(e.Key, p, e.ExpireAt, e.Idle, e.Freq)
		default:
			all = false
		}
		if err != nil {
			t.Fatalf("%s: %v record: %v", path, e.Kind, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return all
}

// TestWriterFixtures writes every fixture again from its decoded records,
// reads the copy back and compares it with the original key by key; where
// the Writer could write every record, the copy must be the original byte
// for byte (Redis compresses long keys and aux values with LZF, which the
// Writer does not, so those files only compare by content).
func TestWriterFixtures(t *testing.T) {
	identical := 0
	for _, path := range encodeFixtureFiles(t) {
		rel := path[len(sharedTestdata)+1:]
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(bytes.NewReader(data))
		for err == nil {
			var e *Entry
			if e, err = r.Next(); err == nil && e.Kind == KindKey {
				v := e.Value()
				for v.Next() {
				}
				err = v.Err()
			}
		}
		if err != io.EOF {
			continue // corrupt on purpose
		}
		t.Run(rel, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "copy.rdb")
			f, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w := NewWriter(f, r.Version(), r.Valkey())
			all := copyRecords(t, path, w, nil)
			want, wantFn := decodeAll(t, path, NewReader(nil), func(r io.Reader) io.Reader { return r })
			rd := NewReader(nil)
			got, gotFn := decodeAll(t, out, rd, func(r io.Reader) io.Reader { return r })
			if _, _, st := rd.Checksum(); st != ChecksumOK && r.Version() >= 5 {
				t.Errorf("checksum state of the copy %v", st)
			}
			compareKeys(t, got, want)
			if fmt.Sprint(gotFn) != fmt.Sprint(wantFn) {
				t.Errorf("functions %v, want %v", gotFn, wantFn)
			}
			copied, _ := os.ReadFile(out)
			if _, _, st := r.Checksum(); all && st == ChecksumOK && !bytes.Equal(copied, data) {
				if !strings.Contains(rel, "generated/") {
					t.Logf("copy differs from the original (%d and %d bytes)", len(copied), len(data))
				} else if !lzfKeysOrAux(data) {
					t.Errorf("copy differs from the original (%d and %d bytes)", len(copied), len(data))
				}
			} else if all && bytes.Equal(copied, data) {
				identical++
			}
		})
	}
	t.Logf("%d files copied byte for byte", identical)
	if identical < 50 {
		t.Errorf("only %d files copied byte for byte", identical)
	}
}

// lzfKeysOrAux reports whether a file has an LZF-compressed key or aux
// field, which the Writer writes uncompressed.
func lzfKeysOrAux(data []byte) bool {
	r := NewReader(bytes.NewReader(data))
	for {
		e, err := r.Next()
		if err != nil {
			return false
		}
		if (e.Kind == KindKey && len(e.Key) > 20) || (e.Kind == KindAux && len(e.Aux.Value) > 20) ||
			e.Kind == KindFunction {
			return true
		}
	}
}

// transcodeForFile returns a copyRecords callback that transcodes every
// key for t, leaving out keys that have expired or expire within a
// minute, and counts what it keeps per database.
func transcodeForFile(t *testing.T, tg Target, now int64, kept map[int]map[string]*Entry) func(e *Entry) ([]byte, bool) {
	return func(e *Entry) ([]byte, bool) {
		if e.ExpireAt != 0 && e.ExpireAt < now+60_000 {
			return nil, false
		}
		p, loss, err := Transcode(nil, e.Payload, e.Encoding, tg, now)
		if err != nil {
			t.Fatalf("key %q: %v", e.Key, err)
		}
		if loss.Expired {
			return nil, false
		}
		if kept[e.DB] == nil {
			kept[e.DB] = map[string]*Entry{}
		}
		c := e.Clone()
		c.Payload = p
		kept[e.DB][string(e.Key)] = c
		return p, true
	}
}

// TestWriterTranscoded writes an RDB 10 file from the keys of every
// version's all-in-one fixture transcoded for Redis 7.0, reads it back and
// checks every key holds what Transcode produced.
func TestWriterTranscoded(t *testing.T) {
	now := time.Now().UnixMilli()
	paths, _ := filepath.Glob(filepath.Join(sharedDir(t, "generated"), "*", "all-in-one.rdb"))
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			var buf bytes.Buffer
			kept := map[int]map[string]*Entry{}
			copyRecords(t, path, NewWriter(&buf, 10, false), transcodeForFile(t, Target{Version: 10}, now, kept))
			r := NewReader(bytes.NewReader(buf.Bytes()))
			n := 0
			for {
				e, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if r.Version() != 10 {
					t.Fatalf("version %d", r.Version())
				}
				if e.Kind != KindKey {
					continue
				}
				n++
				want := kept[e.DB][string(e.Key)]
				if want == nil {
					t.Fatalf("db %d key %q: not written", e.DB, e.Key)
				}
				if !bytes.Equal(e.Payload, want.Payload) || e.ExpireAt != want.ExpireAt || e.Encoding != Encoding(want.Payload[0]) {
					t.Errorf("db %d key %q: read back differs", e.DB, e.Key)
				}
			}
			total := 0
			for _, m := range kept {
				total += len(m)
			}
			if n != total || n < 100 {
				t.Errorf("%d keys read back, %d written", n, total)
			}
		})
	}
}

// TestWriterRedisLoads has a real Redis 7.0 load RDB 10 files written from
// every version's all-in-one fixture, transcoded for it, and checks the
// number of keys in each database, and each key's type, expiry and size.
func TestWriterRedisLoads(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	now := time.Now().UnixMilli()
	paths, _ := filepath.Glob(filepath.Join(sharedDir(t, "generated"), "*", "all-in-one.rdb"))
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			f, err := os.Create(filepath.Join(dir, "x.rdb"))
			if err != nil {
				t.Fatal(err)
			}
			kept := map[int]map[string]*Entry{}
			copyRecords(t, path, NewWriter(f, 10, false), transcodeForFile(t, Target{Version: 10}, now, kept))
			f.Close()
			s := redistest.Start(t, redistest.WithDir(dir), redistest.WithArgs("--dbfilename", "x.rdb"))
			ctx := t.Context()
			checked := 0
			for db := range 16 {
				c := redis.NewClient(&redis.Options{Addr: s.Addr, DB: db, Protocol: 2})
				defer c.Close()
				n, err := c.DBSize(ctx).Result()
				if err != nil {
					t.Fatal(err)
				}
				if n != int64(len(kept[db])) {
					t.Errorf("db %d: DBSIZE %d, want %d", db, n, len(kept[db]))
				}
				for key, e := range kept[db] {
					checkLoadedKey(t, c, db, key, e)
					checked++
				}
			}
			t.Logf("%d keys loaded and checked", checked)
			libs, err := s.Client(t).FunctionList(ctx, redis.FunctionListQuery{}).Result()
			if err != nil || len(libs) != 2 {
				t.Errorf("FUNCTION LIST: %d libraries, %v; want 2", len(libs), err)
			}
		})
	}
}

// checkLoadedKey compares a key in the server with the payload written.
func checkLoadedKey(t *testing.T, c *redis.Client, db int, key string, e *Entry) {
	t.Helper()
	ctx := t.Context()
	v, _, err := tcDecode(e.Payload, 10)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("db %d key %q", db, key)
	typ, err := c.Type(ctx, key).Result()
	if err != nil || typ != v.Type.String() {
		t.Errorf("%s: TYPE %q %v, want %v", name, typ, err, v.Type)
		return
	}
	exp, err := c.Do(ctx, "PEXPIRETIME", key).Int64()
	if want := max(e.ExpireAt, -1); err != nil || (exp != want && !(exp == -1 && e.ExpireAt == 0)) {
		t.Errorf("%s: PEXPIRETIME %d %v, want %d", name, exp, err, e.ExpireAt)
	}
	var n, want int64
	switch v.Type {
	case TypeString:
		var s string
		s, err = c.Get(ctx, key).Result()
		if err != nil || s != v.Str {
			t.Errorf("%s: value differs (%d bytes, want %d)", name, len(s), len(v.Str))
		}
		return
	case TypeList:
		n, err = c.LLen(ctx, key).Result()
		want = int64(len(v.List))
	case TypeSet:
		n, err = c.SCard(ctx, key).Result()
		want = int64(len(v.List))
	case TypeZSet:
		n, err = c.ZCard(ctx, key).Result()
		want = int64(len(v.ZSet))
	case TypeHash:
		var m map[string]string
		m, err = c.HGetAll(ctx, key).Result()
		if err != nil || fmt.Sprint(m) != fmt.Sprint(v.Hash) {
			t.Errorf("%s: HGETALL differs", name)
		}
		return
	case TypeStream:
		n, err = c.XLen(ctx, key).Result()
		want = int64(v.Stream.Info.Length)
	}
	if err != nil || n != want {
		t.Errorf("%s: size %d %v, want %d", name, n, err, want)
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	setLP := tcPayload(EncSetListpack, tcBlob(tcListpack("a")))
	tests := []struct {
		name    string
		version int
		valkey  bool
		do      func(w *Writer) error
		want    error
	}{
		{"version 0", 0, false, func(w *Writer) error { return w.Close() }, ErrVersion},
		{"version 14", 14, false, func(w *Writer) error { return w.WriteAux([]byte("a"), []byte("b")) }, ErrVersion},
		{"Redis version 80", 80, false, func(w *Writer) error { return w.Close() }, ErrVersion},
		{"aux in RDB 6", 6, false, func(w *Writer) error { return w.WriteAux([]byte("a"), []byte("b")) }, ErrVersion},
		{"function in RDB 9", 9, false, func(w *Writer) error { return w.WriteFunction([]byte("#!lua name=x\n")) }, ErrVersion},
		{"set listpack in RDB 10", 10, false, func(w *Writer) error { return w.WriteKey([]byte("k"), setLP, 0, -1, -1) }, ErrUnknown},
		{"hash metadata in Valkey", 80, true, func(w *Writer) error {
			return w.WriteKey([]byte("k"), []byte{byte(EncHashMetadata)}, 0, -1, -1)
		}, ErrUnknown},
		{"empty payload", 11, false, func(w *Writer) error { return w.WriteKey([]byte("k"), nil, 0, -1, -1) }, ErrCorrupt},
		{"sticky", 11, false, func(w *Writer) error {
			_ = w.WriteKey([]byte("k"), nil, 0, -1, -1)
			return w.WriteAux([]byte("a"), []byte("b"))
		}, ErrCorrupt},
		{"write after close", 11, false, func(w *Writer) error {
			if err := w.Close(); err != nil {
				return err
			}
			if err := w.WriteAux([]byte("a"), []byte("b")); err == nil {
				return errors.New("no error")
			}
			return ErrCorrupt
		}, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter(io.Discard, tt.version, tt.valkey)
			if err := tt.do(w); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("io error", func(t *testing.T) {
		w := NewWriter(&failWriter{n: 100}, 11, false)
		big := AppendString([]byte{byte(EncString)}, bytes.Repeat([]byte("v"), 200<<10))
		err := w.WriteKey([]byte("k"), big, 0, -1, -1)
		if err == nil {
			err = w.Close()
		}
		if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "rdb: writer") {
			t.Fatalf("error %v, want disk full", err)
		}
		if err2 := w.Close(); !errors.Is(err2, errDiskFull) {
			t.Fatalf("Close after error: %v", err2)
		}
	})
}

// TestWriterVersions writes the same keys in files of several versions
// and reads them back: headers, expiry forms, LRU/LFU and checksums.
func TestWriterVersions(t *testing.T) {
	str := AppendString([]byte{byte(EncString)}, []byte("value"))
	hash2 := tcPayload(EncValkeyHash2, rlen(1), rstr("f"), rstr("v"), le64(4102444800000))
	for _, tt := range []struct {
		version int
		valkey  bool
		magic   string
	}{{2, false, "REDIS0002"}, {6, false, "REDIS0006"}, {7, false, "REDIS0007"}, {9, false, "REDIS0009"},
		{11, true, "REDIS0011"}, {12, false, "REDIS0012"}, {13, false, "REDIS0013"}, {80, true, "VALKEY080"}} {
		t.Run(tt.magic, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, tt.version, tt.valkey)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			if tt.version >= 7 {
				must(w.WriteAux([]byte("redis-ver"), []byte("1.2.3")))
				must(w.WriteAux([]byte("ctime"), []byte("1700000000")))
			}
			must(w.SelectDB(3, 2, 1))
			exp := int64(4102444800123)
			if tt.version < 3 {
				exp = 2100000000123
				if err := NewWriter(io.Discard, 2, false).WriteKey([]byte("x"), str, 4102444800123, -1, -1); err == nil {
					t.Fatal("expiry past 2038 in RDB 2: no error")
				}
			}
			must(w.WriteKey([]byte("-1"), str, exp, -1, -1))
			must(w.WriteKey([]byte("lru"), str, 0, 60, -1))
			must(w.WriteKey([]byte("lfu"), str, 0, -1, 300))
			if tt.version >= 80 {
				must(w.WriteKey([]byte("h2"), hash2, 0, -1, -1))
			}
			must(w.Close())
			must(w.Close())
			if !strings.HasPrefix(buf.String(), tt.magic) {
				t.Fatalf("header %q", buf.Bytes()[:9])
			}
			r := NewReader(bytes.NewReader(buf.Bytes()))
			var got []string
			for {
				e, err := r.Next()
				if err == io.EOF {
					break
				}
				must(err)
				switch e.Kind {
				case KindKey:
					got = append(got, fmt.Sprintf("%d/%s/%d/%d/%d/%v", e.DB, e.Key, e.ExpireAt, e.Idle, e.Freq, e.Encoding))
				case KindAux:
					got = append(got, string(e.Aux.Name)+"="+string(e.Aux.Value))
				}
			}
			wantExp := strconv.FormatInt(exp, 10)
			if tt.version < 3 {
				wantExp = "2100000001000" // seconds, rounded up
			}
			want := []string{"3/-1/" + wantExp + "/-1/-1/string", "3/lru/0/60/-1/string", "3/lfu/0/-1/255/string"}
			if tt.version < 8 {
				want[1], want[2] = "3/lru/0/-1/-1/string", "3/lfu/0/-1/-1/string"
			}
			if tt.version >= 7 {
				want = append([]string{"redis-ver=1.2.3", "ctime=1700000000"}, want...)
			}
			if tt.version >= 80 {
				want = append(want, "3/h2/0/-1/-1/valkey_hash_2")
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("read back\n%q\nwant\n%q", got, want)
			}
			stored, computed, st := r.Checksum()
			if tt.version >= 5 && (st != ChecksumOK || stored != w.Checksum() || computed != stored) {
				t.Errorf("checksum %v %x %x, writer %x", st, stored, computed, w.Checksum())
			}
		})
	}
}

func BenchmarkWriter(b *testing.B) {
	payload := AppendString([]byte{byte(EncString)}, bytes.Repeat([]byte("v"), 100))
	key := []byte("key:000000")
	b.ReportAllocs()
	b.SetBytes(int64(len(payload) + len(key)))
	w := NewWriter(io.Discard, 11, false)
	i := 0
	for b.Loop() {
		copy(key[4:], strconv.Itoa(i%1000000))
		if err := w.WriteKey(key, payload, 0, -1, -1); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
