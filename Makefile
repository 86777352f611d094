# Privox: `make run` starts a phone system on the embedded defaults; `make test` installs every
# test peer and runs the whole suite with -race on SQLite and PostgreSQL.
GO ?= go
BIN := bin/privox

.PHONY: run test build deps-run vet fmt bench clean

run: deps-run build
	./$(BIN) serve

build:
	$(GO) build -o $(BIN) ./cmd/privox

# The binary is pure Go today; what it needs at run time is installed here.
deps-run:
	@command -v $(GO) >/dev/null || { echo "Go is required (https://go.dev/dl)"; exit 1; }
	$(GO) mod download

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
