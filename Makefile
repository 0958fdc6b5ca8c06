# sccli — two entry points: `make demo` and `make test` (each creates .venv and installs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install tools lint completions docs docs-reference clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat: a plain path .pth instead of setuptools' import-hook finder (~25 ms off every start);
	# falls back to the default editable mode on a setuptools that no longer has it.
	$(PY) -m pip install -q -e '.[formats,api,test]' --config-settings editable_mode=compat 2>/dev/null \
		|| $(PY) -m pip install -q -e '.[formats,api,test]'
	$(PY) -m compileall -q sccli    # byte-compiled at install: a first `sc` run does not compile
	touch $@

install: $(VENV)/.installed

tools:
	@bash scripts/install-tools.sh

demo: install tools
	$(PY) examples/demo.py

test: install tools
	$(VENV)/bin/mypy sccli
	$(MAKE) docs
	bash scripts/test.sh

lint: install
	$(VENV)/bin/ruff check sccli tests bench examples

completions: install
	$(PY) scripts/gen_completions.py

# The docs site (docs/, mkdocs.yml) into site/: --strict fails on a broken link or anchor and on a
# page missing from the nav (no --quiet: mkdocs counts the warnings it logs).
docs: install
	$(VENV)/bin/mkdocs build --strict

docs-reference: install
	$(PY) scripts/gen_command_reference.py

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache
