package rdb

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

type dumpLine struct {
	DB      int    `json:"db"`
	Key     []byte `json:"key"`
	Payload []byte `json:"payload"`
	Version uint16 `json:"payload_rdb_version"`
}

func readDumpLines(t *testing.T, path string) []dumpLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []dumpLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l dumpLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestDumpPayloads checks ParseDump on the DUMP replies of real servers,
// decodes each payload, and rebuilds each from the same key in the file
// with AppendDump: the bytes must be the server's own.
func TestDumpPayloads(t *testing.T) {
	dir := sharedDir(t, "generated")
	versions, _ := filepath.Glob(filepath.Join(dir, "*", "dump-payloads.jsonl"))
	if len(versions) == 0 {
		t.Fatal("no dump-payloads.jsonl")
	}
	for _, path := range versions {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			fromFile := map[string][]byte{}
			f, err := os.Open(filepath.Join(filepath.Dir(path), "all-in-one.rdb"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r := NewReader(f)
			for {
				e, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if e.Kind == KindKey {
					fromFile[string(rune(e.DB))+string(e.Key)] = bytes.Clone(e.Payload)
				}
			}
			for _, l := range readDumpLines(t, path) {
				payload, ver, err := ParseDump(l.Payload)
				if err != nil {
					t.Fatalf("key %q: %v", l.Key, err)
				}
				if ver != l.Version {
					t.Errorf("key %q: version %d, want %d", l.Key, ver, l.Version)
				}
				v := NewPayloadValue(payload, int(ver))
				for v.Next() {
				}
				if err := v.Err(); err != nil {
					t.Errorf("key %q: %v", l.Key, err)
				}
				p, ok := fromFile[string(rune(l.DB))+string(l.Key)]
				if !ok {
					t.Errorf("key %q not in all-in-one.rdb", l.Key)
					continue
				}
				if got := AppendDump(nil, p, ver); !bytes.Equal(got, l.Payload) {
					t.Errorf("key %q: AppendDump differs from DUMP:\n got %x\nwant %x", l.Key, got, l.Payload)
				}
			}
		})
	}
}

func TestParseDumpErrors(t *testing.T) {
	good := AppendDump(nil, []byte{0, 3, 'a', 'b', 'c'}, 10)
	if p, v, err := ParseDump(good); err != nil || v != 10 || string(p) != "\x00\x03abc" {
		t.Fatalf("ParseDump(good) = %q %d %v", p, v, err)
	}
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x20
		if _, _, err := ParseDump(bad); !errors.Is(err, ErrChecksum) {
			t.Errorf("byte %d flipped: %v, want ErrChecksum", i, err)
		}
	}
	for n := range 11 {
		if _, _, err := ParseDump(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%d bytes: %v, want ErrCorrupt", n, err)
		}
	}
}
