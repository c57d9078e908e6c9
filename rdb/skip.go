package rdb

// skipValue walks a value of encoding enc from the cursor's position to its
// end without decoding it: RDB records carry no length, so this is how the
// Reader finds where a payload ends. See redis/src/rdb.c rdbLoadObject for
// the layouts.
func (r *Reader) skipValue(enc Encoding) error {
	c := &r.c
	switch enc {
	case EncString, EncHashZipmap, EncListZiplist, EncSetIntset, EncZSetZiplist,
		EncHashZiplist, EncHashListpack, EncZSetListpack, EncSetListpack, EncHashListpackExPreGA:
		return c.skipStr()
	case EncList, EncSet, EncListQuicklist:
		return skipElems(c, shapeStr)
	case EncHash:
		return skipElems(c, shapeStrStr)
	case EncZSet:
		return skipElems(c, shapeStrDouble)
	case EncZSet2:
		return skipElems(c, shapeStrRaw8)
	case EncListQuicklist2:
		return skipElems(c, shapeLenStr)
	case EncHashListpackEx:
		if err := c.skip(8); err != nil { // min expire
			return err
		}
		return c.skipStr()
	case EncHashMetadata:
		if err := c.skip(8); err != nil { // min expire
			return err
		}
		return skipElems(c, shapeLenStrStr)
	case EncHashMetadataPreGA:
		return skipElems(c, shapeLenStrStr)
	case EncValkeyHash2:
		return skipElems(c, shapeStrStrRaw8)
	case EncModule2:
		if _, err := c.plainLen(); err != nil {
			return err
		}
		return skipModuleData(c)
	case EncStreamListpacks, EncStreamListpacks2, EncStreamListpacks3, EncStreamListpacks4:
		return skipStream(c, enc)
	}
	return corrupt("cannot walk encoding %v", enc)
}

// A field is one part of an element in the hashtable-like encodings.
type field uint8

const (
	fieldStr    field = iota // an RDB string
	fieldLen                 // an RDB length
	fieldDouble              // a string-encoded double
	fieldRaw8                // 8 raw bytes (binary double, Unix ms)
)

// The element shapes of the encodings that store a count and then
// elements.
var (
	shapeStr        = []field{fieldStr}                      // list, set, quicklist nodes
	shapeStrStr     = []field{fieldStr, fieldStr}            // hash
	shapeStrDouble  = []field{fieldStr, fieldDouble}         // zset
	shapeStrRaw8    = []field{fieldStr, fieldRaw8}           // zset_2
	shapeLenStr     = []field{fieldLen, fieldStr}            // quicklist_2 nodes
	shapeLenStrStr  = []field{fieldLen, fieldStr, fieldStr}  // hash metadata: ttl, field, value
	shapeStrStrRaw8 = []field{fieldStr, fieldStr, fieldRaw8} // Valkey HASH_2: field, value, expiry
)

// skipElems passes over a count and that many elements of the given shape.
func skipElems(c *cursor, shape []field) error {
	n, err := c.plainLen()
	for ; n > 0 && err == nil; n-- {
		for _, f := range shape {
			switch f {
			case fieldStr:
				if p := c.pos; p < c.end {
					if k := int(c.buf[p]); k < 0x40 && k < c.end-p {
						c.pos = p + 1 + k // skipStr's usual case, without the call
						continue
					}
				}
				err = c.skipStr()
			case fieldLen:
				_, err = c.plainLen()
			case fieldDouble:
				err = c.skipDouble()
			case fieldRaw8:
				err = c.skip(8)
			}
			if err != nil {
				break
			}
		}
	}
	return err
}

// Module value opcodes. See redis/src/rdb.h RDB_MODULE_OPCODE_*.
const (
	moduleOpEOF    = 0
	moduleOpSint   = 1
	moduleOpUint   = 2
	moduleOpFloat  = 3
	moduleOpDouble = 4
	moduleOpString = 5
)

