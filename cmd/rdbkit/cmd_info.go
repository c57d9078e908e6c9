package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/urfave/cli/v2"
)

// infoOptions are the options of info.
type infoOptions = fileOptions

func infoCommand() *cli.Command {
	return fileCommand(&cli.Command{
		Name:  "info",
		Usage: "summarize a dump.rdb: header, aux fields, keys per db, type and encoding, expiries, functions, checksum",
		Description: "info reads the records of FILE without decoding any value. The counts cover the keys\n" +
			"the filters select. On a corrupt file it prints what it gathered up to the fault, then\n" +
			"the error (with its byte offset) on stderr, and exits 1. FILE - reads the standard input.",
	}, "write the summary as a JSON object", runInfo)
}

// infoReport is what info gathers; it is also its --json output.
type infoReport struct {
	File       string           `json:"file"`
	Size       *int64           `json:"size"` // nil for a pipe
	Magic      string           `json:"magic"`
	Producer   string           `json:"producer"` // from the header: "redis" or "valkey"
	Version    int              `json:"rdb_version"`
	Server     string           `json:"server,omitempty"` // from aux valkey-ver or redis-ver: "redis" or "valkey"
	ServerVer  string           `json:"server_version,omitempty"`
	Aux        []auxField       `json:"aux"`
	Filter     string           `json:"filter,omitempty"`
	Keys       int64            `json:"keys"`
	Filtered   int64            `json:"left_out_by_filter"`
	DBs        []*dbInfo        `json:"dbs"`
	Types      map[string]int64 `json:"types"`
	Encodings  []*encodingCount `json:"encodings"`
	Expiry     expiryInfo       `json:"expiry"`
	Payload    int64            `json:"payload_bytes"` // sum of len(Payload) of the keys kept whole
	Streamed   int64            `json:"streamed_keys"` // keys over MaxPayload, not kept whole
	MaxPayload int              `json:"max_payload"`
	Functions  []jsonBytes      `json:"functions"`
	ModuleAux  []moduleAuxInfo  `json:"module_aux"`
	SlotInfo   int64            `json:"slot_info"`
	SlotImport int64            `json:"slot_import,omitempty"`
	Read       int64            `json:"bytes_read"`
	Trailing   int64            `json:"trailing_bytes,omitempty"`
	Checksum   checksumInfo     `json:"checksum"`
	Error      *errorInfo       `json:"error,omitempty"`
	dbIndex    map[int]*dbInfo  // DBs by number
	encIndex   map[encKey]*encodingCount
}

type auxField struct {
	Name  jsonBytes `json:"name"`
	Value jsonBytes `json:"value"`
}

type dbInfo struct {
	DB      int              `json:"db"`
	Keys    int64            `json:"keys"`
	Expires int64            `json:"expires"` // keys with an expiry
	Expired int64            `json:"expired"` // of them, already past
	Types   map[string]int64 `json:"types"`
	// Size hints of RDB_OPCODE_RESIZEDB (the whole database, unfiltered).
	HintKeys    *uint64 `json:"resize_keys,omitempty"`
	HintExpires *uint64 `json:"resize_expires,omitempty"`
}

type encKey struct {
	enc    rdb.Encoding
	object string
}

type encodingCount struct {
	Type     string `json:"type"`
	Encoding string `json:"encoding"`        // on disk: rdb.Encoding.String()
	Object   string `json:"object_encoding"` // after load: rdb.Entry.ObjectEncoding()
	Keys     int64  `json:"keys"`
	rdbType  int
}

type expiryInfo struct {
	Now     int64  `json:"now"`     // Unix ms "expired" is measured against
	Keys    int64  `json:"keys"`    // keys with an expiry
	Expired int64  `json:"expired"` // of them, before Now
	Min     *int64 `json:"min"`     // earliest expiry, Unix ms
	Max     *int64 `json:"max"`     // latest expiry, Unix ms
}

type moduleAuxInfo struct {
	Module  jsonBytes `json:"module"`
	ID      uint64    `json:"id"`
	Version int       `json:"version"`
	When    int       `json:"when"` // 1 before keys, 2 after keys
	Size    int       `json:"size"` // bytes of module data
}

type checksumInfo struct {
	State    string `json:"state"`
	Stored   string `json:"stored,omitempty"`   // hex, once read
	Computed string `json:"computed,omitempty"` // hex, when verified
}

