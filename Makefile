# gen404: build, test and demo. Everything installs itself on first use.
#   make help   -> what each target does
#   make build  -> dist/gen404-<version>.zip (Blender's own extension builder)
#   make test   -> static checks, unit tests, Blender tests on every supported release
#   make demo   -> generate PROMPT against the local simulator (GATEWAY=real: the real,
#                  paid gateway, key in GEN404_API_KEY) and write demo/demo.blend + demo/demo.png

PYTHON ?= python3.11
PROMPT ?= hamburger
GATEWAY ?= sim

# Every Blender release artists run, as the bpy module: 4.2 LTS, 4.5 LTS and 5.0 on
# Python 3.11; 5.2 LTS and 5.3 (native Gaussian splats) on Python 3.13.
BLENDERS_311 := 4.2.23 4.5.15 5.0.1
BLENDERS_313 := 5.2.3 5.3.0
BLENDERS := $(BLENDERS_311) $(BLENDERS_313)
BPY_MAIN ?= 5.0.1
BPY_NATIVE ?= 5.3.0

# Python 3.13: python3.13 on PATH if it really runs (a pyenv shim may not), else pyenv's.
PYTHON313 ?= $(shell for p in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13 \
                 $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
                 "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null \
                 && { echo "$$p"; break; }; done)

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' blender_manifest.toml)
ZIP := dist/gen404-$(VERSION).zip
DEV := .venv
BPY := .venv-bpy-$(BPY_MAIN)
BPY53 := .venv-bpy-$(BPY_NATIVE)
BLENDER_EXT = $(BPY)/lib/python3.11/site-packages/bpy/5.0/scripts/addons_core/bl_pkg/cli/blender_ext.py
SOURCES := $(shell git ls-files -co --exclude-standard -- '*.py' blender_manifest.toml \
             | grep -vE '^(tests|tools)/')

# (test-blender-<version> is a pattern rule: make applies none to a .PHONY target.)
.PHONY: help bench bench-display build wheels venvs lint typecheck test test-unit test-blender \
        demo fuzz clean

help:
	@echo "make build          the extension zip in dist/ (Blender's own builder)"
	@echo "make test           ruff, mypy, unit tests, then the Blender tests on $(BLENDERS)"
	@echo "make test-unit      plain-Python tests only (client, readers, simulator)"
	@echo "make test-blender-V Blender tests on one release, e.g. make test-blender-5.3.0"
	@echo "make demo           generate PROMPT='...' end to end and render demo/demo.png"
	@echo "                    (local simulator; GATEWAY=real uses the real, paid gateway)"
	@echo "make bench          import speed and memory against Blender's own importer (5.0 and 5.3)"
	@echo "make fuzz           a longer fuzzing run of the file readers (FUZZ_SECONDS=300)"
	@echo "make clean          remove dist/, demo/ and wheels/"

$(DEV)/.ok: requirements/dev.txt requirements/sim.txt
	$(PYTHON) -m venv $(DEV)
	$(DEV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	touch $@

# One venv per release: .venv-bpy-<version>, with the interpreter that release needs.
$(addsuffix /.ok,$(addprefix .venv-bpy-,$(BLENDERS_311))): .venv-bpy-%/.ok: \
    requirements/blender.txt requirements/sim.txt
	$(PYTHON) -m venv .venv-bpy-$*
	.venv-bpy-$*/bin/python -m pip install -q --disable-pip-version-check \
	    bpy==$* -r requirements/blender.txt
	touch $@

$(addsuffix /.ok,$(addprefix .venv-bpy-,$(BLENDERS_313))): .venv-bpy-%/.ok: \
    requirements/blender.txt requirements/sim.txt
	@test -n "$(PYTHON313)" || { echo "bpy $* needs Python 3.13, which was not found:" \
	    "put python3.13 on PATH, or 'pyenv install 3.13', or pass PYTHON313=/path/to/python3.13"; \
	    exit 1; }
	$(PYTHON313) -m venv .venv-bpy-$*
	.venv-bpy-$*/bin/python -m pip install -q --disable-pip-version-check \
	    bpy==$* -r requirements/blender.txt
	touch $@

venvs: $(DEV)/.ok $(foreach v,$(BLENDERS),.venv-bpy-$(v)/.ok)

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

test-blender-%: build .venv-bpy-%/.ok
	.venv-bpy-$*/bin/python -m pytest tests/blender -q

test-blender: $(addprefix test-blender-,$(BLENDERS))

test: lint typecheck test-unit test-blender

# A longer fuzzing run of the PLY and SPZ readers (make test runs a bounded one).
fuzz: $(DEV)/.ok
	$(DEV)/bin/python tools/fuzz.py --seconds $(or $(FUZZ_SECONDS),300)

# Both paths: the geometry-nodes mesh (5.0) and Blender's own splats (5.3).
bench: build $(BPY53)/.ok $(PEERS)
	$(BPY)/bin/python tools/bench_import.py --zip $(ZIP)
	$(BPY53)/bin/python tools/bench_import.py --zip $(ZIP)
	$(DEV)/bin/python tools/bench_sog.py --blender $(BPY_MAIN)

bench-display: $(BPY)/.ok
	$(BPY)/bin/python tools/bench_display.py

demo: build
	$(BPY)/bin/python tools/demo.py --prompt "$(PROMPT)" --gateway $(GATEWAY) --zip $(ZIP) --out demo

clean:
	rm -rf dist demo wheels
