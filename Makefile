# paene: vsd, vsctl and vsinit. `make check` is the one test command.

CC ?= gcc
PKG_CONFIG ?= pkg-config
BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR = $(PREFIX)/sbin
LIBEXECDIR = $(PREFIX)/lib/paene
MANDIR = $(PREFIX)/share/man
SYSTEMDDIR ?= /lib/systemd/system
VERSION = 0.1

PKGS = json-c libcap libseccomp ext2fs com_err libnl-3.0 libnl-route-3.0 libnftables
DEBIAN_DEPS = build-essential pkg-config clang clang-format libclang-rt-14-dev \
	libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev \
	libext2fs-dev comerr-dev libjson-c-dev libcmocka-dev busybox-static iproute2 util-linux \
	procps e2fsprogs python3 bsdutils tar gzip xz-utils zstd \
	debootstrap libnftables-dev nftables python3-prometheus-client strace \
	openssh-client xfsprogs btrfs-progs

OPTFLAGS ?= -O2 -g
# Debian's hardening flags (dpkg-buildflags with hardening=+all)
HARDEN_CFLAGS = -fstack-protector-strong -fPIE
HARDEN_CPPFLAGS = -D_FORTIFY_SOURCE=2
HARDEN_LDFLAGS = -pie -Wl,-z,relro,-z,now
WARNFLAGS = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wmissing-prototypes
CPPFLAGS += $(HARDEN_CPPFLAGS) -Iinclude -D_GNU_SOURCE -DVS_VERSION='"$(VERSION)"' \
	-DVS_LIBEXECDIR='"$(LIBEXECDIR)"'
CFLAGS += -std=gnu11 $(OPTFLAGS) $(HARDEN_CFLAGS) $(WARNFLAGS) $(SANFLAGS) \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm
LDFLAGS += $(HARDEN_LDFLAGS) $(SANFLAGS)

LIB_SRCS = common/error.c common/parse.c common/fsutil.c common/kvfile.c common/blocksum.c \
	common/fdpass.c common/log.c common/procid.c common/nameidx.c \
	protocol/protocol.c protocol/request.c protocol/reply.c protocol/replies.c protocol/args.c sandbox/spawn.c sandbox/security.c sandbox/caps.c sandbox/initsig.c sandbox/profile.c sandbox/timeslice.c \
	cow-fs/template.c cow-fs/rootfs.c cow-fs/diskquota.c cow-fs/disklimit.c cow-fs/image.c cow-fs/imagesync.c cow-fs/clone.c \
	cow-fs/unify.c cow-fs/archive.c scheduler-limits/cgroup.c scheduler-limits/limits.c scheduler-limits/stats.c \
	scheduler-limits/admission.c scheduler-limits/procview.c netns/loopback.c netns/addr.c netns/addr6.c netns/link.c \
	netns/reap.c netns/etc.c netns/rate.c netns/tc.c netns/portfwd.c netns/nft.c
# the daemon's modules, in a library of their own that the unit tests link;
# vsd.c holds the loop and main
VSDLIB_SRCS = runtime/clients.c runtime/vps.c runtime/vpsnet.c runtime/netaddrs.c runtime/handlers.c runtime/disk.c runtime/store.c \
	runtime/work.c runtime/onboot.c runtime/metrics.c runtime/events.c runtime/backup.c \
	runtime/backup_member.c runtime/snapshot.c runtime/console.c runtime/keeper.c runtime/view.c \
	runtime/authz.c runtime/slice.c runtime/slicefile.c runtime/slicecmd.c runtime/sliceloan.c runtime/slicerules.c runtime/migrate.c \
	runtime/trash.c runtime/ducount.c runtime/release.c runtime/rebootmark.c runtime/later.c
