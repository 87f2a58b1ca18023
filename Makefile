# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint install clean audit lock wheelhouse bench-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every install comes from the hashed lock in requirements/ (requirements/README.md),
# in two steps, because pip refuses an editable install in hash-checking mode:
# pip and setuptools first, then every dependency with its hash, then the project
# itself with no dependencies and no build isolation (so the locked setuptools builds it).
$(STAMP): $(BIN)/python pyproject.toml requirements/pip.txt requirements/dev.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/pip.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@# Byte-compile the project, as installing a wheel would: an editable install
	@# does not, and where PYTHONDONTWRITEBYTECODE is set every command would
	@# compile its modules afresh (about 0.06 s of each reviewer command).
	$(BIN)/python -m compileall -q crypto intake reviewer
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -W error $(PYTEST_ARGS)

# bandit (must pass) and pip-audit (needs its vulnerability service; see .ci/audit.sh).
audit: $(STAMP)
	VENV=$(VENV) bash .ci/audit.sh

DEMO_PORT ?= 5000
DEMO_FLASK := INTAKE_DATA_DIR=demo/data $(BIN)/flask --app intake

# The demo passphrase is written to a file beside the key: demo use only.
demo: $(STAMP)
	@mkdir -p demo
	@test -f demo/passphrase || echo "demo passphrase, not for real use" > demo/passphrase
	@test -f demo/reviewer.key || $(BIN)/python -m crypto keygen demo/reviewer.key \
		--passphrase-file demo/passphrase > demo/reviewer.pub
	@echo "Demo reviewer key: demo/reviewer.key (passphrase in demo/passphrase)"
	@echo "Its public key and fingerprint: demo/reviewer.pub"
	@cat demo/reviewer.pub
	@$(DEMO_FLASK) init-db
	@$(DEMO_FLASK) keys list | grep -q '^demo reviewer' || \
		$(DEMO_FLASK) keys add "$$(head -n 1 demo/reviewer.pub)" --name "demo reviewer"
	@echo "Intake server data: demo/data (database, ciphertext store)"
	@echo "Open http://127.0.0.1:$(DEMO_PORT)/ in a browser; Ctrl-C stops the server."
	$(DEMO_FLASK) run --host 127.0.0.1 --port $(DEMO_PORT)

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache

# Extract the applicant-page strings, merge them into every catalog, compile the .mo files
# (all committed; see docs/translations.md). `--check` only reports.
.PHONY: translations
translations: $(STAMP)
	$(BIN)/python tools/i18n.py

# Regenerate the hashed locks from pyproject.toml's ranges (requirements/README.md).
# Pins already in the locks are kept where they still fit; `make lock UPGRADE=1`
# moves everything to the newest releases the ranges allow.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--only-binary :all: --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
# The lock tool comes from its own lock, so that a broken dev lock can still be remade.
$(BIN)/uv: $(BIN)/python requirements/uv.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/pip.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/uv.txt
	touch $(BIN)/uv
lock: $(BIN)/uv
	$(UV_COMPILE) pyproject.toml --extra server --extra test --extra audit \
		requirements/dev.in requirements/pip.in -o requirements/dev.txt
	$(UV_COMPILE) pyproject.toml --extra server -c requirements/dev.txt -o requirements/server.txt
	$(UV_COMPILE) pyproject.toml -c requirements/dev.txt -o requirements/reviewer.txt
	$(UV_COMPILE) requirements/pip.in -c requirements/dev.txt -o requirements/pip.txt
	$(UV_COMPILE) requirements/uv.in -c requirements/dev.txt -o requirements/uv.txt

# The offline reviewer install: dist/wheelhouse/ (docs/reviewer.md, "Installing offline").
# WHEELHOUSE_ARGS passes options on, e.g. WHEELHOUSE_ARGS="--python-version 3.12 --arch aarch64".
wheelhouse: $(STAMP)
	$(BIN)/python tools/wheelhouse.py dist/wheelhouse $(WHEELHOUSE_ARGS)

# What bench/run.py compares against: age and gpg (docs/performance.md).
bench-deps:
	bash .ci/install-debian.sh --bench
