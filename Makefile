# Privox: `make run` starts a phone system on the embedded defaults; `make test` installs every
# test peer and runs the whole suite with -race on SQLite and PostgreSQL.
GO ?= go
BIN := bin/privox

.PHONY: run test build deps-run vet fmt bench clean

# The system prompts are synthesised before the first start, so that the first calls hear
# them (serve would make them in the background); later runs find them current.
run: deps-run build
	./$(BIN) prompts generate
	./$(BIN) serve

build:
	$(GO) build -o $(BIN) ./cmd/privox

# The binary is pure Go; what it needs at run time is installed here: espeak-ng (Debian) speaks
# the system prompts, which `privox serve` synthesises into the data directory at first start.
deps-run:
	@command -v $(GO) >/dev/null || { echo "Go is required (https://go.dev/dl)"; exit 1; }
	$(GO) mod download
	@command -v espeak-ng >/dev/null || { S=""; [ "$$(id -u)" = 0 ] || S=sudo; \
		DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null || \
		{ $$S apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null; }; }

test:
	scripts/test.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .

bench:
	@ls bench/*.sh 2>/dev/null | while read s; do echo "== $$s"; bash $$s; done

clean:
	rm -rf bin