# slice expiry and byte budgets (issue 15)
LIB_SRCS += protocol/slicetime.c
VSDLIB_SRCS += runtime/slicetime.c runtime/slicebytes.c runtime/sliceusage.c runtime/slicetimecmd.c
VSD_SRCS = runtime/vsd.c
VSCTL_SRCS = $(wildcard runtime/vsctl/*.c)
OCI_SRCS = oci/main.c oci/config.c oci/state.c oci/cgroups.c oci/hooks.c oci/mounts.c \
	oci/create.c oci/exec.c
UNIT_SRCS = $(wildcard tests/unit/test_*.c)

LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
VSD_OBJS = $(VSD_SRCS:%.c=$(BUILD)/obj/%.o)
VSDLIB_OBJS = $(VSDLIB_SRCS:%.c=$(BUILD)/obj/%.o)
VSCTL_OBJS = $(VSCTL_SRCS:%.c=$(BUILD)/obj/%.o)
OCI_OBJS = $(OCI_SRCS:%.c=$(BUILD)/obj/%.o)
# the runtime's own code without its main, for the unit tests of the parser
OCI_LIB_OBJS = $(filter-out $(BUILD)/obj/oci/main.o,$(OCI_OBJS))
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

BINS = $(BUILD)/vsd $(BUILD)/vsctl $(BUILD)/vsview $(BUILD)/vsinit $(BUILD)/payload $(BUILD)/paene-oci
# what the integration tests run besides the programs (not installed)
TEST_TOOLS = $(BUILD)/tests/schema-dump

.PHONY: all deps pkgcheck check unit integration asan asan-unit asan-integration install uninstall demo bench bench-net bench-boot bench-procview clean \
	format format-check fuzz fuzz-build
all: $(BINS) $(TEST_TOOLS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libvs.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/libvsd.a: $(VSDLIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/vsd: $(VSD_OBJS) $(BUILD)/libvsd.a $(BUILD)/libvs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vsctl: $(VSCTL_OBJS) $(BUILD)/libvs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/paene-oci: $(OCI_OBJS) $(BUILD)/libvs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/liboci.a: $(OCI_LIB_OBJS)
	$(AR) rcs $@ $^

# the OCI runtime's unit tests link its code too
$(BUILD)/tests/test_oci_%: tests/unit/test_oci_%.c tests/unit/testutil.h $(BUILD)/liboci.a \
		$(BUILD)/libvs.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ioci $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) $(LDFLAGS) -o $@ \
		$(filter %.c %.a,$^) \
		$(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

# the view's FUSE server: the kernel's protocol (linux/fuse.h), no library
$(BUILD)/vsview: $(BUILD)/obj/runtime/vsview.o $(BUILD)/obj/runtime/vsnotify.o \
		$(BUILD)/obj/runtime/rebootmark.o $(BUILD)/libvs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

# vsinit and the test payload run inside VPS roots that may have no libc:
# static, and never sanitized (the sanitizer runtimes are dynamic).
$(BUILD)/vsinit: runtime/vsinit.c runtime/keeper.c runtime/keeper.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 -O2 $(WARNFLAGS) -static -o $@ runtime/vsinit.c runtime/keeper.c

$(BUILD)/payload: tests/payload/payload.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 -O2 $(WARNFLAGS) -static -o $@ $<

# not part of all: only contrib/bench/net.sh runs it
$(BUILD)/netbench: contrib/bench/netbench.c $(BUILD)/libvs.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# not part of all: a fork's cost against a spawn's (contrib/bench/README.md)
$(BUILD)/forkcost: contrib/bench/forkcost.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/true-static:
	@mkdir -p $(dir $@)
	printf 'int main(void) { return 0; }\n' | $(CC) -O2 -static -x c -o $@ -

# not part of all: the block sums' throughput (contrib/bench/README.md)
$(BUILD)/roundsum: contrib/bench/roundsum.c $(BUILD)/libvs.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# not part of all: sets a task's EEVDF slice (contrib/bench/isolation.sh)
$(BUILD)/schedslice: contrib/bench/schedslice.c $(BUILD)/libvs.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# not part of all: a sysctl write per network namespace (contrib/bench/README.md)
$(BUILD)/sysctlns: contrib/bench/sysctlns.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/schema-dump: tests/tools/schema_dump.c $(BUILD)/libvs.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/libvsd.a $(BUILD)/libvs.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iruntime $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) $(LDFLAGS) -o $@ \
		$(filter %.c %.a,$^) \
		$(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

# libFuzzer targets (tests/fuzz/): the library built again with clang's
# fuzzer instrumentation, ASan and UBSan, linked to each target.
FUZZ_CC ?= clang
FUZZ_BUILD ?= $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = request kvfile vsdconf parse net caps procid backup
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=gnu11 -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(WARNFLAGS) -Wno-format-nonliteral \
	-Wno-missing-field-initializers -Wno-unused-variable \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
FUZZ_LIB_OBJS = $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libvs.a: $(FUZZ_LIB_OBJS)
	$(AR) rcs $@ $^

# the backup reader's rules are the daemon's (runtime/backup_member.c)
$(FUZZ_BUILD)/fuzz_backup: tests/fuzz/fuzz_backup.c tests/fuzz/fuzz.h runtime/backup_member.c \
		$(FUZZ_BUILD)/libvs.a
	$(FUZZ_CC) $(CPPFLAGS) -Iruntime $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		runtime/backup_member.c $(FUZZ_BUILD)/libvs.a $(LDLIBS)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libvs.a
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libvs.a \
		$(LDLIBS)

fuzz-build: $(FUZZ_BINS) $(BUILD)/fuzz/fuzz_oci_config

# Each target for FUZZ_SECONDS on its seed corpus (new inputs go to
# $(FUZZ_BUILD)/corpus/, findings to $(FUZZ_BUILD)/crash-*).
fuzz: deps pkgcheck
	$(MAKE) fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

-include $(shell find $(BUILD)/obj $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

# Installs what is missing, and only then touches apt: idempotent and quick.
deps:
	@missing=""; for p in $(DEBIAN_DEPS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || \
			missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	fi

unit: $(UNIT_BINS)

# A missing library is named by its pkg-config package, not by a missing header.
pkgcheck:
	@for p in $(PKGS) cmocka; do \
		$(PKG_CONFIG) --exists $$p || { echo "pkg-config package '$$p' not found (make deps installs it)" >&2; exit 1; }; \
	done

# The harness's self-test first: a harness that miscounts makes every
# later line meaningless.
check: deps pkgcheck
	contrib/check-layers.sh
	$(MAKE) all unit fuzz-build
	contrib/check-calls.py $(VSD_OBJS) $(VSDLIB_OBJS)
	tests/tools/check_options.py $(BUILD)/vsctl .
	tests/tools/check_errexit.py
	tests/tools/check_errexit.py tests/tools/fixtures/errexit_nothing_left.sh | grep -q " nothing_left called"
	BUILD=$(BUILD) tests/harness/selftest.sh
	$(MAKE) --no-print-directory asan-unit
	$(MAKE) --no-print-directory asan-integration
	BUILD=$(BUILD) tests/run.sh

# The unit tests again under ASan and UBSan: any report ends the binary
# with a non-zero status, which tests/run.sh counts as a failure.
ASAN_BUILD = build-asan
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan-unit:
	$(MAKE) BUILD=$(ASAN_BUILD) SANFLAGS='$(SANITIZE)' unit
	ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		BUILD=$(ASAN_BUILD) tests/run.sh --unit

asan:
	$(MAKE) BUILD=$(ASAN_BUILD) SANFLAGS='$(SANITIZE)' all

# vsd, vsview and vsctl under ASan and UBSan against the requests an
# attacker writes, the traffic-control path and the disk backends (UBSan
# found a signed shift in each of the last two that the plain build never
# showed): a report ends vsd,
# which the tests see as a closed connection. Leaks are not looked for (a
# vsd that stops leaves its VPS running, on purpose).
ASAN_INTEGRATION = tests/integration/test_requests.sh tests/integration/test_netrate.sh \
	tests/integration/test_cowfs.sh
asan-integration: asan
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
		BUILD=$(ASAN_BUILD) tests/run.sh $(ASAN_INTEGRATION)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BUILD)/vsd $(BUILD)/vsctl $(BUILD)/paene-oci $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/vsinit $(BUILD)/vsview $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 contrib/man/vsctl.8 contrib/man/vsd.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|@SBINDIR@|$(SBINDIR)|g' contrib/systemd/vsd.service.in > \
		$(DESTDIR)$(SYSTEMDDIR)/vsd.service
	install -m 0644 contrib/bash-completion/vsctl \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vsctl

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/vsd $(DESTDIR)$(SBINDIR)/vsctl $(DESTDIR)$(SBINDIR)/paene-oci \
		$(DESTDIR)$(LIBEXECDIR)/vsinit $(DESTDIR)$(LIBEXECDIR)/vsview $(DESTDIR)$(MANDIR)/man8/vsctl.8 \
		$(DESTDIR)$(MANDIR)/man8/vsd.8 $(DESTDIR)$(SYSTEMDDIR)/vsd.service \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vsctl

demo: deps
	$(MAKE) all
	BUILD=$(BUILD) contrib/demo.sh

bench: deps
	$(MAKE) all
	BUILD=$(BUILD) contrib/bench/start.sh 100

# lxc only for the Debian boot benchmark's comparison: not a dependency of
# check; the Debian rootfs is PAENE_DEBIAN_TAR or the test fixture (see the script)
bench-boot: deps
	@dpkg-query -W -f='$${Status}' lxc 2>/dev/null | grep -q 'ok installed' || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lxc >/dev/null
	$(MAKE) all
	BUILD=$(BUILD) contrib/bench/boot.sh

# iperf3 only for the throughput benchmark: not a dependency of check
bench-net: deps
	@dpkg-query -W -f='$${Status}' iperf3 2>/dev/null | grep -q 'ok installed' || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null
	$(MAKE) all $(BUILD)/netbench
	BUILD=$(BUILD) contrib/bench/net.sh
	BUILD=$(BUILD) contrib/bench/throughput.sh 5 bridge
	BUILD=$(BUILD) contrib/bench/throughput.sh 5 routed

# lxcfs only for the comparison: not a dependency of check
bench-procview: deps
	$(MAKE) all
	BUILD=$(BUILD) contrib/bench/procview.sh 100 5000

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf build build-asan

# libFuzzer target of paene-oci's config parser (not part of check):
#   make fuzz-oci [FUZZ_OCI_SECONDS=60]
FUZZ_OCI_SECONDS ?= 60
FUZZ_OCI_SRCS = oci/config.c sandbox/profile.c common/error.c common/fsutil.c
$(BUILD)/fuzz/fuzz_oci_config: tests/fuzz/fuzz_oci_config.c $(FUZZ_OCI_SRCS) oci/oci.h
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -Ioci -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined \
		$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) -o $@ $< $(FUZZ_OCI_SRCS) $(LDLIBS)

fuzz-oci: $(BUILD)/fuzz/fuzz_oci_config
	mkdir -p $(BUILD)/fuzz/corpus-oci
	$(BUILD)/fuzz/fuzz_oci_config -max_total_time=$(FUZZ_OCI_SECONDS) -rss_limit_mb=2048 \
		$(BUILD)/fuzz/corpus-oci tests/fuzz/corpus/oci_config
