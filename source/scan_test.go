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
