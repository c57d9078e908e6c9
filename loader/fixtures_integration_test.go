package loader

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/internal/verify"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// generated is the folder of the shared generated fixtures.
const generated = "../../shared/testdata/generated"

// fixtures returns the .rdb files of every version that come with an
// expected.jsonl. It skips the test when the folder is missing, except
// under CI.
func fixtures(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(generated, "*", "*.rdb"))
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("shared fixtures missing: " + generated)
		}
		t.Skip("shared fixtures missing: " + generated)
	}
	var out []string
	for _, f := range files {
		if _, err := os.Stat(expectedOf(f)); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func expectedOf(rdbPath string) string {
	return strings.TrimSuffix(rdbPath, ".rdb") + ".expected.jsonl"
}

// load writes every key and function of the RDB file at path with a new
// Loader and returns its final counters.
func load(t testing.TB, path string, o Options, maxPayload int) (Stats, error) {
	t.Helper()
	return loadWith(t, path, o, maxPayload, nil)
}

// loadWith is load with a hook called after each key given to Write, with
// the Loader and the number of keys so far.
func loadWith(t testing.TB, path string, o Options, maxPayload int, afterKey func(l *Loader, n int)) (Stats, error) {
	t.Helper()
	keys := 0
	ctx := context.Background()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rdb.NewReader(f)
	r.MaxPayload = maxPayload
	l, err := New(ctx, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			l.Close()
			t.Fatalf("%s: %v", path, err)
		}
		switch e.Kind {
		case rdb.KindKey:
			err = l.Write(ctx, e)
			if keys++; afterKey != nil {
				afterKey(l, keys)
			}
		case rdb.KindFunction:
			err = l.Function(ctx, e.Aux.Name, e.Aux.Value)
		}
		if err != nil {
			break
		}
	}
	if o.DryRun {
		l.FinishPlan(ctx)
	}
	return l.Close()
}

// flush empties a server: keys of every database and function libraries.
func flush(t testing.TB, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "FUNCTION", "FLUSH").Err(); err != nil {
		t.Fatal(err)
	}
}

// compareWith checks the server against the expected contents of the RDB
// file at path and fails t with the differences.
func compareWith(t testing.TB, srv verify.Server, path string, o verify.Options) {
	t.Helper()
	exp, err := verify.Load(expectedOf(path))
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := verify.Compare(context.Background(), srv, exp, o)
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	for i, d := range diffs {
		if i == 20 {
			t.Errorf("... %d differences in all", len(diffs))
			break
		}
		t.Error(d)
	}
}

func TestRestoreFixtures(t *testing.T) {
	srv := redistest.Start(t)
	files := fixtures(t)
	c := srv.Client(t)
	vs := verify.Standalone(&redis.Options{Addr: srv.Addr})
	defer verify.Close(vs)
	for _, mode := range []Mode{ModeAuto, ModeRewrite} {
		for _, path := range files {
			name := mode.String() + "/" + filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
			t.Run(name, func(t *testing.T) {
				flush(t, c)
				start := time.Now()
				st, err := load(t, path, Options{Redis: &redis.Options{Addr: srv.Addr}, Mode: mode}, 0)
				if err != nil {
					t.Fatal(err)
				}
				if st.Failed != 0 || st.Conflicts != 0 || st.FunctionsFailed != 0 {
					t.Fatalf("failed %d (%v), conflicts %d, function errors %v", st.Failed, st.Failures, st.Conflicts, st.FunctionErrors)
				}
				if st.Done() != st.Read {
					t.Fatalf("read %d keys, settled %d", st.Read, st.Done())
				}
				compareWith(t, vs, path, verify.Options{Now: start, Functions: true, ConsumerTimes: mode != ModeRewrite})
			})
		}
	}
}
