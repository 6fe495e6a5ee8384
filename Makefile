# docmill — the two commands a new machine needs:
#   make run    install what is missing, build, index samples/, show searches
#   make test   install what is missing, build, run every test (ctest)
# Both work on a fresh Debian bookworm as root or with sudo.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
# apt as root, or through sudo (keeping DEBIAN_FRONTEND) otherwise.
APT        := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo -E apt-get)

# Debian packages: what builds docmill, and what its tests use on top.
DEPS_BUILD := cmake make gcc g++ pkg-config luajit libluajit-5.1-dev lua-cjson-dev \
  libcurl4-openssl-dev libcjson-dev libedit-dev libuv1-dev libsqlite3-dev libutf8proc-dev \
  libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng tesseract-ocr-jpn \
  libmupdf-dev libmujs-dev libgumbo-dev libopenjp2-7-dev libjbig2dec0-dev \
  libharfbuzz-dev libfreetype-dev libjpeg-dev libpng-dev zlib1g-dev libbrotli-dev
DEPS_TEST  := lua-check python3 python3-reportlab python3-pil fonts-ipafont-gothic fonts-dejavu-core
# The benchmark's baseline (the seed's tools) and its CER computation.
DEPS_BENCH := python3-pdfminer poppler-utils python3-levenshtein

.PHONY: all deps deps-test deps-bench build run test test-asan bench bench-full clean samples

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

samples:
	/usr/bin/python3 tests/corpus/make_corpus.py --samples samples

deps-bench: deps-test
	$(call install_missing,$(DEPS_BENCH))

# docmill against the seed-style baseline, side by side (bench/run.py).
bench: deps-bench build
	/usr/bin/python3 bench/run.py --size quick

bench-full: deps-bench build
	/usr/bin/python3 bench/run.py --size full

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
