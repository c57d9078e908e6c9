package rdb

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fixtureFiles lists every RDB file of the shared fixtures: the generated
// ones and the other projects' corpus.
func fixtureFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, sub := range []string{"generated", "corpus"} {
		dir := sharedDir(t, sub)
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && filepath.Ext(path) == ".rdb" {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// addFixtureSeeds seeds a fuzz target with every fixture file up to 64 KiB.
func addFixtureSeeds(f *testing.F) {
	for _, path := range fixtureFiles(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) <= 64<<10 {
			f.Add(data)
		}
	}
}

// decodeFully reads every record and every value of data, through Value
// and through a DUMP payload round trip, and returns the first error.
func decodeFully(data []byte, small bool) error {
	r := NewReader(bytes.NewReader(data))
	r.MaxAlloc = 4 << 20
	if small {
		r.MaxPayload, r.ChunkSize = 256, 16
	}
	var dump []byte
	for {
		e, err := r.Next()
		if err != nil {
			return err
		}
		if e.Kind != KindKey {
			continue
		}
		if e.Payload != nil {
			dump = AppendDump(dump[:0], e.Payload, uint16(r.Version()))
			p, _, err := ParseDump(dump)
			if err != nil {
				return err
			}
			v := NewPayloadValue(p, r.Version())
			for v.Next() {
			}
			if v.Err() != nil && !errors.Is(v.Err(), ErrCorrupt) && !errors.Is(v.Err(), ErrTooLarge) && !errors.Is(v.Err(), ErrUnknown) {
				return v.Err()
			}
		}
		v := e.Value()
		for v.Next() {
		}
		if v.Err() != nil {
			return v.Err()
		}
		v.Stream()
	}
}

// FuzzReader decodes arbitrary input: it must never panic or hang, and
// every error must be an *Error. Seeded with every fixture.
func FuzzReader(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, small := range []bool{false, true} {
			err := decodeFully(data, small)
			var e *Error
			if err != io.EOF && !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *rdb.Error", err, err)
			}
		}
	})
}

// TestTruncated cuts fixtures at every offset (256 offsets for the files
// over 4 KiB, 32 over 64 KiB; 24 over 256 bytes under the race detector): each cut must fail with io.ErrUnexpectedEOF at exactly the
// cut, or ErrNotRDB inside the header, never panic or hang.
func TestTruncated(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if decodeFully(data, false) != io.EOF {
			continue // a file meant to be refused (corpus)
		}
		step := 1
		switch {
		case len(data) > 64<<10:
			step = len(data) / 32
		case testing.Short() || raceEnabled && len(data) > 256:
			step = max(1, len(data)/24)
		case len(data) > 4<<10:
			step = max(1, len(data)/256)
		}
		rel, _ := filepath.Rel(sharedTestdata, path)
		t.Run(rel, func(t *testing.T) {
			for n := 0; n < len(data); n += step {
				for _, small := range []bool{false, true} {
					err := decodeFully(data[:n], small)
					var e *Error
					if !errors.As(err, &e) {
						t.Fatalf("cut at %d: %v", n, err)
					}
					switch {
					case n < 9 && errors.Is(err, ErrNotRDB):
					case errors.Is(err, io.ErrUnexpectedEOF) && e.Offset == int64(n):
					default:
						t.Fatalf("cut at %d (small %v): %v (offset %d)", n, small, err, e.Offset)
					}
				}
			}
		})
	}
}
