package loader

import (
	"bytes"
	"context"
	"errors"
	"strings"
)

// Function loads a function library, given its source code as an RDB
// holds it ("#!lua name=lib ..."), on every master with FUNCTION LOAD
// (REPLACE under ConflictReplace). A library that exists is a conflict
// (or skipped, under ConflictSkip); a refusal is a failure, named in
// Stats.FunctionFailures. In a dry run it only checks whether the library
// exists. The error is only ever ctx's.
func (l *Loader) Function(ctx context.Context, name, code []byte) error {
	lib := string(name)
	for _, addr := range l.masters() {
		c := l.client(addr)
		if l.o.DryRun {
			libs, err := c.Do(ctx, "FUNCTION", "LIST", "LIBRARYNAME", lib).Slice()
			if err == nil && len(libs) > 0 {
				l.functionOutcome(lib, "exists", nil)
				return ctx.Err()
			}
			continue
		}
		args := []any{"FUNCTION", "LOAD"}
		if l.o.Conflict == ConflictReplace {
			args = append(args, "REPLACE")
		}
		err := c.Do(ctx, append(args, code)...).Err()
		switch msg, _ := isRedisError(err); {
		case err == nil:
		case strings.Contains(msg, "already exists"):
			if same, _ := l.sameLibrary(ctx, addr, lib, code); same {
				continue // loaded already, by an interrupted run perhaps
			}
			l.functionOutcome(lib, "exists", nil)
			return ctx.Err()
		default:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.functionOutcome(lib, "failed", err)
			return nil
		}
	}
	l.functionOutcome(lib, "loaded", nil)
	return ctx.Err()
}

// sameLibrary reports whether the library on addr has this code.
func (l *Loader) sameLibrary(ctx context.Context, addr, lib string, code []byte) (bool, error) {
	libs, err := l.client(addr).Do(ctx, "FUNCTION", "LIST", "LIBRARYNAME", lib, "WITHCODE").Slice()
	if err != nil {
		return false, err
	}
	for _, x := range libs {
		a, _ := x.([]any)
		for i := 0; i+1 < len(a); i += 2 {
			if k, _ := a[i].(string); k == "library_code" {
				s, _ := a[i+1].(string)
				if bytes.Equal([]byte(s), code) {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

func (l *Loader) functionOutcome(lib, what string, err error) {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	s := &l.stats
	switch {
	case what == "loaded":
		s.Functions++
	case what == "exists" && l.o.Conflict == ConflictSkip:
		s.FunctionsSkipped++
	case what == "exists" && l.o.DryRun && l.o.Conflict == ConflictReplace:
		s.Functions++
	case what == "exists":
		s.FunctionConflicts++
		s.FunctionErrors = append(s.FunctionErrors, KeyError{DB: -1, Key: []byte(lib), Reason: "library exists"})
	default:
		s.FunctionsFailed++
		s.FunctionErrors = append(s.FunctionErrors, KeyError{DB: -1, Key: []byte(lib), Reason: "FUNCTION LOAD: " + err.Error()})
	}
}

// Script loads a Lua script (the "lua" aux field of old RDB files) into
// the script cache of every master with SCRIPT LOAD. A refusal is a
// failure, named in Stats.FunctionErrors; the error is only ever ctx's.
func (l *Loader) Script(ctx context.Context, src []byte) error {
	if l.o.DryRun {
		return nil
	}
	var errs []error
	for _, addr := range l.masters() {
		if err := l.client(addr).Do(ctx, "SCRIPT", "LOAD", src).Err(); err != nil {
			errs = append(errs, err)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	if len(errs) > 0 {
		l.stats.FunctionsFailed++
		l.stats.FunctionErrors = append(l.stats.FunctionErrors, KeyError{DB: -1, Key: []byte("lua script"),
			Reason: "SCRIPT LOAD: " + errors.Join(errs...).Error()})
		return nil
	}
	l.stats.Scripts++
	return nil
}
