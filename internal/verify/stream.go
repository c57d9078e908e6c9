package verify

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// expStream is a stream in the expected.jsonl shape (XINFO STREAM FULL).
type expStream struct {
	Length       int64      `json:"length"`
	LastID       string     `json:"last-generated-id"`
	MaxDeletedID *string    `json:"max-deleted-entry-id"`
	EntriesAdded *int64     `json:"entries-added"`
	FirstID      *string    `json:"recorded-first-entry-id"`
	Entries      []expEntry `json:"entries"`
	Groups       []expGroup `json:"groups"`
}

type expEntry struct {
	ID     string      `json:"id"`
	Fields [][2][]byte `json:"fields"`
}

type expGroup struct {
	Name        string        `json:"name"`
	LastID      string        `json:"last-delivered-id"`
	EntriesRead *int64        `json:"entries-read"`
	PELCount    int64         `json:"pel-count"`
	Pending     []expPending  `json:"pending"`
	Consumers   []expConsumer `json:"consumers"`
}

type expPending struct {
	ID            string `json:"id"`
	Consumer      string `json:"consumer"`
	DeliveryTime  int64  `json:"delivery_time"`
	DeliveryCount int64  `json:"delivery_count"`
}

type expConsumer struct {
	Name       string       `json:"name"`
	SeenTime   *int64       `json:"seen-time"`
	ActiveTime *int64       `json:"active-time"`
	PELCount   int64        `json:"pel-count"`
	Pending    []expPending `json:"pending"`
}

func compareStream(reply []any, k *Key, o *Options) ([]string, error) {
	var want expStream
	if err := json.Unmarshal(k.Value, &want); err != nil {
		return nil, err
	}
	got := parseStream(reply)
	var d diffs
	d.eq("length", got.Length, want.Length)
	d.eq("last-generated-id", got.LastID, want.LastID)
	if want.MaxDeletedID != nil && got.MaxDeletedID != nil {
		d.eq("max-deleted-entry-id", *got.MaxDeletedID, *want.MaxDeletedID)
	}
	if want.EntriesAdded != nil && got.EntriesAdded != nil {
		d.eq("entries-added", *got.EntriesAdded, *want.EntriesAdded)
	}
	if want.FirstID != nil && got.FirstID != nil {
		d.eq("recorded-first-entry-id", *got.FirstID, *want.FirstID)
	}
	d.eq("entries", len(got.Entries), len(want.Entries))
	for i := range min(len(got.Entries), len(want.Entries)) {
		g, w := got.Entries[i], want.Entries[i]
		d.eq("entry "+strconv.Itoa(i)+" id", g.ID, w.ID)
		d.eq("entry "+w.ID+" fields", fmt.Sprintf("%q", g.Fields), fmt.Sprintf("%q", w.Fields))
	}
	d.eq("groups", len(got.Groups), len(want.Groups))
	for i := range min(len(got.Groups), len(want.Groups)) {
		g, w := got.Groups[i], want.Groups[i]
		p := "group " + w.Name + " "
		d.eq(p+"name", g.Name, w.Name)
		d.eq(p+"last-delivered-id", g.LastID, w.LastID)
		d.eq(p+"entries-read", fmtPtr(g.EntriesRead), fmtPtr(w.EntriesRead))
		d.eq(p+"pel-count", g.PELCount, w.PELCount)
		d.eq(p+"pending", fmt.Sprint(g.Pending), fmt.Sprint(w.Pending))
		d.eq(p+"consumers", len(g.Consumers), len(w.Consumers))
		for j := range min(len(g.Consumers), len(w.Consumers)) {
			gc, wc := g.Consumers[j], w.Consumers[j]
			cp := p + "consumer " + wc.Name + " "
			d.eq(cp+"name", gc.Name, wc.Name)
			d.eq(cp+"pel-count", gc.PELCount, wc.PELCount)
			d.eq(cp+"pending", fmt.Sprint(gc.Pending), fmt.Sprint(wc.Pending))
			if o.ConsumerTimes {
				if gc.SeenTime != nil && wc.SeenTime != nil {
					d.eq(cp+"seen-time", *gc.SeenTime, *wc.SeenTime)
				}
				if gc.ActiveTime != nil && wc.ActiveTime != nil {
					d.eq(cp+"active-time", *gc.ActiveTime, *wc.ActiveTime)
				}
			}
		}
	}
	return d, nil
}

type diffs []string

func (d *diffs) eq(what string, got, want any) {
	if got != want {
		*d = append(*d, fmt.Sprintf("stream %s: %v, want %v", what, got, want))
	}
}

func fmtPtr(p *int64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatInt(*p, 10)
}

// parseStream reads a RESP2 XINFO STREAM FULL reply.
func parseStream(reply []any) expStream {
	m := pairs(reply)
	var s expStream
	s.Length = toInt(m["length"])
	s.LastID = toStr(m["last-generated-id"])
	if v, ok := m["max-deleted-entry-id"]; ok {
		x := toStr(v)
		s.MaxDeletedID = &x
	}
	if v, ok := m["entries-added"]; ok {
		x := toInt(v)
		s.EntriesAdded = &x
	}
	if v, ok := m["recorded-first-entry-id"]; ok {
		x := toStr(v)
		s.FirstID = &x
	}
	for _, e := range toSlice(m["entries"]) {
		ea := toSlice(e)
		if len(ea) != 2 {
			continue
		}
		en := expEntry{ID: toStr(ea[0])}
		f := toSlice(ea[1])
		for i := 0; i+1 < len(f); i += 2 {
			en.Fields = append(en.Fields, [2][]byte{[]byte(toStr(f[i])), []byte(toStr(f[i+1]))})
		}
		s.Entries = append(s.Entries, en)
	}
	for _, g := range toSlice(m["groups"]) {
		gm := pairs(g)
		eg := expGroup{Name: toStr(gm["name"]), LastID: toStr(gm["last-delivered-id"]), PELCount: toInt(gm["pel-count"])}
		if v := gm["entries-read"]; v != nil {
			x := toInt(v)
			eg.EntriesRead = &x
		}
		for _, p := range toSlice(gm["pending"]) {
			pa := toSlice(p)
			if len(pa) == 4 {
				eg.Pending = append(eg.Pending, expPending{ID: toStr(pa[0]), Consumer: toStr(pa[1]),
					DeliveryTime: toInt(pa[2]), DeliveryCount: toInt(pa[3])})
			}
		}
		for _, c := range toSlice(gm["consumers"]) {
			cm := pairs(c)
			ec := expConsumer{Name: toStr(cm["name"]), PELCount: toInt(cm["pel-count"])}
			if v, ok := cm["seen-time"]; ok {
				x := toInt(v)
				ec.SeenTime = &x
			}
			if v, ok := cm["active-time"]; ok {
				x := toInt(v)
				ec.ActiveTime = &x
			}
			for _, p := range toSlice(cm["pending"]) {
				pa := toSlice(p)
				if len(pa) == 3 {
					ec.Pending = append(ec.Pending, expPending{ID: toStr(pa[0]), DeliveryTime: toInt(pa[1]), DeliveryCount: toInt(pa[2])})
				}
			}
			eg.Consumers = append(eg.Consumers, ec)
		}
		s.Groups = append(s.Groups, eg)
	}
	return s
}

func toSlice(v any) []any { a, _ := v.([]any); return a }

func toStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(v)
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}
