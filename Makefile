# wrtools -- a plain GNU Makefile.
#
#   make          build libwr (build/rel/libwr.a, libwr.so) and every tool
#                 into build/rel/bin; never installs system packages
#   make install  install tools, library, header, wrtools.pc, man pages and
#                 bash completion under PREFIX (or prefix; default
#                 /usr/local), honouring DESTDIR, bindir, libdir,
#                 includedir, mandir; `make uninstall` removes them
#   make deps     install missing Debian packages (apt-get), else nothing
#   make test     deps, sanitizer build (ASan+UBSan), unit tests, bats suites,
#                 the engine's unit tests again on the DIAG build, the
#                 threaded modules' unit tests again under ThreadSanitizer
#   make DIAG=1   the diagnostic build: invariants asserted after each commit
#   make demo     deps, build, and run the tools on the shipped testdata
#   make bench    deps, optimised build, run bench/
#   make fuzz     libFuzzer targets for a bounded time (clang)
#   make docs     deps (and chromium), build, and remake docs/map-people.*
#                 (the README's block map: SVG, HTML page, PNG rendering)
#   make lint     cppcheck over lib/ and tools/; no tree-file read outside
#                 lib/pagesrc.c (tests/lint_reads.sh); no cycle between
#                 lib/ modules (tests/lint_layers.sh, from the objects)
#   make clean

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wno-unused-parameter
DEFS = -D_GNU_SOURCE
PKGS = libbson-1.0 zlib libxxhash
DEB_PKGS = build-essential pkg-config libbson-dev zlib1g-dev libxxhash-dev bats jq python3 cmark-gfm \
           time valgrind mandoc python3-jsonschema tmux bash-completion \
           libxml2-utils
# make docs only: headless Chromium renders the block map to PNG
DOCS_PKGS = chromium

# Installation directories (GNU conventions; PREFIX and prefix both work).
PREFIX ?= /usr/local
prefix ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir ?= $(exec_prefix)/bin
libdir ?= $(exec_prefix)/lib
includedir ?= $(prefix)/include
datarootdir ?= $(prefix)/share
mandir ?= $(datarootdir)/man
pkgconfigdir ?= $(libdir)/pkgconfig
bashcompdir ?= $(datarootdir)/bash-completion/completions

# The library's version is wr.h's; the soname carries the major number,
# which rises with every incompatible change of wr.h (see wr.h).
VERSION := $(shell sed -n 's/^\#define WR_VERSION_STRING "\(.*\)"/\1/p' lib/wr.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
SONAME = libwr.so.$(SOMAJOR)

SAN ?= 0
ifeq ($(SAN),1)
BUILD = build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer
OPT = -O1 -g
else ifeq ($(SAN),thread)
# ThreadSanitizer (it cannot share a build with ASan): make test builds
# only the threaded modules' unit tests with it (TSAN_TESTS)
BUILD = build/tsan
SANFLAGS = -fsanitize=thread -fno-omit-frame-pointer
OPT = -O1 -g
else
BUILD = build/rel
SANFLAGS =
OPT = $(CFLAGS)
endif
# DIAG=1: the engine asserts its invariants after each checkpoint and
# commit (lib/diag.h); objects go to their own directory (build/rel-diag,
# build/san-diag with SAN=1).
DIAG ?= 0
ifeq ($(DIAG),1)
BUILD := $(BUILD)-diag
DIAGFLAGS = -DWR_DIAG
else
DIAGFLAGS =
endif
LIBA = $(BUILD)/libwr.a
LIBSO = $(BUILD)/libwr.so.$(VERSION)
PCFILE = $(BUILD)/wrtools.pc

# pkg-config is asked only inside recipes, after `deps` may have installed it.
DEP_CFLAGS = $(shell pkg-config --cflags $(PKGS))
DEP_LIBS = $(shell pkg-config --libs $(PKGS)) -lm -pthread
ALL_CFLAGS = $(OPT) $(WARN) $(DEFS) $(DIAGFLAGS) $(SANFLAGS) -Ilib $(DEP_CFLAGS) -MMD -MP
# lib/ objects go into both libwr.a and libwr.so
LIB_CFLAGS = $(ALL_CFLAGS) -fPIC
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

.PHONY: all build deps test test-build diag-build tsan-build demo docs bench bench-peers \
        fuzz lint clean install uninstall FORCE

all: build

build: $(LIBA) $(TOOL_BIN) $(LIBSO) $(PCFILE)

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

$(BUILD)/obj/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# libwr.so.X.Y.Z with soname libwr.so.X; libwr.so.X and libwr.so link to it
$(LIBSO): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(DEP_LIBS)
	ln -sf $(notdir $@) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libwr.so

# Rewritten when the directories or the version change (make install
# PREFIX=... after make), otherwise left alone.
$(PCFILE): FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' 'prefix=$(prefix)' 'exec_prefix=$(exec_prefix)' \
	  'libdir=$(libdir)' 'includedir=$(includedir)' '' \
	  'Name: wrtools' \
	  'Description: libwr, the engine of wrtools (copy-on-write B+tree storage files)' \
	  'Version: $(VERSION)' 'Requires.private: $(PKGS)' \
	  'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lwr' \
	  'Libs.private: -lm -pthread' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

FORCE:

$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(CLI_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(CLI_OBJ) $(LIBA) $(DEP_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_HELP) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(UNIT_HELP) $(LIBA) $(DEP_LIBS)

# test_oom makes malloc fail for chosen sizes (its own __wrap_malloc)
$(BUILD)/tests/test_oom: LDFLAGS_ALL += -Wl,--wrap=malloc

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBA) $(DEP_LIBS)

# The engine's unit tests that make test runs a second time on the DIAG
# build (each commit checked in full: the slower suites stay out).
DIAG_TESTS = test_diag test_block test_btree test_extent test_verify \
             test_salvage test_diff test_reader

# The unit tests of the modules that start threads (ipipe and what feeds
# it: compact, docsout; vfdocs; digest; logread), which make test runs a
# second time under ThreadSanitizer (SAN=thread): a data race, a lock
# misuse or a thread never joined fails the run.
# Not run there (half a minute or more each under it on a loaded machine,
# for threads the rest already drive): the power-loss sweeps (the crash
# sweep forks at the same points and runs: it finds a thread a crash
# leaves unjoined), and the damage and walk sweeps that run the same
# checks on the same threads hundreds of times.
TSAN_TESTS = test_ipipe test_dump test_compact test_verify test_digest \
             test_logread
TSAN_SKIP = test_compact_power_sweep test_compact_backup_power_sweep \
            test_walk_in_place_equals_copying \
            test_verify_random_damage_never_crashes \
            test_dump_random_damage_never_crashes

# make test's four builds use every core the process may (nproc) unless
# make was given -j itself; tests/run.sh runs as many tests at a time
# (WR_TEST_JOBS overrides it)
TEST_MAKE = $(MAKE) --no-print-directory \
            $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 1))

