# sweep: build with `make`, test with `make test`, sanitizers with `make asan`.
# Objects go to $(BUILD); the library is $(BUILD)/libsweep.a, the CLI $(BUILD)/sweep.

CC      ?= cc
BUILD   ?= build
PKG_CONFIG ?= pkg-config
PREFIX  ?= /usr/local
OPT     ?= -O3
PKGS    := yaml-0.1 sqlite3 zlib

# Dependencies through pkg-config, with the Debian names as a fallback.
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lyaml -lsqlite3 -lz)

# OpenMP probed with a compile test; `make OPENMP=` builds without it.
OPENMP ?= $(shell printf 'int main(void){return 0;}' | \
            $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo -fopenmp)

# ISO C11 keeps -ffp-contract=off by default; kernels opt in to FMA through
# target_clones. Never -ffast-math: it breaks NaN checks and bit-identity.
# CPPFLAGS from the environment or the command line (-I, -D) reach every
# compile.
CFLAGS  ?= $(OPT) -g
override CPPFLAGS += -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS)
override CFLAGS += -std=c11 -Wall -Wextra -Wshadow $(OPENMP) $(SAN)
LDFLAGS += $(OPENMP) $(SAN)
LDLIBS  += $(PKG_LIBS) -lpthread -lm

# Every .c under the library's folders, subfolders included (src/sweep/store/...).
LIB_SRC  := $(sort $(shell find src/base src/nn src/data src/train src/sweep src/report -name '*.c'))
CLI_SRC  := $(sort $(shell find src/cli -name '*.c'))
TEST_SRC := $(sort $(wildcard tests/unit/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
DEPS     := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

.PHONY: all test asan check demo bench install clean fuzz
all: $(BUILD)/sweep

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The kernels' FMA clones may fuse a*b+c (GCC vector code needs this to
# emit vfmadd; each fusion is fixed at compile time, so results stay
# deterministic).
$(BUILD)/src/nn/%.o: override CFLAGS += -ffp-contract=fast

# The optimizers' sqrtf vectorizes only without errno (a domain error
# cannot happen there; no result changes).
$(BUILD)/src/train/optim_rules.o: override CFLAGS += -fno-math-errno

# Made afresh: `ar r` keeps members whose sources were moved or removed
# (src/sweep/config.c -> src/sweep/config/), which then define twice.
$(BUILD)/libsweep.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/sweep: $(CLI_OBJ) $(BUILD)/libsweep.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_unit: $(TEST_OBJ) $(BUILD)/libsweep.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/synth_idx: tests/tools/synth_idx.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/synth_cifar: tests/tools/synth_cifar.c $(BUILD)/libsweep.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The report page from fixed data, for tests/e2e/report.sh; built with the tests.
test: $(BUILD)/report_demo
$(BUILD)/report_demo: tests/tools/report_demo.c $(BUILD)/libsweep.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests, then the CLI end to end; tests/run.sh prints "N passed, M failed".
test: $(BUILD)/sweep $(BUILD)/test_unit $(BUILD)/synth_idx $(BUILD)/synth_cifar
	@BUILD=$(BUILD) E2E="$(E2E)" bash tests/run.sh

# The unit tests and the core end-to-end tests under AddressSanitizer and
# UndefinedBehaviorSanitizer (the cluster, plot and fuzz scripts exercise the
# same library code and would only add minutes).
asan:
	$(MAKE) BUILD=$(BUILD)/asan OPT=-O1 E2E="cli crash" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" test

# Everything CI runs: the tests, then the sanitizer run; the last line is
# the grand total "N passed, M failed".
check:
	@bash tests/check.sh "$(MAKE)"

# libFuzzer targets for the input parsers (tests/fuzz/), built with clang into
# $(BUILD)/fuzz, each run FUZZ_SECONDS on a copy of its seed corpus; fails on any
# crash, leak or timeout. FUZZ_MERGE=1 adds new coverage to the corpora.
# The library without src/nn (GCC-only builtins there) but with the
# activation table that config reads (it builds with clang; the smooth
# kernels it names are stubs, tests/fuzz/act_smooth_stub.c), as an archive: each
# target links only the objects it needs. No OpenMP, so coverage does not
# depend on thread timing.
# FUZZ_DIR is passed down as is, so the inner make (whose BUILD is
# FUZZ_DIR) does not nest it again.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     ?= $(BUILD)/fuzz
FUZZ_TARGETS := fuzz_config fuzz_idx fuzz_dataset fuzz_cifar
FUZZ_OBJ     := $(patsubst %.c,$(FUZZ_DIR)/%.o,$(filter-out src/nn/%,$(LIB_SRC)) \
                src/nn/activation.c tests/fuzz/act_smooth_stub.c)
FUZZ_SAN     := address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

fuzz:
	$(MAKE) BUILD=$(FUZZ_DIR) FUZZ_DIR=$(FUZZ_DIR) CC=$(FUZZ_CC) OPT=-O1 OPENMP= \
	  SAN="-fsanitize=fuzzer-no-link,$(FUZZ_SAN)" $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_MERGE=$(FUZZ_MERGE) \
	  bash tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_TARGETS)

$(FUZZ_DIR)/libsweep-nonn.a: $(FUZZ_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_TARGETS:%=$(FUZZ_DIR)/%): $(FUZZ_DIR)/%: tests/fuzz/%.c tests/fuzz/fuzz_util.h \
                                $(FUZZ_DIR)/libsweep-nonn.a
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libsweep-nonn.a \
	  $(LDFLAGS) $(LDLIBS)

# The quick sweep on the default data, then the comparison.
demo: $(BUILD)/sweep
	$(BUILD)/sweep run configs/quick.yaml

# Speed and memory against PyTorch on this machine (tools/bench.sh): prints
# one table and appends a row per activation to BENCHMARKS.md. A few
# minutes on 2 cores; FULL=1 measures whole epochs of the full dataset.
# bench links like the tests; peak_flops is built for this host's widest
# FMA (contraction on explicitly, so a*b+c is one FMA; no -ffast-math).
$(BUILD)/bench: $(BUILD)/tools/bench.o $(BUILD)/tools/bench_layers.o $(BUILD)/libsweep.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/peak_flops: tools/peak_flops.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O2 -march=native -ffp-contract=fast $(OPENMP) -o $@ $<

bench: $(BUILD)/sweep $(BUILD)/bench $(BUILD)/peak_flops $(BUILD)/synth_cifar
	@BUILD=$(BUILD) FULL=$(FULL) bash tools/bench.sh

-include $(BUILD)/tools/bench.d $(BUILD)/tools/bench_layers.d

# The binary, its man page and its bash completion, under $(DESTDIR)$(PREFIX);
# uninstall removes the same three files.
BINDIR      ?= $(PREFIX)/bin
MAN1DIR     ?= $(PREFIX)/share/man/man1
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

install: $(BUILD)/sweep
	install -D -m 755 $(BUILD)/sweep $(DESTDIR)$(BINDIR)/sweep
	install -D -m 644 tools/sweep.1 $(DESTDIR)$(MAN1DIR)/sweep.1
	install -D -m 644 tools/sweep.bash $(DESTDIR)$(BASHCOMPDIR)/sweep

.PHONY: uninstall
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sweep $(DESTDIR)$(MAN1DIR)/sweep.1 $(DESTDIR)$(BASHCOMPDIR)/sweep

clean:
	rm -rf $(BUILD)

-include $(DEPS)
