package loader

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
)

// A CommandSpec is what the destination's COMMAND INFO says of a command:
// where its keys are and what it does. See redis/src/commands.def and the
// COMMAND INFO reply (redis.io/commands/command-info).
type CommandSpec struct {
	Name  string // lower case; "container|sub" for a subcommand (Redis 7.0+)
	Known bool   // false: the destination does not know the command
	// First, Last and Step are the legacy key range: the index of the
	// first key argument (0: none), of the last (negative: counted from
	// the end, -1 for the last argument) and the step between keys.
	First, Last, Step int
	// Movable: where the keys are depends on the arguments (ZUNIONSTORE,
	// SORT ... STORE, EVAL, ...); COMMAND GETKEYS finds them.
	Movable    bool
	Flags      []string // "write", "denyoom", "movablekeys", ...
	Categories []string // ACL categories without '@': "write", "hash", "keyspace", ...
	Tips       []string // Redis 7.0+: "request_policy:all_shards", ...
	// Refused is the destination's refusal of COMMAND INFO (an ACL
	// without +command, a proxy that lacks it): nothing is known of the
	// command then, and Known is false.
	Refused error

	subs map[string]*CommandSpec // subcommands by lower-case name, for a container
}

// HasFlag reports whether the command has the flag f ("write", ...).
func (s *CommandSpec) HasFlag(f string) bool {
	for _, x := range s.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// HasCategory reports whether the command is in the ACL category c
// (without '@': "hash", "keyspace", ...).
func (s *CommandSpec) HasCategory(c string) bool {
	for _, x := range s.Categories {
		if x == c {
			return true
		}
	}
	return false
}

// commandSpecs caches COMMAND INFO replies by lower-case command name,
// and by the other spellings met (up to maxSpecNames).
type commandSpecs struct {
	mu    sync.Mutex
	specs map[string]*CommandSpec
}

// Spec returns what the destination says of the command args[0] (or of
// its subcommand args[1], for a container command such as XGROUP or
// FUNCTION). COMMAND INFO is asked once per command name; the answer is
// cached for the life of the Applier. An unknown command has Known false
// and no error, as has every command when the destination refuses COMMAND
// INFO (see CommandSpec.Refused); the error is a failure to reach it.
func (a *Applier) Spec(ctx context.Context, args [][]byte) (*CommandSpec, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("loader: empty command")
	}
	a.cmds.mu.Lock()
	s, ok := a.cmds.specs[string(args[0])] // as sent, most often: no allocation
	a.cmds.mu.Unlock()
	var name string
	if !ok {
		name = strings.ToLower(string(args[0]))
		a.cmds.mu.Lock()
		s, ok = a.cmds.specs[name]
		if ok && len(a.cmds.specs) < maxSpecNames {
			a.cmds.specs[string(args[0])] = s // remember this spelling too
		}
		a.cmds.mu.Unlock()
	}
	if !ok {
		var err error
		if s, err = a.commandInfo(ctx, name); err != nil {
			return nil, err
		}
		a.cmds.mu.Lock()
		if a.cmds.specs == nil {
			a.cmds.specs = map[string]*CommandSpec{}
		}
		a.cmds.specs[name] = s
		a.cmds.mu.Unlock()
	}
	if len(s.subs) > 0 && len(args) > 1 {
		if sub := s.subs[strings.ToLower(string(args[1]))]; sub != nil {
			return sub, nil
		}
	}
	return s, nil
}

// maxSpecNames bounds the spellings of command names ("SET", "set",
// "Set", ...) the cache of Spec keeps.
const maxSpecNames = 4096

