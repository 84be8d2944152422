# moebench: `make test` and `make replicate` install what they need (Debian packages) first.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libopenblas-dev libflac-dev libpng-dev pkg-config espeak-ng sox
SWIFT_TEST_FLAGS ?= --disable-swift-testing

.PHONY: deps build release test replicate nightly nightly-baseline bench clean

# Idempotent: installs only when a package is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	else echo "deps: all present"; fi

build: deps
	swift build

release: deps
	swift build -c release

test: deps
	swift build --build-tests
	swift test --skip-build $(SWIFT_TEST_FLAGS)

MOEBENCH := .build/release/moebench
THREADS ?= 2

# Regenerates every table in reports/ from scratch: proxy tier, all suites (proxy data is
# generated under data/ when missing), then the reports.
replicate: release
	$(MOEBENCH) replicate --suite all --tier proxy --threads $(THREADS)
	$(MOEBENCH) report --tier proxy

# The nightly regression check: smoke tier, all suites and methods, compared with the
# committed baseline (exits non-zero on a regression).
# Fresh results go to a scratch folder, never to the committed ones.
NIGHTLY_RESULTS := .build/nightly-results
nightly: release
	rm -rf $(NIGHTLY_RESULTS)
	$(MOEBENCH) replicate --suite all --tier smoke --threads $(THREADS) --results $(NIGHTLY_RESULTS) --no-report
	$(MOEBENCH) regress --baseline results/baselines/nightly.json --tier smoke --results $(NIGHTLY_RESULTS)

# Rebuilds the committed smoke results and the nightly baseline from them.
nightly-baseline: release
	rm -rf results/smoke
	$(MOEBENCH) replicate --suite all --tier smoke --threads $(THREADS) --no-report
	$(MOEBENCH) regress --update --baseline results/baselines/nightly.json --tier smoke

clean:
	rm -rf .build
