package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// syncPosition is where a sync stands in the source's replication
// stream: the content of a --checkpoint file.
type syncPosition struct {
	Version     int    `json:"version"`
	Source      string `json:"source"`      // redacted URL
	Destination string `json:"destination"` // redacted URL
	// Phase is "snapshot" while a snapshot is being loaded (nothing to
	// resume: the next run starts with a full sync), "stream" after.
	Phase  string `json:"phase"`
	ReplID string `json:"replid,omitempty"`
	// Offset is the source's replication offset read from the link;
	// Applied the offset just after the last command applied, where
	// PSYNC resumes; DB the database selected at Applied.
	Offset    int64     `json:"offset"`
	Applied   int64     `json:"applied_offset"`
	DB        int       `json:"db"`
	KeepAlive []keptKey `json:"keep_alive,omitempty"` // snapshot keys still held alive
	Updated   string    `json:"updated"`
}

const syncCheckpointVersion = 1

// resumable reports whether PSYNC can continue from p.
func (p *syncPosition) resumable() bool {
	return p.Phase == "stream" && len(p.ReplID) == 40 && p.Applied >= 0
}

// syncCheckpoint writes the position of a run to its --checkpoint file.
type syncCheckpoint struct {
	path   string // "" for none
	source string
	dest   string
	prev   *syncPosition // --resume: the interrupted run's
	mu     sync.Mutex
}

// read returns the position of the interrupted run, nil if the file does
// not exist. A checkpoint of another source or destination is an error.
func (cp *syncCheckpoint) read() (*syncPosition, error) {
	b, err := os.ReadFile(cp.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sync: checkpoint: %w", err)
	}
	var p syncPosition
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("sync: checkpoint %s: %w", cp.path, err)
	}
	switch {
	case p.Version != syncCheckpointVersion:
		return nil, fmt.Errorf("sync: checkpoint %s: version %d, want %d", cp.path, p.Version, syncCheckpointVersion)
	case p.Source != cp.source || p.Destination != cp.dest:
		return nil, fmt.Errorf("sync: checkpoint %s is of %s -> %s, not %s -> %s", cp.path, p.Source, p.Destination, cp.source, cp.dest)
	}
	return &p, nil
}

// write saves p atomically: a temporary file beside it, synced, renamed
// over it.
func (cp *syncCheckpoint) write(p syncPosition) error {
	if cp.path == "" {
		return nil
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	p.Version, p.Source, p.Destination = syncCheckpointVersion, cp.source, cp.dest
	p.Updated = time.Now().UTC().Format(time.RFC3339Nano)
	b, err := json.MarshalIndent(&p, "", "  ")
	if err != nil {
		return err
	}
	if err := writeCheckpointFile(cp.path, append(b, '\n')); err != nil {
		return fmt.Errorf("sync: checkpoint: %w", err)
	}
	return nil
}

// markSnapshot records that a snapshot is being loaded: until the stream
// starts, there is nothing to resume.
func (cp *syncCheckpoint) markSnapshot() error {
	return cp.write(syncPosition{Phase: "snapshot"})
}

// position returns the current position. It is called by the applying
// goroutine, or once it has stopped.
func (run *syncRun) position() syncPosition {
	p := syncPosition{Phase: "stream", ReplID: run.replID, Applied: run.applied.Load(), DB: run.appliedDB}
	p.Offset = p.Applied
	if c := run.link.Load(); c != nil {
		p.Offset = max(p.Offset, c.Offset())
	}
	p.KeepAlive = run.keep.list()
	return p
}

// saveCheckpoint writes the position, once the destination holds a
// whole snapshot (before, the file says "snapshot").
func (run *syncRun) saveCheckpoint() error {
	if run.cp.path == "" || !run.ready.Load() || run.replID == "" {
		return nil
	}
	return run.cp.write(run.position())
}
