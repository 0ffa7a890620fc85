# Every module of the workspace, tested one by one (go test ./... does not
# cross module boundaries).
GO_MODULES := core core/internal/thirdparty core/wseventstest adapters/nethttp adapters/gin adapters/echo adapters/iris brokers/nats brokers/redis examples conformance soak
GOFLAGS_TEST ?= -race -count=1

.PHONY: test test-go test-js test-integration lint bench bench-full bench-core js soak

## test: everything CI runs: vet, gofmt, Go tests with -race in every module, the JS
## client, and the JS client against the Go server and in Chromium
test: lint test-go test-js test-integration

# Node's ws (from the JS client's lockfile) is a client in core's interop tests.
test-go: jsclient/node_modules/.package-lock.json
	@set -e; for m in $(GO_MODULES); do \
		echo "== go test $$m"; \
		(cd $$m && go test $(GOFLAGS_TEST) ./...); \
	done
	@set -e; for m in $(GO_MODULES); do \
		echo "== go test $$m on the portable paths: idle connections keep their goroutine, one write per connection (WSEVENTS_EPOLL=0 WSEVENTS_URING=0)"; \
		(cd $$m && WSEVENTS_EPOLL=0 WSEVENTS_URING=0 go test $(GOFLAGS_TEST) ./...); \
	done
	@echo "== go test core, allocation budgets (without -race, which changes allocation counts)"
	cd core && go test -count=1 -run 'TestHotPathAllocations' .
	@echo "== bench: each library's allocation benchmark once (the peers' servers and the load generator's client, in one process)"
	cd bench && GOWORK=off go test -count=1 -run '^$$' -bench . -benchtime 1x ./cmd/benchserver

lint:
	@set -e; bad=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi; \
	for m in $(GO_MODULES); do (cd $$m && go vet ./...); done; \
	(cd bench && GOWORK=off go vet ./...)

## test-js: fail if core's embedded copy of the client is stale, then build and
## test the TypeScript client (the check comes first: the build rewrites the copy)
test-js: jsclient/node_modules/.package-lock.json
	cd jsclient && npm run --silent check-bundle && npm test

## test-integration: the JS client against the real Go server (examples/jstest), and
## the chat examples and the origin policies in Chromium (/usr/bin/chromium; skipped without it unless CI=true)
test-integration: jsclient/node_modules/.package-lock.json
	cd jsclient && npm run test:integration && npm run test:browser

jsclient/node_modules/.package-lock.json: jsclient/package-lock.json
	cd jsclient && npm ci --no-audit --no-fund

## js: rebuild the client and core's embedded copy
js: jsclient/node_modules/.package-lock.json
	cd jsclient && npm run build

## bench: the peer benchmarks, short preset (about 15 minutes): wsevents side by
## side with gws, gorilla, coder, gobwas, melody and neffos; writes bench/results/
bench:
	$(MAKE) -C bench short

## bench-full: every size and connection count, 5 repetitions, idle memory and
## allocations (about 70 minutes)
bench-full:
	$(MAKE) -C bench full

## bench-core: the core's own allocation and fan-out benchmarks (benchstat input)
bench-core:
	cd core && go test -run '^$$' -bench . -benchmem -count 5 .

## soak: the long soak test: SOAK_CONNS connections (default 10,000) from several
## client processes, SOAK_DURATION of traffic (default 3m), every 10th connection
## leaving cleanly and reconnecting about every 5 s; prints its counters.
## `make test` runs a short one (1,000 connections, 20 s) as soak's Go test.
SOAK_CONNS ?= 10000
SOAK_DURATION ?= 3m
soak:
	cd soak && go run ./cmd/soak -conns $(SOAK_CONNS) -duration $(SOAK_DURATION)
