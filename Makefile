# Targets for developers and CI. .ci/run runs `make test`.
GO ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@latest

.PHONY: test test-short lint fuzz bench-data bench build

# All tests, including integration tests against real redis-server processes.
test:
	bash scripts/ensure-redis.sh
	bash scripts/ensure-chromium.sh
	$(GO) test -race -count=1 -timeout 20m ./...

# Unit tests only: integration tests skip under -short.
test-short:
	$(GO) test -short ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# FUZZTIME=30s make fuzz (each target for FUZZTIME)
fuzz:
	$(GO) test -run '^$$' -fuzz=FuzzReader -fuzztime=$${FUZZTIME:-10m} ./rdb
	$(GO) test -run '^$$' -fuzz=FuzzModes -fuzztime=$${FUZZTIME:-10m} ./rdb
	$(GO) test -run '^$$' -fuzz=FuzzParseFloat -fuzztime=$${FUZZTIME:-10m} ./rdb
	$(GO) test -run '^$$' -fuzz=FuzzInflate -fuzztime=$${FUZZTIME:-10m} ./rdb
	$(GO) test -run '^$$' -fuzz=FuzzEstimate -fuzztime=$${FUZZTIME:-10m} ./exporter
	$(GO) test -run '^$$' -fuzz=FuzzScanMemory -fuzztime=$${FUZZTIME:-10m} ./exporter
	$(GO) test -run '^$$' -fuzz=FuzzReply -fuzztime=$${FUZZTIME:-10m} ./internal/resp

bench-data:
	$(GO) run ./internal/cmd/genbench

# Benchmarks (see BENCHMARKS.md): go test benchmarks on the 1M-key file, then
# whole-process timings of restore and the live commands beside their references.
bench: bench-data
	RDBKIT_BENCH=1 $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...
	bash scripts/bench-decoder.sh
	bash scripts/bench-restore.sh
	bash scripts/bench-migrate.sh

build:
	CGO_ENABLED=0 $(GO) build -o bin/rdbkit ./cmd/rdbkit
