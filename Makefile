# Easel: `make start` runs the whole system on this machine; `make test` tests it.
.PHONY: start test deps build check test-unit test-integration test-e2e test-security test-browser status down clean

# Node.js 24 from .toolchain/ (installed by `make deps` when the node on PATH is older) comes
# first, so every recipe, npm script (npm's `#!/usr/bin/env node` too), test and launched
# process runs on it. When the folder is absent, the node on PATH is used.
export PATH := $(CURDIR)/.toolchain/bin:$(PATH)

EASEL := node dist/src/launcher/cli.js

# `make start UPLOAD_TRANSACTION=2pc` runs uploads and deletes as two-phase commits (default: the saga).
start: deps build
	$(EASEL) up $(if $(UPLOAD_TRANSACTION),--upload-transaction $(UPLOAD_TRANSACTION))

test: deps build
	npm run check
	npm run test:integration
	npm run test:e2e
	npm run test:security
	npm run test:browser

deps:
	@scripts/install-deps.sh

build: deps
	npm run build

check: deps
	npm run check

test-unit: deps
	npm run test:unit

test-integration: build
	npm run test:integration

test-e2e: build
	npm run test:e2e

test-security: build
	npm run test:security

test-browser: build
	npm run test:browser

status:
	@$(EASEL) status

down:
	@$(EASEL) down

# Removes build output and every local database, cache and log (stop the cluster first).
clean:
	rm -rf dist web/dist test-results .easel
