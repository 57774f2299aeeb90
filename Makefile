# The README's contract: `make test` and `make demo` work on a fresh clone with only
# Python 3.11, gcc, git and make installed. Everything else comes pinned from PyPI into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
PYTEST_ARGS ?=

.PHONY: all venv test demo bench mpy deploy device-test clean cases mutate patch

all: test

venv: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

test: venv
	$(BIN)/pytest -ra $(PYTEST_ARGS) host_tests

demo: venv
	$(BIN)/python tools/demo.py

bench: venv
	$(BIN)/python bench/run.py
	$(BIN)/python bench/sigverify.py
	$(BIN)/python bench/compression.py
	$(BIN)/python bench/delta.py

# A delta patch for esp_delta_ota / issue 16: make patch FROM=old.bin TO=new.bin [OUT=new.patch]
patch: venv
	$(BIN)/python tools/make_patch.py $(FROM) $(TO) $(if $(OUT),-o $(OUT))

# host_tests/CASES.md from the tests' case markers and a run of the suite (test_cases_table.py checks it).
cases: venv
	$(BIN)/python tools/cases.py

# Mutations the suite must catch (tools/mutate.py); prints KILLED/SURVIVED per mutation.
mutate: venv
	$(BIN)/python tools/mutate.py

# The mip-installable compiled trees mpy/xtensawin (ESP32, S2, S3) and mpy/rv32imc (C3, C6, H2),
# their package.json files and the root one (tools/mpy_trees.py); host_tests/test_mip.py checks them.
mpy: venv
	$(BIN)/python tools/mpy_trees.py

# On a board (tools/board.py; without PORT, the first USB serial board):
#   make deploy [PORT=/dev/ttyUSB0] [ARCH=rv32imc]     the compiled package into :lib/esp_https_ota
#   make device-test [PORT=...] SERVER=https://PC-IP:PORT [IMAGE=firmware.bin] [CA=ca.pem]
PORT ?=
ARCH ?=
SERVER ?=
IMAGE ?= firmware.bin
CA ?= ca.pem
deploy: venv
	$(BIN)/python tools/board.py deploy --port "$(PORT)" --arch "$(ARCH)"

device-test: venv
	$(BIN)/python tools/board.py device-test --port "$(PORT)" --server "$(SERVER)" --image "$(IMAGE)" --ca "$(CA)"

clean:
	rm -rf build .demo .pytest_cache
