package loader

import (
	"bytes"
	"context"
	"maps"
	"slices"

	"github.com/rdbkit/rdbkit/rdb"
)

// A Plan is what a dry run found: what would be written how, what would
// go wrong, and whether the destination allows and can hold it.
type Plan struct {
	// Transcode counts the keys that need transcoding, by encoding.
	Transcode map[string]int64 `json:"transcode,omitempty"`
	// Rewrite counts the keys that would be written with commands, by
	// reason.
	Rewrite map[string]int64 `json:"rewrite,omitempty"`
	// OverLimit names the first keys whose payload exceeds the
	// destination's proto-max-bulk-len (they are written with commands).
	OverLimit      []KeyError `json:"over_limit,omitempty"`
	OverLimitCount int64      `json:"over_limit_count"`
	// Existing counts the keys that already exist in the destination; with
	// the default policy they are the conflicts.
	Existing int64 `json:"existing"`
	// Loss adds up what transcoding would drop (see Stats.LossKeys).
	Loss rdb.Loss `json:"-"`
	// PayloadBytes adds up the serialized size of the keys to write, a
	// lower bound of the memory they take once loaded.
	PayloadBytes int64 `json:"payload_bytes"`
	// Commands lists the commands the run would send; Permissions says
	// whether the user may run them.
	Commands    []string     `json:"commands"`
	Permissions []Permission `json:"permissions,omitempty"`
	// MaxMemory and UsedMemory are the destination's (summed over the
	// masters of a cluster); MaxMemory 0 means no limit.
	MaxMemory  int64    `json:"maxmemory"`
	UsedMemory int64    `json:"used_memory"`
	Notes      []string `json:"notes,omitempty"`

	commands  map[string]bool
	sampleKey []byte
}

// A Permission says whether the destination's user may run a command.
type Permission struct {
	Command string `json:"command"`
	Allowed string `json:"allowed"` // "yes", "no" or "unknown"
	Detail  string `json:"detail,omitempty"`
}

func (p *Plan) clone() *Plan {
	c := *p
	c.Transcode = maps.Clone(p.Transcode)
	c.Rewrite = maps.Clone(p.Rewrite)
	c.OverLimit = slices.Clone(p.OverLimit)
	c.Commands = slices.Clone(p.Commands)
	c.Permissions = slices.Clone(p.Permissions)
	c.Notes = slices.Clone(p.Notes)
	c.commands = nil
	return &c
}

// commandsFor lists the commands that write a value of type t with
// commands (the RENAME trick included).
func commandsFor(t rdb.Type, fieldTTL bool) []string {
	base := []string{"DEL", "PEXPIRE", "PEXPIREAT", "PERSIST", "RENAME", "RENAMENX"}
	switch t {
	case rdb.TypeString:
		return append(base, "SET", "SETRANGE")
	case rdb.TypeList:
		return append(base, "RPUSH")
	case rdb.TypeSet:
		return append(base, "SADD")
	case rdb.TypeZSet:
		return append(base, "ZADD")
	case rdb.TypeHash:
		if fieldTTL {
			return append(base, "HSET", "HPEXPIREAT")
		}
		return append(base, "HSET")
	case rdb.TypeStream:
		return append(base, "XADD", "XGROUP", "XCLAIM", "XDEL", "XSETID")
	}
	return nil
}

