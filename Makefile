# The README's two commands: `make run` (main job, embedded Spark) and `make test` (everything CI runs).
SHELL := /bin/bash
IN_ENV := scripts/in_env.sh
ROWS ?= 1000000
SEED ?= 42
# Injected bad rows per format; auto: 100, or 1 % of ROWS when fewer (spark_analytics.datagen).
BAD_ROWS ?= auto
DOCS_PORT ?= 8080

.PHONY: setup server-archive data run build summary report test lint docs bench clean faults

setup:
	@scripts/setup.sh

# The Thrift + Connect servers' class archive (spark_analytics/cluster/archive.py): recorded once
# by a short-lived local server (about a minute), rebuilt when Java, pyspark or the shim change.
# For the targets that start servers; `make run` needs none.
server-archive: setup
	@$(IN_ENV) python -m spark_analytics.cluster archive

# Your own files instead of generated ones (docs/own_data.md):
#   make run DATA=examples/shop               (vars from DATA/mapping.yml when it exists)
#   make run DATA=~/shop MAPPING=~/shop.yml
DATA ?=
MAPPING ?=
# `vars=$$(...) &&` rather than `--vars "$$(...)"`: a bad DATA or MAPPING stops the run.
DBT_WITH_VARS = $(if $(DATA),vars=$$($(IN_ENV) python -m spark_analytics.own_data --data '$(DATA)' \
	$(if $(MAPPING),--mapping '$(MAPPING)')) && $(IN_ENV) dbt $(1) --vars "$$vars",$(IN_ENV) dbt $(1))

data: setup
	$(IN_ENV) python -m spark_analytics.datagen --rows $(ROWS) --seed $(SEED) --bad-rows $(BAD_ROWS) \
		--out $${DATA_DIR:-data}/generated

# More arguments for `dbt build`, e.g. BUILD_ARGS='--exclude path:models/ml' on data too small
# to train the ML models (docs/own_data.md).
BUILD_ARGS ?=
build: setup
	$(call DBT_WITH_VARS,build $(BUILD_ARGS))

summary: setup
	$(call DBT_WITH_VARS,run-operation print_run_summary)

# The analysts' report from the marts (after `make run`): reports/index.html + reports/charts/.
report: setup
	$(IN_ENV) python -m spark_analytics.report --out reports

run: $(if $(DATA),,data) build summary report

lint: setup
	$(IN_ENV) ruff check .
	$(IN_ENV) ruff format --check .
	$(IN_ENV) sqlfluff lint models

# Everything CI runs: lint, unit and integration suites, the docs site in a real browser and
# the local Spark cluster. `PYTEST_ARGS=-k marts make test` narrows it down;
# `PYTEST_ARGS=--runslow make test` adds the slow tests (second builds, the long-write kill,
# every model of the kill matrix), about 15 more minutes. The suites run on TEST_WORKERS pytest-xdist
# workers (one file, or the files sharing the built project, per worker at a time, longest
# first: tests/python/conftest.py); TEST_WORKERS=0 runs them in this process.
# The suites' Spark JVMs (drivers and the local cluster's) compile with C1 only (SPARK_JIT,
# scripts/in_env.sh): on their small data C2's compiling costs more CPU than it saves. With it
# they collect with the parallel collector (SPARK_GC=auto), cheaper than G1 on small data.
# The suites wrote about 0.45 GiB to the temporary folder in a CI run: `make test` checks that the
# folder pytest will use (Python's tempfile: TMPDIR, else /tmp) has 1 GiB free before it starts.
TEST_WORKERS ?= 2
SPARK_JIT ?= quick
test: setup lint server-archive
	@scripts/require_disk.sh 1 "make test" "$$($(IN_ENV) python -c 'import tempfile; print(tempfile.gettempdir())')"
	@scripts/ensure_chromium.sh
	SPARK_JIT=$(SPARK_JIT) $(IN_ENV) pytest -q -ra --runcluster --durations=25 -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The fault suite (docs/reliability.md): kill -9 at every point of every materialization, a Thrift
