package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbkit/rdbkit/rdb"
)

func TestCheckGolden(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		json    bool
		filter  filterOptions
		corrupt bool
	}{
		{"dump.check", dumpRDB, false, filterOptions{}, false},
		{"dump.check.json", dumpRDB, true, filterOptions{}, false},
		{"dump.check-filter", dumpRDB, false, filterOptions{types: []string{"stream"}}, false},
		{"streams.check", "generated/redis-7.2/streams.rdb", false, filterOptions{}, false},
		{"old.check", "corpus/hdt3213-rdb/cases/parser_filters.rdb", false, filterOptions{}, false},
		{"script.check", "corpus/librdb/test/dumps/script.rdb", false, filterOptions{}, false},
		{"invalid-checksum.check", "corpus/librdb/test/dumps/invalid_chksum_v8.rdb", false, filterOptions{}, true},
		{"invalid-checksum.check.json", "corpus/librdb/test/dumps/invalid_chksum_v8.rdb", true, filterOptions{}, true},
		{"corrupt-ziplist.check", "corpus/redis-redis/tests/assets/corrupt_ziplist.rdb", false, filterOptions{}, true},
		{"future-version.check", "corpus/librdb/test/dumps/future_v19.rdb", false, filterOptions{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file != dumpRDB {
				file = sharedFile(t, file)
			}
			var out bytes.Buffer
			err := runCheck(context.Background(), checkOptions{file: file, json: tt.json, filter: tt.filter, now: testNow}, &out)
			var rep *reportedError
			if tt.corrupt != errors.As(err, &rep) || (!tt.corrupt && err != nil) {
				t.Fatalf("error %v, want corrupt=%v", err, tt.corrupt)
			}
			checkGolden(t, tt.name, out.Bytes())
		})
	}
}

// checkCorrupt runs check on data and returns its output and *rdb.Error.
func checkCorrupt(t *testing.T, data []byte) (string, *rdb.Error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.rdb")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := runCheck(context.Background(), checkOptions{file: path}, &out)
	var rep *reportedError
	if !errors.As(err, &rep) {
		t.Fatalf("error %v, want a reported corruption; output %q", err, out.String())
	}
	var re *rdb.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an *rdb.Error", err)
	}
	if !strings.HasPrefix(out.String(), "corrupt: rdb: ") {
		t.Errorf("output %q", out.String())
	}
	return out.String(), re
}

func TestCheckTruncated(t *testing.T) {
	data, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 5, 8, 9, 10, 100, len(data) / 2, len(data) - 9, len(data) - 8, len(data) - 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			out, re := checkCorrupt(t, data[:n])
			if n < 9 {
				if !errors.Is(re, rdb.ErrNotRDB) {
					t.Errorf("%v, want ErrNotRDB", re)
				}
				return
			}
			want := fmt.Sprintf("corrupt: rdb: truncated at offset %d", n)
			if !errors.Is(re, io.ErrUnexpectedEOF) || re.Offset != int64(n) || !strings.HasPrefix(out, want) {
				t.Errorf("%q (offset %d, %v), want %q", out, re.Offset, re.Err, want)
			}
		})
	}
}