// commandInfo asks COMMAND INFO name of the destination (any master of a
// cluster: they run the same server).
func (a *Applier) commandInfo(ctx context.Context, name string) (*CommandSpec, error) {
	l := a.l
	reply, err := l.client(l.owner(0)).Do(ctx, "COMMAND", "INFO", name).Slice()
	if _, isReply := isRedisError(err); isReply {
		return &CommandSpec{Name: name, Refused: fmt.Errorf("COMMAND INFO %s: %w", name, err)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loader: COMMAND INFO %s: %w", name, err)
	}
	if len(reply) != 1 || reply[0] == nil {
		return &CommandSpec{Name: name}, nil
	}
	info, _ := reply[0].([]any)
	s, err := parseCommandInfo(info)
	if err != nil {
		return nil, fmt.Errorf("loader: COMMAND INFO %s: %w", name, err)
	}
	return s, nil
}

// parseCommandInfo reads one command of a COMMAND INFO reply: name,
// arity, flags, first key, last key, step, ACL categories (6.0+), tips,
// key specifications and subcommands (7.0+).
func parseCommandInfo(info []any) (*CommandSpec, error) {
	if len(info) < 6 {
		return nil, fmt.Errorf("unexpected reply %v", info)
	}
	name, _ := info[0].(string)
	first, ok1 := info[3].(int64)
	last, ok2 := info[4].(int64)
	step, ok3 := info[5].(int64)
	if name == "" || !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("unexpected reply %v", info)
	}
	s := &CommandSpec{Name: strings.ToLower(name), Known: true, First: int(first), Last: int(last), Step: int(step)}
	s.Flags = strs(info[2])
	s.Movable = s.HasFlag("movablekeys")
	if len(info) > 6 {
		for _, c := range strs(info[6]) {
			s.Categories = append(s.Categories, strings.TrimPrefix(c, "@"))
		}
	}
	if len(info) > 7 {
		s.Tips = strs(info[7])
	}
	if len(info) > 9 {
		subs, _ := info[9].([]any)
		for _, x := range subs {
			si, _ := x.([]any)
			sub, err := parseCommandInfo(si)
			if err != nil {
				return nil, err
			}
			_, subName, _ := strings.Cut(sub.Name, "|")
			if s.subs == nil {
				s.subs = map[string]*CommandSpec{}
			}
			s.subs[subName] = sub
		}
	}
	return s, nil
}

// strs returns the strings of an array reply.
func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Keys returns the key arguments of the command args (name first), as
// the destination finds them: from the key range of its COMMAND INFO
// (cached per command name), or, for a command whose keys move with its
// arguments, from COMMAND GETKEYS (one round trip per command). The keys
// are slices of args. A command without keys returns none and no error;
// so does a command the destination does not know (spec.Known is false;
// spec.Refused says whether it refused to say).
// The error is the destination's refusal of COMMAND GETKEYS (arguments it
// cannot parse) or a failure to ask.
func (a *Applier) Keys(ctx context.Context, args [][]byte) (keys [][]byte, spec *CommandSpec, err error) {
	spec, err = a.Spec(ctx, args)
	if err != nil || !spec.Known {
		return nil, spec, err
	}
	if spec.Movable {
		keys, err = a.getKeys(ctx, args)
		return keys, spec, err
	}
	if spec.First <= 0 || spec.First >= len(args) {
		return nil, spec, nil
	}
	last := spec.Last
	if last < 0 {
		last += len(args)
	}
	last = min(last, len(args)-1)
	step := max(spec.Step, 1)
	for i := spec.First; i <= last; i += step {
		keys = append(keys, args[i])
	}
	return keys, spec, nil
}

// getKeys asks COMMAND GETKEYS and returns the keys as slices of args.
func (a *Applier) getKeys(ctx context.Context, args [][]byte) ([][]byte, error) {
	l := a.l
	cmd := make([]any, 0, len(args)+2)
	cmd = append(cmd, "COMMAND", "GETKEYS")
	for _, x := range args {
		cmd = append(cmd, x)
	}
	reply, err := l.client(l.owner(0)).Do(ctx, cmd...).Slice()
	if msg, isReply := isRedisError(err); isReply {
		low := strings.ToLower(msg)
		if strings.Contains(low, "no key arguments") || strings.Contains(low, "has no keys") {
			return nil, nil
		}
		return nil, fmt.Errorf("COMMAND GETKEYS: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("loader: COMMAND GETKEYS: %w", err)
	}
	keys := make([][]byte, 0, len(reply))
	used := make([]bool, len(args))
	for _, x := range reply {
		k, _ := x.(string)
		found := false
		for i := 1; i < len(args); i++ {
			if !used[i] && bytes.Equal(args[i], []byte(k)) {
				used[i], found = true, true
				keys = append(keys, args[i])
				break
			}
		}
		if !found {
			keys = append(keys, []byte(k))
		}
	}
	return keys, nil
}
