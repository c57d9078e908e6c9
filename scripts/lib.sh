# lib.sh is sourced by the benchmark scripts: it makes a scratch directory
# ($work) removed at exit with every process whose PID is added to
# $pids, builds rdbkit into $rk, and defines freeport.
work="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -o "$work/rdbkit" ./cmd/rdbkit
rk="$work/rdbkit"

# freeport prints a free TCP port of the loopback interface.
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
