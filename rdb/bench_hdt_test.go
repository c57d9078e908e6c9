package rdb_test

import (
	"bytes"
	"testing"

	"github.com/hdt3213/rdb/core"
	"github.com/hdt3213/rdb/model"
)

// BenchmarkHDT3213Decode is the reference: hdt3213/rdb's core.Decoder over
// the same file, every value materialised as its model objects.
func BenchmarkHDT3213Decode(b *testing.B) {
	data := benchFile(b)
	benchPasses(b, data, func() int {
		keys := 0
		dec := core.NewDecoder(bytes.NewReader(data))
		err := dec.Parse(func(o model.RedisObject) bool {
			keys++
			return true
		})
		if err != nil {
			b.Fatal(err)
		}
		return keys
	})
}
