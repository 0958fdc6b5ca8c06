# sccli — two entry points: `make demo` and `make test` (each creates .venv and installs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install tools lint completions clean

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
	bash scripts/test.sh

lint: install
	$(VENV)/bin/ruff check sccli tests bench examples

completions: install
	$(PY) scripts/gen_completions.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