// runInfo summarizes opts.file on stdout. It reads every record with
// Reader.Next and decodes no value. On a corrupt file it writes what it
// gathered and returns the decoding error.
func runInfo(ctx context.Context, opts infoOptions, stdout io.Writer) error {
	f, err := newFilter("info", opts.filter)
	if err != nil {
		return err
	}
	in, err := openRDB(opts.file, opts.maxPayload)
	if err != nil {
		return err
	}
	defer in.Close()
	rep := &infoReport{
		File: opts.file, Types: map[string]int64{}, Functions: []jsonBytes{},
		Aux: []auxField{}, DBs: []*dbInfo{}, Encodings: []*encodingCount{}, ModuleAux: []moduleAuxInfo{},
		MaxPayload: opts.maxPayload, dbIndex: map[int]*dbInfo{}, encIndex: map[encKey]*encodingCount{},
		Expiry: expiryInfo{Now: opts.now.UnixMilli()},
	}
	if rep.MaxPayload <= 0 {
		rep.MaxPayload = rdb.DefaultMaxPayload
	}
	if in.size >= 0 {
		rep.Size = &in.size
	}
	if f.active() {
		rep.Filter = f.String()
	}
	err = rep.gather(ctx, in.r, f, opts.now)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		rep.Trailing, err = in.trailing()
	} else {
		rep.Error = newErrorInfo(err)
	}
	rep.finish(in.r, err)
	if werr := rep.write(stdout, opts.json); werr != nil {
		return werr
	}
	if err != nil {
		return in.wrap(err)
	}
	return nil
}

// gather reads every record; it returns nil at a sound end of the RDB.
func (rep *infoReport) gather(ctx context.Context, r *rdb.Reader, f *filter, now time.Time) error {
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch e.Kind {
		case rdb.KindKey:
			if f.match(e, now) {
				rep.addKey(e, now)
			} else {
				rep.Filtered++
			}
		case rdb.KindAux:
			rep.addAux(e)
		case rdb.KindFunction:
			rep.Functions = append(rep.Functions, jsonBytes(bytes.Clone(e.Aux.Name)))
		case rdb.KindModuleAux:
			rep.ModuleAux = append(rep.ModuleAux, moduleAuxInfo{Module: bytes.Clone(e.Aux.Name),
				ID: e.Aux.ModuleID, Version: e.Aux.ModuleVersion, When: e.Aux.When, Size: len(e.Aux.Value)})
		case rdb.KindResizeDB:
			keys, expires := e.Aux.DBSize, e.Aux.ExpiresSize // copies: e is reused
			db := rep.db(e.DB)
			db.HintKeys, db.HintExpires = &keys, &expires
		case rdb.KindSlotInfo:
			rep.SlotInfo++
		case rdb.KindSlotImport:
			rep.SlotImport++
		}
	}
}

func (rep *infoReport) db(n int) *dbInfo {
	db := rep.dbIndex[n]
	if db == nil {
		db = &dbInfo{DB: n, Types: map[string]int64{}}
		rep.dbIndex[n] = db
		rep.DBs = append(rep.DBs, db)
	}
	return db
}

func (rep *infoReport) addKey(e *rdb.Entry, now time.Time) {
	rep.Keys++
	typ := e.Type.String()
	rep.Types[typ]++
	db := rep.db(e.DB)
	db.Keys++
	db.Types[typ]++
	k := encKey{e.Encoding, e.ObjectEncoding()}
	ec := rep.encIndex[k]
	if ec == nil {
		ec = &encodingCount{Type: typ, Encoding: e.Encoding.String(), Object: k.object, rdbType: int(e.Encoding)}
		rep.encIndex[k] = ec
		rep.Encodings = append(rep.Encodings, ec)
	}
	ec.Keys++
	if e.Streamed() {
		rep.Streamed++
	} else {
		rep.Payload += int64(len(e.Payload))
	}
	if e.ExpireAt == 0 {
		return
	}
	db.Expires++
	x := &rep.Expiry
	x.Keys++
	if expired(e.ExpireAt, now) {
		db.Expired++
		x.Expired++
	}
	if x.Min == nil {
		x.Min, x.Max = new(int64), new(int64)
		*x.Min, *x.Max = e.ExpireAt, e.ExpireAt
	}
	*x.Min = min(*x.Min, e.ExpireAt)
	*x.Max = max(*x.Max, e.ExpireAt)
}

