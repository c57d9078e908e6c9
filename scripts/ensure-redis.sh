#!/usr/bin/env bash
# ensure-redis.sh makes sure redis-server and redis-cli are installed for the
# integration tests (see internal/redistest). If either is missing and we run
# as root on a Debian-like system, it installs them with apt-get; otherwise it
# says what is missing. It fails only when CI is set, because there the tests
# would fail anyway ("redis-server not found: .ci/run must install it").
set -euo pipefail

server="${RDBKIT_REDIS_SERVER:-redis-server}"
cli="${RDBKIT_REDIS_CLI:-redis-cli}"

have() { command -v "$1" >/dev/null 2>&1; }

if have "$server" && have "$cli"; then
	exit 0
fi

if [ "$(id -u)" = 0 ] && have apt-get; then
	echo "ensure-redis: installing redis-server and redis-tools with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends redis-server redis-tools
	# The package may start a system redis-server on port 6379; the tests
	# use their own servers on free ports and do not mind it.
	if have "$server" && have "$cli"; then
		"$server" --version >&2
		exit 0
	fi
fi

msg="ensure-redis: $server or $cli not found; install redis-server and redis-tools (or set RDBKIT_REDIS_SERVER)"
if [ -n "${CI:-}" ]; then
	echo "$msg" >&2
	exit 1
fi
echo "$msg; integration tests will be skipped" >&2
