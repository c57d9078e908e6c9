package exporter

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rdbkit/rdbkit/internal/verify"
)

// This file parses JSON Lines output strictly (encoding/json, unknown
// fields refused, every field present, each value in the Go shape of its
// type) and compares it with the .expected.jsonl of each generated
// fixture (see shared/testdata/generated/README.md).

// jbytes is a lossless JSON byte string: a JSON string, or exactly
// {"base64":"..."} with valid standard padded base64.
type jbytes []byte

func (b *jbytes) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*b = jbytes(s)
		return nil
	}
	var obj struct {
		Base64 *string `json:"base64"`
	}
	if err := strictDecode(data, &obj); err != nil || obj.Base64 == nil {
		return fmt.Errorf("not a string nor {\"base64\":...}: %.80s", data)
	}
	dec, err := base64.StdEncoding.Strict().DecodeString(*obj.Base64)
	if err != nil {
		return err
	}
	if utf8.Valid(dec) {
		return fmt.Errorf("valid UTF-8 written as base64: %.80s", data)
	}
	*b = dec
	return nil
}

// strictDecode decodes exactly one JSON value into v, refusing unknown
// object fields.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// requireFields fails unless the JSON object data has every field named.
func requireFields(data []byte, names ...string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return fmt.Errorf("field %q missing", n)
		}
	}
	if len(m) != len(names) {
		return fmt.Errorf("%d fields, want %d", len(m), len(names))
	}
	return nil
}

type keyRec struct {
	DB       int             `json:"db"`
	Key      jbytes          `json:"key"`
	Type     string          `json:"type"`
	Encoding string          `json:"encoding"`
	ExpireAt *int64          `json:"expire_at"`
	Value    json.RawMessage `json:"value"`
}

type streamRec struct {
	Entries      []streamEntry   `json:"entries"`
	Length       uint64          `json:"length"`
	LastID       string          `json:"last_id"`
	FirstID      *string         `json:"first_id"`
	MaxDeletedID *string         `json:"max_deleted_id"`
	EntriesAdded *uint64         `json:"entries_added"`
	Groups       []groupRec      `json:"groups"`
	IDMP         json.RawMessage `json:"idmp"`
}

type streamEntry struct {
	ID     string
	Fields []jbytes
}

func (e *streamEntry) UnmarshalJSON(data []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(data, &pair); err != nil || len(pair) != 2 {
		return fmt.Errorf("stream entry %.80s", data)
	}
	if err := json.Unmarshal(pair[0], &e.ID); err != nil {
		return err
	}
	if err := strictDecode(pair[1], &e.Fields); err != nil {
		return err
	}
	if len(e.Fields)%2 != 0 {
		return fmt.Errorf("stream entry with %d field items", len(e.Fields))
	}
	return nil
}

type groupRec struct {
	Name        jbytes        `json:"name"`
	LastID      string        `json:"last_id"`
	EntriesRead *int64        `json:"entries_read"`
	Pending     []pendingRec  `json:"pending"`
	Consumers   []consumerRec `json:"consumers"`
}

type pendingRec struct {
	ID            string
	Consumer      *jbytes
	DeliveryTime  int64
	DeliveryCount int64
}

func (p *pendingRec) UnmarshalJSON(data []byte) error {
	var a []json.RawMessage
	if err := json.Unmarshal(data, &a); err != nil || len(a) != 4 {
		return fmt.Errorf("pending entry %.80s", data)
	}
	for i, dst := range []any{&p.ID, &p.Consumer, &p.DeliveryTime, &p.DeliveryCount} {
		if err := json.Unmarshal(a[i], dst); err != nil {
			return err
		}
	}
	return nil
}

type consumerRec struct {
	Name       jbytes `json:"name"`
	SeenTime   int64  `json:"seen_time"`
	ActiveTime *int64 `json:"active_time"`
}

// parsedExport is JSON Lines output, parsed.
type parsedExport struct {
	keys  []keyRec
	funcs map[string]string // library -> code
	aux   map[string]string
}

