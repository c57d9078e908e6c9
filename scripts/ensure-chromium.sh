#!/usr/bin/env bash
# ensure-chromium.sh makes sure a headless Chromium is installed for the
# tests that render the HTML memory report (exporter/html_test.go). If it is
# missing and we run as root on a Debian-like system, it installs Debian's
# chromium package with apt-get; otherwise it says what is missing. It fails
# only when CI is set, because there the tests would fail anyway
# ("chromium not found").
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

for b in "${RDBKIT_CHROMIUM:-}" chromium chromium-browser google-chrome; do
	if [ -n "$b" ] && have "$b"; then
		exit 0
	fi
done

if [ "$(id -u)" = 0 ] && have apt-get; then
	echo "ensure-chromium: installing chromium with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends chromium
	if have chromium; then
		chromium --version >&2 || true
		exit 0
	fi
fi

msg="ensure-chromium: chromium not found; install Debian's chromium package (or set RDBKIT_CHROMIUM)"
if [ -n "${CI:-}" ]; then
	echo "$msg" >&2
	exit 1
fi
echo "$msg; the HTML report tests will be skipped" >&2
