# Tessera CRM. The two commands: `make run` and `make test`. Both install what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS      := .tools
UV         := $(TOOLS)/bin/uv
PY         := .venv/bin/python
export UV_PYTHON_PREFERENCE := only-system
export UV_PROJECT_ENVIRONMENT := .venv

# Ports for tests, apart from a running `make run` (Kafka 9092, services 8000-8004).
TEST_PG_PORT    ?= 55432
TEST_KAFKA_PORT ?= 19092
PYTEST_ARGS     ?=
# The tests go over TEST_WORKERS pytest-xdist processes (4 on two cores: many tests wait on
# Kafka, PostgreSQL or processes they started; 3 left a quarter of the CPU idle), a whole file to one worker (a file's
# stack fixtures start once). Tests that start real processes take their ports from their
# worker's own block (tessera_shared.testing.plugin.worker_port), so they run beside the rest.
# Files go out longest first by the seconds tests/durations.json records (tessera_shared.testing.
# ordering), so that no worker is left with a long one at the end; each run records its own
# figures in .data/test-durations.json. Exit status 5 is "nothing selected".
# The 25 slowest tests are listed at the end of every run (where the suite's time goes).
TEST_WORKERS    ?= 4
TEST_PATHS := tests/reliability tests/e2e tests/ui shared/tests services tests/contract tests/integration \
	tests/bench tests/ops
TEST_ENV = TESSERA_TEST_PG=postgresql+asyncpg://postgres@127.0.0.1:$(TEST_PG_PORT) \
	TESSERA_TEST_KAFKA=127.0.0.1:$(TEST_KAFKA_PORT)
# pytest with the plugins the suite uses named instead of found through their entry points: pytest
# rewrites the assertions of every module of an entry point's distribution (~360 modules of
# schemathesis, hypothesis and anyio, ~1 s of CPU in each worker, again each run when
# PYTHONDONTWRITEBYTECODE is set), and only the named module of a plugin given with -p.
PYTEST = PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(PY) -m pytest -p pytest_asyncio.plugin -p xdist.plugin \
	-p xdist.looponfail -p pytest_timeout -p _hypothesis_pytestplugin -p anyio.pytest_plugin \
	-p schemathesis.pytest.plugin

.PHONY: help install run test test-tools test-unit stop lint mypy migration clean asyncapi events-baseline roles reliability bench

help:
	@echo "make run    start Kafka, the four services (SQLite) and the gateway on :8000 [REPLICAS=2: on PostgreSQL]"
	@echo "make test   start (or reuse) PostgreSQL and Kafka for tests, run every test"
	@echo "make stop   stop the local Kafka brokers and the test PostgreSQL"
	@echo "make migration SERVICE=customer MSG='add contacts'   autogenerate a migration"
	@echo "make asyncapi   regenerate docs/asyncapi.yaml and the event JSON Schemas from code"
	@echo "make bench [BENCH_SIZES=10k,100k,1M]   benchmarks against the real stack; writes .bench/report.json"

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The workspace lock pins every dependency; --frozen refuses to drift from it. The dependencies
# are compiled to bytecode once here: uv leaves them as source by default, and where the
# environment sets PYTHONDONTWRITEBYTECODE (CI runners often do) every process then compiled what
# it imported, ~2.4 s of CPU for each service process, test worker and launcher child. The
# project's own packages are installed editable (uv compiles none of them), so they are compiled
# here too, migrations included (alembic loads every revision file each time it upgrades a
# database): ~0.2 s less CPU for each process that imports a service, seconds to do once. The
# tests' helper modules and scripts too (the bench harness, the fault suite's stack): each test
# worker and each script's process compiled them (the test modules themselves run from pytest's
# rewritten pycs, tessera_shared.testing.rewrites).
install: $(UV)
	$(UV) sync --frozen --all-packages --quiet --compile-bytecode
	$(PY) -m compileall -q -j 0 shared/src services/*/src deploy/local tools/*.py tests shared/tests services/*/tests \
		>/dev/null

# REPLICAS=2 (or more): every service and the gateway as that many processes on one PostgreSQL
# (the local one, on RUN_PG_PORT), balanced on the usual ports; see deploy/local/launcher.py.
REPLICAS    ?= 1
RUN_PG_PORT ?= 55433
run: install
	@if [ "$(REPLICAS)" = 1 ]; then exec $(PY) deploy/local/launcher.py; fi; \
	PG_PORT=$(RUN_PG_PORT) deploy/local/postgres.sh start && \
	exec $(PY) deploy/local/launcher.py --replicas $(REPLICAS) --database postgres \
		--postgres-url postgresql+asyncpg://postgres@127.0.0.1:$(RUN_PG_PORT)/postgres

ASYNCAPI_CLI := tools/asyncapi/node_modules/.bin/asyncapi

# The official AsyncAPI CLI (npm), pinned by tools/asyncapi/package-lock.json.
$(ASYNCAPI_CLI): tools/asyncapi/package-lock.json
	npm ci --prefix tools/asyncapi --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium (tests/ui drives /docs in it) and the OpenAPI Generator CLI jar from Maven
