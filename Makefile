# On a fresh machine: `make serve` (the app), `make test` (the behaviour checks, minutes), `make test-slow` (12 MP, GPU loss).
# Builds go to a persistent folder outside the checkout; override CARGO_TARGET_DIR to move it.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/deepdream/target
export DEEPDREAM_WEIGHTS_SRC ?= $(abspath ../shared/weights/bvlc_googlenet_caffejs)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
TOOLS := $(HOME)/.cache/deepdream/tools
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
WASM_BINDGEN := $(TOOLS)/bin/wasm-bindgen
WASM_OUT := $(CARGO_TARGET_DIR)/wasm32-unknown-unknown/wasm-release/deepdream.wasm
# The features rustc enables by default for wasm32-unknown-unknown, so wasm-opt keeps them.
WASM_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int \
	--enable-multivalue --enable-reference-types --enable-simd
PORT ?= 8080
WEIGHTS := weights/googlenet.safetensors
CARGO_RELEASE := cargo build --release --locked
DEEPDREAM := DEEPDREAM_WEIGHTS=$(WEIGHTS) $(CARGO_TARGET_DIR)/release/deepdream

.PHONY: setup setup-web weights cli install uninstall wasm dist samples pictures screenshots serve test test-rust test-web test-docs test-slow lint bench bench-big bench-web bench-peers bench-gpu bench-gpu-pack clean

