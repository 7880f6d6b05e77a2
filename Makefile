# Developer commands. Each target runs the same commands CI runs; see `make help`.

VENV := .venv
BIN := $(VENV)/bin
# `cargo lambda` for `sam build` (BuildMethod: rust-cargolambda); the PyPI package ships the
# binary and Zig (for cross-compiling to arm64). Only `deploy` needs it.
CARGO_LAMBDA_VERSION := 1.9.2
FN ?= order
EVENT ?= events/apigw-v1-order.json

# No usage reports from the SAM CLI (and no network call for them).
export SAM_CLI_TELEMETRY := 0

.PHONY: help build venv lint-template fmt-check clippy doc features package test demo demo-build invoke bench bench-alternatives bench-micro soak fuzz-tools fuzz-build fuzz-build-fast fuzz fuzz-smoke deploy clean

help:
	@echo "targets: build venv lint-template fmt-check clippy doc test demo invoke bench bench-alternatives bench-micro soak fuzz fuzz-smoke deploy clean"
	@echo "  make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=composite"
	@echo "  make invoke FN=router EVENT=events/apigw-v1-ot-gen.json"
	@echo "  make demo EXPORTER=otlp [OTLP_TLS=1]: the functions export over OTLP to the stand-in"
	@echo "  soak: 100k invocations sequential + 100k with 8 in flight, release; fails on a lost or"
	@echo "        foreign document or memory growth (make soak SOAK_ARGS=\"--invocations 20000\")"

build:
	cargo build --workspace --bins

venv: $(VENV)/.stamp

# Rebuilt only when requirements-dev.txt changes.
$(VENV)/.stamp: requirements-dev.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# cfn-lint and sam validate check the SAM template; neither needs AWS credentials or network.
# They skip the circular-dependency check (E3004) on SAM templates, so the template is also
# translated to plain CloudFormation, offline, and that is linted too.
lint-template: venv
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml --region us-east-1
	$(BIN)/python scripts/sam_translate.py template.yaml out/template.cfn.json
	$(BIN)/cfn-lint out/template.cfn.json

fmt-check:
	cargo fmt --all -- --check

# Both with every feature and with the defaults: cfg'd code must be clean either way.
clippy:
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo clippy -p lambda-trace --all-targets -- -D warnings

doc:
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --all-features

# Features are additive: the crate builds with each one alone (cargo-hack, installed on first use).
CARGO_HACK_VERSION := 0.6.37
features:
	@cargo hack --version 2>/dev/null | grep -qx "cargo-hack $(CARGO_HACK_VERSION)" \
		|| cargo install cargo-hack --version $(CARGO_HACK_VERSION) --locked
	cargo hack check -p lambda-trace --each-feature --no-dev-deps

# Publish-ready: the crate packages, and the packaged crate builds on its own.
package:
	cargo package -p lambda-trace --allow-dirty

# The feature tests (xray-api, aws-sdk) run moto_server from the venv.
test: fmt-check clippy doc venv
	cargo test --workspace --all-features
	cargo test -p lambda-trace
	$(MAKE) features
	$(MAKE) package
	$(MAKE) lint-template
	$(MAKE) fuzz-smoke

# Runs the functions as real processes against the local stand-ins; writes the traces as HTML.
# Builds only what it runs: the example functions and the stand-in (not the bench drivers).
# Two scenarios: router → downstream; then the asynchronous hop, order → SQS → fulfil, with
# moto_server from the venv as the queue and the stand-in playing the event source mapping
# (the stand-in's feature `sqs`).
# `make demo EXPORTER=otlp`: the functions send their spans with lambda-trace's OTLP exporter to
# the stand-in's OTLP receiver instead of its X-Ray daemon (`OTLP_TLS=1`: over HTTPS, with a
# certificate made at start); the functions are built with their feature `otlp` for that.
EXPORTER ?= xray
OTLP_TLS ?=
demo: demo-build venv
	target/debug/lambda-trace-local demo --bin-dir target/debug --html out/trace.html --moto $(BIN)/moto_server$(if $(filter xray,$(EXPORTER)),, --exporter $(EXPORTER))$(if $(OTLP_TLS), --otlp-tls)

demo-build:
	cargo build -p lambda-trace-functions -p lambda-trace-local --bins --features lambda-trace-local/sqs$(if $(filter xray,$(EXPORTER)),, --features lambda-trace-functions/otlp)

invoke: demo-build
	target/debug/lambda-trace-local invoke --bin target/debug/$(FN) --event $(EVENT) --name $(FN)

