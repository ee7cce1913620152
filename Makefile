# The two quick-start commands are `make dev` and `make test`; the rest are helpers.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
# Python tools live in project-local virtual environments (scripts/deps.sh makes them):
# .venv/tools first on PATH gives every recipe, test and script its python3, moto_server,
# cfn-lint and cargo-lambda; SAM CLI has its own.
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/tools/bin:$(PATH)
SAM := $(VENV)/sam/bin/sam
.DEFAULT_GOAL := help
EVENT ?= events/integration-created.json
# The functions' CPU architecture for sam build: arm64 deploys; x86_64 for sam local on an
# Intel/AMD machine (no emulation).
ARCH ?= arm64
URL ?=

.PHONY: help deps test lint dev send events build bench bench-coldstart bench-rtt sizes fuzz sam-validate sam-build sam-local-test browser-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

test: ## every check and test (what CI runs): fmt, clippy, cfn-lint, checkov, shellcheck, unit, DynamoDB Local + moto, binaries, the Connect page in Chromium, sam local
	scripts/deps.sh test
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cfn-lint template.yaml
	$(VENV)/checkov/bin/checkov -f template.yaml --framework cloudformation --compact --quiet
	shellcheck --shell=sh scripts/deps.sh scripts/import-mappings.sh scripts/reconcile.sh
	shellcheck .ci/run
	cargo test --workspace
	@echo "the effects and attack tests again, on moto's DynamoDB (TEST_DYNAMODB=moto); not the load nor the fifty-way races (DynamoDB Local runs them above)"
	@echo "test: moto's DynamoDB does not hold a lock between a condition and its write (docs/reliability.md)"
	TEST_DYNAMODB=moto cargo test -p shared --test effects --test attack -- --skip load_of_mixed_concurrent_deliveries --skip fifty_concurrent
	$(MAKE) --no-print-directory browser-test
	$(MAKE) --no-print-directory sam-local-test

dev: ## run every function locally on a local DynamoDB/SNS server; Ctrl-C stops all
	scripts/deps.sh dev
	python3 scripts/dev.py

send: ## send a signed sample to the local run: make send EVENT=events/<name>.json
	python3 scripts/send.py $(EVENT) $(URL)

events: ## re-sign the sample events in events/ after editing a body
	scripts/deps.sh test
	python3 scripts/events.py

build: ## release arm64 bootstrap.zip per function (target/lambda/<fn>/)
	scripts/deps.sh build
	cargo lambda build --release --arm64 --output-format zip

bench: ## criterion benchmarks of the per-event CPU path (see BENCHMARKS.md)
	cargo bench -p shared --bench pipeline

bench-coldstart: ## cold start, Rust vs the Python peer: wall time, peak RSS, instructions (valgrind)
	scripts/deps.sh bench
	cargo build --release --bins
	python3 bench/coldstart.py --secrets-manager

BASE ?=
bench-rtt: ## sequential AWS round trips per webhook path, every request delayed (BASE=<git rev> adds that build: before/after)
	scripts/deps.sh bench
	cargo build --release --bins
	@if [ -n "$(BASE)" ]; then \
	  rm -rf target/bench-base-src && git worktree prune && \
	  git worktree add --detach target/bench-base-src $(BASE) && \
	  cargo build --release -p integration-created -p connection-flow-failed -p integration-state-changed \
	    -p integration-deleted --manifest-path target/bench-base-src/Cargo.toml --target-dir target/bench-base && \
	  python3 bench/rtt.py --build "$(BASE)=target/bench-base/release" --build "now=target/release"; \
	else python3 bench/rtt.py; fi

sizes: ## size of each arm64 bootstrap.zip (after make build) and the TLS stack check
	@ls -l target/lambda/*/bootstrap.zip | awk '{printf "%-60s %8.2f MB\n", $$9, $$5/1048576}'
	@echo "crates present in two versions (no rustls/hyper/h2/ring expected):"
	@cargo tree -d -e normal --target aarch64-unknown-linux-gnu | grep -E '^[a-z]' || true

FUZZ_SECONDS ?= 300
fuzz: ## libFuzzer on the request path (size, verify, parse, decide) for FUZZ_SECONDS (default 300)
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	mkdir -p fuzz/corpus/request_path
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none request_path corpus/request_path seeds/request_path -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096

sam-validate: ## sam validate --lint (SAM CLI in .venv/sam)
	scripts/deps.sh sam
	$(SAM) validate --lint --region us-east-1

sam-build: ## sam build --beta-features (cargo-lambda, release; ARCH=arm64, or x86_64 for sam local)
	scripts/deps.sh build
	scripts/deps.sh sam
	$(SAM) build --beta-features --parameter-overrides Architecture=$(ARCH)

browser-test: ## the embedded Connect flow in headless Chromium: the reference page, Kombo's SDK, the local stack
	scripts/deps.sh browser
	python3 scripts/connect_browser_test.py

sam-local-test: ## sam build + every sample through sam local invoke and start-api, answers and effects checked
	scripts/deps.sh sam-local
	python3 scripts/sam_local_test.py