// parseExport parses JSON Lines output strictly.
func parseExport(t *testing.T, out []byte) *parsedExport {
	t.Helper()
	p := &parsedExport{funcs: map[string]string{}, aux: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		fail := func(err error) { t.Fatalf("line %d: %v\n%.300s", n, err, line) }
		var kind struct {
			Kind *string `json:"kind"`
		}
		if err := json.Unmarshal(line, &kind); err != nil {
			fail(err)
		}
		switch {
		case kind.Kind == nil:
			var k keyRec
			if err := strictDecode(line, &k); err != nil {
				fail(err)
			}
			if err := requireFields(line, "db", "key", "type", "encoding", "expire_at", "value"); err != nil {
				fail(err)
			}
			if err := checkValueShape(k.Type, k.Value); err != nil {
				fail(err)
			}
			p.keys = append(p.keys, k)
		case *kind.Kind == "aux":
			var a struct {
				Kind  string `json:"kind"`
				Name  jbytes `json:"name"`
				Value jbytes `json:"value"`
			}
			if err := strictDecode(line, &a); err != nil {
				fail(err)
			}
			p.aux[string(a.Name)] = string(a.Value)
		case *kind.Kind == "function":
			var f struct {
				Kind    string `json:"kind"`
				Library jbytes `json:"library"`
				Code    jbytes `json:"code"`
			}
			if err := strictDecode(line, &f); err != nil {
				fail(err)
			}
			p.funcs[string(f.Library)] = string(f.Code)
		case *kind.Kind == "module_aux":
		default:
			fail(fmt.Errorf("kind %q", *kind.Kind))
		}
	}
	return p
}

// checkValueShape decodes a value strictly into the Go shape of its type.
func checkValueShape(typ string, v json.RawMessage) error {
	switch typ {
	case "string":
		var s jbytes
		return strictDecode(v, &s)
	case "list", "set":
		var a []jbytes
		return strictDecode(v, &a)
	case "zset":
		_, err := zsetPairs(v)
		return err
	case "hash":
		_, err := hashItems(v)
		return err
	case "stream":
		var s streamRec
		if err := strictDecode(v, &s); err != nil {
			return err
		}
		return requireFields(v, "entries", "length", "last_id", "first_id", "max_deleted_id", "entries_added", "groups")
	case "module":
		var m struct {
			Module  string `json:"module"`
			Version int    `json:"version"`
			Payload struct {
				Base64 []byte `json:"base64"`
			} `json:"payload"`
		}
		return strictDecode(v, &m)
	}
	return fmt.Errorf("type %q", typ)
}

type zsetPair struct {
	member []byte
	score  string // strconv.FormatFloat 'g', or inf, -inf, nan
}

func zsetPairs(v json.RawMessage) ([]zsetPair, error) {
	var raw [][]json.RawMessage
	if err := strictDecode(v, &raw); err != nil {
		return nil, err
	}
	var out []zsetPair
	for _, r := range raw {
		if len(r) != 2 {
			return nil, fmt.Errorf("zset item of %d", len(r))
		}
		var m jbytes
		if err := json.Unmarshal(r[0], &m); err != nil {
			return nil, err
		}
		var score string
		var f float64
		if err := json.Unmarshal(r[1], &f); err == nil {
			score = strconv.FormatFloat(f, 'g', -1, 64)
		} else if err := json.Unmarshal(r[1], &score); err != nil || score != "inf" && score != "-inf" && score != "nan" {
			return nil, fmt.Errorf("score %s", r[1])
		}
		out = append(out, zsetPair{m, score})
	}
	return out, nil
}

type hashItem struct {
	field, value []byte
	expireAt     int64
}

