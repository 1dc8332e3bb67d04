# slychat: `make run` starts the server on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# What is installed, each redone when pyproject.toml changes: the runtime dependencies alone
# (all that `make run` needs), or those and the dev extra (tests, lint, type checks).
RUN_STAMP := $(VENV)/.installed-run
STAMP     := $(VENV)/.installed
# CI=true (or 1, yes): what the tests need is installed, or the run fails.
IN_CI  := $(filter 1 true yes TRUE True YES,$(CI))
# The JavaScript client package (npm `slychat-client`): installed from its lockfile and
# built once; its browser bundle (socket.io-client inside) is the demo page's client.
CLIENT_DIR   := clients/js
CLIENT_DEPS  := $(CLIENT_DIR)/node_modules/.package-lock.json
CLIENT_BUILD := $(CLIENT_DIR)/dist/index.mjs
CLIENT_SRC   := $(shell find $(CLIENT_DIR)/src $(CLIENT_DIR)/scripts -type f 2>/dev/null) \
	$(CLIENT_DIR)/package.json $(CLIENT_DIR)/tsconfig.json docs/asyncapi.json
DEMO_DIST   := src/slychat/static/demo/dist
DEMO_CLIENT := $(DEMO_DIST)/slychat-client.js
# The API docs page (/api/docs): Swagger UI from npm's swagger-ui-dist.
DOCS_DIST    := src/slychat/static/apidocs/dist
SWAGGER_DIST := web/node_modules/swagger-ui-dist
# npm installs, recorded inside the node_modules they made (`npm ci` empties it first):
# web/'s packages for serving, or with its test tools too; the JS client tests' packages.
WEB_RUN  := web/node_modules/.installed-run
WEB_TEST := web/node_modules/.installed-test
JS_TEST  := tests/js/node_modules/.installed-test
NPM_CI   := npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

.PHONY: run test soak lint typecheck check bench clean browser deploy-tools contracts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

# The dev install holds the runtime one: `make run` after it installs nothing more.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

run: $(RUN_STAMP) $(WEB_RUN) $(DEMO_CLIENT)
	$(BIN)/slychat migrate
	SLYCHAT_CONTACT_POLICY=$${SLYCHAT_CONTACT_POLICY:-mask} $(BIN)/slychat serve

# Test files run on four workers (pytest-xdist), a file's tests on one worker: most tests
# wait on real servers and clients rather than on the CPU (three workers kept two cores
# 80% busy; four, 85%, and the run took a sixth less). `make test PYTEST_WORKERS=0` runs
# them in this process. --durations: the slowest tests named at the end of every run.
PYTEST_WORKERS ?= 4

test: $(STAMP) $(WEB_TEST) $(JS_TEST) $(DEMO_CLIENT) browser deploy-tools
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)

# npm installs run whenever npm is on the PATH. Without npm the server still runs (the demo
# page says its client library is missing, /api/docs links the documents without Swagger
# UI) and the tests that need them skip; with CI=true they fail.
NO_NPM := the demo page (/) will say its client library is missing and /api/docs will \
	link the documents without Swagger UI

# The client package: its build tools are its dev dependencies, so `make run` installs them
# too (typescript and esbuild: a few MB).
$(CLIENT_DEPS): $(CLIENT_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(CLIENT_DIR) && $(NPM_CI); \
	elif [ -n "$(IN_CI)" ]; then \
		echo "npm is needed: the client package (clients/js) and the demo page need it" >&2; \
		exit 1; \
	else \
		echo "note: npm not found: $(NO_NPM)" >&2; \
	fi

# Built once: the ES module, CommonJS and .d.ts files, and the browser bundle (generated
# payload types checked against docs/asyncapi.json first).
$(CLIENT_BUILD): $(CLIENT_DEPS) $(CLIENT_SRC)
	@if [ -f $(CLIENT_DEPS) ]; then cd $(CLIENT_DIR) && npm run --silent build; fi

# The demo page's client library, copied into the package (git-ignored).
$(DEMO_CLIENT): $(CLIENT_BUILD)
	@if [ -f $(CLIENT_BUILD) ]; then \
		mkdir -p $(DEMO_DIST) && \
		cp $(CLIENT_DIR)/dist/browser/slychat-client.js $(CLIENT_DIR)/dist/browser/slychat-client.js.map $(DEMO_DIST)/; \
	fi

# web/'s npm packages (web/package-lock.json): what /api/docs serves (swagger-ui-dist),
# copied into the package (git-ignored); for `make test` also the test tools, axe-core (the
# accessibility check) and @asyncapi/specs (the AsyncAPI document's schema).
COPY_WEB_ASSETS := mkdir -p $(DOCS_DIST) && \
	cp $(SWAGGER_DIST)/swagger-ui-bundle.js $(SWAGGER_DIST)/swagger-ui.css \
		$(SWAGGER_DIST)/LICENSE $(DOCS_DIST)/

$(WEB_RUN): web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		(cd web && $(NPM_CI) --omit=dev) && $(COPY_WEB_ASSETS) && touch $@; \
	else \
		echo "note: npm not found: $(NO_NPM)" >&2; \
	fi

# The full install holds the serving one: `make run` after it installs nothing more.
$(WEB_TEST): web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		(cd web && $(NPM_CI)) && $(COPY_WEB_ASSETS) && touch $@ $(WEB_RUN); \
	elif [ -n "$(IN_CI)" ]; then \
		echo "npm is needed: /api/docs serves swagger-ui-dist and the browser tests use axe-core" >&2; \
		exit 1; \
	else \
		echo "note: npm not found: $(NO_NPM); the tests that need them will skip" >&2; \
	fi

# The official socket.io-client for tests/e2e/test_js_client.py (tests/js/package-lock.json).
$(JS_TEST): tests/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		(cd tests/js && $(NPM_CI)) && touch $@; \
	elif [ -n "$(IN_CI)" ]; then \
		echo "npm is needed: tests/e2e/test_js_client.py drives the official JS client" >&2; \
		exit 1; \
	else \
		echo "note: npm not found: the official JS client's tests will skip" >&2; \
	fi

# The browser tests drive Debian's Chromium (Playwright, without a browser download of its
# own). CI installs it; elsewhere those tests skip and say why.
# The emoji font: reactions in the demo's screenshots are drawn, not shown as boxes.
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -f $(EMOJI_FONT) ]; then \
		if [ -n "$(IN_CI)" ]; then \
			SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
			$$SUDO apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
		elif [ ! -x /usr/bin/chromium ]; then \
			echo "note: /usr/bin/chromium not found: the browser tests will skip (apt-get install chromium)" >&2; \
		else \
			echo "note: no emoji font: the demo's screenshots show reactions as boxes (apt-get install fonts-noto-color-emoji)" >&2; \
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
# they differ from what the code generates), and the client package's payload types from
# the AsyncAPI document (its build fails while they are stale).
contracts: $(STAMP) $(CLIENT_DEPS)
	$(BIN)/python -m slychat.contracts write
	@if [ -f $(CLIENT_DEPS) ]; then cd $(CLIENT_DIR) && npm run --silent generate; fi

# The long soak and fuzz runs that `make test` keeps short.
soak: $(STAMP)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

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
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache $(DEMO_DIST) $(DOCS_DIST) \
		$(CLIENT_DIR)/dist \
		$(WEB_RUN) $(WEB_TEST) $(JS_TEST)
