# make run  — install, then serve web + worker (embedded PostgreSQL/Redis when none answer)
# make test — install, then run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint openapi clean

$(STAMP): setup.cfg constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/veza dev

test: $(STAMP)
	$(BIN)/ruff check veza workers tests
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m tests.bench.http

lint: $(STAMP)
	$(BIN)/ruff check veza workers tests

openapi: $(STAMP)
	$(BIN)/veza openapi

clean:
	rm -rf $(VENV) .data
