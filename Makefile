# Set-up and the two entry points of the README: `make quickstart` (main job) and `make test`.
# Both create or reuse .venv and install the project into it. torch is pinned to the CPU
# build (2.13.0) before anything else so that no dependency can pull CUDA wheels.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.codesign-installed

.PHONY: quickstart test setup browser postgres engines bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,shd,dashboard,postgres,sanafe]'
	# NeuroBench, the oracle of tests/trace/test_neurobench_oracle.py: --no-deps, because its
	# requirements (torchaudio, numba, tonic, an unpinned torch) would replace the CPU torch;
	# at run time its metrics need only snntorch (itself without requirements).
	$(BIN)/python -m pip install --quiet --no-deps neurobench==2.3.0 snntorch==1.0.0
	@touch $(STAMP)

setup: $(STAMP) engines

quickstart: $(STAMP)
	$(BIN)/codesign study run studies/quickstart.yaml

# Headless Chromium for the report's browser test: installed from Debian where we are root
# and apt works; otherwise the browser test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "note: chromium not installed; the browser test will skip"; }

# Debian's PostgreSQL server binaries, for the tests that run several drivers on one study
# against a throwaway server (tests/search/conftest.py starts and stops it on 127.0.0.1);
# without them those tests skip and say why.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	  || echo "note: postgresql not installed; the PostgreSQL tests will skip"; }

# The speech synthesisers of the corpus besides eSpeak NG (docs/data.md): flite and festival with
# their English voices, installed from Debian where we are root and apt works; otherwise the
# corpus leaves them out, says so in its manifest, and their tests skip and say why.
# (eSpeak NG's MBROLA voices would need the mbrola program, which Debian bookworm lacks.)
ENGINE_PACKAGES := flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
engines:
	@{ command -v flite >/dev/null 2>&1 && command -v festival >/dev/null 2>&1 \
	  && ls /usr/share/festival/voices/english/kal_diphone >/dev/null 2>&1; } \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(ENGINE_PACKAGES) >/dev/null) \
	  || echo "note: flite/festival not installed; corpora will name them missing and their tests skip"; }

# The type check first (strict mypy with the pydantic plugin, [tool.mypy] in pyproject.toml):
# make stops at the first failing command, so a type error fails `make test` like a test does.
test: $(STAMP) browser postgres engines
	$(BIN)/python -m mypy codesign
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
