# sweep: build with `make`, test with `make test`, sanitizers with `make asan`.
# Objects go to $(BUILD); the library is $(BUILD)/libsweep.a, the CLI $(BUILD)/sweep.

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
OPT     ?= -O3
PKGS    := yaml-0.1 sqlite3 zlib

# Dependencies through pkg-config, with the Debian names as a fallback.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lyaml -lsqlite3 -lz)

# OpenMP probed with a compile test; `make OPENMP=` builds without it.
OPENMP ?= $(shell printf 'int main(void){return 0;}' | \
            $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo -fopenmp)

# ISO C11 keeps -ffp-contract=off by default; kernels opt in to FMA through
# target_clones. Never -ffast-math: it breaks NaN checks and bit-identity.
CFLAGS  ?= $(OPT) -g
override CFLAGS += -std=c11 -Wall -Wextra -Wshadow -D_GNU_SOURCE -Iinclude \
                   $(OPENMP) $(PKG_CFLAGS) $(SAN)
LDFLAGS += $(OPENMP) $(SAN)
LDLIBS  += $(PKG_LIBS) -lpthread -lm

LIB_SRC  := $(sort $(wildcard src/base/*.c src/nn/*.c src/data/*.c src/train/*.c src/sweep/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
DEPS     := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

.PHONY: all test asan demo bench install clean check-deps
all: $(BUILD)/sweep

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The kernels' FMA clones may fuse a*b+c (GCC vector code needs this to
# emit vfmadd; each fusion is fixed at compile time, so results stay
# deterministic).
$(BUILD)/src/nn/%.o: override CFLAGS += -ffp-contract=fast

$(BUILD)/libsweep.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/sweep: $(CLI_OBJ) $(BUILD)/libsweep.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_unit: $(TEST_OBJ) $(BUILD)/libsweep.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/synth_idx: tests/tools/synth_idx.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# Unit tests, then the CLI end to end; tests/run.sh prints "N passed, M failed".
test: $(BUILD)/sweep $(BUILD)/test_unit $(BUILD)/synth_idx
	@BUILD=$(BUILD) bash tests/run.sh

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build/asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" test

# The quick sweep on the default data, then the comparison.
demo: $(BUILD)/sweep
	$(BUILD)/sweep run configs/quick.yaml

install: $(BUILD)/sweep
	install -D -m 755 $(BUILD)/sweep $(DESTDIR)$(PREFIX)/bin/sweep

clean:
	rm -rf build

-include $(DEPS)
