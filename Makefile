# SPDX-License-Identifier: MIT
#
# One GNU Makefile for the whole tree, no configure step.
#   make            build every binary into bin/
#   make check      install what is missing, build, run every test
#   make demo       install, build, start the pipeline before a sample API
#   make asan       build the unit tests with ASan + UBSan
#   make format / format-check / bench / clean / install

PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc

WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wvla -Wimplicit-fallthrough
CFLAGS	?= -O2 -g
# Flags gw needs whatever CFLAGS the user gives.
GW_CFLAGS = -std=c17 $(WARN) -D_GNU_SOURCE -Ilib -MMD -MP $(CFLAGS)
LDLIBS	 = -lhttp_parser -lssl -lcrypto -lyaml -ljansson -lzstd -lcurl \
	   -lpcre2-8 -lbrotlienc -ldeflate -lz -lm
# ISA-L's igzip, where Debian has it (amd64, arm64): gw-export's gzip.
ifneq ($(wildcard /usr/include/isa-l/igzip_lib.h),)
GW_CFLAGS += -DGW_HAVE_ISAL
LDLIBS	 += -lisal
endif
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined

BINS	 = gw-proxy gw-policy gw-capture gw-export gw-replay
PROGS	 = $(BINS:%=bin/%) bin/sample-api bin/fake-intake

LIB_SRC	 = $(wildcard lib/*.c)
LIB_OBJ	 = $(LIB_SRC:%.c=build/%.o)
LIB_AOBJ = $(LIB_SRC:%.c=build/asan/%.o)

# gw-policy's engine (every file but main.c) is also a library, so that
# unit tests and later tools use the same code as the daemon.
POLICY_SRC = $(filter-out gw-policy/main.c,$(wildcard gw-policy/*.c))
POLICY_OBJ = $(POLICY_SRC:%.c=build/%.o)
POLICY_AOBJ = $(POLICY_SRC:%.c=build/asan/%.o)

# gw-export's modules likewise, for their unit tests.
EXPORT_SRC = $(filter-out gw-export/main.c,$(wildcard gw-export/*.c))
EXPORT_OBJ = $(EXPORT_SRC:%.c=build/%.o)
EXPORT_AOBJ = $(EXPORT_SRC:%.c=build/asan/%.o)

# gw-replay's modules likewise.
REPLAY_SRC = $(filter-out gw-replay/main.c,$(wildcard gw-replay/*.c))
REPLAY_OBJ = $(REPLAY_SRC:%.c=build/%.o)
REPLAY_AOBJ = $(REPLAY_SRC:%.c=build/asan/%.o)

UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT	 = $(UNIT_SRC:tests/unit/%.c=build/tests/%)
UNIT_ASAN = $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)

FORMAT_SRC = $(wildcard lib/*.[ch] gw-*/*.[ch] tests/unit/*.[ch] \
	     tests/sample-api/*.[ch] tests/fake-intake/*.[ch])

all: $(PROGS)

build/libgw.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

build/asan/libgw.a: $(LIB_AOBJ)
	$(AR) rcs $@ $^

build/policy.a: $(POLICY_OBJ)
	$(AR) rcs $@ $^

build/asan/policy.a: $(POLICY_AOBJ)
	$(AR) rcs $@ $^

build/export.a: $(EXPORT_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

build/asan/export.a: $(EXPORT_AOBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

build/replay.a: $(REPLAY_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

build/asan/replay.a: $(REPLAY_AOBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

build/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(GW_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(GW_CFLAGS) $(SANFLAGS) -c -o $@ $<

# Each binary is every .c in its folder plus libgw.
define bin_rule
bin/$(1): $$(patsubst %.c,build/%.o,$$(wildcard $(1)/*.c)) build/libgw.a
	@mkdir -p $$(@D)
	$$(CC) $$(GW_CFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach b,$(BINS),$(eval $(call bin_rule,$(b))))

# The same binaries under ASan + UBSan, for a second integration run.
define asan_bin_rule
build/asan/bin/$(1): $$(patsubst %.c,build/asan/%.o,$$(wildcard $(2)/*.c)) \
	    build/asan/libgw.a
	@mkdir -p $$(@D)
	$$(CC) $$(GW_CFLAGS) $$(SANFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach b,$(BINS),$(eval $(call asan_bin_rule,$(b),$(b))))
$(eval $(call asan_bin_rule,sample-api,tests/sample-api))
$(eval $(call asan_bin_rule,fake-intake,tests/fake-intake))

bin/sample-api: $(patsubst %.c,build/%.o,$(wildcard tests/sample-api/*.c)) \
	    build/libgw.a
	@mkdir -p $(@D)
	$(CC) $(GW_CFLAGS) -o $@ $^ $(LDLIBS)

# The stand-in for Datadog, Loki, ntfy, Slack and PagerDuty in tests.
bin/fake-intake: $(patsubst %.c,build/%.o,$(wildcard tests/fake-intake/*.c)) \
	    build/libgw.a
	@mkdir -p $(@D)
	$(CC) $(GW_CFLAGS) -o $@ $^ $(LDLIBS)

build/tests/%: build/tests/unit/%.o build/replay.a build/export.a \
	    build/policy.a build/libgw.a
	$(CC) $(GW_CFLAGS) -o $@ $^ $(LDLIBS)

build/asan/tests/%: build/asan/tests/unit/%.o build/asan/replay.a \
	    build/asan/export.a build/asan/policy.a build/asan/libgw.a
	$(CC) $(GW_CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT)
asan: $(UNIT_ASAN) $(BINS:%=build/asan/bin/%) build/asan/bin/sample-api \
	    build/asan/bin/fake-intake

deps:
	@scripts/install-deps

check: deps
	@$(MAKE) --no-print-directory all unit asan
	@tests/run

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

bench: deps all
	@scripts/bench-proxy
	@scripts/bench-policy
	@scripts/bench-capture
	@scripts/bench-export

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRC)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BINS:%=bin/%) $(DESTDIR)$(PREFIX)/bin

clean:
	rm -rf build bin

.PHONY: all unit asan deps check demo bench format format-check install clean
.PRECIOUS: build/%.o build/asan/%.o

-include $(shell find build -name '*.d' 2>/dev/null)
