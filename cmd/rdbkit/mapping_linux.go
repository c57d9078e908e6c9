//go:build linux

package main

import (
	"math"
	"os"
	"syscall"
)

// A mapping is a regular file mapped in memory, read-only: the memory
// report's second goroutine estimates the values there while the first
// reads the file (exporter.MemoryScanOptions.Input).
type mapping struct {
	data     []byte
	released int // bytes unmapped from the start
}

// releaseStep is how far the scan moves on before release unmaps the
// pages behind it.
const releaseStep = 8 << 20

// mapFile maps the first size bytes of f, nil if it cannot.
func mapFile(f *os.File, size int64) *mapping {
	if size <= 0 || size > math.MaxInt {
		return nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(data, syscall.MADV_SEQUENTIAL) // a hint only
	return &mapping{data: data}
}

// release drops the pages before off from the process's memory (they stay
// in the page cache), so that the mapping does not grow the process with
// the file. The scan must not read before off any more.
func (m *mapping) release(off int64) {
	end := int(off) &^ (os.Getpagesize() - 1)
	if end-m.released < releaseStep {
		return
	}
	_ = syscall.Madvise(m.data[m.released:end], syscall.MADV_DONTNEED) // a hint only
	m.released = end
}

func (m *mapping) Close() error { return syscall.Munmap(m.data) }
