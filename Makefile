# Bancheng: `make up` brings the whole system up, `make test` runs every test.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: up down status test lint bench drill infra install

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

infra:
	@bash deploy/local/ensure-infra.sh

# EDGE_SITES=XJK,MY: also the three-node district cluster and a site node per site, front doors
# on 8001, 8002, … (tools/edge.py, docs/network.md)
EDGE_SITES ?=
up: install infra
	EDGE_SITES=$(EDGE_SITES) $(PY) -m tools.localrun up

down:
	@test -x $(PY) && $(PY) -m tools.localrun down || true

# each process of `make up`: pid, port, up/down, restarts, uptime, /healthz
status:
	@$(PY) -m tools.localrun status

test: install infra
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: install infra
	$(PY) -m bench

# faults under registration load on a private broker node and database cluster (a few minutes)
drill: install
	$(PY) -m tools.drill
