package main

import (
	"testing"
)

func TestCompareReservoir(t *testing.T) {
	const trials, n, items = 20000, 3, 10
	var hits [items]int
	for range trials {
		r := compareReservoir[int]{n: n}
		for i := range items {
			r.add(i)
		}
		if len(r.items) != n || r.seen != items {
			t.Fatalf("kept %d of %d", len(r.items), r.seen)
		}
		for _, x := range r.items {
			hits[x]++
		}
	}
	// Each item is kept with probability n/items: 6000 of 20000 trials.
	for i, h := range hits {
		if h < 5500 || h > 6500 {
			t.Errorf("item %d kept %d times, want about 6000", i, h)
		}
	}
	r := compareReservoir[int]{n: 5}
	r.add(1)
	if len(r.items) != 1 {
		t.Fatalf("short stream: %v", r.items)
	}
}

func TestIsLiveSource(t *testing.T) {
	for s, want := range map[string]bool{
		"redis://h:1": true, "REDISS://h": true, "unix:///tmp/s": true,
		"dump.rdb": false, "/tmp/redis://x": false, "host:6379": false, "http://x": false,
	} {
		if got := isLiveSource(s); got != want {
			t.Errorf("isLiveSource(%q) = %v", s, got)
		}
	}
}