# reader during rebuilds, the metastore lock, hostile input, bad files, streaming, security. Prints
# the table of what was checked and writes it to target/faults.md. Also part of `make test`.
FAULT_SUITES := $(wildcard tests/python/test_faults.py tests/python/test_metastore_lock.py \
	tests/python/test_hostile_input.py tests/python/test_bad_files.py tests/python/test_properties.py \
	tests/python/test_streaming_hardening.py tests/python/test_security.py \
	tests/python/test_source_registration.py)
faults: setup server-archive
	FAULT_TABLE=target/faults.md SPARK_JIT=$(SPARK_JIT) $(IN_ENV) pytest -q -ra --runcluster --runslow $(FAULT_SUITES) $(PYTEST_ARGS)

docs: setup
	$(IN_ENV) dbt docs generate
	$(IN_ENV) dbt docs serve --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

# dbt vs a hand-written PySpark job vs DuckDB on the marts path, then the hint comparison
# (spark_analytics/bench/marts.py; results in reports/bench/, summary in BENCHMARKS.md).
# `make bench BENCH_SIZES="1000000 10000000 100000000"` adds 100M. BENCH_SERVER adds `dbt build`
# and `dbt test` on a local-mode server kept warm between builds (`make bench BENCH_SERVER=` leaves
# them out). Each `dbt build` is followed by a timed `dbt test` on its target (`--skip-tests` in
# BENCH_ARGS leaves them out).
BENCH_SIZES ?= 1000000 10000000
BENCH_REPEAT ?= 3
BENCH_SERVER ?= --warm-server
bench: setup server-archive
	$(IN_ENV) python -m spark_analytics.bench.marts --sizes $(BENCH_SIZES) --repeat $(BENCH_REPEAT) $(BENCH_SERVER) $(BENCH_ARGS)

clean:
	rm -rf target logs .spark data

# --- local Spark standalone cluster + `cluster` dbt target (owner: cluster; docs/cluster.md) ---
.PHONY: cluster-up cluster-down cluster-status cluster-test
cluster-up: setup server-archive
	$(IN_ENV) python -m spark_analytics.cluster up

cluster-down: setup
	$(IN_ENV) python -m spark_analytics.cluster down

cluster-status: setup
	$(IN_ENV) python -m spark_analytics.cluster status

# Starts its own cluster on free ports (state in pytest's tmp dir), so it never collides with
# `make cluster-up`; builds the project on both targets and compares every table.
cluster-test: setup server-archive
	$(IN_ENV) pytest -q -rs --runcluster -m cluster tests/python/test_cluster.py tests/python/test_security.py
# --- end cluster ---

# --- event stream: replay -> Structured Streaming ingest -> incremental dbt models (owner: stream) ---
STREAM_ROWS ?= 100000
STREAM_DIR ?= $${DATA_DIR:-data}/stream
.PHONY: stream stream-bench
# Lands STREAM_ROWS generator transactions (with late, duplicate and malformed lines) as
# micro-batch files, ingests them (availableNow) and builds the event models, in one JVM. The
# files' names come from the replay's arguments: run again, it lands nothing the ingest has not
# read. Another STREAM_ROWS or SEED replays the same transaction ids with other contents, which
# the event models drop as late copies: give it a STREAM_DIR of its own.
stream: setup
	$(IN_ENV) python -m spark_analytics.streaming.replay --source datagen --rows $(STREAM_ROWS) \
		--seed $(SEED) --out $(STREAM_DIR)/landing --batch-rows 10000 --late-fraction 0.01 \
		--late-hours 6 --duplicate-fraction 0.01 --malformed-fraction 0.001 --out-of-order
	$(IN_ENV) python -m spark_analytics.streaming.pipeline --landing $(STREAM_DIR)/landing \
		--checkpoint $(STREAM_DIR)/checkpoint -- build -s +fct_merchant_daily_transactions

stream-bench: setup
	$(IN_ENV) python -m spark_analytics.bench.streaming
# --- end event stream ---
