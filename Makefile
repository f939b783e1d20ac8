# hipmonai: the two commands of the README.
#   make demo   set up .venv if missing with what the demo needs (torch, then hipmonai and its core dependencies),
#               then run the main job on the embedded phantom cohorts (report in outputs/demo)
#   make test   also install the test, tracking, MONAI Label and MONAI Deploy packages (and Debian's chromium for the
#               report's browser test), then ruff and pytest: what CI runs
# Two stamps: make test after make demo installs only the rest; both are redone when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
CORE_STAMP := $(VENV)/.installed-core
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint setup setup-demo browser clean-outputs

# the demo: torch first (2.13.0, the CPU wheel on this project's machines), then hipmonai editable with its core
# dependencies only
$(CORE_STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(VENV)/bin/python -m pip install --quiet -e .
	touch $(CORE_STAMP)

# the tests: the extras, then the three packages whose declared requirements would replace the CPU torch or pull
# CUDA packages, without their dependencies (docs/ecosystem.md)
$(STAMP): $(CORE_STAMP) pyproject.toml
	$(VENV)/bin/python -m pip install --quiet -e '.[test,tracking,label,deploy]'
	$(VENV)/bin/python -m pip install --quiet --no-deps monailabel==0.8.5 monai-deploy-app-sdk==4.0.0 holoscan-cu13==4.6.0
	touch $(STAMP)

setup-demo: $(CORE_STAMP)

setup: $(STAMP)

# the report page is checked in a real headless browser: Debian's chromium + chromedriver, installed where apt-get
# exists (elsewhere the browser tests are skipped with the reason)
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium and chromium-driver (browser test of the report page)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver >/dev/null; \
	else echo "no apt-get: the browser test of the report page will be skipped"; fi

demo: $(CORE_STAMP)
	$(VENV)/bin/hipmonai demo

test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q -rs

clean-outputs:
	rm -rf outputs