// addAux keeps an aux field; Valkey 8.0's "slot-info" fields, one per
// slot in the keyspace, are counted as slot info instead.
func (rep *infoReport) addAux(e *rdb.Entry) {
	if string(e.Aux.Name) == "slot-info" {
		rep.SlotInfo++
		return
	}
	rep.Aux = append(rep.Aux, auxField{bytes.Clone(e.Aux.Name), bytes.Clone(e.Aux.Value)})
	switch name := string(e.Aux.Name); {
	case name == "valkey-ver":
		rep.Server, rep.ServerVer = "valkey", string(e.Aux.Value)
	case name == "redis-ver" && rep.Server == "":
		rep.Server, rep.ServerVer = "redis", string(e.Aux.Value)
	}
}

// finish fills in what is known at the end: header, bytes read, checksum,
// and sorts the tables.
func (rep *infoReport) finish(r *rdb.Reader, err error) {
	rep.Version = r.Version()
	switch {
	case r.Version() == 0:
	case r.Valkey():
		rep.Producer, rep.Magic = "valkey", fmt.Sprintf("VALKEY%03d", r.Version())
	default:
		rep.Producer, rep.Magic = "redis", fmt.Sprintf("REDIS%04d", r.Version())
	}
	rep.Read = r.Offset()
	stored, computed, _ := r.Checksum()
	rep.Checksum.State = checksumState(r, err)
	switch rep.Checksum.State {
	case "ok", "mismatch":
		rep.Checksum.Stored, rep.Checksum.Computed = hex16(stored), hex16(computed)
	case "disabled", "not verified":
		rep.Checksum.Stored = hex16(stored)
	}
	sort.Slice(rep.DBs, func(i, j int) bool { return rep.DBs[i].DB < rep.DBs[j].DB })
	sort.SliceStable(rep.Encodings, func(i, j int) bool {
		a, b := rep.Encodings[i], rep.Encodings[j]
		if a.rdbType != b.rdbType {
			return a.rdbType < b.rdbType
		}
		return a.Object < b.Object
	})
}

func hex16(v uint64) string { return fmt.Sprintf("%016x", v) }

func (rep *infoReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return writeJSON(w, rep)
	}
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	size := "size unknown"
	if rep.Size != nil {
		size = fmt.Sprintf("%d bytes", *rep.Size)
	}
	line("file:", "%s (%s)", rep.File, size)
	if rep.Magic != "" {
		by := ""
		switch rep.Server {
		case "redis":
			by = ", written by Redis " + rep.ServerVer
		case "valkey":
			by = ", written by Valkey " + rep.ServerVer
		}
		line("format:", "%s (RDB version %d%s)", rep.Magic, rep.Version, by)
	}
	rep.writeAux(line)
	if rep.Filter != "" {
		line("filter:", "%s (%d keys left out)", rep.Filter, rep.Filtered)
	}
	var dbs []*dbInfo // those with keys; the others only had size hints
	for _, db := range rep.DBs {
		if db.Keys > 0 {
			dbs = append(dbs, db)
		}
	}
	line("keys:", "%d in %s", rep.Keys, count(int64(len(dbs)), "database"))
	for _, db := range dbs {
		s := fmt.Sprintf("%s (%s), %d with expiry, %d expired", count(db.Keys, "key"), typeCounts(db.Types), db.Expires, db.Expired)
		if db.HintKeys != nil {
			s += fmt.Sprintf("; size hint %s, %d with expiry", count(int64(*db.HintKeys), "key"), *db.HintExpires)
		}
		line(fmt.Sprintf("  db %d:", db.DB), "%s", s)
	}
	line("types:", "%s", typeCounts(rep.Types))
	rep.writeEncodings(line)
	rep.writeExpiry(line)
	line("payload:", "%d bytes (%s) in keys kept whole; %d streamed (over %s)",
		rep.Payload, byteSize(rep.Payload), rep.Streamed, byteSize(int64(rep.MaxPayload)))
	rep.writeTail(line)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTail writes functions, module aux data, slot info, where reading