func hashItems(v json.RawMessage) ([]hashItem, error) {
	var raw [][]json.RawMessage
	if err := strictDecode(v, &raw); err != nil {
		return nil, err
	}
	var out []hashItem
	for _, r := range raw {
		if len(r) != 2 && len(r) != 3 {
			return nil, fmt.Errorf("hash item of %d", len(r))
		}
		var f, val jbytes
		var it hashItem
		if err := json.Unmarshal(r[0], &f); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(r[1], &val); err != nil {
			return nil, err
		}
		if len(r) == 3 {
			if err := json.Unmarshal(r[2], &it.expireAt); err != nil || it.expireAt <= 0 {
				return nil, fmt.Errorf("field expiry %s", r[2])
			}
		}
		it.field, it.value = f, val
		out = append(out, it)
	}
	return out, nil
}

// TestJSONLMatchesExpected exports every generated fixture as JSON Lines,
// parses the output strictly and compares every key (type, encoding,
// expiry, value, hash field expiries, stream entries, ids, groups, PEL and
// consumers) and function library with the fixture's .expected.jsonl.
func TestJSONLMatchesExpected(t *testing.T) {
	for _, path := range allGenerated(t) {
		name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			exp, err := verify.Load(strings.TrimSuffix(path, ".rdb") + ".expected.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			got := parseExport(t, exportFile(t, path, exportConfig{format: "jsonl"}))
			if len(got.keys) != len(exp.Keys) {
				t.Errorf("%d keys, want %d", len(got.keys), len(exp.Keys))
			}
			byKey := map[string]*keyRec{}
			for i := range got.keys {
				k := &got.keys[i]
				byKey[strconv.Itoa(k.DB)+"\x00"+string(k.Key)] = k
			}
			for i := range exp.Keys {
				w := &exp.Keys[i]
				g := byKey[strconv.Itoa(w.DB)+"\x00"+string(w.Key)]
				if g == nil {
					t.Errorf("db %d key %q missing", w.DB, w.Key)
					continue
				}
				if err := compareKey(g, w); err != nil {
					t.Errorf("db %d key %q: %v", w.DB, w.Key, err)
				}
			}
			if len(got.funcs) != len(exp.Functions) {
				t.Errorf("%d function libraries, want %d", len(got.funcs), len(exp.Functions))
			}
			for _, f := range exp.Functions {
				if got.funcs[f.Library] != f.Code {
					t.Errorf("function library %q: code %q, want %q", f.Library, got.funcs[f.Library], f.Code)
				}
			}
			if got.aux["redis-ver"] == "" && got.aux["valkey-ver"] == "" {
				t.Errorf("no redis-ver or valkey-ver aux record: %v", got.aux)
			}
		})
	}
}

func compareKey(g *keyRec, w *verify.Key) error {
	if g.Type != w.Type {
		return fmt.Errorf("type %s, want %s", g.Type, w.Type)
	}
	if !sameEncoding(g.Type, g.Encoding, w.Encoding) {
		return fmt.Errorf("encoding %s, want %s", g.Encoding, w.Encoding)
	}
	if (g.ExpireAt == nil) != (w.ExpireAt == nil) || g.ExpireAt != nil && *g.ExpireAt != *w.ExpireAt {
		return fmt.Errorf("expire_at %v, want %v", fmtPtr(g.ExpireAt), fmtPtr(w.ExpireAt))
	}
	switch g.Type {
	case "string":
		return compareString(g.Value, w)
	case "list", "set":
		var got []jbytes
		var want [][]byte
		if err := json.Unmarshal(g.Value, &got); err != nil {
			return err
		}
		if err := json.Unmarshal(w.Value, &want); err != nil {
			return err
		}
		if g.Type == "set" {
			slices.SortFunc(got, func(a, b jbytes) int { return bytes.Compare(a, b) })
		}
		return sameBytesList(got, want)
	case "zset":
		return compareZSet(g.Value, w)
	case "hash":
		return compareHash(g.Value, w)
	case "stream":
		return compareStream(g.Value, w)
	}
	return fmt.Errorf("type %q", g.Type)
}

// sameEncoding compares OBJECT ENCODING at save time with what the RDB
// tells: raw and embstr are not recorded in an RDB (README), and a small
// list is saved as a QUICKLIST_2 (rdb.Entry.ObjectEncoding: quicklist)
// that 7.2+ reported as listpack.
func sameEncoding(typ, got, want string) bool {
	switch {
	case got == want:
		return true
	case typ == "string":
		return got != "int" && want != "int"
	case typ == "list":
		return got == "quicklist" && want == "listpack"
	}
	return false
}

