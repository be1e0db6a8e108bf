# vhdir — run `make help` for the targets.
GO        ?= go
FUZZTIME  ?= 10s
FIXTURES  ?= ../shared/fixtures

.PHONY: help build run test race test-fips fuzz bench lint verify check ig-sync

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

## build: build the vhdir binary into bin/
build:
	$(GO) build -o bin/vhdir ./cmd/vhdir

## run: run the server on the embedded database with the IG examples
run:
	$(GO) run ./cmd/vhdir serve --seed-examples

## test: all tests, both stores (PostgreSQL tests skip without a server unless CI=true)
test:
	$(GO) test ./...

## race: all tests under the race detector
race:
	$(GO) test -race ./...

## test-fips: TLS, authorization and command tests in FIPS 140-3 mode
test-fips:
	GODEBUG=fips140=on $(GO) test -count=1 ./internal/tlsconf/ ./internal/auth/ ./cmd/vhdir/

## fuzz: a short run of every fuzz target (FUZZTIME each)
fuzz:
	@for p in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$p | grep '^Fuzz'); do \
	    echo "fuzz $$p $$f"; $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
	  done; \
	done

## bench: a short run of every benchmark on a 100k directory (a few minutes; figures and longer runs in BENCHMARKS.md)
bench:
	$(GO) test -run XXX -bench BenchmarkReadByID -benchtime 30000x ./internal/rest/
	$(GO) test -run XXX -bench 'BenchmarkLoad$$' -benchtime 1x -timeout 60m ./internal/load/
	$(GO) test -run XXX -bench BenchmarkValidate -benchmem ./internal/profile/
	$(GO) test -run XXX -bench BenchmarkSearch -benchtime 200x -timeout 60m ./internal/rest/
	$(GO) test -run XXX -bench 'BenchmarkToken|BenchmarkAuthenticate' -benchtime 1000x ./internal/auth/
	$(GO) test -run XXX -bench 'BenchmarkAuditOverhead/.*/clients-8' -benchtime 2000x ./internal/audit/
	$(GO) test -run XXX -bench BenchmarkExport -benchtime 1x -timeout 60m ./internal/rest/

## lint: gofmt, go vet and staticcheck must be silent
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## verify: go.mod and go.sum are tidy (go mod tidy changes nothing); the embedded IG files equal ../shared/fixtures (vhdir-conformance, vhdir-examples-json), skipped with a message when that folder is missing
verify:
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum
	@if [ ! -d $(FIXTURES) ]; then echo "verify: $(FIXTURES) not found: embedded IG files not compared"; exit 0; fi; \
	bad=0; \
	for pair in conformance:vhdir-conformance examples:vhdir-examples-json; do \
	  ours=internal/ig/$${pair%%:*}; theirs=$(FIXTURES)/$${pair#*:}; \
	  for f in $$ours/*.json; do \
	    cmp -s $$f $$theirs/$${f##*/} || { echo "verify: $$f differs from $$theirs or is not there"; bad=1; }; \
	  done; \
	  for f in $$theirs/*.json; do \
	    [ -e $$ours/$${f##*/} ] || { echo "verify: $$f is missing from $$ours"; bad=1; }; \
	  done; \
	done; \
	if [ $$bad = 1 ]; then echo "verify: run make ig-sync, or update $(FIXTURES)"; exit 1; fi; \
	echo "verify: embedded IG files match $(FIXTURES)"

## check: lint, verify, every test under the race detector, the FIPS-mode tests (what .ci/run runs)
check: lint verify race test-fips

## ig-sync: copy the IG fixtures from ../shared/fixtures into internal/ig
ig-sync:
	cp $(FIXTURES)/vhdir-conformance/*.json internal/ig/conformance/
	cp $(FIXTURES)/vhdir-examples-json/*.json internal/ig/examples/
