# MHIN Platform — developer entry points. `make run` and `make test` are all a new
# user needs; every other target is a step they call.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
CACHE := .cache
PACKAGES := libs/contracts libs/platform libs/measures libs/devkit libs/cli bench $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml))
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))
BUF := node_modules/.bin/buf
# The web dashboard's front end, bundled from npm packages (services/web/frontend/build.mjs)
WEB_ASSETS := services/web/src/mhin_web/static/build/.built
# kustomize renders deploy/k8s for the manifest tests; v5.8.2 is the newest that builds with Go 1.26
KUSTOMIZE_VERSION := v5.8.2
KUSTOMIZE := $(CACHE)/bin/kustomize

.PHONY: help venv web-assets kustomize kafka-jars kafka-up kafka-down topics proto proto-check lint test run run-arcs run-cluster chaos bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.lock $(PYPROJECTS)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock $(addprefix -e ,$(PACKAGES))
	touch $@

venv: $(VENV)/.installed ## create .venv and install every package of the workspace

$(BUF): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_ASSETS): $(BUF) $(wildcard services/web/frontend/*)
	node services/web/frontend/build.mjs

web-assets: $(WEB_ASSETS) ## bundle the web dashboard's JavaScript and CSS from node_modules

$(KUSTOMIZE):
	GOBIN=$(abspath $(CACHE)/bin) GOTOOLCHAIN=local go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	touch $@

kustomize: $(KUSTOMIZE) ## build the pinned kustomize that renders deploy/k8s (Go module proxy)

kafka-jars: venv ## resolve the Kafka broker jars from Maven Central
	$(PY) -m mhin_devkit.kafka_broker jars

kafka-up: kafka-jars ## start the local Kafka broker on 127.0.0.1:9092 (harmless if running)
	$(PY) -m mhin_devkit.kafka_broker up

kafka-down: venv ## stop the local Kafka broker
	$(PY) -m mhin_devkit.kafka_broker down

topics: kafka-up ## create the declared topics on the broker (idempotent)
	$(PY) -m mhin_platform.events.topics create

proto: venv ## regenerate libs/contracts from protos/
	$(PY) -m mhin_devkit.protogen generate

proto-check: venv ## fail if libs/contracts is stale against protos/
	$(PY) -m mhin_devkit.protogen check

lint: venv $(BUF) ## buf lint, buf breaking against main, ruff, mypy
	$(BUF) lint protos
	$(PY) -m mhin_devkit.protogen breaking
	$(VENV)/bin/ruff check bench libs services tests
	$(PY) -m mypy

test: venv kafka-jars $(BUF) $(WEB_ASSETS) $(KUSTOMIZE) ## run the whole suite against a real broker and real databases
	$(PY) -m pytest

run: kafka-jars $(WEB_ASSETS) ## start the broker and every service; Ctrl-C stops them all
	$(PY) -m mhin_devkit.supervisor

chaos: venv kafka-jars ## every fault scenario on a three-node cluster and a single broker (make test runs a short profile)
	MHIN_CHAOS=full $(PY) -m pytest -s tests/e2e/test_cluster_faults.py tests/platform/test_broker_outage.py services/evaluation/tests/test_broker_outage.py

bench: venv kafka-jars $(WEB_ASSETS) ## run the benchmark suite
	$(PY) -m mhin_bench

lock: venv ## re-pin requirements.lock from what is installed
	$(PY) -m pip freeze --exclude-editable | sort -f > requirements.lock.new && mv requirements.lock.new requirements.lock

clean: ## remove the venv and caches (broker data included)
	-$(PY) -m mhin_devkit.kafka_broker down
	-$(PY) -m mhin_devkit.kafka_cluster down
	rm -rf $(VENV) $(CACHE) node_modules services/web/src/mhin_web/static/build

run-arcs: kafka-jars $(WEB_ASSETS) ## run the national instance and Greater Manchester's and Yorkshire and Humber's own instances
	$(PY) -m mhin_devkit.supervisor --arcs greater-manchester,yorkshire-and-humber

run-cluster: kafka-jars $(WEB_ASSETS) ## run the platform on a three-node replicated Kafka cluster (RF 3, min ISR 2)
	$(PY) -m mhin_devkit.supervisor --cluster