test: deps
	@$(TEST_MAKE) build
	@$(TEST_MAKE) SAN=1 test-build
	@$(TEST_MAKE) SAN=1 DIAG=1 diag-build
	@$(TEST_MAKE) SAN=thread tsan-build
	@WR_DIAG_TESTS="$(DIAG_TESTS)" WR_TSAN_TESTS="$(TSAN_TESTS)" \
	  WR_TSAN_SKIP="$(TSAN_SKIP)" tests/run.sh build/san build/san-diag build/tsan

test-build: $(LIBA) $(TOOL_BIN) $(UNIT_BIN)

diag-build: $(DIAG_TESTS:%=$(BUILD)/tests/%)

tsan-build: $(TSAN_TESTS:%=$(BUILD)/tests/%)

demo: deps
	@$(MAKE) --no-print-directory build
	@./demo.sh build/rel/bin

docs: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DOCS_PKGS)"
	@$(MAKE) --no-print-directory build
	@docs/render-map.sh build/rel/bin

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

lint: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS=cppcheck
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c11 -D_GNU_SOURCE -D__x86_64__ -D__GNUC__ -Ilib \
	  --suppress=missingIncludeSystem lib tools
	tests/lint_reads.sh
	@$(MAKE) --no-print-directory $(LIBA)
	tests/lint_layers.sh $(BUILD)/obj/lib

# Man pages are docs/man/*.1 and *.5; every tools/wr-*.c installs its
# binary, its completion (one script serves all) and its page.
MAN1 = $(wildcard docs/man/*.1)
MAN5 = $(wildcard docs/man/*.5)
TOOLS = $(TOOL_SRC:tools/%.c=%)

install: build
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(libdir) \
	  $(DESTDIR)$(includedir) $(DESTDIR)$(pkgconfigdir) \
	  $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man5 \
	  $(DESTDIR)$(bashcompdir)
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(bindir)
	install -m 644 $(LIBA) $(DESTDIR)$(libdir)
	install -m 755 $(LIBSO) $(DESTDIR)$(libdir)
	ln -sf libwr.so.$(VERSION) $(DESTDIR)$(libdir)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(libdir)/libwr.so
	install -m 644 lib/wr.h $(DESTDIR)$(includedir)
	install -m 644 $(PCFILE) $(DESTDIR)$(pkgconfigdir)
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(mandir)/man1)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(mandir)/man5)
	for t in $(TOOLS); do \
	  install -m 644 docs/completion/wrtools.bash $(DESTDIR)$(bashcompdir)/$$t \
	  || exit 1; done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(bindir)/,$(TOOLS)) \
	  $(addprefix $(DESTDIR)$(libdir)/,libwr.a libwr.so.$(VERSION) \
	                                   $(SONAME) libwr.so) \
	  $(DESTDIR)$(includedir)/wr.h $(DESTDIR)$(pkgconfigdir)/wrtools.pc \
	  $(addprefix $(DESTDIR)$(mandir)/man1/,$(notdir $(MAN1))) \
	  $(addprefix $(DESTDIR)$(mandir)/man5/,$(notdir $(MAN5))) \
	  $(addprefix $(DESTDIR)$(bashcompdir)/,$(TOOLS))

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
