# Two commands do everything on a fresh machine: `make run` and `make test`.
# Each creates .venv with the machine's python3 when missing and installs the package first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run web test install lint typecheck pytest bench clean browser

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/alchemiser trade

web: $(STAMP)
	$(VENV)/bin/alchemiser web

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy src

# The dashboard's browser tests drive Debian's chromium + chromium-driver; install them when we can (root
# with apt-get, as in CI), else the tests skip with a loud reason.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	      || echo "WARNING: could not install chromium; the browser tests will be skipped"; \
	  else echo "WARNING: chromium/chromedriver missing and not root: the browser tests will be skipped"; fi; \
	fi

# one worker per core (pytest-xdist); a file's tests stay on one worker so its module fixtures start once.
# (Four workers on 2 cores ran faster but starved the timing-sensitive fault and Ray node-loss tests.)
pytest: $(STAMP) browser
	$(VENV)/bin/pytest -q -n auto --dist loadfile

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) bench/bench_symphony.py
	$(PY) bench/bench_params.py
	$(PY) bench/bench_rotation.py
	$(PY) bench/bench_backtest.py
	$(PY) bench/bench_web.py
	$(PY) bench/bench_startup.py
	$(PY) bench/bench_sweep.py
	$(PY) bench/bench_walk_forward.py
	$(PY) bench/bench_ray.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