# Central (tests/contract generates clients with it), each installed once; quiet when present.
test-tools:
	@deploy/local/chromium.sh
	@deploy/local/openapi-generator.sh >/dev/null

test: install $(ASYNCAPI_CLI) test-tools
	PG_PORT=$(TEST_PG_PORT) deploy/local/postgres.sh start
	KAFKA_PORT=$(TEST_KAFKA_PORT) deploy/local/kafka.sh start
	$(TEST_ENV) $(PYTEST) --sqlite-routes -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		--heaviest-first tests/durations.json --record-durations .data/test-durations.json --durations=25 $(TEST_PATHS) $(PYTEST_ARGS)

test-unit: install
	$(PYTEST) shared/tests/unit services/*/tests/unit

# Regenerate docs/asyncapi.yaml and docs/events/schemas/ from the event contracts.
asyncapi: install
	$(PY) tools/gen_events_docs.py

# Accept the current schemas as the published baseline the compatibility gate guards.
events-baseline: install
	$(PY) -c 'import json; from tessera_shared.events.schemas import all_schemas; \
	open("docs/events/baseline.json", "w").write(json.dumps(all_schemas(), indent=1, sort_keys=True) + "\n")'

stop:
	-KAFKA_PORT=9092 deploy/local/kafka.sh stop
	-KAFKA_PORT=$(TEST_KAFKA_PORT) deploy/local/kafka.sh stop
	-PG_PORT=$(TEST_PG_PORT) deploy/local/postgres.sh stop
	-PG_PORT=$(RUN_PG_PORT) deploy/local/postgres.sh stop

migration: install
	$(PY) tools/new_migration.py $(SERVICE) "$(MSG)"

clean: stop
	rm -rf .data .local .venv $(TOOLS)

# The fault suite at full size, two processes of every service; writes docs/reliability.md.
reliability: install
	PG_PORT=$(TEST_PG_PORT) deploy/local/postgres.sh start
	KAFKA_PORT=$(TEST_KAFKA_PORT) deploy/local/kafka.sh start
	TESSERA_TEST_PG=postgresql+asyncpg://postgres@127.0.0.1:$(TEST_PG_PORT) \
	TESSERA_TEST_KAFKA=127.0.0.1:$(TEST_KAFKA_PORT) \
	TESSERA_RELIABILITY_N=300 TESSERA_RELIABILITY_REPLICAS=2 TESSERA_RELIABILITY_REPORT=docs/reliability.md \
	$(PY) -m pytest tests/reliability -p no:cacheprovider -s

# The code gates first: ruff's rules and its format check over the tree, then mypy (the tree
# [tool.mypy] in pyproject.toml lists, strict on tessera_shared and the rules modules; or only
# MYPY_TARGETS when set). Then offline checks of the deploy files (seconds): hadolint on the
# images, the Kubernetes manifests against the pinned API in strict mode and their generator, the
# compose file through compose itself. .pre-commit-config.yaml runs the same code gates.
K8S_VERSION := 1.31.0
# Empty: the whole configured tree (MYPY_TARGETS=shared/src checks only that part).
MYPY_TARGETS ?=
mypy:
	.venv/bin/mypy $(MYPY_TARGETS)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	$(MAKE) --no-print-directory mypy
	.venv/bin/hadolint --failure-threshold style deploy/docker/Dockerfile
	$(PY) deploy/k8s/render.py --check
	.venv/bin/kubernetes-validate --kubernetes-version $(K8S_VERSION) --strict --quiet \
		$(filter-out deploy/k8s/kustomization.yaml,$(wildcard deploy/k8s/*.yaml))
	$$($(PY) -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")') \
		-f deploy/compose.yaml config --no-interpolate --quiet
	@echo "lint: ok"

# Regenerate docs/roles.md, the role x endpoint matrix, from the routes' rules.
roles: install
	$(PY) tools/gen_role_matrix.py

# Benchmarks against the real stack (PostgreSQL, Kafka, the five processes): throughput and
# latency beside a bare FastAPI app, event lag, relay vs Kafka's ProducerPerformance, bulk import,
# list/report cost at BENCH_SIZES rows, RSS. Writes .bench/report.json and prints a table; the
# method and the figures are in docs/performance.md. wrk (the load generator) comes from Debian.
BENCH_SIZES ?= 10k,100k,1M
BENCH_ARGS  ?=
bench: install
	@command -v wrk >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get install -y -qq wrk >/dev/null 2>&1 || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk; }; }
	PG_PORT=$(TEST_PG_PORT) deploy/local/postgres.sh start
	KAFKA_PORT=$(TEST_KAFKA_PORT) deploy/local/kafka.sh start
	$(PY) tests/bench/harness.py --pg postgresql+asyncpg://postgres@127.0.0.1:$(TEST_PG_PORT) \
		--kafka 127.0.0.1:$(TEST_KAFKA_PORT) --sizes $(BENCH_SIZES) --out .bench/report.json $(BENCH_ARGS)
