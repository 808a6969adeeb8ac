# The two commands a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test lint lock openapi bench mutate clean topology

# uv reads the lock (uv.lock) and installs it. pip installs it, at the exact, hash-checked version of
# tools/uv-requirements.txt, into a venv of its own: .venv then holds exactly what the lock lists, and
# can be deleted or recreated without taking the tool that rebuilds it along.
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv

$(UV): tools/uv-requirements.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS) || python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r tools/uv-requirements.txt
	@touch $@

# Creates the virtual environment and installs exactly what uv.lock pins (runtime and dev group,
# every file hash-checked), once per change of pyproject.toml or the lock. --locked fails, instead of
# re-resolving, when pyproject.toml and uv.lock disagree: run `make lock`.
$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	@test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV) || python3 -m venv --without-pip $(VENV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --python $(BIN)/python
	@touch $@ $(VENV)/.runtime

# What serving needs, and only that (no test or benchmark tools): `make run`. --inexact keeps the dev
# group when `make test` installed it first.
$(VENV)/.runtime: pyproject.toml uv.lock $(UV)
	@test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV) || python3 -m venv --without-pip $(VENV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --no-dev --inexact --python $(BIN)/python
	@touch $@

.secret_key:
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@ 2>/dev/null \
		|| python3 -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	@chmod 600 $@

## run: set up and serve the API (python manage.py serve: granian) on http://127.0.0.1:$(PORT) (SQLite unless DATABASE_URL)
run: $(VENV)/.runtime .secret_key
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/python manage.py seed_demo --base-url http://127.0.0.1:$(PORT)
	exec $(BIN)/python manage.py serve

# The production topology on this machine (docs/deployment.md): nginx with deploy/nginx.conf on
# TOPOLOGY_PORT in front of two instances (8001, 8002), and the change-events relay (`relay_events`)
# when EVENTS_NATS_URL is set (without it the relay refuses to start, and honcho would stop everything),
# all run by honcho from a Procfile written into .topology/.
TOPOLOGY := $(CURDIR)/.topology
TOPOLOGY_PORT ?= 8080
NGINX ?= $(shell command -v nginx || echo /usr/sbin/nginx)
UPSTREAMS := server 127.0.0.1:8001 max_fails=1 fail_timeout=2s; server 127.0.0.1:8002 max_fails=1 fail_timeout=2s;
# Started by root, nginx's workers would drop to nobody, who cannot write .topology/.
NGINX_DIRECTIVES := daemon off;$(if $(filter 0,$(shell id -u)), user root;)

## topology: nginx on http://127.0.0.1:$(TOPOLOGY_PORT) in front of two instances and the relay, run by honcho (docs/deployment.md)
topology: $(VENV)/.installed .secret_key
	@test -x $(NGINX) || { echo "nginx is missing: apt-get install -y nginx"; exit 1; }
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@mkdir -p $(TOPOLOGY)/nginx
	sed -e 's|@PREFIX@|$(TOPOLOGY)/nginx|g' -e 's|@LISTEN@|127.0.0.1:$(TOPOLOGY_PORT)|' \
		-e 's|@INSTANCES@|$(UPSTREAMS)|' deploy/nginx.conf > $(TOPOLOGY)/nginx/nginx.conf
	$(NGINX) -t -q -p $(TOPOLOGY)/nginx -c $(TOPOLOGY)/nginx/nginx.conf -e $(TOPOLOGY)/nginx/error.log
	@{ \
		echo "nginx: exec $(NGINX) -p $(TOPOLOGY)/nginx -c $(TOPOLOGY)/nginx/nginx.conf -e $(TOPOLOGY)/nginx/error.log -g '$(NGINX_DIRECTIVES)'"; \
		echo "web1: exec env PORT=8001 CLIENT_IP_HEADER=X-Real-IP $(BIN)/python manage.py serve"; \
		echo "web2: exec env PORT=8002 CLIENT_IP_HEADER=X-Real-IP $(BIN)/python manage.py serve"; \
		if [ -n "$$EVENTS_NATS_URL" ] && $(BIN)/python manage.py help relay_events >/dev/null 2>&1; then \
			echo "relay: exec $(BIN)/python manage.py relay_events"; fi; \
	} > $(TOPOLOGY)/Procfile
	@cat $(TOPOLOGY)/Procfile
	exec $(BIN)/honcho -f $(TOPOLOGY)/Procfile -d $(CURDIR) start

# The node tools of the generated-client tests (clients/package-lock.json), when npm is installed.
NODE_TOOLS := $(if $(shell command -v npm),clients/node_modules/.installed)

clients/node_modules/.installed: clients/package.json clients/package-lock.json
	cd clients && npm ci --no-audit --no-fund
	@touch $@

# The suite runs in parallel (pytest-xdist), one worker per core; each worker gets a test database of
# its own (pytest-django suffixes the name: test_test_gw0, ...) and whole files (loadfile), so that a
# file's fixtures (a live server, built clients) start once. On this 2-core machine, idle, side by
# side: SQLite 5 min 35 s against 10 min 43 s serially; PostgreSQL 7 min 34 s (later runs: 9-10 and
# 11 min). PYTEST_PARALLEL= (empty) runs serially.
PYTEST_PARALLEL ?= -n auto --dist loadfile

## test: set up and run the whole suite (PostgreSQL too: DATABASE_URL=postgres://root@127.0.0.1:5432/test)
test: $(VENV)/.installed .secret_key $(NODE_TOOLS)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

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

## mutate: mutation testing (mutmut) of the rule modules, one module at a time with its own tests (MODULES="api/conditional.py ..." for some; long: not in .ci/run)
mutate: $(VENV)/.installed .secret_key
	$(BIN)/python tools/mutate.py $(MODULES)

## lock: re-resolve pyproject.toml's dependencies to their newest allowed versions into uv.lock
lock: $(UV)
	$(UV) lock --upgrade

clean:
	rm -rf $(VENV) $(TOOLS) .topology staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm
