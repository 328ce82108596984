# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PYTEST_ARGS ?=

.PHONY: run test install dev translations lint clean bench fuzz

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

translations: install
	$(BIN)/pybabel compile -d app/translations

## make run: install, migrate, load the demo, serve on http://127.0.0.1:5000 (SQLite, sandbox gateway)
run: install translations
	mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) demo seed
	$(FLASK) serve --host 127.0.0.1 --port 5000

## make test: ruff, bandit (reviewed lines carry `# nosec <id>  # reason`), then the whole pytest
## suite (PostgreSQL too when TEST_DATABASE_URL is set)
test: dev translations
	$(BIN)/ruff check .
	$(BIN)/bandit -q -r app
	$(BIN)/pytest $(PYTEST_ARGS)

## make fuzz: schemathesis over every API operation, anonymous and as each role, against gunicorn
## on a fresh PostgreSQL database (FUZZ_EXAMPLES cases per operation and role; CI runs it)
fuzz: dev translations
	BIN=$(BIN) bash .ci/fuzz-api

## make bench: every benchmark in bench/ (PostgreSQL on 127.0.0.1, wrk; minutes; not part of make test)
BENCHMARKS := bench/pledge_race.py bench/export_pledges.py bench/portfolio_page.py bench/campaign_list.py \
	bench/refund_round.py bench/statement_import.py
bench: dev
	@command -v wrk >/dev/null || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; } \
		|| { echo "wrk is missing: apt-get install -y wrk"; exit 1; }
	@failed=""; for b in $(BENCHMARKS); do \
		if [ ! -f "$$b" ]; then echo "== $$b: MISSING"; failed="$$failed $$b(missing)"; continue; fi; \
		echo "== $$b"; $(BIN)/python "$$b" || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then echo "== bench: failed or missing:$$failed"; exit 1; fi; echo "== bench: all passed"

lint: dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
