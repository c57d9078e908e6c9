package redistest

import (
	"net"
	"sync"
	"testing"
)

// handedOut records every port this process has returned, so two servers
// started in parallel, or a server restarted on its old port, never race for
// the same one. Ports are not reused within a test binary.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier call in this process has returned. The listener used to
// find it is closed, so another process can still take it before the caller
// binds it.
func FreePort(t testing.TB) int {
	t.Helper()
	return freePort(t, false)
}

// freePort returns a free port; with bus set, port+10000 (the Redis Cluster
// bus port) is free as well.
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := !bus || port+10000 <= 65535 && canListen(port+10000)
		l.Close()
		if ok && claim(port, bus) {
			return port
		}
	}
	t.Fatal("redistest: no free port after 100 tries")
	return 0
}

// claim marks port (and its bus port, if bus) as handed out; it reports
// false if one already was.
func claim(port int, bus bool) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = make(map[int]bool)
	}
	if handedOut.ports[port] || bus && handedOut.ports[port+10000] {
		return false
	}
	handedOut.ports[port] = true
	if bus {
		handedOut.ports[port+10000] = true
	}
	return true
}

func canListen(port int) bool {
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return false
	}
	l.Close()
	return true
}
