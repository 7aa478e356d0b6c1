# wrtools -- a plain GNU Makefile.
#
#   make          build lib/libwr.a and every tool into build/rel/bin
#   make deps     install missing Debian packages (apt-get), else nothing
#   make test     deps, sanitizer build (ASan+UBSan), unit tests, bats suites
#   make demo     deps, build, and run the tools on the shipped testdata
#   make bench    deps, optimised build, run bench/
#   make fuzz     libFuzzer targets for a bounded time (clang)
#   make lint     cppcheck over lib/ and tools/
#   make clean

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wno-unused-parameter
DEFS = -D_GNU_SOURCE
PKGS = libbson-1.0 zlib
DEB_PKGS = build-essential pkg-config libbson-dev zlib1g-dev bats jq python3 time valgrind
prefix ?= /usr/local

SAN ?= 0
ifeq ($(SAN),1)
BUILD = build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer
OPT = -O1 -g
LIBA = $(BUILD)/libwr.a
else
BUILD = build/rel
SANFLAGS =
OPT = $(CFLAGS)
LIBA = lib/libwr.a
endif

# pkg-config is asked only inside recipes, after `deps` may have installed it.
DEP_CFLAGS = $(shell pkg-config --cflags $(PKGS))
DEP_LIBS = $(shell pkg-config --libs $(PKGS)) -lm -pthread
ALL_CFLAGS = $(OPT) $(WARN) $(DEFS) $(SANFLAGS) -Ilib $(DEP_CFLAGS) -MMD -MP
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_SRC = $(wildcard tools/wr-*.c)
TOOL_BIN = $(TOOL_SRC:tools/%.c=$(BUILD)/bin/%)
CLI_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/cli.c))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELP = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/unit/helper_*.c))
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# keep objects that pattern chains would otherwise delete as intermediate
.PRECIOUS: $(BUILD)/obj/%.o

.PHONY: all build deps test test-build demo bench bench-peers fuzz lint clean install

all: deps
	@$(MAKE) --no-print-directory build

build: $(LIBA) $(TOOL_BIN)

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(CLI_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(CLI_OBJ) $(LIBA) $(DEP_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_HELP) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(UNIT_HELP) $(LIBA) $(DEP_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBA) $(DEP_LIBS)

test: deps
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory SAN=1 test-build
	@tests/run.sh build/san

test-build: $(LIBA) $(TOOL_BIN) $(UNIT_BIN)

demo: deps
	@$(MAKE) --no-print-directory build
	@./demo.sh build/rel/bin

bench: deps
	@$(MAKE) --no-print-directory build $(BENCH_BIN)
	@bench/run.sh build/rel

# The engines bench/ compares against (Debian 12 has them all); a package
# this system's lists lack is named and skipped. bench/run.sh uses whatever
# is installed.
bench-peers: deps
	@sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; missing=""; ok=""; \
	for p in wiredtiger libwiredtiger-dev lmdb-utils liblmdb-dev sqlite3 \
	         libsqlite3-dev; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  $$sudo apt-get update -qq; \
	  for p in $$missing; do \
	    if apt-cache policy $$p 2>/dev/null | grep -q 'Candidate: [0-9]'; \
	    then ok="$$ok $$p"; \
	    else echo "make bench-peers: no package $$p here, skipped"; fi; \
	  done; \
	  if [ -n "$$ok" ]; then echo "make bench-peers: installing$$ok"; \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$ok; fi; \
	fi

fuzz: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="clang libclang-rt-14-dev"
	@$(MAKE) --no-print-directory -f fuzz/fuzz.mk

lint:
	@$(MAKE) --no-print-directory deps DEB_PKGS=cppcheck
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c11 -D_GNU_SOURCE -D__x86_64__ -D__GNUC__ -Ilib \
	  --suppress=missingIncludeSystem lib tools

install: all
	install -d $(DESTDIR)$(prefix)/bin $(DESTDIR)$(prefix)/lib $(DESTDIR)$(prefix)/include
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(prefix)/bin
	install -m 644 lib/libwr.a $(DESTDIR)$(prefix)/lib
	install -m 644 lib/wr.h $(DESTDIR)$(prefix)/include

clean:
	rm -rf build lib/libwr.a

-include $(shell find build -name '*.d' 2>/dev/null)