// skipModuleData passes over module data in the opcode format, through its
// EOF opcode. See redis/src/rdb.c rdbLoadCheckModuleValue.
func skipModuleData(c *cursor) error {
	for {
		op, err := c.plainLen()
		if err != nil {
			return err
		}
		switch op {
		case moduleOpEOF:
			return nil
		case moduleOpSint, moduleOpUint:
			_, err = c.plainLen()
		case moduleOpFloat:
			err = c.skip(4)
		case moduleOpDouble:
			err = c.skip(8)
		case moduleOpString:
			err = c.skipStr()
		default:
			err = corrupt("unknown module opcode %d", op)
		}
		if err != nil {
			return err
		}
	}
}

// skipStream passes over a stream: listpack nodes, metadata, consumer groups.
func skipStream(c *cursor, enc Encoding) error {
	n, err := c.plainLen()
	if err != nil {
		return err
	}
	for ; n > 0; n-- {
		if err := c.skipStr(); err != nil { // master id
			return err
		}
		if err := c.skipStr(); err != nil { // listpack
			return err
		}
	}
	lens := 3 // length, last id
	if enc >= EncStreamListpacks2 {
		lens += 5 // first id, max deleted id, entries added
	}
	if err := skipLens(c, lens); err != nil {
		return err
	}
	groups, err := c.plainLen()
	if err != nil {
		return err
	}
	for ; groups > 0; groups-- {
		if err := skipGroup(c, enc); err != nil {
			return err
		}
	}
	if enc >= EncStreamListpacks4 {
		return skipStreamV4(c)
	}
	return nil
}

func skipLens(c *cursor, n int) error {
	for range n {
		if _, err := c.plainLen(); err != nil {
			return err
		}
	}
	return nil
}

func skipGroup(c *cursor, enc Encoding) error {
	if err := c.skipStr(); err != nil {
		return err
	}
	lens := 2 // last id
	if enc >= EncStreamListpacks2 {
		lens++ // entries read
	}
	if err := skipLens(c, lens); err != nil {
		return err
	}
	pel, err := c.plainLen()
	if err != nil {
		return err
	}
	for ; pel > 0; pel-- {
		if err := c.skip(16 + 8); err != nil { // id, delivery time
			return err
		}
		if _, err := c.plainLen(); err != nil { // delivery count
			return err
		}
	}
	consumers, err := c.plainLen()
	if err != nil {
		return err
	}
	times := uint64(8)
	if enc >= EncStreamListpacks3 {
		times = 16
	}
	for ; consumers > 0; consumers-- {
		if err := c.skipStr(); err != nil {
			return err
		}
		if err := c.skip(times); err != nil {
			return err
		}
		n, err := c.plainLen()
		if err != nil {
			return err
		}
		if n > 1<<40 {
			return corrupt("consumer pel size %d", n)
		}
		if err := c.skip(16 * n); err != nil {
			return err
		}
	}
	return nil
}

// skipStreamV4 passes over the IDMP state of RDB_TYPE_STREAM_LISTPACKS_4.
func skipStreamV4(c *cursor) error {
	if err := skipLens(c, 2); err != nil { // duration, max entries
		return err
	}
	producers, err := c.plainLen()
	if err != nil {
		return err
	}
	for ; producers > 0; producers-- {
		if err := c.skipStr(); err != nil {
			return err
		}
		n, err := c.plainLen()
		if err != nil {
			return err
		}
		for ; n > 0; n-- {
			if err := c.skipStr(); err != nil {
				return err
			}
			if err := skipLens(c, 2); err != nil {
				return err
			}
		}
	}
	return skipLens(c, 2) // iids added, duplicates
}

// skipKeyMeta passes over a Redis RDB_OPCODE_KEY_META block (the opcode
// already read): a class count, then per class a 4-byte spec and a value
// in the module opcode format. See redis/src/keymeta.c rdbLoadKeyMetadata.
func skipKeyMeta(c *cursor) error {
	n, err := c.plainLen()
	if err != nil {
		return err
	}
	if n == 0 || n > 7 {
		return corrupt("key metadata with %d classes", n)
	}
	for ; n > 0; n-- {
		if err := c.skip(4); err != nil {
			return err
		}
		if err := skipModuleData(c); err != nil {
			return err
		}
	}
	return nil
}
