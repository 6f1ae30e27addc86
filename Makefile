# Bazaar: `make run` starts the store with demo data; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test test-postgres lint format bench bench-loyalty seed browser clean help

help:
	@echo "make run            start the store at http://127.0.0.1:$(PORT) with demo data (Ctrl-C stops it)"
	@echo "make test           install what the tests need and run the whole suite (SQLite)"
	@echo "make test-postgres  the suite again on a private PostgreSQL, race tests included (needs the postgresql package)"
	@echo "make lint           ruff"
	@echo "make bench          web benchmark (bench/README.md)"
	@echo "make bench-loyalty  loyalty benchmark: account pages, checkout with points, expiry job (bench/README.md)"

$(BIN)/.installed: requirements.txt
	@test -n "$(PYTHON)" || (echo "Python 3.11 is needed: install python3.11 and try again." && exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The demo store (BAZAAR_DEMO=1: settings default to production, and then need a SECRET_KEY).
# It shows the store's own error pages; DJANGO_DEBUG=1 make run shows Django's debugging pages instead.
run: $(BIN)/.installed
	BAZAAR_DEMO=1 PORT=$(PORT) $(BIN)/python manage.py runstore --port $(PORT)

seed: $(BIN)/.installed
	export BAZAAR_DEMO=1; $(BIN)/python manage.py migrate --verbosity 0 && $(BIN)/python manage.py seed_demo

# Browser tests drive Chromium; install Debian's when we can (root), otherwise say how.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || test -n "$$CHROMIUM_PATH" || \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Chromium: sudo apt-get install chromium (or set CHROMIUM_PATH)."; fi

test: $(BIN)/.installed browser
	$(BIN)/pytest -n 2 --dist loadgroup -q

# Race tests must run (and pass) here: SQLite serialises transactions, so only PostgreSQL
# proves the locks. The browser tests (everything under tests/e2e) and the two-stores test (embedded
# stores, SQLite whatever the database) already ran in `make test`, and so did the tests that never open
# the database (tests/conftest.py leaves them out here). loadgroup keeps each demo-store group in one process.
test-postgres: $(BIN)/.installed
	.ci/with-postgres.sh $(BIN)/pytest -n 2 --dist loadgroup -q -m "not e2e and not stores" --require-races

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(BIN)/.installed
	$(BIN)/python bench/web.py

bench-loyalty: $(BIN)/.installed
	$(BIN)/python bench/loyalty.py

clean:
	rm -rf var test-artifacts
