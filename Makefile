# gen404: build, test and demo. Everything installs itself on first use.
#   make build  -> dist/gen404-<version>.zip (Blender's own extension builder)
#   make test   -> static checks, unit tests, Blender tests on bpy 5.0.1 and 4.2
#   make demo   -> generate PROMPT against the local simulator (or the real gateway
#                  when GEN404_API_KEY is set) and write demo/demo.blend + demo/demo.png

PYTHON ?= python3.11
BPY_VERSION ?= 5.0.1
BPY_OLDEST ?= 4.2.23
PROMPT ?= mechanic robot

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)
ZIP := dist/gen404-$(VERSION).zip
DEV := .venv
BPY := .venv-bpy5
BPY42 := .venv-bpy42
BLENDER_EXT = $(BPY)/lib/python3.11/site-packages/bpy/5.0/scripts/addons_core/bl_pkg/cli/blender_ext.py
SOURCES := $(shell git ls-files -co --exclude-standard -- '*.py' blender_manifest.toml \
             | grep -vE '^(tests|tools)/')

.PHONY: bench bench-display build wheels venvs lint typecheck test test-unit test-blender test-blender-oldest demo fuzz clean

$(DEV)/.ok: requirements/dev.txt requirements/sim.txt
	$(PYTHON) -m venv $(DEV)
	$(DEV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	touch $@

$(BPY)/.ok: requirements/blender.txt requirements/sim.txt
	$(PYTHON) -m venv $(BPY)
	$(BPY)/bin/python -m pip install -q --disable-pip-version-check \
	    bpy==$(BPY_VERSION) numpy==1.26.4 -r requirements/blender.txt
	touch $@

$(BPY42)/.ok: requirements/blender.txt requirements/sim.txt
	$(PYTHON) -m venv $(BPY42)
	$(BPY42)/bin/python -m pip install -q --disable-pip-version-check \
	    bpy==$(BPY_OLDEST) numpy==1.26.4 -r requirements/blender.txt
	touch $@

venvs: $(DEV)/.ok $(BPY)/.ok $(BPY42)/.ok

wheels: $(DEV)/.ok
	$(DEV)/bin/python tools/fetch_wheels.py

$(ZIP): $(BPY)/.ok $(SOURCES) | wheels
	mkdir -p dist
	$(BPY)/bin/python $(BLENDER_EXT) validate .
	$(BPY)/bin/python $(BLENDER_EXT) build --source-dir . --output-dir dist

build: wheels $(ZIP)

lint: $(DEV)/.ok
	$(DEV)/bin/ruff check .
	$(DEV)/bin/ruff format --check .

typecheck: $(DEV)/.ok
	$(DEV)/bin/mypy

# Independent splat tools from npm (splat-transform, spz-js, Niantic's spz) that the
# reader tests check against; converted files are made at test time, never committed.
PEERS := tests/peers/node_modules/.package-lock.json
$(PEERS): tests/peers/package.json tests/peers/package-lock.json
	npm ci --prefix tests/peers --ignore-scripts --no-audit --no-fund

test-unit: $(DEV)/.ok $(PEERS)
	$(DEV)/bin/python -m pytest tests/unit -q

test-blender: build
	$(BPY)/bin/python -m pytest tests/blender -q

test-blender-oldest: build $(BPY42)/.ok
	$(BPY42)/bin/python -m pytest tests/blender -q

test: lint typecheck test-unit test-blender test-blender-oldest

# A longer fuzzing run of the PLY and SPZ readers (make test runs a bounded one).
fuzz: $(DEV)/.ok
	$(DEV)/bin/python tools/fuzz.py --seconds $(or $(FUZZ_SECONDS),300)

bench: build
	$(BPY)/bin/python tools/bench_import.py --zip $(ZIP)

bench-display: $(BPY)/.ok
	$(BPY)/bin/python tools/bench_display.py

demo: build
	$(BPY)/bin/python tools/demo.py --prompt "$(PROMPT)" --zip $(ZIP) --out demo

clean:
	rm -rf dist demo wheels
