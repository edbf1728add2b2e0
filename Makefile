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
DEBIAN_DEPS = build-essential pkg-config clang clang-format \
	libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev \
	libext2fs-dev comerr-dev libjson-c-dev libcmocka-dev busybox-static iproute2 util-linux \
	procps e2fsprogs python3 bsdutils tar gzip xz-utils zstd \
	debootstrap libnftables-dev nftables python3-prometheus-client

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

LIB_SRCS = common/error.c common/parse.c common/fsutil.c common/kvfile.c \
	common/fdpass.c common/log.c common/procid.c \
	protocol/protocol.c protocol/request.c sandbox/spawn.c sandbox/security.c \
	cow-fs/template.c cow-fs/rootfs.c cow-fs/diskquota.c cow-fs/image.c cow-fs/clone.c \
	cow-fs/unify.c cow-fs/archive.c scheduler-limits/cgroup.c scheduler-limits/limits.c scheduler-limits/stats.c \
	scheduler-limits/admission.c netns/loopback.c netns/addr.c netns/addr6.c netns/link.c \
	netns/etc.c netns/rate.c netns/tc.c netns/portfwd.c netns/nft.c
# the daemon's modules, in a library of their own that the unit tests link;
# vsd.c holds the loop and main
VSDLIB_SRCS = runtime/vps.c runtime/vpsnet.c runtime/handlers.c runtime/disk.c runtime/store.c \
	runtime/work.c runtime/onboot.c runtime/metrics.c runtime/events.c runtime/backup.c \
	runtime/backup_member.c
VSD_SRCS = runtime/vsd.c
VSCTL_SRCS = runtime/vsctl.c
UNIT_SRCS = $(wildcard tests/unit/test_*.c)

LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
VSD_OBJS = $(VSD_SRCS:%.c=$(BUILD)/obj/%.o)
VSDLIB_OBJS = $(VSDLIB_SRCS:%.c=$(BUILD)/obj/%.o)
VSCTL_OBJS = $(VSCTL_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

BINS = $(BUILD)/vsd $(BUILD)/vsctl $(BUILD)/vsinit $(BUILD)/payload
# what the integration tests run besides the programs (not installed)
TEST_TOOLS = $(BUILD)/tests/schema-dump

.PHONY: all deps pkgcheck check unit integration asan install uninstall demo bench bench-net clean \
	format format-check
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

# vsinit and the test payload run inside VPS roots that may have no libc:
# static, and never sanitized (the sanitizer runtimes are dynamic).
$(BUILD)/vsinit: runtime/vsinit.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 -O2 $(WARNFLAGS) -static -o $@ $<

$(BUILD)/payload: tests/payload/payload.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 -O2 $(WARNFLAGS) -static -o $@ $<

# not part of all: only contrib/bench/net.sh runs it
$(BUILD)/netbench: contrib/bench/netbench.c $(BUILD)/libvs.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/schema-dump: tests/tools/schema_dump.c $(BUILD)/libvs.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/libvsd.a $(BUILD)/libvs.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iruntime $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) $(LDFLAGS) -o $@ \
		$(filter %.c %.a,$^) \
		$(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

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

check: deps pkgcheck
	contrib/check-layers.sh
	$(MAKE) all unit
	tests/tools/check_options.py $(BUILD)/vsctl .
	BUILD=$(BUILD) tests/run.sh

asan:
	$(MAKE) BUILD=build-asan SANFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer' all

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BUILD)/vsd $(BUILD)/vsctl $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/vsinit $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 contrib/man/vsctl.8 contrib/man/vsd.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|@SBINDIR@|$(SBINDIR)|g' contrib/systemd/vsd.service.in > \
		$(DESTDIR)$(SYSTEMDDIR)/vsd.service
	install -m 0644 contrib/bash-completion/vsctl \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vsctl

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/vsd $(DESTDIR)$(SBINDIR)/vsctl \
		$(DESTDIR)$(LIBEXECDIR)/vsinit $(DESTDIR)$(MANDIR)/man8/vsctl.8 \
		$(DESTDIR)$(MANDIR)/man8/vsd.8 $(DESTDIR)$(SYSTEMDDIR)/vsd.service \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vsctl

demo: deps
	$(MAKE) all
	BUILD=$(BUILD) contrib/demo.sh

bench: deps
	$(MAKE) all
	BUILD=$(BUILD) contrib/bench/start.sh 100

# iperf3 only for the throughput benchmark: not a dependency of check
bench-net: deps
	@dpkg-query -W -f='$${Status}' iperf3 2>/dev/null | grep -q 'ok installed' || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null
	$(MAKE) all $(BUILD)/netbench
	BUILD=$(BUILD) contrib/bench/net.sh
	BUILD=$(BUILD) contrib/bench/throughput.sh 5 bridge
	BUILD=$(BUILD) contrib/bench/throughput.sh 5 routed

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf build build-asan
