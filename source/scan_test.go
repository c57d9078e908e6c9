package source

import (
	"context"
	"testing"
	"time"
)

func TestKeySet(t *testing.T) {
	var ks keySet
	for i := range uint64(5000) {
		if !ks.add(i * 7919) {
			t.Fatalf("%d: not new", i)
		}
	}
	for i := range uint64(5000) {
		if ks.add(i * 7919) {
			t.Fatalf("%d: new twice", i)
		}
	}
	if ks.n != 5000 {
		t.Fatalf("n = %d", ks.n)
	}
	// reset empties it, sized for the hint: no growth up to it.
	for _, hint := range []int64{0, 5000, 100_000} {
		ks.reset(hint)
		size := len(ks.slots)
		if ks.n != 0 || int64(size) < 2*(hint+1) || size < 1024 || size&(size-1) != 0 {
			t.Fatalf("reset(%d): n %d, %d slots", hint, ks.n, size)
		}
		for i := range uint64(max(hint, 3000)) {
			if !ks.add(i*7919 + 1) {
				t.Fatalf("reset(%d): %d not new", hint, i)
			}
		}
		if hint > 0 && len(ks.slots) != size {
			t.Errorf("reset(%d): grew from %d to %d slots", hint, size, len(ks.slots))
		}
	}
}

func TestKeyspaceKeys(t *testing.T) {
	info := parseInfo("# Keyspace\r\ndb0:keys=850000,expires=50984,avg_ttl=0\r\ndb2:keys=7,expires=0,avg_ttl=0\r\ndb5:expires=0\r\n")
	got := keyspaceKeys(info)
	if len(got) != 2 || got[0] != 850000 || got[2] != 7 {
		t.Errorf("keyspaceKeys = %v", got)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(1000)
	start := time.Now()
	for range 10 {
		if err := l.wait(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
	}
	// 100 keys at 1000/s: the last 10 go after 90 ms.
	if el := time.Since(start); el < 85*time.Millisecond || el > time.Second {
		t.Fatalf("100 keys at 1000/s took %v", el)
	}
	var nl *limiter
	if err := nl.wait(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
}
