package loader

import (
	"bytes"
	"slices"
	"strings"

	"github.com/rdbkit/rdbkit/internal/rewrite"
	"github.com/rdbkit/rdbkit/rdb"
)

// Stats counts what became of the keys given to a Loader. Every key ends
// in exactly one of Restored, Set, Transcoded, Rewritten, Expired,
// Conflicts, Skipped and Failed; keys still in flight are counted in none
// of them.
type Stats struct {
	Read       int64 // keys given to Write
	Restored   int64 // written with RESTORE of the file's payload
	Set        int64 // strings without expiry written from their value, many to an MSETNX (see mset.go)
	Transcoded int64 // written with RESTORE of a payload transcoded for the target
	Rewritten  int64 // written with commands
	Expired    int64 // left out: their expiry (or every field's) had passed
	Conflicts  int64 // left alone: the key exists (the default policy)
	Skipped    int64 // left alone: the key exists (ConflictSkip)
	Failed     int64 // not written: see Failures

	Bytes int64 // payload bytes acknowledged (RESTORE) or arguments of commands

	// Redirects counts the commands sent to another node after a MOVED or
	// an ASK; Retries the commands sent again after a lost connection, a
	// failover or a busy server (TRYAGAIN, LOADING, CLUSTERDOWN, ...).
	Redirects, Retries int64

	// Streamed counts the rewritten keys that were too large to buffer:
	// their commands were made as their value was read.
	Streamed int64

	// Recovered counts keys whose RESTORE was sent again after a dropped
	// connection and found already written with the same value.
	Recovered int64

	// Loss adds up what transcoding dropped; RewriteLoss what commands
	// could not carry. LossKeys names the first keys that lost something.
	Loss        rdb.Loss
	RewriteLoss rewrite.Loss
	LossKeys    []KeyError

	Failures     []KeyError // the first failed keys, with the reason
	ConflictKeys []KeyError // the first conflicting keys

	Functions         int64      // function libraries loaded
	FunctionConflicts int64      // libraries that existed with other code (default policy)
	FunctionsSkipped  int64      // libraries that existed (ConflictSkip)
	FunctionsFailed   int64      // libraries or scripts refused
	Scripts           int64      // Lua scripts loaded (SCRIPT LOAD)
	FunctionErrors    []KeyError // the libraries (Key) that conflicted or failed; DB is -1

	// Plan is filled in by a dry run.
	Plan *Plan
}

// A KeyError names a key and what happened to it.
type KeyError struct {
	DB     int    `json:"db"`
	Key    []byte `json:"key"`
	Reason string `json:"reason"`
}

// Written returns the keys written: restored, transcoded and rewritten.
func (s *Stats) Written() int64 { return s.Restored + s.Set + s.Transcoded + s.Rewritten }

// Done returns the keys whose outcome is known.
func (s *Stats) Done() int64 {
	return s.Written() + s.Expired + s.Conflicts + s.Skipped + s.Failed
}

// OK reports whether every key was written or deliberately left out
// (expired, or existing under ConflictSkip), and every function library
// loaded or skipped.
func (s *Stats) OK() bool {
	return s.Failed == 0 && s.Conflicts == 0 && s.FunctionConflicts == 0 && s.FunctionsFailed == 0
}

func (s *Stats) clone() Stats {
	c := *s
	c.LossKeys = slices.Clone(s.LossKeys)
	c.Failures = slices.Clone(s.Failures)
	c.ConflictKeys = slices.Clone(s.ConflictKeys)
	c.FunctionErrors = slices.Clone(s.FunctionErrors)
	if s.Plan != nil {
		c.Plan = s.Plan.clone()
	}
	return c
}

// outcome is how a key ended.
type outcome int

const (
	outRestored outcome = iota
	outSet
	outTranscoded
	outRewritten
	outExpired
	outConflict
	outSkipped
	outFailed
)

// settle records the outcome of a key and marks it done for checkpoints.
func (l *Loader) settle(j *job, out outcome, reason string) {
	l.statsMu.Lock()
	l.count(j, out, reason)
	l.statsMu.Unlock()
	if l.o.OnKeyError != nil && (out == outFailed || out == outConflict) {
		l.o.OnKeyError(KeyError{j.db, bytes.Clone(j.key), reason}, out == outConflict)
	}
	// A failed key holds the checkpoint back: a resumed run sends it again.
	l.track.done(j.seq, out != outFailed)
}

// settleWritten settles keys written (each with its outcome in out),
// with one lock of the counters and one of the tracker for them all.
func (l *Loader) settleWritten(js []*job) {
	l.statsMu.Lock()
	for _, j := range js {
		l.count(j, j.out, "")
	}
	l.statsMu.Unlock()
	l.track.doneAll(js)
}

// count adds the outcome of a key to the counters. l.statsMu is held.
func (l *Loader) count(j *job, out outcome, reason string) {
	s := &l.stats
	switch out {
	case outRestored:
		s.Restored++
	case outSet:
		s.Set++
	case outTranscoded:
		s.Transcoded++
	case outRewritten:
		s.Rewritten++
	case outExpired:
		s.Expired++
	case outConflict:
		s.Conflicts++
		if len(s.ConflictKeys) < l.o.FailLimit {
			s.ConflictKeys = append(s.ConflictKeys, KeyError{j.db, bytes.Clone(j.key), reason})
		}
	case outSkipped:
		s.Skipped++
	case outFailed:
		s.Failed++
		if len(s.Failures) < l.o.FailLimit {
			s.Failures = append(s.Failures, KeyError{j.db, bytes.Clone(j.key), reason})
		}
	}
	if out <= outRewritten {
		s.Bytes += j.size
	}
	if !j.loss.IsZero() || !j.rwLoss.Zero() {
		s.Loss.Add(j.loss)
		s.RewriteLoss.Add(j.rwLoss)
		if len(s.LossKeys) < l.o.FailLimit {
			s.LossKeys = append(s.LossKeys, KeyError{j.db, bytes.Clone(j.key), lossText(j.loss, j.rwLoss)})
		}
	}
}

// lossText describes what a key lost.
func lossText(l rdb.Loss, r rewrite.Loss) string {
	var parts []string
	if !l.IsZero() {
		parts = append(parts, l.String())
	}
	if !r.Zero() {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, "; ")
}