## setup: system packages the native GPU path needs (Mesa's lavapipe gives wgpu a CPU Vulkan device)
setup: .setup-native.stamp
.setup-native.stamp:
	@command -v cargo >/dev/null || { echo "Rust is needed: https://rustup.rs"; exit 1; }
	rustup component add rustfmt clippy
	@if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then \
		$(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mesa-vulkan-drivers; \
	fi
	@touch $@

## setup-web: the wasm target, wasm-bindgen-cli at Cargo.lock's version, Node packages (wasm-opt, Playwright,
## mediabunny, Dawn's webgpu, puppeteer-core), Debian's Chromium and Firefox ESR, and ffmpeg's ffprobe (the page tests read the animations' videos with it)
setup-web: .setup-web.stamp $(WASM_BINDGEN)
.setup-web.stamp: package.json package-lock.json
	rustup target add wasm32-unknown-unknown
	npm ci --no-audit --no-fund
	@if ! command -v chromium >/dev/null || ! command -v firefox-esr >/dev/null || ! command -v ffprobe >/dev/null; then \
		$(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium firefox-esr ffmpeg; \
	fi
	@touch $@
$(WASM_BINDGEN): Cargo.lock
	@if [ "$$($(WASM_BINDGEN) --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
		cargo install --root $(TOOLS) wasm-bindgen-cli --version =$(WASM_BINDGEN_VERSION); \
	fi
	@touch $@

## wasm: the browser bundle in www/pkg (size-optimised profile, wasm-bindgen --target web, wasm-opt -Os)
wasm: www/pkg/deepdream_bg.wasm
www/pkg/deepdream_bg.wasm: $(shell find src weights/src -name '*.rs') Cargo.toml Cargo.lock | setup-web
	cargo build --locked --lib --profile wasm-release --target wasm32-unknown-unknown
	$(WASM_BINDGEN) --target web --no-typescript --out-dir www/pkg $(WASM_OUT)
	node_modules/.bin/wasm-opt -Os $(WASM_FEATURES) www/pkg/deepdream_bg.wasm -o www/pkg/deepdream_bg.wasm
	@ls -l www/pkg/deepdream_bg.wasm

## dist: the static site in dist/ (hashed file names, service worker, manifest, _headers): publish it anywhere
dist: wasm weights
	node www/build.mjs dist

## samples: remake the page's sample photos and look previews (committed; uses the CLI and Chromium)
samples: cli setup-web
	DEEPDREAM_CLI=$(CARGO_TARGET_DIR)/release/deepdream node www/make-samples.mjs

## pictures: the README's pictures of what the network sees (committed), made by the CLI from the sample photos
PICTURES := docs/see
pictures: cli
	mkdir -p $(PICTURES)
	$(DEEPDREAM) gallery $(PICTURES)/gallery --layer inception_4c/output --channels 0-31 --size 96
	cp $(PICTURES)/gallery/sheet.png $(PICTURES)/gallery-4c.png && rm -r $(PICTURES)/gallery
	$(DEEPDREAM) visualize $(PICTURES)/4d-139.jpg --layer inception_4d/output --channel 139 --size 256
	$(DEEPDREAM) visualize $(PICTURES)/4c-10.jpg --layer inception_4c/output --channel 10 --size 256
	$(DEEPDREAM) dream www/samples/cat.jpg $(PICTURES)/cat-guided.jpg --guide www/samples/coffee.jpg --layer inception_4c/output
	$(DEEPDREAM) dream www/samples/cat.jpg $(PICTURES)/cat-classic.jpg
	$(DEEPDREAM) dream www/samples/cat.jpg $(PICTURES)/cat-kept.jpg --keep-colors

## screenshots: the README's pictures of the page (ready, dreaming, done), taken by the page test
screenshots: dist setup
	DEEPDREAM_SCREENSHOTS=$(CURDIR)/docs node --test --test-name-pattern="dragged onto the page" tests/web/page.test.mjs

## serve: the site (dist/) at http://127.0.0.1:$(PORT) (PORT overrides)
serve: dist
	PORT=$(PORT) node www/serve.mjs

## weights: convert the caffejs GoogLeNet weights (DEEPDREAM_WEIGHTS_SRC) into weights/googlenet.safetensors
weights: $(WEIGHTS)
$(WEIGHTS): weights/SHA256SUMS $(wildcard weights/src/*.rs) weights/Cargo.toml
	cargo run --release --locked -q -p deepdream-weights --bin convert-weights -- --src "$(DEEPDREAM_WEIGHTS_SRC)" --out $@

## cli: build the native `deepdream` command into $(CARGO_TARGET_DIR)/release/deepdream
cli: setup weights
	$(CARGO_RELEASE) --bin deepdream
	@echo "run it as: $(CARGO_TARGET_DIR)/release/deepdream dream IN.jpg OUT.png"

## install: `deepdream` into $(PREFIX)/bin and its weights into $(DATA_DIR), found from any directory
PREFIX ?= $(HOME)/.local
DATA_DIR ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/deepdream
install: cli
	install -D -m 755 $(CARGO_TARGET_DIR)/release/deepdream $(PREFIX)/bin/deepdream
	install -D -m 644 $(WEIGHTS) $(DATA_DIR)/googlenet.safetensors
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) echo "installed: run deepdream from anywhere";; \
		*) echo "installed into $(PREFIX)/bin, which is not on your PATH: add it (export PATH=\"$(PREFIX)/bin:\$$PATH\")";; esac

uninstall:
	rm -f $(PREFIX)/bin/deepdream $(DATA_DIR)/googlenet.safetensors

## test: what checks behaviour, on small inputs and the real weights, in release mode (Burn in debug is very slow)
test: test-rust test-web test-docs

## test-docs: every relative link and picture in README.md and docs/ leads somewhere
test-docs:
	node --test tests/docs/links.test.mjs

test-rust: setup weights
	cargo test --release --locked --workspace

## test-web: the built site (dist/) in headless Chromium (WebGPU through SwiftShader) and Firefox ESR (no
## WebGPU: its CPU engine), compared with the CLI
WEB_TESTS := tests/web/serve.test.mjs tests/web/site.test.mjs tests/web/page.test.mjs tests/web/edges.test.mjs \
	tests/web/see.test.mjs tests/web/motion.test.mjs tests/web/dawn.test.mjs tests/web/firefox.test.mjs
test-web: dist setup
	$(CARGO_RELEASE) --bin deepdream
	DEEPDREAM_CLI=$(CARGO_TARGET_DIR)/release/deepdream node --test --test-concurrency=1 $(WEB_TESTS)

## test-slow: the slow browser checks: a 12 MP photo at full size (~8 min) and a GPU lost mid-dream
test-slow: dist setup
	node --test --test-concurrency=1 tests/web/slow.test.mjs

## lint: formatting and clippy, warnings as errors
lint:
	cargo fmt --all --check
	cargo clippy --release --locked --workspace --all-targets -- -D warnings
	cargo clippy --locked --lib --target wasm32-unknown-unknown -- -D warnings
	cargo clippy --locked --lib --features fusion -- -D warnings

## bench: median gradient-step times at 224/512/1024 px and the canonical preset at 512 px
bench: setup weights
	cargo run --release --locked --bin deepdream -- bench

## bench-big: one canonical dream of a 12 MP (4000×3000) photo: time, tile, peak memory (~15 min on 2 cores)
bench-big: setup weights
	cargo run --release --locked --bin deepdream -- bench --dream 4000x3000

## bench-web: bundle sizes on the wire, page load time and ms per step in headless Chromium
bench-web: dist
	node tests/web/bench.mjs

## bench-peers: ours against PyTorch (CPU) and TensorFlow.js (webgpu, wasm) on this machine, one table.
## Installs the peers first (a PyTorch venv of ~5 GB under ~/.cache/deepdream/peers, TF.js from npm).
bench-peers: cli dist
	bash bench/peers/setup.sh
	npm ci --prefix bench/peers --no-audit --no-fund --silent
	python3 bench/peers/table.py $(PEERS_ARGS)

## bench-gpu: ours natively and as the page (its wasm on Dawn, Chrome's WebGPU, in Node: no browser)
## against TF.js webgpu on the same Dawn and PyTorch on CUDA, one table (bench/gpu/bench.py).
## GPU_ARGS: --runs N, --quick (224² steps only), --big (12 MP dreams), --skip native,page,tfjs,torch.
## Without a GPU the Dawn parts run on Chromium's SwiftShader (make setup-web installs it).
bench-gpu: cli wasm
	npm ci --prefix bench/peers --no-audit --no-fund --silent
	python3 bench/gpu/bench.py $(GPU_ARGS)

## bench-gpu-pack: what bench-gpu takes, in bench/gpu/pack (under 64 MiB), for a GPU machine with no
## network or checkout: run bench/gpu/pack/run.sh there. PACK_ARGS=--node: Node too, in bench/gpu/pack-node.
bench-gpu-pack: cli wasm
	npm ci --prefix bench/peers --no-audit --no-fund --silent
	bash bench/gpu/pack.sh $(PACK_ARGS)

clean:
	rm -rf $(WEIGHTS) weights/*.sha256 www/pkg .setup-native.stamp .setup-web.stamp
