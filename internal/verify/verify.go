// Package verify compares the keys of a live Redis with the description of
// a generated fixture (shared/testdata/generated/*/<theme>.expected.jsonl,
// see its README): type, value, expiry within a tolerance, nothing missing,
// nothing extra. It reads the server with ordinary commands (GET, LRANGE,
// SMEMBERS, ZRANGE, HGETALL, XINFO STREAM FULL, PEXPIRETIME), never with
// DUMP, so that it does not depend on the decoder it helps to test.
//
// It is meant for tests; it lives outside _test files so that the tests of
// several packages share it.
package verify

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key is one key line of an expected.jsonl file.
type Key struct {
	DB            int               `json:"db"`
	Key           []byte            `json:"key"`
	Type          string            `json:"type"`
	Encoding      string            `json:"encoding"`
	RDBType       int               `json:"rdb_type"`
	ExpireAt      *int64            `json:"expire_at_ms"`
	ExpiredAtSave bool              `json:"expired_at_save"`
	Value         json.RawMessage   `json:"value"`
	ValueSHA256   string            `json:"value_sha256"`
	Len           int64             `json:"len"`
	FieldExpires  []json.RawMessage `json:"field_expires"`
	Slot          *int              `json:"slot"`
}

// Function is a function library line.
type Function struct {
	Library string `json:"library"`
	Code    string `json:"code"`
}

// Expected is the content of an expected.jsonl file.
type Expected struct {
	Keys      []Key
	Functions []Function
}

// Load reads an expected.jsonl file.
func Load(path string) (*Expected, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	exp := &Expected{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(line, &kind); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if kind.Kind == "function" {
			var fn Function
			if err := json.Unmarshal(line, &fn); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
			exp.Functions = append(exp.Functions, fn)
			continue
		}
		var k Key
		if err := json.Unmarshal(line, &k); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		exp.Keys = append(exp.Keys, k)
	}
	return exp, sc.Err()
}

// Options adjust a comparison.
type Options struct {
	// Now is the time the data was written; keys and hash fields whose
	// expiry is at or before it must be absent. Keys expiring within
	// TTLSlack of the comparison may be absent too. Zero: time.Now().
	Now time.Time
	// TTLSlack is the tolerance on expiry times; 0 means one second.
	TTLSlack time.Duration
	// DBMap maps a database of the file to one of the server (--db-map).
	DBMap map[int]int
	// Select, if not nil, says which expected keys were written (filters).
	Select func(k *Key) bool
	// ConsumerTimes compares stream consumers' seen and active times, which
	// only RESTORE keeps (commands make them the time of writing).
	ConsumerTimes bool
	// FieldTTLs compares hash field expiries (servers with HPEXPIRETIME).
	FieldTTLs bool
	// Functions compares function libraries (FUNCTION LIST WITHCODE).
	Functions bool
}

// A Client runs commands: a *redis.Client or a *redis.ClusterClient.
type Client interface {
	redis.Cmdable
	Do(ctx context.Context, args ...any) *redis.Cmd
}

// A Server is the database being checked.
type Server interface {
	// Client returns a client of database db.
	Client(db int) Client
	// Keys returns every key of database db.
	Keys(ctx context.Context, db int) ([]string, error)
}

// Standalone returns the Server of one redis-server; opt is copied and
// its DB replaced for each database.
func Standalone(opt *redis.Options) Server {
	return &standalone{opt: *opt, clients: map[int]*redis.Client{}}
}

type standalone struct {
	opt     redis.Options
	clients map[int]*redis.Client
}

func (s *standalone) Client(db int) Client {
	c := s.clients[db]
	if c == nil {
		o := s.opt
		o.DB = db
		o.Protocol = 2
		c = redis.NewClient(&o)
		s.clients[db] = c
	}
	return c
}

func (s *standalone) Keys(ctx context.Context, db int) ([]string, error) {
	return scanAll(ctx, s.Client(db))
}

// Close closes the clients made by Standalone or Cluster.
func Close(s Server) {
	switch s := s.(type) {
	case *standalone:
		for _, c := range s.clients {
			_ = c.Close()
		}
	case *cluster:
		_ = s.c.Close()
	}
}

// Cluster returns the Server of a Redis Cluster (database 0 only), with a
// client of its own (RESP2) made from c's options.
func Cluster(c *redis.ClusterClient) Server {
	o := *c.Options()
	o.Protocol = 2
	return &cluster{redis.NewClusterClient(&o)}
}

