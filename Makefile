# slychat: `make run` starts the server on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# CI=true (or 1, yes): what the tests need is installed, or the run fails.
IN_CI  := $(filter 1 true yes TRUE True YES,$(CI))
DEMO_DIST   := src/slychat/static/demo/dist
DEMO_CLIENT := $(DEMO_DIST)/socket.io.esm.min.js
SIO_DIST    := web/node_modules/socket.io-client/dist
# The API docs page (/api/docs): Swagger UI from npm's swagger-ui-dist.
DOCS_DIST    := src/slychat/static/apidocs/dist
SWAGGER_UI   := $(DOCS_DIST)/swagger-ui-bundle.js
SWAGGER_DIST := web/node_modules/swagger-ui-dist

.PHONY: run test soak lint typecheck check bench clean browser deploy-tools contracts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP) $(DEMO_CLIENT) $(SWAGGER_UI)
	$(BIN)/slychat migrate
	$(BIN)/slychat serve

test: $(STAMP) $(DEMO_CLIENT) $(SWAGGER_UI) browser deploy-tools
	$(BIN)/pytest $(PYTEST_ARGS)

# The demo page's Socket.IO client: socket.io-client from npm (web/package-lock.json, with
# axe-core for the accessibility test), copied into the package (git-ignored). Without
# npm the server still runs and the page says the library is missing; CI needs it.
$(DEMO_CLIENT): web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && cd .. && \
		mkdir -p $(DEMO_DIST) && \
		cp $(SIO_DIST)/socket.io.esm.min.js $(SIO_DIST)/socket.io.esm.min.js.map $(DEMO_DIST)/; \
	elif [ -n "$(IN_CI)" ]; then \
		echo "npm is needed: the demo page's browser tests use socket.io-client and axe-core" >&2; \
		exit 1; \
	else \
		echo "note: npm not found: the demo page (/) will say its Socket.IO client is missing" >&2; \
	fi

# Swagger UI for /api/docs, from the npm install above (web/package-lock.json), copied into
# the package (git-ignored). Without npm, /api/docs links the documents instead.
$(SWAGGER_UI): $(DEMO_CLIENT)
	@if [ -f $(SWAGGER_DIST)/swagger-ui-bundle.js ]; then \
		mkdir -p $(DOCS_DIST) && \
		cp $(SWAGGER_DIST)/swagger-ui-bundle.js $(SWAGGER_DIST)/swagger-ui.css \
			$(SWAGGER_DIST)/LICENSE $(DOCS_DIST)/; \
	elif [ -n "$(IN_CI)" ]; then \
		echo "npm is needed: /api/docs serves swagger-ui-dist" >&2; \
		exit 1; \
	else \
		echo "note: npm not found: /api/docs will link the documents without Swagger UI" >&2; \
	fi

# The browser tests drive Debian's Chromium (Playwright, without a browser download of its
# own). CI installs it; elsewhere those tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ -n "$(IN_CI)" ]; then \
			SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
			$$SUDO apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "note: /usr/bin/chromium not found: the browser tests will skip (apt-get install chromium)" >&2; \
		fi; \
	fi

# The deployment tests' tools: nginx fronts two nodes (tests/e2e/test_nginx.py) and
# Prometheus runs the Grafana dashboard's queries (tests/e2e/test_deploy_files.py). CI
# installs them; elsewhere those tests skip and say why.
DEPLOY_TOOLS := nginx:nginx-light prometheus:prometheus

deploy-tools:
	@missing=""; for pair in $(DEPLOY_TOOLS); do \
		command -v $${pair%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${pair%%:*} ] || \
			missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ -n "$(IN_CI)" ]; then \
			SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
			$$SUDO apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
				$$missing >/dev/null; \
		else \
			echo "note: not installed:$$missing: the deployment tests that need them will skip" >&2; \
		fi; \
	fi

# Regenerate docs/openapi.json and docs/asyncapi.json from the code (a test fails while
# they differ from what the code generates).
contracts: $(STAMP)
	$(BIN)/python -m slychat.contracts write

# The long soak and fuzz runs that `make test` keeps short.
soak: $(STAMP)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# The benchmarks' own extras (charts), on top of the dev install.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache $(DEMO_DIST) $(DOCS_DIST)