// plan counts what Write would do with e and asks the destination whether
// the key exists.
func (l *Loader) plan(ctx context.Context, e *rdb.Entry, j *job, now int64) error {
	l.statsMu.Lock()
	p := l.stats.Plan
	if p == nil {
		p = &Plan{Transcode: map[string]int64{}, Rewrite: map[string]int64{}, commands: map[string]bool{}}
		if l.slots == nil {
			p.commands["SELECT"] = true
		}
		l.stats.Plan = p
	}
	if p.sampleKey == nil {
		p.sampleKey = bytes.Clone(e.Key)
	}
	rewriteWhy := ""
	j.out = outRestored
	switch {
	case e.Payload == nil && l.o.Mode != ModeRestore:
		rewriteWhy = "too large to buffer (streamed)"
	case e.Payload == nil:
		l.statsMu.Unlock()
		l.settle(j, outFailed, "value larger than the read buffer: RESTORE needs it whole")
		return nil
	case l.o.Mode == ModeRewrite:
		rewriteWhy = "--mode rewrite"
	case int64(len(e.Payload))+10 > l.maxArg:
		p.OverLimitCount++
		if len(p.OverLimit) < l.o.FailLimit {
			p.OverLimit = append(p.OverLimit, KeyError{j.db, bytes.Clone(e.Key), "payload of " + itoa(int64(len(e.Payload))) + " bytes"})
		}
		if l.o.Mode == ModeAuto {
			rewriteWhy = "payload over proto-max-bulk-len"
		}
	}
	if rewriteWhy == "" && l.o.Mode == ModeAuto && !l.knowsEnc(e.Encoding) {
		out, loss, err := rdb.Transcode(nil, e.Payload, e.Encoding, l.target, now)
		switch {
		case err != nil:
			rewriteWhy = "no encoding of " + l.target.String() + " can hold it (" + e.Encoding.String() + ")"
		case loss.Expired:
			l.statsMu.Unlock()
			l.settle(j, outExpired, "")
			return nil
		default:
			p.Transcode[e.Encoding.String()]++
			j.loss = loss
			p.Loss.Add(loss)
			j.out = outTranscoded
			if int64(len(out))+10 > l.maxArg {
				rewriteWhy = "payload over proto-max-bulk-len"
			}
		}
	}
	if _, ok := l.setValue(e, j); ok {
		j.out = outSet
		p.commands[l.setCommand()] = true
	}
	if rewriteWhy != "" {
		p.Rewrite[rewriteWhy]++
		j.out = outRewritten
		for _, c := range commandsFor(e.Type, l.rewriteOptions(nil, 0).FieldTTL) {
			p.commands[c] = true
		}
	} else {
		p.commands["RESTORE"] = true
	}
	j.size = int64(len(e.Payload))
	p.PayloadBytes += j.size
	l.statsMu.Unlock()
	held, err := l.acquire(ctx, j, 64)
	if err != nil {
		return err
	}
	j.kind, j.held = jobExists, held
	l.dispatch(j, nil)
	return nil
}

// existsDone settles a dry-run key from the reply to EXISTS.
func (l *Loader) existsDone(p *pcmd) {
	j := p.j
	if p.err != nil {
		l.finish(j, outFailed, "EXISTS: "+p.err.Error())
		return
	}
	if n, _ := p.val.(int64); n == 0 {
		l.finish(j, j.out, "")
		return
	}
	l.statsMu.Lock()
	l.stats.Plan.Existing++
	l.statsMu.Unlock()
	if l.o.Conflict == ConflictReplace {
		l.finish(j, j.out, "")
		return
	}
	l.conflict(j)
}

// FinishPlan completes a dry run's Plan once every key was given to
// Write: the commands the run needs and whether the user may run them,
// and the destination's memory. extra names commands the caller adds
// (FUNCTION, SCRIPT).
func (l *Loader) FinishPlan(ctx context.Context, extra ...string) {
	l.statsMu.Lock()
	p := l.stats.Plan
	if p == nil {
		p = &Plan{commands: map[string]bool{}}
		l.stats.Plan = p
	}
	for _, c := range extra {
		p.commands[c] = true
	}
	p.Commands = slices.Sorted(maps.Keys(p.commands))
	key := p.sampleKey
	cmds := p.Commands
	l.statsMu.Unlock()

	perms := l.permissions(ctx, cmds, key)
	var maxMem, used int64
	for _, addr := range l.masters() {
		text, err := l.client(addr).Info(ctx, "memory").Result()
		if err != nil {
			continue
		}
		info := parseInfo(text)
		used += atoi(info["used_memory"])
		maxMem += atoi(info["maxmemory"])
	}
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	p.Permissions, p.MaxMemory, p.UsedMemory = perms, maxMem, used
	if maxMem > 0 && used+p.PayloadBytes > maxMem {
		p.Notes = append(p.Notes, "the data may not fit: maxmemory "+itoa(maxMem)+" bytes, used "+itoa(used)+
			", at least "+itoa(p.PayloadBytes)+" bytes to write (serialized size; loaded values take more)")
	}
	for _, perm := range perms {
		switch {
		case perm.Allowed == "no" && perm.Command == l.setCommand():
			p.Notes = append(p.Notes, "the user may not run "+perm.Command+": strings will go one RESTORE each")
		case perm.Allowed == "no":
			p.Notes = append(p.Notes, "the user may not run "+perm.Command)
		}
	}
	if p.Loss.FieldTTLs > 0 {
		p.Notes = append(p.Notes, "hash field TTLs cannot be kept by "+l.target.String())
	}
}