func TestCheckFlippedByte(t *testing.T) {
	data, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	sumAt := int64(len(data) - 8)
	t.Run("in a value", func(t *testing.T) {
		i := bytes.Index(data, []byte("{user:1}:name")) + len("{user:1}:name") + 2 // inside the value
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		out, re := checkCorrupt(t, bad)
		if !errors.Is(re, rdb.ErrChecksum) || re.Offset != sumAt {
			t.Errorf("%q, want a checksum mismatch at %d", out, sumAt)
		}
	})
	t.Run("in the checksum", func(t *testing.T) {
		bad := bytes.Clone(data)
		bad[len(bad)-1] ^= 0x80
		out, re := checkCorrupt(t, bad)
		if !errors.Is(re, rdb.ErrChecksum) || !strings.Contains(out, "checksum mismatch") {
			t.Errorf("%q, want a checksum mismatch", out)
		}
	})
	t.Run("a type byte", func(t *testing.T) {
		// The stream's record: expiry-less, type byte 21 just before its key.
		k := bytes.Index(data, []byte("\x0f{user:1}:stream"))
		if k < 1 || data[k-1] != byte(rdb.EncStreamListpacks3) {
			t.Fatalf("stream record not found")
		}
		bad := bytes.Clone(data)
		bad[k-1] = 0x7f
		out, re := checkCorrupt(t, bad)
		if !errors.Is(re, rdb.ErrUnknown) || re.Offset != int64(k-1) {
			t.Errorf("%q (offset %d), want an unknown type at %d", out, re.Offset, k-1)
		}
	})
	t.Run("every byte", func(t *testing.T) {
		// Every byte of the header, the aux fields, the first keys and the
		// end (stream, EOF, checksum); every 17th byte elsewhere. (The
		// decoder's own tests flip and truncate at every offset.)
		r := rdb.NewReader(nil)
		for i := 0; i < len(data); i++ {
			if i > 300 && i < len(data)-150 && i%17 != 0 {
				continue
			}
			bad := bytes.Clone(data)
			bad[i] ^= 0xff
			r.Reset(bytes.NewReader(bad))
			var res checkResult
			err := checkRecords(context.Background(), r, nil, testNow, &res)
			var re *rdb.Error
			if !errors.As(err, &re) || re.Offset < 0 || re.Offset > int64(len(data)) {
				t.Fatalf("byte %d flipped: %v", i, err)
			}
		}
	})
}

// TestCheckStreamed decodes every generated fixture with values streamed
// from the input (MaxPayload 16) rather than from memory.
func TestCheckStreamed(t *testing.T) {
	dir := sharedFile(t, "generated")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.rdb"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	files = append(files, dumpRDB)
	for _, path := range files {
		for _, maxPayload := range []int{0, 16} {
			var out bytes.Buffer
			err := runCheck(context.Background(), checkOptions{file: path, maxPayload: maxPayload, json: true}, &out)
			if err != nil {
				t.Errorf("%s (max payload %d): %v", path, maxPayload, err)
				continue
			}
			var res checkResult
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.Checksum != "ok" || res.Keys != res.Decoded {
				t.Errorf("%s (max payload %d): %+v", path, maxPayload, res)
			}
		}
	}
}

func TestCheckTrailingBytes(t *testing.T) {
	data, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "preamble.aof")
	if err := os.WriteFile(path, append(bytes.Clone(data), "*1\r\n$4\r\nPING\r\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runCheck(context.Background(), checkOptions{file: path}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "ok: 356 keys, checksum ok, 14 bytes after the end of the RDB\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestCheckReadError: a file that cannot be read is an error, not a
// corrupt verdict.
func TestCheckReadError(t *testing.T) {
	dir := t.TempDir() // reading a directory fails with EISDIR
	var out bytes.Buffer
	err := runCheck(context.Background(), checkOptions{file: dir}, &out)
	var rep *reportedError
	if err == nil || errors.As(err, &rep) || out.Len() != 0 {
		t.Errorf("error %v, output %q; want a plain error and no output", err, out.String())
	}
}

// TestCheckTrailingBytesPipe counts the bytes after the RDB on a pipe,
// where the Reader may have buffered some of them.
func TestCheckTrailingBytesPipe(t *testing.T) {
	data, err := os.ReadFile(dumpRDB)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() {
		pw.Write(data)
		pw.Write([]byte("*1\r\n$4\r\nPING\r\n"))
		pw.Close()
	}()
	old := os.Stdin
	os.Stdin = pr
	defer func() { os.Stdin = old }()
	var out bytes.Buffer
	if err := runCheck(context.Background(), checkOptions{file: "-"}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "ok: 356 keys, checksum ok, 14 bytes after the end of the RDB\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