func compareString(v json.RawMessage, w *verify.Key) error {
	var got jbytes
	if err := json.Unmarshal(v, &got); err != nil {
		return err
	}
	if w.ValueSHA256 != "" {
		sum := sha256.Sum256(got)
		if hex.EncodeToString(sum[:]) != w.ValueSHA256 || int64(len(got)) != w.Len {
			return fmt.Errorf("%d bytes with another SHA-256, want %d", len(got), w.Len)
		}
		return nil
	}
	var want []byte
	if err := json.Unmarshal(w.Value, &want); err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("value %.60q, want %.60q", got, want)
	}
	return nil
}

func sameBytesList(got []jbytes, want [][]byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d elements, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			return fmt.Errorf("element %d is %.60q, want %.60q", i, got[i], want[i])
		}
	}
	return nil
}

func compareZSet(v json.RawMessage, w *verify.Key) error {
	got, err := zsetPairs(v)
	if err != nil {
		return err
	}
	var want [][2]json.RawMessage
	if err := json.Unmarshal(w.Value, &want); err != nil {
		return err
	}
	slices.SortFunc(got, func(a, b zsetPair) int { return bytes.Compare(a.member, b.member) })
	if len(got) != len(want) {
		return fmt.Errorf("%d members, want %d", len(got), len(want))
	}
	for i, p := range want {
		var m []byte
		var s string
		if err := json.Unmarshal(p[0], &m); err != nil {
			return err
		}
		if err := json.Unmarshal(p[1], &s); err != nil {
			return err
		}
		if !bytes.Equal(got[i].member, m) || got[i].score != s {
			return fmt.Errorf("member %d: %q %s, want %q %s", i, got[i].member, got[i].score, m, s)
		}
	}
	return nil
}

func compareHash(v json.RawMessage, w *verify.Key) error {
	got, err := hashItems(v)
	if err != nil {
		return err
	}
	var want [][2][]byte
	if err := json.Unmarshal(w.Value, &want); err != nil {
		return err
	}
	expires := map[string]int64{}
	for _, fe := range w.FieldExpires {
		var p [2]json.RawMessage
		var f []byte
		var ms int64
		if json.Unmarshal(fe, &p) != nil || json.Unmarshal(p[0], &f) != nil || json.Unmarshal(p[1], &ms) != nil {
			return fmt.Errorf("field_expires %s", fe)
		}
		expires[string(f)] = ms
	}
	slices.SortFunc(got, func(a, b hashItem) int { return bytes.Compare(a.field, b.field) })
	if len(got) != len(want) {
		return fmt.Errorf("%d fields, want %d", len(got), len(want))
	}
	for i, p := range want {
		g := got[i]
		if !bytes.Equal(g.field, p[0]) || !bytes.Equal(g.value, p[1]) {
			return fmt.Errorf("field %d: %.40q=%.40q, want %.40q=%.40q", i, g.field, g.value, p[0], p[1])
		}
		if g.expireAt != expires[string(p[0])] {
			return fmt.Errorf("field %q expires at %d, want %d", p[0], g.expireAt, expires[string(p[0])])
		}
	}
	return nil
}

// expStream is a stream of an expected.jsonl (XINFO STREAM FULL).
type expStream struct {
	Length       uint64  `json:"length"`
	LastID       string  `json:"last-generated-id"`
	MaxDeletedID *string `json:"max-deleted-entry-id"`
	EntriesAdded *uint64 `json:"entries-added"`
	FirstID      *string `json:"recorded-first-entry-id"`
	Entries      []struct {
		ID     string      `json:"id"`
		Fields [][2][]byte `json:"fields"`
	} `json:"entries"`
	Groups []struct {
		Name        string       `json:"name"`
		LastID      string       `json:"last-delivered-id"`
		EntriesRead *int64       `json:"entries-read"`
		Pending     []expPending `json:"pending"`
		Consumers   []struct {
			Name       string       `json:"name"`
			SeenTime   int64        `json:"seen-time"`
			ActiveTime *int64       `json:"active-time"`
			Pending    []expPending `json:"pending"`
		} `json:"consumers"`
	} `json:"groups"`
}

