# hipmonai: the two commands of the README.
#   make demo   set up .venv if missing, then run the main job on the embedded phantom cohorts (report in outputs/demo)
#   make test   set up .venv if missing (and Debian's chromium for the report's browser test), then ruff and pytest:
#               what CI runs
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint setup browser clean-outputs

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(VENV)/bin/python -m pip install --quiet -e '.[test,tracking,label,deploy]'
	$(VENV)/bin/python -m pip install --quiet --no-deps monailabel==0.8.5 monai-deploy-app-sdk==4.0.0 holoscan-cu13==4.6.0
	touch $(STAMP)

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

demo: $(STAMP)
	$(VENV)/bin/hipmonai demo

test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q -rs

clean-outputs:
	rm -rf outputs
