package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/rdbkit/rdbkit/loader"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/rdbkit/rdbkit/source"
)

// A copyFile writes the keys of a scan into an RDB file (copy -o FILE).
//
// An RDB file gives each database's key counts (RDB_OPCODE_RESIZEDB)
// before its keys, and a scan knows them only at its end, with the keys
// of several databases and masters arriving interleaved. So the keys are
// spooled first, one temporary file per database beside FILE (the DUMP
// payloads as they came, with expiry, idle time and LFU counter), and the
// RDB is written at the end with rdb.Writer: header (the source's RDB
// version, from the payloads' footers), aux fields, function libraries,
// then per database SELECTDB and RESIZEDB with the exact counts and the
// keys, EOF and CRC64, into a temporary file renamed to FILE once
// complete. Disk: about twice the payloads; memory: one key at a time.
type copyFile struct {
	path   string
	dbs    map[int]*copySpool
	maxVer uint16
	buf    []byte
}

// A copySpool holds the keys of one database.
type copySpool struct {
	f        *os.File
	w        *bufio.Writer
	keys     uint64
	expiring uint64
}

func newCopyFile(path string) *copyFile {
	return &copyFile{path: path, dbs: map[int]*copySpool{}}
}

// add spools a key.
func (cf *copyFile) add(e *source.ScanEntry) error {
	sp := cf.dbs[e.DB]
	if sp == nil {
		f, err := os.CreateTemp(filepath.Dir(cf.path), "."+filepath.Base(cf.path)+".db"+strconv.Itoa(e.DB)+".spool-*")
		if err != nil {
			return err
		}
		sp = &copySpool{f: f, w: bufio.NewWriterSize(f, 256<<10)}
		cf.dbs[e.DB] = sp
	}
	b := binary.AppendUvarint(cf.buf[:0], uint64(len(e.Key)))
	b = append(b, e.Key...)
	b = binary.AppendUvarint(b, uint64(len(e.Payload)))
	b = append(b, e.Payload...)
	b = binary.AppendVarint(b, e.ExpireAt)
	b = binary.AppendVarint(b, e.Idle)
	b = binary.AppendVarint(b, e.Freq)
	cf.buf = b
	if _, err := sp.w.Write(b); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	sp.keys++
	if e.ExpireAt != 0 {
		sp.expiring++
	}
	cf.maxVer = max(cf.maxVer, e.Version)
	return nil
}

// copyFileResult is what finish wrote.
type copyFileResult struct {
	Version  int    `json:"rdb_version"`
	Bytes    int64  `json:"bytes"`
	Keys     uint64 `json:"keys"`
	DBs      int    `json:"databases"`
	Checksum string `json:"crc64"`
}

// finish writes the RDB file and removes the spools.
func (cf *copyFile) finish(info *source.ScanInfo, libs []source.Library, now time.Time) (res copyFileResult, err error) {
	defer cf.abort()
	ver := int(cf.maxVer)
	if ver == 0 { // no key: the server's version
		ver = loader.TargetFor(info.Server, info.Version).Version
	}
	out, err := createOutput(cf.path, nil)
	if err != nil {
		return res, err
	}
	defer out.abort()
	cw := &copyCountingWriter{w: out}
	w := rdb.NewWriter(cw, ver, ver >= rdb.MinValkeyVersion)
	if ver >= 7 {
		for _, a := range copyAux(info, now) {
			w.WriteAux([]byte(a[0]), []byte(a[1]))
		}
	}
	if ver >= 10 {
		for _, l := range libs {
			w.WriteFunction(l.Code)
		}
	}
	for _, db := range slices.Sorted(maps.Keys(cf.dbs)) {
		sp := cf.dbs[db]
		w.SelectDB(db, sp.keys, sp.expiring)
		if err := cf.replay(sp, w); err != nil {
			return res, err
		}
		res.Keys += sp.keys
	}
	if err := w.Close(); err != nil {
		return res, err
	}
	if err := out.commit(); err != nil {
		return res, err
	}
	res.Version, res.Bytes, res.DBs = ver, cw.n, len(cf.dbs)
	res.Checksum = fmt.Sprintf("%016x", w.Checksum())
	return res, nil
}

// replay writes the spooled keys of one database.
func (cf *copyFile) replay(sp *copySpool, w *rdb.Writer) error {
	if err := sp.w.Flush(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	r := bufio.NewReaderSize(sp.f, 256<<10)
	var key, payload []byte
	for range sp.keys {
		var err error
		if key, err = readSpoolBytes(r, key); err != nil {
			return err
		}
		if payload, err = readSpoolBytes(r, payload); err != nil {
			return err
		}
		var v [3]int64
		for i := range v {
			if v[i], err = binary.ReadVarint(r); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
		}
		if err := w.WriteKey(key, payload, v[0], v[1], v[2]); err != nil {
			return err
		}
	}
	return nil
}

func readSpoolBytes(r *bufio.Reader, buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	buf = slices.Grow(buf[:0], int(n))[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return buf, nil
}

// abort removes the spools.
func (cf *copyFile) abort() {
	for _, sp := range cf.dbs {
		_ = sp.f.Close()
		_ = os.Remove(sp.f.Name())
	}
	cf.dbs = map[int]*copySpool{}
}

// copyAux returns the aux fields of a file written from a live source, as
// the server writes them: its version, word size, creation time, memory
// used, and aof-base 0.
func copyAux(info *source.ScanInfo, now time.Time) [][2]string {
	verName := "redis-ver"
	if info.Server == "valkey" && loader.TargetFor(info.Server, info.Version).Valkey {
		verName = "valkey-ver"
	}
	bits := info.Bits
	if bits == 0 {
		bits = 64
	}
	return [][2]string{
		{verName, info.Version},
		{"redis-bits", strconv.Itoa(bits)},
		{"ctime", strconv.FormatInt(now.Unix(), 10)},
		{"used-mem", strconv.FormatInt(info.UsedMem, 10)},
		{"aof-base", "0"},
	}
}

// copyCountingWriter counts the bytes written through it.
type copyCountingWriter struct {
	w io.Writer
	n int64
}

func (c *copyCountingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
