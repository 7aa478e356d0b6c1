# fuzz/fuzz.mk -- libFuzzer targets, built with clang and run for a bounded
# time each (make fuzz calls this from the top directory).
#
#   make fuzz                   every fuzz/fuzz_*.c for FUZZ_TIME seconds
#   make fuzz FUZZ_TIME=600     longer
#
# Target fuzz/fuzz_NAME.c starts from the seeds in fuzz/corpus/NAME/ and
# keeps what it learns in build/fuzz/corpus-NAME/ (not committed). A crash
# leaves crash-* in build/fuzz/; copy it into fuzz/corpus/NAME/ so the
# sanitizer test suite replays it from then on.

CLANG ?= clang
FUZZ_TIME ?= 60
FUZZ_FLAGS ?= -max_len=65536 -timeout=20 -rss_limit_mb=2048
FBUILD = build/fuzz
PKGS = libbson-1.0 zlib libxxhash
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
# -MMD -MP: an object is rebuilt when a header it includes changes (a
# stale object with an old struct layout makes false crashes)
CFLAGS_F = -g -O1 -std=c11 -D_GNU_SOURCE -Ilib $(shell pkg-config --cflags $(PKGS)) $(SAN) \
           -MMD -MP
LIBS_F = $(shell pkg-config --libs $(PKGS)) -lm -pthread

LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(FBUILD)/obj/%.o)
TARGETS = $(patsubst fuzz/%.c,$(FBUILD)/%,$(wildcard fuzz/fuzz_*.c))

.PHONY: run build
.SECONDARY: $(LIB_OBJ)
run: build
	@for t in $(TARGETS); do \
	  name=$${t##*/fuzz_}; \
	  mkdir -p $(FBUILD)/corpus-$$name fuzz/corpus/$$name; \
	  echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	  (cd $(FBUILD) && ./$${t##*/} -max_total_time=$(FUZZ_TIME) $(FUZZ_FLAGS) \
	     -print_final_stats=1 corpus-$$name ../../fuzz/corpus/$$name) \
	     > $(FBUILD)/$${t##*/}.log 2>&1 \
	  || { tail -40 $(FBUILD)/$${t##*/}.log; exit 1; }; \
	  grep -E '^(stat::number_of_executed_units|Done)' $(FBUILD)/$${t##*/}.log; \
	done

build: $(TARGETS)

$(FBUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_F) -fsanitize=fuzzer-no-link -c $< -o $@

$(FBUILD)/fuzz_%: fuzz/fuzz_%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_F) -fsanitize=fuzzer $< $(LIB_OBJ) $(LIBS_F) -o $@

-include $(shell find $(FBUILD) -name '*.d' 2>/dev/null)
