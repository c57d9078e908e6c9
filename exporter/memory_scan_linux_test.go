package exporter

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rdbkit/rdbkit/internal/fixtures"
	"github.com/rdbkit/rdbkit/rdb"
)

// TestScanMemoryTruncatedMapping checks that a mapped input file that is
// truncated under the scan makes an error, not a crash: the second
// goroutine faults reading the values past the new end.
func TestScanMemoryTruncatedMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.rdb")
	writeCopies(t, fixtures.Shared(t, "generated/redis-7.0.15/all-in-one.rdb"), path, 5_000)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mapped, err := syscall.Mmap(int(f.Fd()), 0, len(data), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer syscall.Munmap(mapped)
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	r := rdb.NewReader(bytes.NewReader(data)) // the reader has its own copy
	_, err = ScanMemory(context.Background(), r, MemoryScanOptions{Input: mapped}, NewMemoryReport(MemoryReportOptions{}))
	if err == nil || !strings.Contains(err.Error(), "reading the memory scan's input") {
		t.Fatalf("got %v, want a fault reading the input", err)
	}
	t.Log(err)
}
