# The two commands a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test lint lock openapi bench clean

# Creates the virtual environment and installs the pinned, hash-checked dependencies, once per
# change of the lock files.
$(VENV)/.installed: requirements/base.txt requirements/dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements/base.txt -r requirements/dev.txt
	@touch $@

.secret_key:
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@ 2>/dev/null \
		|| python3 -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	@chmod 600 $@

## run: set up and serve the API with gunicorn on http://127.0.0.1:$(PORT) (SQLite unless DATABASE_URL)
run: $(VENV)/.installed .secret_key
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/python manage.py seed_demo --base-url http://127.0.0.1:$(PORT)
	exec $(BIN)/gunicorn signalsource.wsgi:application -c gunicorn.conf.py

## test: set up and run the whole suite (PostgreSQL too: DATABASE_URL=postgres://root@127.0.0.1:5432/test)
test: $(VENV)/.installed .secret_key
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed .secret_key
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

## openapi: regenerate the committed OpenAPI description (openapi.yaml) from the code
openapi: $(VENV)/.installed .secret_key
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file openapi.yaml

## bench: seed PostgreSQL (500,000 configs) and benchmark the service against the raw floor (BENCH_ARGS=--quick for a smoke run)
bench: $(VENV)/.installed .secret_key
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk"; exit 1; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## lock: re-resolve requirements/*.in into the hash-pinned requirements/*.txt
lock:
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile --python-version 3.11 --generate-hashes --upgrade -q requirements/base.in -o requirements/base.txt
	$(BIN)/uv pip compile --python-version 3.11 --generate-hashes --upgrade -q requirements/dev.in -o requirements/dev.txt

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm
