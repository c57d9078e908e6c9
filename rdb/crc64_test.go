package rdb

import (
	"hash/crc64"
	"math/rand/v2"
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

// TestCRC64Fold checks CRC64 (folded with PCLMULQDQ where the CPU has it)
// against the table method and hash/crc64 on random data: every length up
// to a few folding rounds, every alignment, random starting values, and
// inputs split at random points.
func TestCRC64Fold(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := crc64.MakeTable(crcPoly)
	buf := make([]byte, 4096+16)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for n := range 1100 {
		for _, align := range []int{0, 1, 3, 7, 8, 13} {
			p := buf[align : align+n]
			init := rng.Uint64()
			want := crcSlicing8(init, p)
			if got := CRC64(init, p); got != want {
				t.Fatalf("len %d align %d: %x, want %x", n, align, got, want)
			}
			if std := ^crc64.Update(^init, tab, p); std != want {
				t.Fatalf("len %d align %d: table %x, hash/crc64 %x", n, align, want, std)
			}
		}
	}
	for range 200 {
		n := rng.IntN(len(buf) - 16)
		p := buf[rng.IntN(16):][:n]
		k := rng.IntN(n + 1)
		want := crcSlicing8(0, p)
		if got := CRC64(CRC64(0, p[:k]), p[k:]); got != want {
			t.Fatalf("len %d split at %d: %x, want %x", n, k, got, want)
		}
	}
	zero := make([]byte, 1<<16)
	if got, want := CRC64(0, zero), crcSlicing8(0, zero); got != want {
		t.Fatalf("64 KiB of zeros: %x, want %x", got, want)
	}
}

func BenchmarkCRC64Table(b *testing.B) {
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		crcSlicing8(0, data)
	}
}
