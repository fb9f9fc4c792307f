# The two commands a new user runs: `make demo` (set up everything, run the station on fake
# hardware) and `make test` (the whole suite: lint, type check, tests).
VENV ?= .venv
BIN = $(VENV)/bin
export GATE_STATION_DRIVERS = fake

.PHONY: setup demo test lint typecheck unit bench clean install

$(VENV)/.installed: pyproject.toml scripts/setup.sh
	sh scripts/setup.sh

setup: $(VENV)/.installed

demo: setup
	$(BIN)/gate-station selftest --config config.yaml
	rm -f var/demo-ledger.db var/demo-ledger.db-wal var/demo-ledger.db-shm
	$(BIN)/gate-station simulate scenarios/morning-shift.yaml --config config.yaml \
		--ledger var/demo-ledger.db
	$(BIN)/gate-station report daily --date 2021-02-22 --config config.yaml \
		--ledger var/demo-ledger.db
	rm -f var/console.db var/console.db-wal var/console.db-shm
	printf 'demo-officer\n' | $(BIN)/gate-station console user add demo --role officer \
		--config config.yaml --password-stdin
	@echo
	@echo "The station console on the demo ledger (log in as demo / demo-officer, open"
	@echo "http://127.0.0.1:8090/register?date=2021-02-22):"
	@echo "  $(BIN)/gate-station console --config config.yaml --ledger var/demo-ledger.db"

lint: setup
	$(BIN)/ruff check station drivers sync tests bench

typecheck: setup
	$(BIN)/mypy station drivers sync tests

unit: setup
	$(BIN)/pytest

test: lint typecheck unit

bench: setup
	$(BIN)/python bench/decode.py
	$(BIN)/python bench/codes.py
	$(BIN)/python bench/gate.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/lean.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

install:
	sh scripts/install.sh
