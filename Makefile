# tokenward build. The order follows libbpf-bootstrap: vmlinux.h from the
# running kernel's BTF, then each sensor's BPF object, then one linked
# object and its skeleton, then the userspace binary.

BUILD      ?= build
# Every CPU builds, unless the caller gave -j (make test's builds are a
# third of its time on two cores). Sub-makes share the jobserver.
ifeq ($(filter -j% j%,$(firstword $(MAKEFLAGS)) $(filter -j%,$(MAKEFLAGS))),)
MAKEFLAGS  += -j$(shell nproc)
endif
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= cc
ARCH       := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

PKGS       := libbpf libpcre2-8 libcjson zlib yaml-0.1 sqlite3 libcurl libcrypto libnghttp2 libsystemd
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN       := -Wall -Wextra -Werror
CFLAGS     ?= -O2 -g
CFLAGS     += $(WARN) -std=gnu11 -D_GNU_SOURCE -I$(BUILD) -Ibpf -Iuser $(PKG_CFLAGS)
LDLIBS     += $(PKG_LIBS) -lelf -lpthread -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) \
              -Wno-unused-function -Wno-unused-parameter -I$(BUILD) -Ibpf

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_HDRS   := $(wildcard bpf/*.h)

# user/ is laid out along the data path (docs/ARCHITECTURE.md): one folder
# a stage, headers included by folder ("detect/rules.h").
USER_SRCS  := $(wildcard user/*/*.c)
USER_OBJS  := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
# The rule pack is compiled into the binary (see user/detect/rules.h).
RULE_FILES := $(sort $(wildcard rules/*.yaml))
# The command line and the loader (the one file that includes the BPF
# skeleton) make the binary; everything else is libtokenward.a, which the
# unit tests link, so they need neither clang, bpftool nor kernel BTF.
BIN_OBJS   := $(filter $(BUILD)/user/cli/%,$(USER_OBJS)) $(BUILD)/user/sensors/monitor.o
LIB_OBJS   := $(filter-out $(BIN_OBJS),$(USER_OBJS)) $(BUILD)/rules_builtin.o
LIB        := $(BUILD)/libtokenward.a

# Unit tests mirror user/: tests/unit/detect/test_rules.c tests user/detect/.
UNIT_SRCS  := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS  := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(UNIT_SRCS)))
vpath test_%.c $(sort $(dir $(UNIT_SRCS)))
PROG_SRCS  := $(wildcard tests/progs/*.c)
PROG_BINS  := $(patsubst tests/progs/%.c,$(BUILD)/progs/%,$(PROG_SRCS))

.PHONY: all deps run test test-unit test-cli test-live bench-sensors bench-startup bench-scan bench-tls bench-revoke bench-ledger clean
.DELETE_ON_ERROR:

all: $(BUILD)/tokenward

# Installs missing Debian packages; a no-op when all are present.
deps:
	@tools/deps.sh

$(BUILD)/vmlinux.h: | $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h | $(BUILD)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# One object for all sensors, so they share the ring buffer and counters.
$(BUILD)/tokenward.bpf.o: $(BPF_OBJS)
	$(BPFTOOL) gen object $@ $^

$(BUILD)/tokenward.skel.h: $(BUILD)/tokenward.bpf.o
	$(BPFTOOL) gen skeleton $< name tw_bpf > $@

$(BUILD)/user/%.o: user/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
-include $(USER_OBJS:.o=.d)

$(BUILD)/rules_builtin.c: $(RULE_FILES) tools/embed-rules.sh | $(BUILD)
	tools/embed-rules.sh $(RULE_FILES) > $@

$(BUILD)/rules_builtin.o: $(BUILD)/rules_builtin.c user/detect/rules.h
	$(CC) $(CFLAGS) -c $< -o $@

# Only the loader includes the skeleton. SKEL_DIR is where it is made: the
# sanitized build (below) takes the normal build's, needing no BPF toolchain.
SKEL_DIR   ?= $(BUILD)
$(BUILD)/user/sensors/monitor.o: $(SKEL_DIR)/tokenward.skel.h
$(BUILD)/user/sensors/monitor.o: CFLAGS += -I$(SKEL_DIR)

$(LIB): $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tokenward: $(BIN_OBJS) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/test_%: test_%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -Itests/unit $< $(LIB) -o $@ $(LDLIBS) -lcmocka
-include $(UNIT_BINS:=.d)
# test_outputs loads the default config `make install` installs (tools/).
$(BUILD)/tests/test_outputs: CFLAGS += -DTW_SRCDIR='"$(CURDIR)"'

$(BUILD)/progs/%: tests/progs/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

# The TLS test clients link the system OpenSSL.
$(BUILD)/progs/tls_%: tests/progs/tls_%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -lssl -lcrypto

$(BUILD):
	@mkdir -p $(BUILD)

# The README's first command: set up, build, and start on embedded defaults.
run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/tokenward run

# The real OAuth server the revocation tests use, pinned by its lockfile.
ISSUER_DEPS := tests/issuer/node_modules/.package-lock.json
$(ISSUER_DEPS): tests/issuer/package.json tests/issuer/package-lock.json
	cd tests/issuer && npm ci --no-audit --no-fund --loglevel=error

# The README's second command: set up, build, and run every test.
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(PROG_BINS) $(ISSUER_DEPS)
	@tools/run-tests.sh $(BUILD)

test-unit: $(UNIT_BINS)
	@tools/run-tests.sh --unit $(BUILD)

test-cli: all $(ISSUER_DEPS)
	@tools/run-tests.sh --cli $(BUILD)

test-live: all $(PROG_BINS)
	@tools/run-tests.sh --live $(BUILD)

# Benchmarks: peers side by side in one run; results go to docs/BENCHMARKS.md.
# The sensor benchmark's floor: empty programs on the same hooks, built
# apart from bpf/ so they are never linked into tokenward.
BENCH_BINS := $(BUILD)/bench/floor $(BUILD)/bench/logwriter $(BUILD)/bench/forkexec $(BUILD)/bench/bulk

$(BUILD)/bench/floor.bpf.o: tools/bench/floor.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench/floor.skel.h: $(BUILD)/bench/floor.bpf.o
	$(BPFTOOL) gen skeleton $< name floor_bpf > $@

$(BUILD)/bench/floor: tools/bench/floor.c $(BUILD)/bench/floor.skel.h $(LIB)
	$(CC) $(CFLAGS) -I$(BUILD)/bench $< $(LIB) -o $@ $(LDLIBS)

$(BUILD)/bench/logwriter $(BUILD)/bench/forkexec $(BUILD)/bench/bulk: $(BUILD)/bench/%: tools/bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

bench-sensors: deps all $(BENCH_BINS)
	@tools/bench-sensors.sh $(BUILD)

# exec -> ready file, and the verifier's time per program.
$(BUILD)/bench/startup: tools/bench/startup.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

bench-startup: deps all $(BUILD)/bench/startup
	@tools/bench-startup.sh $(BUILD)

bench-scan: deps all
	@tools/bench-scan.sh $(BUILD)

# The TLS clients (OpenSSL, GnuTLS) and the floor's empty uprobes.
$(BUILD)/bench/tlsbench: tools/bench/tlsbench.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -lssl -lcrypto -lgnutls

bench-tls: deps all $(BUILD)/bench/floor $(BUILD)/bench/tlsbench
	@tools/bench-tls.sh $(BUILD)

bench-revoke: deps all $(BUILD)/progs/leak_writer
	@tools/bench-revoke.sh $(BUILD)

bench-ledger: deps all
	@tools/bench-ledger.sh $(BUILD)

clean:
	rm -rf $(BUILD)

# ---- install: `make install DESTDIR=... PREFIX=...` ---------------------
# The binary, the rule pack (also embedded), the systemd unit, the man page
# and a default config (never over an existing one). The unit goes where
# systemd looks for a prefix: /usr/local/lib/systemd/system for the
# default, /usr/lib/systemd/system for PREFIX=/usr; the config is always
# under /etc, the binary's default --config.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
INSTALL    ?= install

.PHONY: install
install: $(BUILD)/tokenward
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/tokenward/rules \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/tokenward
	$(INSTALL) -m 0755 $(BUILD)/tokenward $(DESTDIR)$(SBINDIR)/tokenward
	$(INSTALL) -m 0644 $(RULE_FILES) $(DESTDIR)$(DATADIR)/tokenward/rules/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' tools/tokenward.service \
		> $(DESTDIR)$(UNITDIR)/tokenward.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tokenward.service
	$(INSTALL) -m 0644 docs/tokenward.8 $(DESTDIR)$(MANDIR)/man8/tokenward.8
	[ -e $(DESTDIR)$(SYSCONFDIR)/tokenward/tokenward.yaml ] || \
		$(INSTALL) -m 0644 tools/tokenward.yaml $(DESTDIR)$(SYSCONFDIR)/tokenward/tokenward.yaml

# ---- sanitizer build: clang, ASan + UBSan ------------------------------
# The project standard: sanitizer builds run in `make test`. The userspace
# library, the unit tests and the tokenward binary are built again with
# clang under AddressSanitizer (with LeakSanitizer) and
# UndefinedBehaviorSanitizer into BUILD/asan, and tools/run-tests.sh runs
# the unit tests as unit-asan/NAME and the CLI tier (the offline commands)
# against BUILD/asan/tokenward as cli-asan/NAME. Any report fails the run:
# it aborts the process, and run-tests.sh fails the test that produced a
# sanitizer log. `make test-asan` runs only these. The runtime comes from
# libclang-rt-dev (tools/deps.sh).
ASAN_BUILD := $(BUILD)/asan
ASAN_CC    ?= clang
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# Empty except in the sanitized sub-make; placed here to keep the
# section in one piece (CFLAGS is expanded when a rule runs).
SANITIZE   ?=
CFLAGS     += $(SANITIZE)
ASAN_MAKE   = $(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CC=$(ASAN_CC) CLANG=false BPFTOOL=false \
              SANITIZE="$(ASAN_FLAGS)"

.PHONY: unit-bins asan asan-unit asan-cli test-asan
unit-bins: $(UNIT_BINS)

# CLANG and BPFTOOL are false here: should a unit test ever come to need
# the BPF toolchain or kernel BTF (the skeleton, vmlinux.h), this fails.
asan-unit: deps
	@$(ASAN_MAKE) unit-bins

# The sanitized binary: its loader includes the normal build's skeleton
# (SKEL_DIR), so its BPF object is the one `make all` makes and the
# sub-make still needs no clang -target bpf, bpftool or BTF. The CLI tier
# never loads the programs; the live tier runs the normal binary.
asan-cli: deps $(BUILD)/tokenward.skel.h
	@$(ASAN_MAKE) SKEL_DIR=$(abspath $(BUILD)) all

# Both in one sub-make, so that `make -j` never runs two makes in BUILD/asan.
asan: deps $(BUILD)/tokenward.skel.h
	@$(ASAN_MAKE) SKEL_DIR=$(abspath $(BUILD)) unit-bins all

test: asan

test-asan: asan $(ISSUER_DEPS)
	@tools/run-tests.sh --asan $(BUILD)
# ---- end of the sanitizer build ----------------------------------------

# ---- fuzzing: libFuzzer targets (clang) --------------------------------
# One target per parser of outside input, tests/fuzz/fuzz_NAME.c
# (docs/FUZZING.md). The library is built again into BUILD/fuzz with
# clang's coverage instrumentation for libFuzzer and ASan + UBSan, needing
# no BPF (CLANG and BPFTOOL are false, as for the sanitizer build); each
# target links it with libFuzzer's main. Seeds: tests/fuzz/seeds/NAME
# (committed, no tokens) and BUILD/fuzz/seeds/NAME (tests/fuzz/mkseeds.c:
# binary records, ClientHellos, tokens minted at build time). `make fuzz`
# runs every target for FUZZ_SECONDS each (tools/run-tests.sh --fuzz); `make
# test` runs each for 15 s, as fuzz/NAME. FUZZ=NAME runs one.
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: fuzz fuzz-build fuzz-bins
# Inside the sub-make BUILD is BUILD/fuzz: the targets sit beside its library.
fuzz-bins: $(patsubst %,$(BUILD)/fuzz_%,$(FUZZ_NAMES)) $(BUILD)/mkseeds
	@$(BUILD)/mkseeds $(BUILD)/seeds

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -Itests/fuzz $< $(LIB) -o $@ $(LDLIBS)

$(BUILD)/mkseeds: tests/fuzz/mkseeds.c bpf/tokenward.h tests/unit/tokmint.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $< -o $@ -lz

fuzz-build: deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CLANG=false BPFTOOL=false \
		SANITIZE="$(FUZZ_FLAGS)" fuzz-bins

test: fuzz-build

# make test fuzzes from FUZZ_SEED=1 (run-tests.sh's default): the gate
# repeats itself. make fuzz explores: seed 0 lets libFuzzer draw one.
FUZZ_SEED    ?= 0
fuzz: fuzz-build
	@FUZZ_SEED=$(FUZZ_SEED) FUZZ_SECONDS=$(FUZZ_SECONDS) tools/run-tests.sh --fuzz $(BUILD) $(FUZZ)
# ---- end of fuzzing ----------------------------------------------------
