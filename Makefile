# Two commands do everything on a fresh machine: `make serve` (the app) and `make test` (every test).
# Builds go to a persistent folder outside the checkout; override CARGO_TARGET_DIR to move it.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/deepdream/target
export DEEPDREAM_WEIGHTS_SRC ?= $(abspath ../shared/weights/bvlc_googlenet_caffejs)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
WEIGHTS := weights/googlenet.safetensors
CARGO_RELEASE := cargo build --release --locked

.PHONY: setup weights cli test test-rust lint bench clean

## setup: system packages the native GPU path needs (Mesa's lavapipe gives wgpu a CPU Vulkan device)
setup: .setup-native.stamp
.setup-native.stamp:
	@command -v cargo >/dev/null || { echo "Rust is needed: https://rustup.rs"; exit 1; }
	@if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then \
		$(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mesa-vulkan-drivers; \
	fi
	@touch $@

## weights: convert the caffejs GoogLeNet weights (DEEPDREAM_WEIGHTS_SRC) into weights/googlenet.safetensors
weights: $(WEIGHTS)
$(WEIGHTS): weights/SHA256SUMS $(wildcard weights/src/*.rs) weights/Cargo.toml
	cargo run --release --locked -q -p deepdream-weights --bin convert-weights -- --src "$(DEEPDREAM_WEIGHTS_SRC)" --out $@

## cli: build the native `deepdream` command into $(CARGO_TARGET_DIR)/release/deepdream
cli: setup weights
	$(CARGO_RELEASE) --bin deepdream
	@echo "run it as: $(CARGO_TARGET_DIR)/release/deepdream dream IN.jpg OUT.png"

## test: every test, on the real weights, in release mode (Burn in debug is very slow)
test: test-rust

test-rust: setup weights
	cargo test --release --locked --workspace

## lint: formatting and clippy, warnings as errors
lint:
	cargo fmt --all --check
	cargo clippy --release --locked --workspace --all-targets -- -D warnings

## bench: median gradient-step times at 224/512/1024 px and the canonical preset at 512 px
bench: setup weights
	cargo run --release --locked --bin deepdream -- bench

clean:
	rm -f $(WEIGHTS) weights/*.sha256 .setup-native.stamp
