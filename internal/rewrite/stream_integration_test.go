package rewrite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/rdb"
)

// TestStreamedDeletedPending: a streamed stream (Payload nil) whose pending
// entries include deleted messages (XDEL, XTRIM) below and above its last
// entry is rebuilt exactly: same entries, counters, groups and PELs (ids,
// consumers, delivery times and counts), and no side key left behind.
func TestStreamedDeletedPending(t *testing.T) {
	s := redistest.Start(t, redistest.WithArgs("--stream-node-max-entries", "4"))
	ctx := context.Background()
	c := s.Client(t)
	do := func(args ...any) any {
		t.Helper()
		v, err := c.Do(ctx, args...).Result()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return v
	}
	for i := 1; i <= 40; i++ {
		args := []any{"XADD", "s", strconv.Itoa(i) + "-1", "f", "v" + strconv.Itoa(i)}
		if i%7 == 0 {
			args = append(args, "g", strings.Repeat("x", i), "h", "")
		}
		do(args...)
	}
	do("XGROUP", "CREATE", "s", "g1", "0")
	do("XGROUP", "CREATE", "s", "g2", "0")
	do("XGROUP", "CREATE", "s", "g3", "$")
	do("XREADGROUP", "GROUP", "g1", "c1", "COUNT", "30", "STREAMS", "s", ">")
	do("XREADGROUP", "GROUP", "g2", "c2", "COUNT", "12", "STREAMS", "s", ">")
	do("XREADGROUP", "GROUP", "g1", "c4", "COUNT", "10", "STREAMS", "s", ">")
	do("XCLAIM", "s", "g1", "c3", "0", "5-1", "6-1", "9-1", "IDLE", "12345", "RETRYCOUNT", "7")
	do("XDEL", "s", "3-1", "7-1", "8-1", "9-1", "20-1", "25-1", "38-1", "40-1")
	do("XTRIM", "s", "MINID", "2-1")
	for i := 50; i <= 55; i++ {
		do("XADD", "s", strconv.Itoa(i)+"-0", "f", "late")
	}
	do("XDEL", "s", "55-0")
	// t: the lowest pending entry is not deleted, the next one is.
	for i := 1; i <= 20; i++ {
		do("XADD", "t", strconv.Itoa(i)+"-0", "f", "v")
	}
	do("XGROUP", "CREATE", "t", "g", "0")
	do("XREADGROUP", "GROUP", "g", "c", "COUNT", "3", "STREAMS", "t", ">")
	do("XDEL", "t", "3-0")
	do("SAVE")

	dump, err := os.ReadFile(filepath.Join(s.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint(scrub(do("XINFO", "STREAM", "s", "FULL", "COUNT", "0")))
	if !strings.Contains(want, "20-1") || !strings.Contains(want, "40-1") {
		t.Fatalf("20-1 and 40-1 (deleted) not pending: %s", want)
	}
	wantT := fmt.Sprint(scrub(do("XINFO", "STREAM", "t", "FULL", "COUNT", "0")))
	for i := range 6 {
		maxArgs, src := []int{1, 3, 0}[i%3], []string{"s", "t"}[i/3]
		key := "copy" + strconv.Itoa(i)
		want, consumers := want, int64(4)
		if src == "t" {
			want, consumers = wantT, 1
		}
		r := rdb.NewReader(bytes.NewReader(dump))
		r.MaxPayload = 64
		var e *rdb.Entry
		for e == nil {
			x, err := r.Next()
			if err == io.EOF {
				t.Fatal("no stream in dump.rdb")
			}
			if err != nil {
				t.Fatal(err)
			}
			if x.Kind == rdb.KindKey && string(x.Key) == src {
				e = x
			}
		}
		if e.Payload != nil {
			t.Fatal("the stream is not streamed")
		}
		var loss Loss
		o := Options{Key: []byte(key), Temp: TempKey([]byte(key), "t"), TempTTL: 60000, MaxArgs: maxArgs, Loss: &loss}
		evals := 0
		err = Commands(e, e.Value(), o, func(args [][]byte) error {
			if string(args[0]) == "EVAL" {
				evals++
			}
			a := make([]any, len(args))
			for i, b := range args {
				a[i] = string(b)
			}
			_, err := c.Do(ctx, a...).Result()
			if err != nil {
				return fmt.Errorf("%.60q: %w", a, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if evals == 0 {
			t.Errorf("MaxArgs %d: no EVAL step", maxArgs)
		}
		if loss != (Loss{ConsumerTimes: consumers}) {
			t.Errorf("MaxArgs %d: loss %+v", maxArgs, loss)
		}
		got := fmt.Sprint(scrub(do("XINFO", "STREAM", key, "FULL", "COUNT", "0")))
		if got != want {
			t.Errorf("MaxArgs %d: %s from %s:\n%s\nwant:\n%s", maxArgs, key, src, got, want)
		}
		if n := do("DBSIZE"); n != int64(i+3) {
			t.Errorf("MaxArgs %d: %v keys, want %d: %v", maxArgs, n, i+3, do("KEYS", "*"))
		}
	}
}

// scrub replaces, in an XINFO STREAM FULL reply, what a rebuild does not
// keep (consumers' seen and active times, the radix tree's shape) with 0.
func scrub(v any) any {
	if m, ok := v.(map[any]any); ok {
		for k, x := range m {
			switch k {
			case "seen-time", "active-time", "radix-tree-keys", "radix-tree-nodes":
				m[k] = 0
			default:
				m[k] = scrub(x)
			}
		}
		return m
	}
	a, ok := v.([]any)
	if !ok {
		return v
	}
	for i := range a {
		switch k, _ := a[i].(string); k {
		case "seen-time", "active-time", "radix-tree-keys", "radix-tree-nodes":
			if i+1 < len(a) {
				a[i+1] = 0
			}
		}
		a[i] = scrub(a[i])
	}
	return a
}
