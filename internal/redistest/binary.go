package redistest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// lookServer finds redis-server, or skips or fails t as described in the
// package comment.
func lookServer(t testing.TB) string {
	t.Helper()
	return lookBinary(t, "RDBKIT_REDIS_SERVER", "redis-server", "")
}

// lookCLI finds redis-cli, preferring the one next to server.
func lookCLI(t testing.TB, server string) string {
	t.Helper()
	return lookBinary(t, "RDBKIT_REDIS_CLI", "redis-cli", filepath.Dir(server))
}

// lookBinary returns the path of name: the value of the environment
// variable env if set, else name in dir if it exists, else name on PATH.
func lookBinary(t testing.TB, env, name, dir string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs " + name)
	}
	if p := os.Getenv(env); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("redistest: %s=%s: %v", env, p, err)
		}
		return path
	}
	if dir != "" {
		if path, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return path
		}
	}
	path, err := exec.LookPath(name)
	if err != nil && os.Getenv("CI") != "" {
		t.Fatal(name + " not found: .ci/run must install it")
	}
	if err != nil {
		t.Skip("needs " + name + ": " + err.Error())
	}
	return path
}