# End-to-end overhead (issue 6): the same handler bare (twice: the A/A row) and traced, as real
# release processes behind a local Runtime API, taking turns invocation by invocation. Prints a
# table, writes JSON. Override the defaults with e.g. `make bench BENCH_ARGS="--rounds 10"`
# (`--network false` skips the OTLP variants C and D, `--otlp-delay-ms 5` makes the receiver slow,
# `--interleave rounds` runs each variant's invocations in a row). Not part of `make test`.
BENCH_ARGS ?=
# Two separate builds: `bench-traced-otlp` needs lambda-trace's `otlp` feature, which must not
# leak into `bench-traced` (its size is a tracked metric) through feature unification.
bench:
	cargo build --release -p lambda-trace-bench --bins
	cargo build --release -p lambda-trace-bench-net --bins
	target/release/lambda-trace-bench --bin-dir target/release --json out/bench.json --network true $(BENCH_ARGS)

# `make bench` plus the alternatives a Rust user would pick instead (issue 6), taking the same
# turns: lambda_runtime's OpenTelemetryLayer with OTLP (E) and with opentelemetry-aws
# X-Ray UDP (G), lambda-otel-lite (F), and a one-segment one-datagram floor (H). They live in
# `bench/alternatives`, a separate workspace with its own Cargo.lock (excluded from the root one,
# so `make test` and CI never build their dependency trees), sharing `target/`. Not part of
# `make test`. Writes out/bench-alternatives.json.
ALTERNATIVES := bench/alternatives/Cargo.toml
bench-alternatives:
	cargo build --release -p lambda-trace-bench --bins
	cargo build --release -p lambda-trace-bench-net --bins
	cargo build --release --manifest-path $(ALTERNATIVES) --target-dir target --bins
	cargo build --release --manifest-path bench/alternatives/tls/Cargo.toml --target-dir target --bins
	target/release/lambda-trace-bench --bin-dir target/release --json out/bench-alternatives.json --network true --alternatives true $(BENCH_ARGS)

# Criterion micro benchmarks of the hot paths (benches/hot_paths.rs). Not part of `make test`.
bench-micro:
	cargo bench -p lambda-trace --bench hot_paths

# Load (issue 7): the echo example for 100,000 sequential invocations (and again with tracing
# off: the control), the concurrent example for 100,000 with 8 in flight in one process, release
# builds as real processes behind a local Runtime API, each invocation with its own trace header.
# Fails on a missing, duplicated, foreign or malformed document, on VmRSS growth above 256 KiB
# from 10k to 100k invocations, or when the run takes over 15 minutes (`--max-minutes`). Prints
# a table, writes JSON. `make test` runs a short debug run of the same driver (bench/tests/soak.rs).
SOAK_ARGS ?=
# Two builds: the examples need lambda-trace's `concurrency-tokio`, the driver does not.
soak:
	cargo build --release -p lambda-trace-bench --bin lambda-trace-soak
	cargo build --release -p lambda-trace --features concurrency-tokio --example echo --example concurrent
	target/release/lambda-trace-soak --bin-dir target/release/examples --max-minutes 15 --json out/soak.json $(SOAK_ARGS)

# Fuzzing (issue 7, hostile input): libFuzzer targets in fuzz/ (its own workspace), built by
# cargo-fuzz in release with debug assertions. cargo-fuzz passes nightly flags (-Zsanitizer);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain take them. Committed seeds are in
# fuzz/seeds/<target>; what a run finds goes to fuzz/corpus/<target> and crashes to
# fuzz/artifacts/<target> (both ignored by git). Replay a crash with
# `fuzz/target/x86_64-unknown-linux-gnu/release/<target> fuzz/artifacts/<target>/crash-…`.
#
# Two builds (issue 18 item 9). `fuzz-build`: AddressSanitizer, with LeakSanitizer and
# libFuzzer's malloc limit; `make fuzz-smoke` (CI) runs it. `fuzz-build-fast`: no sanitizer, in
# fuzz/target/none: four times the executions per second. lambda-trace is
# `#![forbid(unsafe_code)]`, so ASan's memory checks guard only its dependencies; `make fuzz`
# runs the campaign on the fast build, then replays every input it kept on the ASan build
# (leaks and memory errors of the inputs that reached new code), and the harness's allocator
# keeps the 64 MB limit in both (fuzz/src/alloc.rs). `FUZZ_SANITIZER=address` fuzzes on ASan.
CARGO_FUZZ_VERSION := 0.13.2
FUZZ_TARGETS ?= xray w3c b3 jaeger ottrace baggage composite carriers span_api
# `make fuzz`: the long campaign, per target, one target at a time, for FUZZ_SECONDS or, when
# set, until FUZZ_RUNS executions (`make fuzz FUZZ_RUNS=10000000 FUZZ_SECONDS=3600`).
FUZZ_SECONDS ?= 300
FUZZ_RUNS ?=
# The campaign's build: `none` (fuzz-build-fast) or `address` (fuzz-build).
FUZZ_SANITIZER ?= none
# `make fuzz-smoke` (part of `make test`): replays the seeds, then fuzzes briefly.
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_BIN := fuzz/target/x86_64-unknown-linux-gnu/release
FUZZ_FAST_BIN := fuzz/target/none/x86_64-unknown-linux-gnu/release
# A single allocation over 64 MB, 1 GB of memory or 10 s for one input is a finding.
FUZZ_LIMITS := -malloc_limit_mb=64 -rss_limit_mb=1024 -timeout=10
# Header-block targets get the dictionary; carriers take whole JSON events.
fuzz_args = $(if $(filter carriers,$(1)),-max_len=16384,$(if $(filter span_api,$(1)),-max_len=8192,-dict=fuzz/headers.dict -max_len=4096))

