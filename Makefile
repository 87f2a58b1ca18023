# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint install clean audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
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
