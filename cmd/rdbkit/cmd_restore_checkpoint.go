package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rdbkit/rdbkit/loader"
)

// checkpointFile is the content of a --checkpoint file.
type checkpointFile struct {
	Version     int    `json:"version"`
	File        string `json:"file"`        // the RDB file, as given
	Size        int64  `json:"size"`        // its size
	Head        string `json:"head_sha256"` // SHA-256 of its first 64 KiB
	Destination string `json:"destination"` // redacted URL
	loader.Checkpoint
	Complete bool   `json:"complete"` // the run read the whole file and every key settled
	Updated  string `json:"updated"`
}

const checkpointVersion = 1

// restoreCheckpoint keeps a run's checkpoint file up to date.
type restoreCheckpoint struct {
	path string
	head checkpointFile     // identity of the input and destination
	prev *loader.Checkpoint // the interrupted run's progress (--resume)
	done map[int64]bool     // prev.Done
	mu   sync.Mutex
}

// openCheckpoint prepares the checkpoint of a run of file into dest. With
// resume it reads the file left by an interrupted run, which must be of
// the same input (a missing file starts from the beginning).
func openCheckpoint(path, file, dest string, resume bool) (*restoreCheckpoint, error) {
	head, err := fileIdentity(file)
	if err != nil {
		return nil, err
	}
	head.Version, head.Destination = checkpointVersion, dest
	cp := &restoreCheckpoint{path: path, head: head}
	if !resume {
		return cp, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore: checkpoint: %w", err)
	}
	var old checkpointFile
	if err := json.Unmarshal(b, &old); err != nil {
		return nil, fmt.Errorf("restore: checkpoint %s: %w", path, err)
	}
	switch {
	case old.Version != checkpointVersion:
		return nil, fmt.Errorf("restore: checkpoint %s: version %d, want %d", path, old.Version, checkpointVersion)
	case old.Size != head.Size || old.Head != head.Head:
		return nil, fmt.Errorf("restore: checkpoint %s is of another file than %s (size or content differ)", path, file)
	}
	prev := old.Checkpoint
	cp.prev = &prev
	cp.done = map[int64]bool{}
	for _, off := range prev.Done {
		cp.done[off] = true
	}
	if old.Complete {
		prev.Offset = head.Size // everything is done
	}
	return cp, nil
}

// fileIdentity returns the size and head hash of file.
func fileIdentity(file string) (checkpointFile, error) {
	f, err := os.Open(file)
	if err != nil {
		return checkpointFile{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return checkpointFile{}, err
	}
	h := sha256.New()
	if _, err := io.CopyN(h, f, 64<<10); err != nil && err != io.EOF {
		return checkpointFile{}, err
	}
	return checkpointFile{File: file, Size: st.Size(), Head: hex.EncodeToString(h.Sum(nil))}, nil
}

// skip reports whether the record at off was settled by the interrupted run.
func (cp *restoreCheckpoint) skip(off int64) bool {
	return cp.prev != nil && (off <= cp.prev.Offset || cp.done[off])
}

// inDoubt reports whether the key at off was sent by the interrupted run
// without an answer.
func (cp *restoreCheckpoint) inDoubt(off int64) bool {
	return cp.prev != nil && off > cp.prev.Offset && off <= cp.prev.Last && !cp.done[off]
}

// merge combines the interrupted run's progress with this run's.
func (cp *restoreCheckpoint) merge(now loader.Checkpoint) loader.Checkpoint {
	if cp.prev == nil {
		return now
	}
	p := *cp.prev
	out := loader.Checkpoint{Offset: max(p.Offset, now.Offset), Last: max(p.Last, now.Last), Keys: p.Keys + now.Keys}
	for _, off := range p.Done {
		if off > out.Offset {
			out.Done = append(out.Done, off)
		}
	}
	for _, off := range now.Done {
		if off > out.Offset {
			out.Done = append(out.Done, off)
		}
	}
	slices.Sort(out.Done)
	out.Done = slices.Compact(out.Done)
	return out
}

// write saves the checkpoint atomically: a temporary file beside it,
// synced, renamed over it.
func (cp *restoreCheckpoint) write(now loader.Checkpoint, complete bool) error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	c := cp.head
	c.Checkpoint = cp.merge(now)
	c.Complete = complete
	c.Updated = time.Now().UTC().Format(time.RFC3339)
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return err
	}
	if err := writeCheckpointFile(cp.path, append(b, '\n')); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// writeCheckpointFile writes data to path atomically: a temporary file
// beside it (mode 0600, as os.CreateTemp makes it), synced, renamed over
// it. The temporary file is removed on failure. (writeFileAtomic of
// memory --html makes the file 0644 and names its temporary file
// otherwise.)
func writeCheckpointFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// startCheckpoints writes the checkpoint every second until the returned
// function is called, which writes it a last time.
func (run *restoreRun) startCheckpoints(stderr io.Writer) func(complete bool) error {
	if run.cp == nil || run.opts.dryRun {
		return func(bool) error { return nil }
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		warned := false
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := run.cp.write(run.l.Checkpoint(), false); err != nil && !warned {
					fmt.Fprintf(stderr, "restore: %v\n", err)
					warned = true
				}
			}
		}
	}()
	return func(complete bool) error {
		close(done)
		wg.Wait()
		return run.cp.write(run.l.Checkpoint(), complete)
	}
}
