# One command runs everything CI judges: `make test`.
# It creates .venv, installs the package with its dev tools, then runs ruff, mypy --strict and pytest.
# pytest includes tests/test_installing_the_wheel.py: it builds the wheel, installs it into a fresh venv
# outside the checkout (dependencies from the package index, through pip's cache) and runs it from elsewhere.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: test lint typecheck pytest venv dovecot libreoffice fonts demo bench wheel clean

test: venv dovecot libreoffice fonts lint typecheck pytest

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

lint: venv
	$(BIN)/ruff check mailbot tests bench
	$(BIN)/ruff format --check mailbot tests bench

typecheck: venv
	$(BIN)/mypy mailbot

pytest: venv dovecot libreoffice fonts
	$(BIN)/pytest -q

# The tests start their own Dovecot (IMAP) on loopback, so its binary must be installed; they never use the
# system service or its ports 143/993. sudo only when not root and sudo exists.
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && echo sudo)

dovecot:
	@command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || { \
	  echo "Dovecot is missing: installing Debian's dovecot-imapd for the real-server tests"; \
	  command -v apt-get >/dev/null 2>&1 \
	    && $(SUDO) apt-get update -q \
	    && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd; \
	} || { echo "make: could not install Dovecot (dovecot-imapd), which the tests need; install it and rerun" >&2; \
	  exit 1; }

# LibreOffice converts .doc/.rtf/.odt/.ods attachments; it is optional: the tests that need it skip, saying why,
# when it is absent. So this target tries to install Debian's packages and warns (never fails) when it cannot.
LO_PROGRAM := /usr/lib/libreoffice/program

libreoffice:
	@{ [ -e $(LO_PROGRAM)/libswlo.so ] && [ -e $(LO_PROGRAM)/libsclo.so ]; } || { \
	  echo "LibreOffice is missing: installing Debian's libreoffice-writer-nogui and libreoffice-calc-nogui"; \
	  command -v apt-get >/dev/null 2>&1 \
	    && $(SUDO) apt-get update -q \
	    && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	       libreoffice-writer-nogui libreoffice-calc-nogui; \
	} || echo "make: WARNING: could not install LibreOffice; the conversion tests will be SKIPPED" >&2

# The receipt PDF is set in DejaVu Sans or Noto Sans (mailbot.receipt.find_font); without either, acknowledgements go
# without a receipt and the receipt tests skip; so this target installs Debian's fonts-dejavu-core, or warns.
FONT_DIRS := /usr/share/fonts/truetype/dejavu /usr/share/fonts/truetype/noto \
             /usr/share/fonts/dejavu /usr/share/fonts/noto

fonts:
	@ls $(addsuffix /*Sans*.ttf,$(FONT_DIRS)) 2>/dev/null | grep -q . || { \
	  echo "No DejaVu or Noto font: installing Debian's fonts-dejavu-core for the receipt PDF"; \
	  command -v apt-get >/dev/null 2>&1 \
	    && $(SUDO) apt-get update -q \
	    && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-dejavu-core; \
	} || echo "make: WARNING: could not install fonts-dejavu-core; the receipt tests will be SKIPPED" >&2

demo: venv
	$(BIN)/mailbot demo

bench: venv dovecot libreoffice fonts
	$(BIN)/python bench/validate_bench.py
	$(BIN)/python bench/imap_latency.py
	$(BIN)/python bench/conversion.py
	$(BIN)/python bench/signature_verification.py
	$(BIN)/python bench/hostile_files.py
	$(BIN)/python bench/hostile_validation.py
	$(BIN)/python bench/receipt_pdf.py
	$(BIN)/python bench/deadline_rush.py

# The wheel a normal install uses (it carries rules/ and replies/ inside the package), in dist/.
wheel: venv
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache dist
