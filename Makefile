# autopost: every task a developer or CI runs. The virtualenv is built from pyproject.toml's pins.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
CHECKOV_VENV := .tools/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

.PHONY: setup test test-unit test-integration lint format openapi build dev token demo chromium clean live-check live-publish telegram-webhook upload

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

## The whole suite: unit, integration (moto), the local stack, the browser, and the lint checks.
test: setup lint chromium
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder

## Debian's Chromium for the browser tests (Playwright drives it; it cannot download one here).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup
	$(PY) -m pytest -n 2 --dist loadfile tests/integration

lint: setup $(CHECKOV)
	$(VENV)/bin/ruff check --output-format concise .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml
	$(CHECKOV) --file template.yaml --framework cloudformation --compact --quiet --skip-download

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## The whole system on this machine: moto (with Step Functions), the handlers, the emulators.
## Flags for a demo: make dev ARGS="--retry-delays 5,10,20 --task-timeout 60 --stats-interval 30"
dev: setup
	$(PY) -m devstack $(ARGS)

## A token for the local API: make token WHO=alice PLAN=free (WHO, not USER: every shell sets USER)
WHO ?= demo-user
PLAN ?= pro
token: setup
	@$(PY) -m devstack token --user $(WHO) --plan $(PLAN)

## Against a running `make dev`: make upload [FILE=clip.mp4] [CLIP=my-clip] [WHO=demo-user]
upload: setup
	@$(PY) -m devstack upload $(if $(FILE),--file "$(FILE)") $(if $(CLIP),--clip "$(CLIP)") --user $(WHO)

## Against a running `make dev`: upload, connect, publish now and in 30 s, watch them publish.
demo: setup
	$(PY) -m devstack.demo

## Before going live, against the real platform (credentials from the environment; README):
## make live-check PLATFORM=vk, make live-publish PLATFORM=vk CLIP=clip.mp4
live-check: setup
	@$(PY) -m ops.live check $(PLATFORM)

live-publish: setup
	@$(PY) -m ops.live publish $(PLATFORM) $(CLIP)

## Once after deploying: the service bot's channel posts go to the API (README, Telegram).
telegram-webhook: setup
	@$(PY) -m ops.telegram_webhook $(API_URL)

## Regenerate docs/openapi.json from the API's routes (a test fails while it is stale).
openapi: setup
	$(PY) -m autopost.api.openapi > docs/openapi.json

## The template's security scan: checkov pins libraries of its own, so it lives in a
## virtualenv of its own. Every finding is fixed, or skipped in the template with its reason.
$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check checkov==3.2.495

## sam build, offline: aws-sam-cli pins its own boto3, so it lives in a virtualenv of its own,
## and it needs a Python 3.12 interpreter (the Lambda runtime) on PATH.
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
PY312_DIR := $(firstword $(dir $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12)))

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0

build: $(SAM)
	@test -n "$(PY312_DIR)" || { echo "sam build needs python3.12 on PATH (pyenv install 3.12)"; exit 1; }
	PATH="$(PY312_DIR):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build --parameter-overrides JwtIssuer=https://issuer.example JwtAudience=autopost

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache .aws-sam