type expPending struct {
	ID            string `json:"id"`
	Consumer      string `json:"consumer"`
	DeliveryTime  int64  `json:"delivery_time"`
	DeliveryCount int64  `json:"delivery_count"`
}

func compareStream(v json.RawMessage, w *verify.Key) error {
	var got streamRec
	if err := json.Unmarshal(v, &got); err != nil {
		return err
	}
	var want expStream
	if err := json.Unmarshal(w.Value, &want); err != nil {
		return err
	}
	var d []string
	eq := func(what string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			d = append(d, fmt.Sprintf("%s %v, want %v", what, g, w))
		}
	}
	eq("length", got.Length, want.Length)
	eq("last_id", got.LastID, want.LastID)
	eq("first_id", fmtStr(got.FirstID), fmtStr(want.FirstID))
	eq("max_deleted_id", fmtStr(got.MaxDeletedID), fmtStr(want.MaxDeletedID))
	eq("entries_added", fmtU(got.EntriesAdded), fmtU(want.EntriesAdded))
	eq("entries", len(got.Entries), len(want.Entries))
	for i := range min(len(got.Entries), len(want.Entries)) {
		g, w := got.Entries[i], want.Entries[i]
		var pairs [][2][]byte
		for j := 0; j+1 < len(g.Fields); j += 2 {
			pairs = append(pairs, [2][]byte{g.Fields[j], g.Fields[j+1]})
		}
		eq("entry "+strconv.Itoa(i), fmt.Sprintf("%s %q", g.ID, pairs), fmt.Sprintf("%s %q", w.ID, w.Fields))
	}
	eq("groups", len(got.Groups), len(want.Groups))
	for i := range min(len(got.Groups), len(want.Groups)) {
		g, w := got.Groups[i], want.Groups[i]
		p := "group " + w.Name + " "
		eq(p+"name", string(g.Name), w.Name)
		eq(p+"last_id", g.LastID, w.LastID)
		eq(p+"entries_read", fmtPtr(g.EntriesRead), fmtPtr(w.EntriesRead))
		var pel []expPending
		for _, pe := range g.Pending {
			c := ""
			if pe.Consumer != nil {
				c = string(*pe.Consumer)
			}
			pel = append(pel, expPending{pe.ID, c, pe.DeliveryTime, pe.DeliveryCount})
		}
		eq(p+"pending", pel, w.Pending)
		eq(p+"consumers", len(g.Consumers), len(w.Consumers))
		// The expected consumers are in the server's (name) order.
		cons := slices.Clone(g.Consumers)
		slices.SortFunc(cons, func(a, b consumerRec) int { return cmp.Compare(string(a.Name), string(b.Name)) })
		for j := range min(len(cons), len(w.Consumers)) {
			gc, wc := cons[j], w.Consumers[j]
			cp := p + "consumer " + wc.Name + " "
			eq(cp+"name", string(gc.Name), wc.Name)
			eq(cp+"seen_time", gc.SeenTime, wc.SeenTime)
			if wc.ActiveTime != nil {
				eq(cp+"active_time", fmtPtr(gc.ActiveTime), fmtPtr(wc.ActiveTime))
			}
			var own []expPending
			for _, pe := range pel {
				if pe.Consumer == wc.Name {
					own = append(own, expPending{ID: pe.ID, DeliveryTime: pe.DeliveryTime, DeliveryCount: pe.DeliveryCount})
				}
			}
			eq(cp+"pending", own, wc.Pending)
		}
	}
	if len(d) > 0 {
		return errors.New(strings.Join(d, "; "))
	}
	return nil
}

func fmtPtr(p *int64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatInt(*p, 10)
}

func fmtU(p *uint64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatUint(*p, 10)
}

func fmtStr(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}
