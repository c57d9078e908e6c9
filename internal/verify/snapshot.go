package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// Snapshot reads the keys of databases dbs of a live server into the
// expected.jsonl form, so that another server can be compared with it:
// strings, lists, sets, sorted sets and hashes (not streams), with their
// expiry. Hash field expiries are not read.
func Snapshot(ctx context.Context, srv Server, dbs ...int) (*Expected, error) {
	exp := &Expected{}
	for _, db := range dbs {
		keys, err := srv.Keys(ctx, db)
		if err != nil {
			return nil, err
		}
		sort.Strings(keys)
		got, err := fetch(ctx, srv.Client(db), keys)
		if err != nil {
			return nil, err
		}
		for i, k := range keys {
			key, err := snapshotKey(k, &got[i])
			if err != nil {
				return nil, fmt.Errorf("verify: db %d key %q: %w", db, k, err)
			}
			key.DB = db
			exp.Keys = append(exp.Keys, key)
		}
	}
	return exp, nil
}

func snapshotKey(k string, f *fetched) (Key, error) {
	key := Key{Key: []byte(k), Type: f.typ}
	if f.err != nil {
		return key, f.err
	}
	if f.pt >= 0 {
		pt := f.pt
		key.ExpireAt = &pt
	}
	var v any
	switch f.typ {
	case "string":
		v = []byte(f.str)
	case "list":
		v = bytesOf(f.strs)
	case "set":
		l := append([]string(nil), f.strs...)
		sort.Strings(l)
		v = bytesOf(l)
	case "zset":
		var pairs [][2]any
		for i := 0; i+1 < len(f.strs); i += 2 {
			sc, err := strconv.ParseFloat(f.strs[i+1], 64)
			if err != nil {
				return key, err
			}
			pairs = append(pairs, [2]any{[]byte(f.strs[i]), strconv.FormatFloat(sc, 'g', -1, 64)})
		}
		v = pairs
	case "hash":
		var pairs [][2][]byte
		for i := 0; i+1 < len(f.strs); i += 2 {
			pairs = append(pairs, [2][]byte{[]byte(f.strs[i]), []byte(f.strs[i+1])})
		}
		sort.Slice(pairs, func(a, b int) bool { return string(pairs[a][0]) < string(pairs[b][0]) })
		v = pairs
	default:
		return key, fmt.Errorf("type %s: not supported by Snapshot", f.typ)
	}
	b, err := json.Marshal(v)
	key.Value = b
	return key, err
}

func bytesOf(s []string) [][]byte {
	b := make([][]byte, len(s))
	for i, x := range s {
		b[i] = []byte(x)
	}
	return b
}
