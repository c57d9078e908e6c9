// Package benchdata locates the large benchmark snapshot that
// internal/cmd/genbench builds once with a real redis-server (`make
// bench-data`), for the benchmarks of every package.
package benchdata

import (
	"os"
	"path/filepath"
	"testing"
)

// Name is the file name of the 1M-key snapshot.
const Name = "bench-1m.rdb"

// Dir returns the folder of the benchmark files: $RDBKIT_BENCH_DIR, else
// rdbkit under the user's cache folder ($XDG_CACHE_HOME or ~/.cache).
func Dir() (string, error) {
	if dir := os.Getenv("RDBKIT_BENCH_DIR"); dir != "" {
		return dir, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "rdbkit"), nil
}

// Path returns $RDBKIT_BENCH_FILE, else the 1M-key file in Dir.
func Path() (string, error) {
	if p := os.Getenv("RDBKIT_BENCH_FILE"); p != "" {
		return p, nil
	}
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, Name), nil
}

// Load reads the benchmark file into memory, so that the disk is not
// measured, or skips the benchmark when it has not been built.
func Load(tb testing.TB) []byte {
	tb.Helper()
	path, err := Path()
	if err != nil {
		tb.Skip(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Skipf("no benchmark file (make bench-data): %v", err)
	}
	return data
}
