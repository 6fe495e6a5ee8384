# docmill — the two commands a new machine needs:
#   make run    install what is missing, build, index samples/, show searches
#   make test   install what is missing, build, run every test (ctest)
# Both work on a fresh Debian bookworm as root or with sudo.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# How long `make fuzz` fuzzes each harness, after replaying its saved inputs.
FUZZ_SECONDS ?= 30
JOBS       ?= $(shell nproc)
# apt as root, or through sudo (keeping DEBIAN_FRONTEND) otherwise.
APT        := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo -E apt-get)

# Debian packages: what builds docmill, and what its tests use on top.
DEPS_BUILD := cmake make gcc g++ pkg-config luajit libluajit-5.1-dev lua-cjson-dev \
  libcurl4-openssl-dev libcjson-dev libedit-dev libuv1-dev libsqlite3-dev libutf8proc-dev \
  libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng tesseract-ocr-jpn tesseract-ocr-jpn-vert tesseract-ocr-osd \
  libmupdf-dev libmujs-dev libgumbo-dev libopenjp2-7-dev libjbig2dec0-dev \
  libharfbuzz-dev libfreetype-dev libjpeg-dev libpng-dev zlib1g-dev libbrotli-dev \
  libxml2-dev libgmime-3.0-dev libgsf-1-dev libarchive-dev
DEPS_TEST  := lua-check python3 python3-reportlab python3-pil python3-xlwt fonts-ipafont-gothic \
  fonts-dejavu-core antiword catdoc
# The benchmark's baseline (the seed's tools) and its CER computation.
DEPS_BENCH := python3-pdfminer poppler-utils python3-levenshtein
# Packaging (dpkg-shlibdeps), and what test-deploy checks the deploy/ files with.
DEPS_PACKAGE := dpkg-dev binutils
DEPS_DEPLOY := debootstrap packer python3-yaml systemd
# libFuzzer comes with clang's runtime libraries.
DEPS_FUZZ  := clang libclang-rt-14-dev
FUZZ_TARGETS := job_message bulk_response policy extract rtf html ooxml mail archive

.PHONY: all deps deps-test deps-bench deps-fuzz build run test test-asan fuzz package test-deploy bench bench-full clean samples

all: build

# Installs only what is missing, so a second run costs a few dpkg queries.
define install_missing
	@missing=$$(for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  DEBIAN_FRONTEND=noninteractive $(APT) update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEPS_BUILD))

deps-test: deps
	$(call install_missing,$(DEPS_TEST))
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "installing: nodejs npm"; \
	  DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq --no-install-recommends nodejs npm; }
	@# The local SQS/S3 stand-in (fauxqs), pinned by tests/aws/package-lock.json.
	@[ tests/aws/node_modules/.package-lock.json -nt tests/aws/package-lock.json ] || \
	  (cd tests/aws && npm ci --no-audit --no-fund --loglevel=error)

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/docmill run --once --source samples --index sqlite:docmill.db
	@echo; echo '$$ docmill search 議事録'
	@./$(BUILD)/docmill search 議事録 --index sqlite:docmill.db
	@echo; echo '$$ docmill search "payment terms"'
	@./$(BUILD)/docmill search "payment terms" --index sqlite:docmill.db

test: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j 2

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps-test
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDOCMILL_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j 2

deps-fuzz: deps
	$(call install_missing,$(DEPS_FUZZ))

# The libFuzzer harnesses of tests/fuzz, built with clang + ASan + UBSan:
# first every saved crashing input and seed once (ctest), then FUZZ_SECONDS
# of new inputs per harness, one harness at a time, on a scratch copy of its
# seeds. A crash fails the target; its input is left in
# $(FUZZ_BUILD)/fuzz-out/<target>/ for tests/fuzz/regressions/<target>/.
fuzz: deps-fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DDOCMILL_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_harnesses
	cd $(FUZZ_BUILD) && ctest --output-on-failure -R '^fuzz_'
	@for t in $(FUZZ_TARGETS); do \
	  out=$(FUZZ_BUILD)/fuzz-out/$$t; rm -rf $$out; mkdir -p $$out/corpus; \
	  cp tests/fuzz/seeds/$$t/* $$out/corpus/; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  ./$(FUZZ_BUILD)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
	    -dict=tests/fuzz/$$t.dict -artifact_prefix=$$out/ -print_final_stats=1 \
	    $$out/corpus </dev/null >$$out/log 2>&1; rc=$$?; \
	  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec)' $$out/log; \
	  if [ $$rc -ne 0 ]; then \
	    tail -n 60 $$out/log; \
	    echo "fuzz_$$t failed (exit $$rc); its input is in $$out/"; exit 1; \
	  fi; \
	done

samples:
	/usr/bin/python3 tests/corpus/make_corpus.py --samples samples

deps-bench: deps-test
	$(call install_missing,$(DEPS_BENCH))

# docmill against the seed-style baseline, side by side (bench/run.py).
bench: deps-bench build
	/usr/bin/python3 bench/run.py --size quick

bench-full: deps-bench build
	/usr/bin/python3 bench/run.py --size full

# The .deb (deploy/package/build-deb.sh): dist/docmill_<version>_<arch>.deb.
package: deps
	$(call install_missing,$(DEPS_PACKAGE))
	deploy/package/build-deb.sh

# Everything of deploy/ that can be checked without AWS (deploy/README.md):
# the package installed into a clean bookworm root, the unit, the AMI
# template, the stack.
test-deploy: package deps-test build
	$(call install_missing,$(DEPS_DEPLOY))
	/usr/bin/python3 deploy/cloudformation/validate.py
	packer validate -var deb=/dev/null deploy/packer/docmill.pkr.hcl && echo "packer validate: ok"
	@[ -f $(BUILD)/tests/corpus/truth.json ] || \
	  /usr/bin/python3 tests/corpus/make_corpus.py $(BUILD)/tests/corpus >/dev/null
	deploy/test/install_test.sh dist/docmill_$$(cat VERSION)_$$(dpkg --print-architecture).deb \
	  $(BUILD)/tests/corpus

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-pkg dist
