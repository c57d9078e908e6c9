package rewrite

import (
	"bytes"
	"strconv"
	"sync"
)

// Slots is the number of hash slots of a Redis Cluster.
const Slots = 16384

// crc16tab is the CRC16-CCITT (XMODEM) table of redis/src/crc16.c.
var crc16tab = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crc16tab[byte(c>>8)^x]
	}
	return c
}

// Slot returns the cluster hash slot of key: CRC16 of its hash tag (the
// bytes between the first '{' and the next '}', if not empty) or of the
// whole key, modulo 16384. See redis/src/cluster.c keyHashSlot.
func Slot(key []byte) int {
	if i := bytes.IndexByte(key, '{'); i >= 0 {
		if j := bytes.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) & (Slots - 1))
}

// slotTags holds, for each slot, a short string (base 36 digits) whose
// CRC16 falls in it: "{" + tag + "}" makes any key name land in that slot.
var slotTags = sync.OnceValue(func() *[Slots]string {
	var t [Slots]string
	left := Slots
	var b []byte
	for n := uint64(0); left > 0; n++ {
		b = strconv.AppendUint(b[:0], n, 36)
		s := int(crc16(b) & (Slots - 1))
		if t[s] == "" {
			t[s] = string(b)
			left--
		}
	}
	return &t
})

// SlotTag returns a hash tag, without its braces, that maps to slot.
func SlotTag(slot int) string { return slotTags()[slot&(Slots-1)] }

// TempKey returns a temporary key name in the same hash slot as key:
// "{tag}rdbkit-tmp:" followed by id, which the caller makes unique (a run
// id and a sequence number, say).
func TempKey(key []byte, id string) []byte {
	b := append([]byte("{"), SlotTag(Slot(key))...)
	b = append(b, "}rdbkit-tmp:"...)
	return append(b, id...)
}
