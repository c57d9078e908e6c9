package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/rdb"
	"github.com/redis/go-redis/v9"
)

// scanAll reads every entry of a Scanner, keyed "db/key", with clones.
func scanAll(t *testing.T, o ScanOptions) (map[string]*ScanEntry, ScanStats) {
	t.Helper()
	s, err := NewScanner(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]*ScanEntry{}
	for {
		e, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c := *e
		c.Entry = *e.Clone()
		k := fmt.Sprintf("%d/%s", e.DB, e.Key)
		if got[k] != nil {
			t.Errorf("key %s read twice", k)
		}
		got[k] = &c
	}
	return got, s.Stats()
}

func TestScannerStandalone(t *testing.T) {
	srv := start(t)
	n := populate(t, srv, 60)
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rc.Close()

	t.Run("all", func(t *testing.T) {
		before := time.Now().UnixMilli()
		got, st := scanAll(t, ScanOptions{Redis: &redis.Options{Addr: srv.Addr}, Batch: 7, Count: 13})
		after := time.Now().UnixMilli()
		if len(got) != n || st.Read != int64(n) || st.Scanned != int64(n) || st.Vanished != 0 {
			t.Fatalf("read %d keys, stats %+v; want %d", len(got), st, n)
		}
		for name, e := range got {
			db, key, _ := strings.Cut(name, "/")
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: int(db[0] - '0')})
			raw, err := c.Dump(ctx, key).Result()
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			if want := rdb.AppendDump(nil, e.Payload, e.Version); !bytes.Equal(want, []byte(raw)) {
				t.Errorf("%s: payload differs from DUMP", name)
			}
			if e.Type != rdb.NewPayloadValue(e.Payload, int(e.Version)).Type {
				t.Errorf("%s: type %v", name, e.Type)
			}
			wantTTL := e.Type == rdb.TypeString
			if (e.ExpireAt != 0) != wantTTL {
				t.Errorf("%s: expire_at %d", name, e.ExpireAt)
			}
			if wantTTL && (e.ExpireAt < before+time.Hour.Milliseconds()-5000 || e.ExpireAt > after+time.Hour.Milliseconds()) {
				t.Errorf("%s: expire_at %d not about an hour from now", name, e.ExpireAt)
			}
			if e.Idle != -1 || e.Freq != -1 {
				t.Errorf("%s: idle %d freq %d, want -1", name, e.Idle, e.Freq)
			}
		}
	})
	t.Run("match type db", func(t *testing.T) {
		got, _ := scanAll(t, ScanOptions{Redis: &redis.Options{Addr: srv.Addr}, DBs: []int{1}, Match: "k:1:1*", Type: "hash"})
		// Hashes are the keys i%6 == 2; of 1 and 10..19, only 14.
		if e := got["1/k:1:14"]; len(got) != 1 || e == nil || e.Type != rdb.TypeHash {
			t.Fatalf("got %v, want only 1/k:1:14", keysOf(got))
		}
	})
	t.Run("keys vanished", func(t *testing.T) {
		keys := []ScanKey{{0, []byte("k:0:0")}, {1, []byte("k:1:1")}, {0, []byte("nope")}, {5, []byte("gone")}}
		got, st := scanAll(t, ScanOptions{Redis: &redis.Options{Addr: srv.Addr}, Keys: keys})
		if len(got) != 2 || st.Vanished != 2 || got["0/k:0:0"] == nil || got["1/k:1:1"] == nil {
			t.Fatalf("got %d keys, stats %+v", len(got), st)
		}
	})
	t.Run("keys only", func(t *testing.T) {
		got, st := scanAll(t, ScanOptions{Redis: &redis.Options{Addr: srv.Addr}, KeysOnly: true})
		if len(got) != n || st.Bytes != 0 {
			t.Fatalf("got %d keys, stats %+v", len(got), st)
		}
	})
	t.Run("rate", func(t *testing.T) {
		start := time.Now()
		got, _ := scanAll(t, ScanOptions{Redis: &redis.Options{Addr: srv.Addr}, DBs: []int{0}, Rate: 200})
		// 60 keys at 200/s: the first batch (10 keys) goes at once.
		if el := time.Since(start); el < 200*time.Millisecond || len(got) != 60 {
			t.Fatalf("%d keys in %v at 200 keys/s", len(got), el)
		}
	})
	t.Run("freq refused", func(t *testing.T) {
		s, err := NewScanner(ctx, ScanOptions{Redis: &redis.Options{Addr: srv.Addr}, Freq: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for {
			_, err = s.Next()
			if err != nil {
				break
			}
		}
		if err == io.EOF || !strings.Contains(err.Error(), "OBJECT FREQ") {
			t.Fatalf("err %v, want the OBJECT FREQ refusal", err)
		}
	})
	t.Run("idle", func(t *testing.T) {
		got, _ := scanAll(t, ScanOptions{Redis: &redis.Options{Addr: srv.Addr}, DBs: []int{5}, Idle: true})
		for name, e := range got {
			if e.Idle < 0 {
				t.Errorf("%s: idle %d", name, e.Idle)
			}
		}
	})
}

func TestScannerLFU(t *testing.T) {
	// No decay: the counter then changes only when a key is accessed, and the
	// scanner reads OBJECT FREQ (which does not access) before its DUMP (which
	// does, and may add one), so the value read before the scan is exact.
	srv := start(t, redistest.WithArgs("--maxmemory-policy", "allkeys-lfu", "--lfu-decay-time", "0"))
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rc.Close()
	ctx := context.Background()
	for i := range 20 {
		rc.Set(ctx, fmt.Sprint("k", i), i, 0)
		for range i * 10 {
			rc.Get(ctx, fmt.Sprint("k", i))
		}
	}
	want, _ := rc.ObjectFreq(ctx, "k19").Result()
	got, _ := scanAll(t, ScanOptions{Redis: &redis.Options{Addr: srv.Addr}, Freq: true})
	if e := got["0/k19"]; e == nil || e.Freq != want || e.Freq <= 5 {
		t.Fatalf("k19: %+v, want freq %d", e, want)
	}
}

func TestScannerCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	cc := cl.Client(t)
	ctx := context.Background()
	const n = 600
	for i := range n {
		if err := cc.Set(ctx, fmt.Sprint("key:", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	got, st := scanAll(t, ScanOptions{Redis: &redis.Options{Addr: cl.Nodes[1].Addr}})
	if len(got) != n || st.Read != n {
		t.Fatalf("read %d keys (%+v), want %d", len(got), st, n)
	}
	nodes := map[string]int{}
	for _, e := range got {
		nodes[e.Node]++
	}
	if len(nodes) != 3 {
		t.Fatalf("keys from %d masters, want 3: %v", len(nodes), nodes)
	}
	keys := []ScanKey{{0, []byte("key:1")}, {0, []byte("key:2")}, {0, []byte("key:3")}, {0, []byte("missing")}}
	got, st = scanAll(t, ScanOptions{Redis: &redis.Options{Addr: cl.Nodes[0].Addr}, Keys: keys})
	if len(got) != 3 || st.Vanished != 1 {
		t.Fatalf("read %d of the given keys (%+v)", len(got), st)
	}
	if _, err := NewScanner(ctx, ScanOptions{Redis: &redis.Options{Addr: cl.Nodes[0].Addr}, DBs: []int{2}}); err == nil {
		t.Fatal("database 2 of a cluster: no error")
	}
}

func TestScannerRefused(t *testing.T) {
	srv := start(t, redistest.WithACLUser("nodump on >pw ~* +@all -dump"))
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rc.Close()
	rc.Set(context.Background(), "a", "b", 0)
	s, err := NewScanner(context.Background(), ScanOptions{Redis: &redis.Options{Addr: srv.Addr, Username: "nodump", Password: "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Next()
	var re redis.Error
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "DUMP") {
		t.Fatalf("err %v, want a refused DUMP", err)
	}
	if _, err := NewScanner(context.Background(), ScanOptions{Redis: &redis.Options{Addr: srv.Addr, Username: "nodump", Password: "wrong"}}); err == nil {
		t.Fatal("wrong password: no error")
	}
}

func keysOf(m map[string]*ScanEntry) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestScannerReconnects kills the Scanner's connections again and again
// while it reads: each batch is sent again on a new connection, and every
// key is read once.
func TestScannerReconnects(t *testing.T) {
	srv := start(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rc.Close()
	ctx := context.Background()
	const n = 3000
	for i := range n {
		if err := rc.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := NewScanner(ctx, ScanOptions{Redis: &redis.Options{Addr: srv.Addr}, Batch: 20, Count: 20, InFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, kills := map[string]bool{}, 0
	for {
		e, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d keys and %d kills: %v", len(got), kills, err)
		}
		if got[string(e.Key)] {
			t.Fatalf("key %s read twice", e.Key)
		}
		got[string(e.Key)] = true
		if len(got)%300 == 0 {
			killed, err := rc.ClientKillByFilter(ctx, "TYPE", "normal", "SKIPME", "yes").Result()
			if err != nil {
				t.Fatal(err)
			}
			kills += int(killed)
		}
	}
	if len(got) != n || kills < 10 {
		t.Fatalf("read %d keys of %d, %d connections killed", len(got), n, kills)
	}
}
