# pronghorn — build, run, test. `make run` serves examples/hello.py; `make test` runs everything CI runs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CORE   := src/pronghorn/_core
# The pure-C modules are exactly the engine sources that include neither Python.h nor pymod.h.
PURE_C := $(shell grep -L -E 'Python\.h|pymod\.h' $(CORE)/*.c)
CORE_H := $(wildcard $(CORE)/*.h)
C_TESTS := $(patsubst tests/c/%.c,tests/c/bin/%,$(wildcard tests/c/test_*.c))
# The parser's tests once more on its portable scalar scans (http1.c built without SSE2).
C_TESTS += tests/c/bin/test_http1_nosimd tests/c/bin/test_http1_corpus_nosimd
FUZZERS := $(patsubst tests/fuzz/%.c,tests/fuzz/bin/%,$(wildcard tests/fuzz/fuzz_*.c))
CC     ?= cc
SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_TEST := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Wno-unused-parameter -Werror $(SAN) -I$(CORE) -Itests/c
FUZZ_SECONDS ?= 30
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: all venv build run test ctest pytest fuzz fuzz-short bench bench-ws bench-c bench-tools clean format

all: build

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=77" wheel
	$(PY) -m pip install -q -e ".[test]"
	touch $@

venv: $(VENV)/.installed

# (Re)compile the extension in place whenever a C file changed.
build: venv
	$(PY) setup.py -q build_ext --inplace

run: build
	$(VENV)/bin/pronghorn run examples.hello:app --host $(HOST) --port $(PORT)

# C unit tests under ASan/UBSan, then a short fuzz run (when clang is present), then pytest.
test: ctest fuzz-short pytest

ctest: $(C_TESTS)
	@set -e; for t in $(C_TESTS); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

tests/c/bin/%: tests/c/%.c $(PURE_C) $(CORE_H) $(wildcard tests/c/*.h)
	@mkdir -p tests/c/bin
	$(CC) $(CFLAGS_TEST) -o $@ $< $(PURE_C) -lz

tests/c/bin/%_nosimd: tests/c/%.c $(PURE_C) $(CORE_H) $(wildcard tests/c/*.h)
	@mkdir -p tests/c/bin
	$(CC) $(CFLAGS_TEST) -DPN_NO_SIMD -o $@ $< $(PURE_C) -lz

pytest: build
	$(PY) -m pytest -q

# libFuzzer targets (clang from Debian). `make fuzz` runs each for FUZZ_SECONDS.
tests/fuzz/bin/%: tests/fuzz/%.c $(PURE_C) $(CORE_H)
	@mkdir -p tests/fuzz/bin
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$(CORE) -o $@ $< $(PURE_C) -lz

fuzz: $(FUZZERS)
	@set -e; for f in $(FUZZERS); do n=$$(basename $$f); mkdir -p tests/fuzz/work/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/$$n.dict -artifact_prefix=tests/fuzz/ \
	      tests/fuzz/work/$$n tests/fuzz/corpus/$$n; done

fuzz-short:
	@if command -v clang >/dev/null 2>&1; then $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20; \
	 else echo "clang not installed: skipping the short fuzz run (apt-get install clang)"; fi

# Side-by-side benchmarks (not part of `make test`): peers go into their own virtualenv,
# nginx/wrk/h2load come from Debian. BENCH_ARGS=--quick for a smoke run; BENCH_DURATION,
# BENCH_ROUNDS, BENCH_CONNECTIONS tune a full one. Results: benchmarks/results/.
PEERS    := benchmarks/.venv-peers
PEERS_PY := $(PEERS)/bin/python

$(PEERS)/.installed: benchmarks/requirements-peers.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS_PY) -m pip install -q --upgrade pip
	$(PEERS_PY) -m pip install -q -r benchmarks/requirements-peers.txt
	@$(PEERS_PY) -m pip install -q socketify || echo "note: socketify did not install; its rows are skipped"
	touch $@

bench-tools:
	@missing=""; \
	 command -v nginx >/dev/null 2>&1 || missing="$$missing nginx"; \
	 command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	 command -v h2load >/dev/null 2>&1 || missing="$$missing nghttp2-client"; \
	 command -v taskset >/dev/null 2>&1 || missing="$$missing util-linux"; \
	 command -v valgrind >/dev/null 2>&1 || missing="$$missing valgrind"; \
	 if [ -n "$$missing" ]; then \
	   if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
	   else echo "missing:$$missing (apt-get install them as root)"; exit 1; fi; \
	 fi

bench: build bench-tools $(PEERS)/.installed
	$(PEERS_PY) benchmarks/run.py $(BENCH_ARGS)
	$(PEERS_PY) benchmarks/ws_sse.py $(BENCH_WS_ARGS)

# WebSocket echo messages/s and SSE events/s alone (benchmarks/results/ws_sse.md).
bench-ws: build $(PEERS)/.installed
	$(PEERS_PY) benchmarks/ws_sse.py $(BENCH_WS_ARGS)

# C micro-benchmarks alone: parser and router ns and callgrind instructions, JSON encode.
bench-c: build
	$(PY) benchmarks/micro.py

format:
	clang-format -i $(CORE)/*.c $(CORE)/*.h tests/c/*.c tests/fuzz/*.c

clean:
	rm -rf build tests/c/bin tests/fuzz/bin tests/fuzz/work $(CORE)/../_core*.so src/*.egg-info
