package rdb

import (
	"hash/crc64"
	"testing"
)

func TestCRC64(t *testing.T) {
	if got := CRC64(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("CRC64(123456789) = %x", got)
	}
	tab := crc64.MakeTable(0x95AC9329AC4BC9B5)
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for n := range len(data) {
		// the stdlib computes the same function (see STYLE.md)
		want := ^crc64.Update(^uint64(0), tab, data[:n])
		if got := CRC64(0, data[:n]); got != want {
			t.Fatalf("len %d: %x, want %x", n, got, want)
		}
		if got := CRC64(CRC64(0, data[:n/2]), data[n/2:n]); got != want {
			t.Fatalf("len %d split: %x, want %x", n, got, want)
		}
	}
}

func BenchmarkCRC64(b *testing.B) {
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		CRC64(0, data)
	}
}
