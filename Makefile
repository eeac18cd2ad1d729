# maildrill — common tasks; see README.md. The two set-up commands are `make run` and `make test`.
PYTHON ?= python3
USERS ?= 1000
DEBIAN_TOOLS = swaks curl postfix bind9-dnsutils

.PHONY: run install deps up down status check test lint format bench drills base-image image docker-drill clean

# the main job: the testbed up on the local backend, mail through it, then one scored drill on it
run: install
	maildrill up --users $(USERS)
	maildrill check
	maildrill drill scenarios/webserver-processes-abnormal.yaml --auto --report reports/run

install: deps
	$(PYTHON) -m pip install -q --disable-pip-version-check -e '.[dev]'

# swaks and curl are the tests' real clients; postfix only for smtp-source (benchmarks), never run
deps:
	@if ! command -v swaks >/dev/null || ! command -v curl >/dev/null || ! command -v smtp-source >/dev/null || ! command -v dig >/dev/null; then \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_TOOLS) >/dev/null; \
	  postfix stop >/dev/null 2>&1 || true; \
	fi

up:
	maildrill up --users $(USERS)

down:
	maildrill down

status:
	maildrill status

check:
	maildrill check

test: install
	$(PYTHON) -m pytest -q

lint:
	ruff check testbed tests
	ruff format --check testbed tests
	mypy testbed

format:
	ruff check --fix testbed tests
	ruff format testbed tests

bench: install
	$(PYTHON) tests/bench/run.py

# every shipped scenario with its runbook, each on a fresh testbed; reports in reports/
SCENARIOS = $(filter-out scenarios/plan.yaml,$(wildcard scenarios/*.yaml))
drills: install
	maildrill --home .maildrill-drills drill $(SCENARIOS) --auto --report reports --junit reports/junit.xml

# --- the docker backend (README, "Containers") ---
# the base image from a Debian root file system (no registry needed); the node image from wheels
base-image:
	containers/base-image.sh

image: install
	containers/build-image.sh

# the disk-array drill with its runbook, every node a container; then nothing of it may be left
docker-drill: image
	maildrill --home .maildrill-docker drill scenarios/disk-array-offline.yaml --auto --backend docker --report reports/docker
	maildrill --home .maildrill-docker down
	@left="$$(docker ps -aq --filter label=org.maildrill.home=$(CURDIR)/.maildrill-docker; docker network ls -q --filter label=org.maildrill.home=$(CURDIR)/.maildrill-docker)"; \
	  if [ -n "$$left" ]; then echo "left behind: $$left"; exit 1; fi; echo "docker: nothing left behind"

clean:
	-maildrill down
	-maildrill --home .maildrill-drills down
	-maildrill --home .maildrill-docker down
	rm -rf .maildrill .maildrill-drills .maildrill-docker reports .pytest_cache .mypy_cache .ruff_cache
