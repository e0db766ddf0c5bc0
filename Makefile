# The two commands a newcomer needs: `make demo` and `make test`. Both set up .venv first.
PY := .venv/bin/python
STAMP := .venv/.setup-done

.PHONY: setup test test-fast lint format demo bench

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

setup: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

lint: $(STAMP)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: $(STAMP)
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

demo: $(STAMP)
	$(PY) scripts/demo.py $(if $(FRESH),--fresh,)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py
