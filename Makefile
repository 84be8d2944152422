# moebench: `make test` and `make replicate` install what they need (Debian packages) first.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libopenblas-dev libflac-dev libpng-dev pkg-config espeak-ng sox
SWIFT_TEST_FLAGS ?= --disable-swift-testing

.PHONY: deps build release test bench clean

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

clean:
	rm -rf .build