fuzz-tools:
	@cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $(CARGO_FUZZ_VERSION)" \
		|| cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked

# Every target in one build (AddressSanitizer).
fuzz-build: fuzz-tools
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build

# Every target without a sanitizer, for the campaign.
fuzz-build-fast: fuzz-tools
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build --sanitizer none --target-dir target/none

# One run of TARGET for SECONDS on the build in BIN: the seeds are replayed first, then the
# fuzzer runs; the log is out/fuzz/TARGET.log. A crash, leak, timeout or oversize allocation
# fails the run and prints the log's end.
define fuzz_run
	mkdir -p fuzz/corpus/$(1) fuzz/artifacts/$(1) out/fuzz
	$(3)/$(1) $(FUZZ_LIMITS) $(call fuzz_args,$(1)) -max_total_time=$(2) $(4) \
		-artifact_prefix=fuzz/artifacts/$(1)/ -print_final_stats=1 \
		fuzz/corpus/$(1) fuzz/seeds/$(1) > out/fuzz/$(1).log 2>&1 \
		|| { tail -60 out/fuzz/$(1).log; exit 1; }
	@echo "$(1): $$(grep -h '^stat::number_of_executed_units' out/fuzz/$(1).log | tr -s ' ' | cut -d' ' -f2) executions in $$(grep -h '^Done' out/fuzz/$(1).log | grep -oE 'in [0-9]+ second' | cut -d' ' -f2) s ($$(grep -h '^stat::average_exec_per_sec' out/fuzz/$(1).log | tr -s ' ' | cut -d' ' -f2)/s), $$(ls fuzz/corpus/$(1) | wc -l) corpus inputs, $$(grep -E '^#[0-9]+' out/fuzz/$(1).log | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')"

endef

# Every input of TARGET's corpus once on the ASan build (leaks, memory errors); the log is
# out/fuzz/TARGET.asan.log.
define fuzz_replay
	$(FUZZ_BIN)/$(1) $(FUZZ_LIMITS) $(call fuzz_args,$(1)) -runs=0 \
		-artifact_prefix=fuzz/artifacts/$(1)/ fuzz/corpus/$(1) > out/fuzz/$(1).asan.log 2>&1 \
		|| { tail -60 out/fuzz/$(1).asan.log; exit 1; }
	@echo "$(1): $$(ls fuzz/corpus/$(1) | wc -l) corpus inputs replayed under AddressSanitizer"

endef

fuzz-smoke: fuzz-build
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),$(FUZZ_SMOKE_SECONDS),$(FUZZ_BIN)))

fuzz: fuzz-build $(if $(filter none,$(FUZZ_SANITIZER)),fuzz-build-fast)
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),$(FUZZ_SECONDS),$(if $(filter none,$(FUZZ_SANITIZER)),$(FUZZ_FAST_BIN),$(FUZZ_BIN)),$(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS)))$(call fuzz_replay,$(t)))

# Needs AWS credentials; asks for the stack name and region on the first run and saves the
# answers in samconfig.toml. Never run by tests.
deploy: venv
	$(BIN)/pip install -q cargo-lambda==$(CARGO_LAMBDA_VERSION)
	PATH="$(CURDIR)/$(BIN):$$PATH" sam build
	PATH="$(CURDIR)/$(BIN):$$PATH" sam deploy --guided

# Keeps .venv (a tool cache; `rm -rf .venv` to redo it).
clean:
	cargo clean
	rm -rf out .aws-sam