type cluster struct{ c *redis.ClusterClient }

func (c *cluster) Client(int) Client { return c.c }

func (c *cluster) Keys(ctx context.Context, _ int) ([]string, error) {
	var keys []string
	ch := make(chan []string, 16)
	err := c.c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		k, err := scanAll(ctx, n)
		ch <- k
		return err
	})
	close(ch)
	for k := range ch {
		keys = append(keys, k...)
	}
	return keys, err
}

func scanAll(ctx context.Context, c Client) ([]string, error) {
	var keys []string
	var cursor uint64
	for {
		k, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
		if cursor = next; cursor == 0 {
			return keys, nil
		}
	}
}

// Compare checks srv against exp and returns the differences, one line
// each, empty when there is none.
func Compare(ctx context.Context, srv Server, exp *Expected, o Options) ([]string, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.TTLSlack == 0 {
		o.TTLSlack = time.Second
	}
	var diffs []string
	want := map[int]map[string]bool{} // server db -> keys expected present
	dbs := map[int]bool{}
	checkedAt := time.Now()
	todo := map[int][]*Key{}
	for i := range exp.Keys {
		k := &exp.Keys[i]
		db := k.DB
		if d, ok := o.DBMap[db]; ok {
			db = d
		}
		dbs[db] = true
		if want[db] == nil {
			want[db] = map[string]bool{}
		}
		if o.Select != nil && !o.Select(k) {
			continue
		}
		if k.ExpiredAtSave || k.ExpireAt != nil && *k.ExpireAt <= o.Now.UnixMilli() {
			continue // must be absent: checked with the extra keys
		}
		todo[db] = append(todo[db], k)
	}
	for _, db := range slices.Sorted(mapsKeys(dbs)) {
		keys := todo[db]
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = string(k.Key)
		}
		c := srv.Client(db)
		got, err := fetch(ctx, c, names)
		if err != nil {
			return diffs, err
		}
		for i, k := range keys {
			name := fmt.Sprintf("db %d key %q", db, k.Key)
			mayBeGone := k.ExpireAt != nil && *k.ExpireAt <= checkedAt.Add(o.TTLSlack+time.Minute).UnixMilli()
			d, present, err := compareKey(ctx, c, k, &got[i], &o)
			if err != nil {
				return diffs, fmt.Errorf("%s: %w", name, err)
			}
			if !present && mayBeGone {
				continue
			}
			if present {
				want[db][string(k.Key)] = true
			}
			for _, s := range d {
				diffs = append(diffs, name+": "+s)
			}
		}
	}
	for _, db := range slices.Sorted(mapsKeys(dbs)) {
		keys, err := srv.Keys(ctx, db)
		if err != nil {
			return diffs, err
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !want[db][k] {
				diffs = append(diffs, fmt.Sprintf("db %d key %q: not expected (extra key)", db, k))
			}
		}
	}
	if o.Functions {
		d, err := compareFunctions(ctx, srv.Client(0), exp.Functions)
		if err != nil {
			return diffs, err
		}
		diffs = append(diffs, d...)
	}
	return diffs, nil
}

func mapsKeys(m map[int]bool) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// fetched is what a server holds for a key.
type fetched struct {
	typ  string
	pt   int64    // PEXPIRETIME
	str  string   // string
	strs []string // list, set, zset (WITHSCORES), hash (field, value, ...)
	arr  []any    // stream (XINFO STREAM FULL)
	err  error
}

