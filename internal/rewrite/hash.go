package rewrite

import (
	"slices"

	"github.com/rdbkit/rdbkit/rdb"
)

// fieldTTL is a hash field expiry waiting for its HSET to be emitted; the
// field's bytes are in writer.ttlArena[from:to].
type fieldTTL struct {
	ms       int64
	from, to int
}

// hash writes a hash with HSET field value pairs and, where the server
// has it, HPEXPIREAT for the fields that expire, right after the HSET
// that created them. Fields already expired at Options.Now are left out.
func (w *writer) hash(v *rdb.Value) error {
	if err := w.prologue(); err != nil {
		return err
	}
	if err := w.begin("HSET"); err != nil {
		return err
	}
	var ttls []fieldTTL
	var arena []byte
	w.afterBatch = func() error {
		err := w.fieldTTLs(ttls, arena)
		ttls, arena = ttls[:0], arena[:0]
		return err
	}
	var field, join []byte
	pieces := false
	for v.Next() {
		el := v.Elem()
		f, val := el.Member, el.Value
		if el.More || pieces {
			if !pieces {
				field, join, pieces = append(field[:0], f...), join[:0], true
			}
			if len(join)+len(val) > w.o.MaxBulk {
				return ErrTooLarge
			}
			join = append(join, val...)
			if el.More {
				continue
			}
			f, val, pieces = field, join, false
		}
		exp := el.ExpireAt
		if exp != 0 && w.o.Now != 0 && exp <= w.o.Now {
			w.loss.ExpiredFields++
			continue
		}
		if err := w.add(f, val); err != nil {
			return err
		}
		if exp != 0 {
			if !w.o.FieldTTL {
				w.loss.FieldTTLs++
				continue
			}
			from := len(arena)
			arena = append(arena, f...)
			ttls = append(ttls, fieldTTL{exp, from, len(arena)})
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	return w.epilogue()
}

// fieldTTLs emits HPEXPIREAT key ms FIELDS n field... for each expiry time.
func (w *writer) fieldTTLs(ttls []fieldTTL, arena []byte) error {
	if len(ttls) == 0 {
		return nil
	}
	slices.SortStableFunc(ttls, func(a, b fieldTTL) int {
		switch {
		case a.ms < b.ms:
			return -1
		case a.ms > b.ms:
			return 1
		}
		return 0
	})
	for i := 0; i < len(ttls); {
		j := i
		for j < len(ttls) && ttls[j].ms == ttls[i].ms {
			j++
		}
		c := &w.aux
		c.reset()
		c.addString("HPEXPIREAT")
		c.add(w.dst)
		c.add(w.int(ttls[i].ms))
		c.addString("FIELDS")
		c.add(w.int(int64(j - i)))
		for _, t := range ttls[i:j] {
			c.add(arena[t.from:t.to])
		}
		if err := w.send(c); err != nil {
			return err
		}
		i = j
	}
	return nil
}
