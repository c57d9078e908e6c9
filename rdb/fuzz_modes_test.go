package rdb

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// decodeDigest decodes every key of data and describes each element, the
// pieces of chunked members and values joined, so that the decoding of a
// whole payload and of a value streamed in chunks can be compared.
func decodeDigest(data []byte, small bool) (string, error) {
	r := NewReader(bytes.NewReader(data))
	r.MaxAlloc = 4 << 20
	if small {
		r.MaxPayload, r.ChunkSize = 256, 16
	}
	var b strings.Builder
	var member, value []byte
	for {
		e, err := r.Next()
		if err != nil {
			return b.String(), err
		}
		if e.Kind != KindKey {
			continue
		}
		fmt.Fprintf(&b, "key %d %q %v %d\n", e.DB, e.Key, e.Encoding.Type(), e.ExpireAt)
		v := e.Value()
		for v.Next() {
			el := v.Elem()
			member, value = append(member, el.Member...), append(value, el.Value...)
			if el.More {
				continue
			}
			fmt.Fprintf(&b, "  %q %q %v %d %v %q\n", member, value, el.Score, el.ExpireAt, el.ID, el.Fields)
			member, value = member[:0], value[:0]
		}
		if v.Err() != nil {
			return b.String(), v.Err()
		}
	}
}

// FuzzModes decodes arbitrary input with whole payloads and with every
// value over 256 bytes streamed in 16-byte chunks: when both read the
// whole input, they must have given the same keys and elements.
func FuzzModes(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, err1 := decodeDigest(data, false)
		streamed, err2 := decodeDigest(data, true)
		if err1 == io.EOF && err2 == io.EOF && whole != streamed {
			t.Fatalf("whole and streamed decodings differ:\n%s\n---\n%s", whole, streamed)
		}
	})
}