// fetch reads keys in pipelines: TYPE and PEXPIRETIME, then the value.
func fetch(ctx context.Context, c Client, keys []string) ([]fetched, error) {
	out := make([]fetched, len(keys))
	const batch = 500
	for start := 0; start < len(keys); start += batch {
		part := keys[start:min(start+batch, len(keys))]
		pipe := c.Pipeline()
		types := make([]*redis.StatusCmd, len(part))
		pts := make([]*redis.Cmd, len(part))
		for i, k := range part {
			types[i] = pipe.Type(ctx, k)
			pts[i] = pipe.Do(ctx, "PEXPIRETIME", k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
		pipe = c.Pipeline()
		vals := make([]*redis.Cmd, len(part))
		for i, k := range part {
			f := &out[start+i]
			f.typ = types[i].Val()
			f.pt, _ = pts[i].Int64()
			switch f.typ {
			case "string":
				vals[i] = pipe.Do(ctx, "GET", k)
			case "list":
				vals[i] = pipe.Do(ctx, "LRANGE", k, 0, -1)
			case "set":
				vals[i] = pipe.Do(ctx, "SMEMBERS", k)
			case "zset":
				vals[i] = pipe.Do(ctx, "ZRANGE", k, 0, -1, "WITHSCORES")
			case "hash":
				vals[i] = pipe.Do(ctx, "HGETALL", k)
			case "stream":
				vals[i] = pipe.Do(ctx, "XINFO", "STREAM", k, "FULL", "COUNT", 0)
			}
		}
		_, _ = pipe.Exec(ctx)
		for i, v := range vals {
			if v == nil {
				continue
			}
			f := &out[start+i]
			switch f.typ {
			case "string":
				f.str, f.err = v.Text()
			case "stream":
				f.arr, f.err = v.Slice()
			default:
				f.strs, f.err = v.StringSlice()
			}
		}
	}
	return out, nil
}

// compareKey compares one key; present reports whether the server has it.
func compareKey(ctx context.Context, c Client, k *Key, f *fetched, o *Options) (diffs []string, present bool, err error) {
	if f.typ == "none" || f.typ == "" {
		return []string{"missing"}, false, nil
	}
	if f.typ != k.Type {
		return []string{fmt.Sprintf("type %s, want %s", f.typ, k.Type)}, true, nil
	}
	if f.err != nil {
		return nil, true, f.err
	}
	pt := f.pt
	switch {
	case k.ExpireAt == nil && pt != -1:
		diffs = append(diffs, fmt.Sprintf("expires at %d ms, want no expiry", pt))
	case k.ExpireAt != nil && math.Abs(float64(pt-*k.ExpireAt)) > float64(o.TTLSlack.Milliseconds()):
		diffs = append(diffs, fmt.Sprintf("expires at %d ms, want %d", pt, *k.ExpireAt))
	}
	var d []string
	switch k.Type {
	case "string":
		d, err = compareString(f.str, k)
	case "list":
		d, err = compareList(f.strs, k)
	case "set":
		d, err = compareSet(f.strs, k)
	case "zset":
		d, err = compareZSet(f.strs, k)
	case "hash":
		d, err = compareHash(ctx, c, f.strs, k, o)
	case "stream":
		d, err = compareStream(f.arr, k, o)
	default:
		err = fmt.Errorf("verify: unsupported type %q", k.Type)
	}
	return append(diffs, d...), true, err
}

func compareString(got string, k *Key) ([]string, error) {
	if k.ValueSHA256 != "" {
		sum := sha256.Sum256([]byte(got))
		if hex.EncodeToString(sum[:]) != k.ValueSHA256 || int64(len(got)) != k.Len {
			return []string{fmt.Sprintf("value of %d bytes with another SHA-256, want %d bytes", len(got), k.Len)}, nil
		}
		return nil, nil
	}
	var want []byte
	if err := json.Unmarshal(k.Value, &want); err != nil {
		return nil, err
	}
	if got != string(want) {
		return []string{"value " + short(got) + ", want " + short(string(want))}, nil
	}
	return nil, nil
}

func compareList(got []string, k *Key) ([]string, error) {
	var want [][]byte
	if err := json.Unmarshal(k.Value, &want); err != nil {
		return nil, err
	}
	return diffStrings("element", got, strs(want)), nil
}

func compareSet(got []string, k *Key) ([]string, error) {
	var want [][]byte
	if err := json.Unmarshal(k.Value, &want); err != nil {
		return nil, err
	}
	sort.Strings(got)
	w := strs(want)
	sort.Strings(w)
	return diffStrings("member", got, w), nil
}

func compareZSet(reply []string, k *Key) ([]string, error) {
	var want [][2]json.RawMessage
	if err := json.Unmarshal(k.Value, &want); err != nil {
		return nil, err
	}
	got := map[string]string{}
	for i := 0; i+1 < len(reply); i += 2 {
		got[reply[i]] = reply[i+1]
	}
	var diffs []string
	if len(got) != len(want) {
		diffs = append(diffs, fmt.Sprintf("%d members, want %d", len(got), len(want)))
	}
	for _, p := range want {
		var m []byte
		var s string
		if err := json.Unmarshal(p[0], &m); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(p[1], &s); err != nil {
			return nil, err
		}
		g, ok := got[string(m)]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("member %q missing", m))
			continue
		}
		if !sameScore(g, s) {
			diffs = append(diffs, fmt.Sprintf("member %q score %s, want %s", m, g, s))
		}
	}
	return diffs, nil
}

