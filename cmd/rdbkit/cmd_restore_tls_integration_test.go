package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/internal/redistest"
	"github.com/rdbkit/rdbkit/rdb"
)

// writeCerts writes a CA and a certificate for 127.0.0.1 and redis.test
// (server and client use), signed by it, as PEM files in dir.
func writeCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rdbkit test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "redis.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"redis.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

func TestRestoreTLS(t *testing.T) {
	fixture := sharedFile(t, "generated/redis-7.0.15/hashes.rdb")
	dir := t.TempDir()
	ca, cert, key := writeCerts(t, dir)
	port := redistest.FreePort(t)
	srv := redistest.Start(t, redistest.WithArgs("--tls-port", strconv.Itoa(port), "--tls-cert-file", cert,
		"--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"))
	url := "rediss://127.0.0.1:" + strconv.Itoa(port)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"ca", []string{"--tls-ca", ca}, exitOK, ""},
		{"server name", []string{"--tls-ca", ca, "--tls-server-name", "redis.test", "--replace"}, exitOK, ""},
		{"wrong server name", []string{"--tls-ca", ca, "--tls-server-name", "other.test", "--replace"}, exitFailure, "certificate"},
		{"unknown CA", []string{"--replace"}, exitFailure, "certificate"},
		{"insecure", []string{"--tls-insecure", "--replace"}, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"restore", fixture, "--to", url}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, stdout, stderr)
			}
		})
	}
	if code, _, stderr := runCLI(t, "restore", fixture, "--to", "redis://"+srv.Addr, "--tls-ca", ca); code != exitUsage || !strings.Contains(stderr, "rediss://") {
		t.Fatalf("--tls-ca with redis://: exit %d, %s", code, stderr)
	}
	if n, err := srv.Client(t).DBSize(context.Background()).Result(); err != nil || n != 6 {
		t.Fatalf("DBSIZE %d, %v", n, err)
	}
}

// moduleID returns the 64-bit id of a module type: its 9-character name
// in 6-bit characters, then a 10-bit encoding version. See
// redis/src/module.c moduleTypeEncodeId.
func moduleID(name string, ver int) uint64 {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var id uint64
	for _, c := range []byte(name) {
		id = id<<6 | uint64(strings.IndexByte(chars, c))
	}
	return id<<10 | uint64(ver)
}

// TestRestoreModuleAndScript restores a file with a value of a module the
// server lacks (reported for that key, the rest written) and a Lua script
// (SCRIPT LOAD).
func TestRestoreModuleAndScript(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mod.rdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const script = "return 'hello from lua'"
	w := rdb.NewWriter(f, 10, false)
	mod := rdb.AppendLength([]byte{byte(rdb.EncModule2)}, moduleID("rdbkitmod", 1))
	mod = rdb.AppendLength(rdb.AppendLength(mod, 2), 42) // RDB_MODULE_OPCODE_UINT 42
	mod = rdb.AppendLength(mod, 0)                       // RDB_MODULE_OPCODE_EOF
	_ = w.WriteAux([]byte("lua"), []byte(script))
	_ = w.SelectDB(0, 3, 0)
	_ = w.WriteKey([]byte("before"), rdb.AppendString([]byte{0}, []byte("v1")), 0, -1, -1)
	_ = w.WriteKey([]byte("mod"), mod, 0, -1, -1)
	_ = w.WriteKey([]byte("after"), rdb.AppendString([]byte{0}, []byte("v2")), 0, -1, -1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	srv := redistest.Start(t)
	code, stdout, stderr := runCLI(t, "restore", path, "--to", "redis://"+srv.Addr)
	if code != exitFailure || !strings.Contains(stdout, "db 0 mod: RESTORE: ERR Bad data format (module type rdbkitmod") || !strings.Contains(stdout, "2 written") ||
		!strings.Contains(stdout, "1 Lua scripts") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	c := srv.Client(t)
	sum := sha1.Sum([]byte(script))
	if ok, err := c.ScriptExists(context.Background(), hex.EncodeToString(sum[:])).Result(); err != nil || !ok[0] {
		t.Fatalf("SCRIPT EXISTS: %v %v", ok, err)
	}
	if n, _ := c.Exists(context.Background(), "before", "after", "mod").Result(); n != 2 {
		t.Fatalf("%d keys exist, want 2", n)
	}
}