// stopped and the checksum.
func (rep *infoReport) writeTail(line func(label, format string, args ...any)) {
	names := make([]string, len(rep.Functions))
	for i, fn := range rep.Functions {
		names[i] = string(appendKeyText(nil, fn))
	}
	line("functions:", "%d%s", len(names), listSuffix(names))
	mods := make([]string, len(rep.ModuleAux))
	for i, m := range rep.ModuleAux {
		mods[i] = fmt.Sprintf("%s v%d %s keys, %d bytes", appendKeyText(nil, m.Module), m.Version, whenName(m.When), m.Size)
	}
	line("module aux:", "%d%s", len(mods), listSuffix(mods))
	line("slot info:", "%d", rep.SlotInfo)
	if rep.SlotImport > 0 {
		line("slot import:", "%d", rep.SlotImport)
	}
	switch {
	case rep.Checksum.State == "mismatch": // every record was read
	case rep.Error != nil && rep.Error.Offset != nil:
		line("stopped:", "at offset %d by a decoding error", *rep.Error.Offset)
	case rep.Error != nil:
		line("stopped:", "by a read error")
	case rep.Trailing > 0:
		line("trailing:", "%d bytes after the end of the RDB", rep.Trailing)
	}
	cs := rep.Checksum.State
	switch {
	case rep.Checksum.State == "ok":
		cs += " (" + rep.Checksum.Computed + ")"
	case rep.Checksum.Computed != "":
		cs += " (stored " + rep.Checksum.Stored + ", computed " + rep.Checksum.Computed + ")"
	case rep.Checksum.Stored != "":
		cs += " (stored " + rep.Checksum.Stored + ")"
	}
	line("checksum:", "%s", cs)
}

func (rep *infoReport) writeAux(line func(label, format string, args ...any)) {
	label := "aux:"
	if len(rep.Aux) == 0 {
		line(label, "none")
	}
	for _, a := range rep.Aux {
		line(label, "%s", auxText(a))
		label = ""
	}
}

// auxText formats an aux field, with a date for ctime and a size for
// used-mem; values longer than 80 bytes are cut.
func auxText(a auxField) string {
	s := string(appendKeyText(nil, a.Name)) + " = "
	v := a.Value
	if len(v) > 80 {
		v = v[:60]
	}
	s += string(appendKeyText(nil, v))
	if len(v) < len(a.Value) {
		return s + fmt.Sprintf("... (%d bytes)", len(a.Value))
	}
	n, err := strconv.ParseInt(string(a.Value), 10, 64)
	switch {
	case err != nil:
	case string(a.Name) == "ctime":
		s += " (" + time.Unix(n, 0).UTC().Format(time.RFC3339) + ")"
	case string(a.Name) == "used-mem":
		s += " (" + byteSize(n) + ")"
	}
	return s
}

func (rep *infoReport) writeEncodings(line func(label, format string, args ...any)) {
	label := "encodings:"
	if len(rep.Encodings) == 0 {
		line(label, "none")
	}
	width := 0
	for _, ec := range rep.Encodings {
		width = max(width, len(ec.Encoding)+len(ec.Object)+3)
	}
	for _, ec := range rep.Encodings {
		line(label, "%-*s %d", width, ec.Encoding+" ("+ec.Object+")", ec.Keys)
		label = ""
	}
}

func (rep *infoReport) writeExpiry(line func(label, format string, args ...any)) {
	x := rep.Expiry
	s := fmt.Sprintf("%s with an expiry, %d already expired (as of %s)", count(x.Keys, "key"), x.Expired, msTime(x.Now))
	if x.Min != nil {
		s += fmt.Sprintf("; earliest %s, latest %s", msTime(*x.Min), msTime(*x.Max))
	}
	line("expiry:", "%s", s)
}

// typeCounts formats counts by type, in type order.
func typeCounts(m map[string]int64) string {
	var parts []string
	for t := rdb.TypeString; t <= rdb.TypeModule; t++ {
		if n := m[t.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", t, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func listSuffix(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return ": " + strings.Join(items, ", ")
}

// count formats n things: "1 key", "2 keys".
func count(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.FormatInt(n, 10) + " " + thing + "s"
}

func whenName(when int) string {
	switch when {
	case 1:
		return "before"
	case 2:
		return "after"
	}
	return "when=" + strconv.Itoa(when)
}
