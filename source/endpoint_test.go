package source

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSourceParseEndpoint(t *testing.T) {
	tests := []struct {
		url      string
		want     Endpoint
		redacted string
	}{
		{"redis://127.0.0.1:6380", Endpoint{Network: "tcp", Addr: "127.0.0.1:6380"}, "redis://127.0.0.1:6380"},
		{"redis://host", Endpoint{Network: "tcp", Addr: "host:6379"}, "redis://host:6379"},
		{"redis://", Endpoint{Network: "tcp", Addr: "127.0.0.1:6379"}, "redis://127.0.0.1:6379"},
		{"localhost:7000", Endpoint{Network: "tcp", Addr: "localhost:7000"}, "redis://localhost:7000"},
		{"redis://alice:s3cret@h:1/3", Endpoint{Network: "tcp", Addr: "h:1", User: "alice", Password: "s3cret", DB: 3},
			"redis://alice:xxxxx@h:1/3"},
		{"redis://:s3cret@h", Endpoint{Network: "tcp", Addr: "h:6379", Password: "s3cret"}, "redis://:xxxxx@h:6379"},
		{"redis://s3cret@h", Endpoint{Network: "tcp", Addr: "h:6379", Password: "s3cret"}, "redis://:xxxxx@h:6379"},
		{"redis://alice:@h", Endpoint{Network: "tcp", Addr: "h:6379", User: "alice"}, "redis://alice:@h:6379"},
		{"redis://al%40ce:p%2Fw%3A@h", Endpoint{Network: "tcp", Addr: "h:6379", User: "al@ce", Password: "p/w:"},
			"redis://al@ce:xxxxx@h:6379"},
		{"rediss://h:6390", Endpoint{Network: "tcp", Addr: "h:6390", TLS: true}, "rediss://h:6390"},
		{"REDISS://h", Endpoint{Network: "tcp", Addr: "h:6379", TLS: true}, "rediss://h:6379"},
		{"redis://[::1]:6379/0", Endpoint{Network: "tcp", Addr: "[::1]:6379"}, "redis://[::1]:6379"},
		{"redis://h?db=2", Endpoint{Network: "tcp", Addr: "h:6379", DB: 2}, "redis://h:6379/2"},
		{"unix:///tmp/redis.sock", Endpoint{Network: "unix", Addr: "/tmp/redis.sock"}, "unix:///tmp/redis.sock"},
		{"unix://u:pw9@/tmp/redis.sock?db=4", Endpoint{Network: "unix", Addr: "/tmp/redis.sock", User: "u", Password: "pw9", DB: 4},
			"unix://u:xxxxx@/tmp/redis.sock?db=4"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := ParseEndpoint(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %#v (%+v), want %+v", got, [...]any{got.Network, got.Addr, got.TLS, got.User, got.Password, got.DB}, tt.want.Redacted())
			}
			if r := got.Redacted(); r != tt.redacted {
				t.Errorf("Redacted %q, want %q", r, tt.redacted)
			}
			for _, s := range []string{fmt.Sprint(got), fmt.Sprintf("%v %+v %#v %s", got, got, got, got)} {
				if got.Password != "" && strings.Contains(s, got.Password) {
					t.Errorf("printed %q shows the password", s)
				}
			}
		})
	}
}

func TestSourceParseEndpointErrors(t *testing.T) {
	for _, u := range []string{
		"http://h",
		"redis://h:99999",
		"redis://h:0",
		"redis://user:s3cret@h:port",
		"redis://user:s3cret@h/x",
		"redis://user:s3cret@h/1?db=2",
		"redis://user:s3cret@h?timeout=3",
		"redis://user:s3cret@h#frag",
		"redis://user:s3cret@bad host",
		"unix://host/tmp/sock",
		"unix://",
		"redis://user:s3cret@h\x7f",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := ParseEndpoint(u)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
			if !strings.HasPrefix(err.Error(), "source: bad URL ") {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestSourceLoadPassword(t *testing.T) {
	dir := t.TempDir()
	file := func(content string) string {
		p := filepath.Join(dir, fmt.Sprintf("pw%d", len(content)))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("RDBKIT_TEST_AUTH", "fromenv")
	tests := []struct {
		name    string
		url     string
		file    string
		env     string
		want    string
		wantErr string
	}{
		{"url", "redis://:inurl@h", "", "RDBKIT_TEST_AUTH", "inurl", ""},
		{"env", "redis://h", "", "RDBKIT_TEST_AUTH", "fromenv", ""},
		{"env unset", "redis://h", "", "RDBKIT_TEST_UNSET", "", ""},
		{"no env", "redis://h", "", "", "", ""},
		{"file", "redis://alice:@h", file("fromfile\n"), "RDBKIT_TEST_AUTH", "fromfile", ""},
		{"file crlf", "redis://h", file("fromfile2\r\n"), "", "fromfile2", ""},
		{"file spaces kept", "redis://h", file(" sp ace "), "", " sp ace ", ""},
		{"file and url", "redis://:inurl@h", file("x"), "", "", "both in the URL and in a file"},
		{"empty file", "redis://h", file("\n"), "", "", "is empty"},
		{"missing file", "redis://h", filepath.Join(dir, "none"), "", "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := ParseEndpoint(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			err = ep.LoadPassword(tt.file, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "inurl") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil || ep.Password != tt.want {
				t.Fatalf("password %q, %v; want %q", ep.Password, err, tt.want)
			}
		})
	}
}

func TestSourceTLSFiles(t *testing.T) {
	if _, err := (TLSFiles{Cert: "c.pem"}).Config(); err == nil {
		t.Error("a certificate without a key: no error")
	}
	if _, err := (TLSFiles{CA: filepath.Join(t.TempDir(), "none.pem")}).Config(); err == nil {
		t.Error("a missing CA file: no error")
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("not pem"), 0o600)
	if _, err := (TLSFiles{CA: empty}).Config(); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Errorf("a CA file without PEM: %v", err)
	}
	cfg, err := (TLSFiles{Insecure: true}).Config()
	if err != nil || !cfg.InsecureSkipVerify {
		t.Errorf("insecure: %v %v", cfg, err)
	}
}