// sameScore compares two scores as float64 (-0 equals 0: RESTORE into a
// listpack keeps no sign).
func sameScore(a, b string) bool {
	fa, err1 := strconv.ParseFloat(a, 64)
	fb, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && fa == fb
}

func compareHash(ctx context.Context, c Client, flat []string, k *Key, o *Options) ([]string, error) {
	got := map[string]string{}
	for i := 0; i+1 < len(flat); i += 2 {
		got[flat[i]] = flat[i+1]
	}
	var pairs [][2][]byte
	if err := json.Unmarshal(k.Value, &pairs); err != nil {
		return nil, err
	}
	expires := map[string]int64{}
	for _, fe := range k.FieldExpires {
		var p [2]json.RawMessage
		var f []byte
		var ms int64
		if err := json.Unmarshal(fe, &p); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(p[0], &f); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(p[1], &ms); err != nil {
			return nil, err
		}
		expires[string(f)] = ms
	}
	now := o.Now.UnixMilli()
	soon := time.Now().Add(o.TTLSlack + time.Minute).UnixMilli()
	var diffs []string
	seen := map[string]bool{}
	for _, p := range pairs {
		f := string(p[0])
		ms, hasTTL := expires[f]
		if hasTTL && ms <= now {
			continue // expired: must be absent, checked below
		}
		v, ok := got[f]
		if !ok {
			if hasTTL && ms <= soon {
				continue
			}
			diffs = append(diffs, fmt.Sprintf("field %q missing", f))
			continue
		}
		seen[f] = true
		if v != string(p[1]) {
			diffs = append(diffs, fmt.Sprintf("field %q value %s, want %s", f, short(v), short(string(p[1]))))
		}
		if o.FieldTTLs {
			pt, err := c.Do(ctx, "HPEXPIRETIME", string(k.Key), "FIELDS", 1, f).Int64Slice()
			if err != nil {
				return nil, err
			}
			want := int64(-1)
			if hasTTL {
				want = ms
			}
			if len(pt) != 1 || math.Abs(float64(pt[0]-want)) > float64(o.TTLSlack.Milliseconds()) {
				diffs = append(diffs, fmt.Sprintf("field %q expires at %v, want %d", f, pt, want))
			}
		}
	}
	for f := range got {
		if !seen[f] {
			diffs = append(diffs, fmt.Sprintf("field %q not expected", f))
		}
	}
	sort.Strings(diffs)
	return diffs, nil
}

func compareFunctions(ctx context.Context, c Client, want []Function) ([]string, error) {
	reply, err := c.Do(ctx, "FUNCTION", "LIST", "WITHCODE").Slice()
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for _, lib := range reply {
		m := pairs(lib)
		name, _ := m["library_name"].(string)
		code, _ := m["library_code"].(string)
		got[name] = code
	}
	var diffs []string
	for _, f := range want {
		code, ok := got[f.Library]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("function library %q missing", f.Library))
		case code != f.Code:
			diffs = append(diffs, fmt.Sprintf("function library %q has other code", f.Library))
		}
		delete(got, f.Library)
	}
	for name := range got {
		diffs = append(diffs, fmt.Sprintf("function library %q not expected", name))
	}
	return diffs, nil
}

// pairs turns a RESP2 flat array of name, value, ... into a map.
func pairs(v any) map[string]any {
	m := map[string]any{}
	a, _ := v.([]any)
	for i := 0; i+1 < len(a); i += 2 {
		if k, ok := a[i].(string); ok {
			m[k] = a[i+1]
		}
	}
	return m
}

func strs(b [][]byte) []string {
	s := make([]string, len(b))
	for i, x := range b {
		s[i] = string(x)
	}
	return s
}

func diffStrings(what string, got, want []string) []string {
	if len(got) != len(want) {
		return []string{fmt.Sprintf("%d %ss, want %d", len(got), what, len(want))}
	}
	for i := range got {
		if got[i] != want[i] {
			return []string{fmt.Sprintf("%s %d is %s, want %s", what, i, short(got[i]), short(want[i]))}
		}
	}
	return nil
}

func short(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "..." + strconv.Itoa(len(s)) + " bytes"
	}
	return strconv.Quote(s)
}
