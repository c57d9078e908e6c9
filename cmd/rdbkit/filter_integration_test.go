package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rdbkit/rdbkit/internal/redistest"
)

// TestGlobMatchesRedis compares --match with what a real server's KEYS
// returns, for the table of TestGlobMatch and for random patterns over an
// alphabet rich in metacharacters.
func TestGlobMatchesRedis(t *testing.T) {
	srv := redistest.Start(t)
	rc := srv.Client(t)
	ctx := context.Background()

	keySet := map[string]bool{}
	var patterns []string
	for _, tt := range globTests {
		if tt.redisDiffers || tt.pattern == "" {
			continue // --match "" is no filter at all
		}
		keySet[tt.s] = true
		patterns = append(patterns, tt.pattern)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(alphabet string, n int) string {
		b := make([]byte, rng.IntN(n+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 300 {
		keySet[random(`ab-]^\[*?`, 5)] = true
	}
	for range 1500 {
		patterns = append(patterns, random(`ab*?[]^-\`, 7))
	}
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
		if err := rc.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(keys)

	pipe := rc.Pipeline()
	var cmds []interface{ Val() []string }
	var pats []string
	for _, p := range patterns {
		if p == "" {
			continue
		}
		cmds = append(cmds, pipe.Keys(ctx, p))
		pats = append(pats, p)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, p := range pats {
		want := cmds[i].Val()
		slices.Sort(want)
		f, err := newFilter("test", filterOptions{match: p})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range keys {
			if f.match(keyEntry(k), testNow) {
				got = append(got, k)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("KEYS %q: redis %q, rdbkit %q", p, want, got)
		}
	}
}
