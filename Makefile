# edgelink — small C commands for WireGuard links.
#
#   make                 build every command into bin/
#   make check           install missing Debian packages, build, run every test
#   make check SAN=1     the same with AddressSanitizer + UBSan
#   make install PREFIX=/usr/local DESTDIR=
#   make deps            install the Debian packages the project needs
#   make demo            the main job on an embedded default (see README)
#   make bench           el-link vs wireguard-go (root), el-trust vs jq
#   make check-kernel    el-link's kernel backend against Debian's kernel under qemu
#   V=1                  show the commands

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share/edgelink
UNITDIR  ?= $(PREFIX)/lib/systemd/system

VERSION  := 0.1.0
CC       ?= cc
PKGS     := libsodium libb2 jansson nettle libmnl
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
XCFLAGS  := -std=c11 -D_GNU_SOURCE -DELK_VERSION=\"$(VERSION)\" -Wall -Wextra -Werror \
            -Wshadow -Wformat=2 -Wno-missing-field-initializers -Ilib
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lsodium -lb2 -ljansson -lnettle -lmnl)
XCFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

ifeq ($(SAN),1)
BUILD    := build/san
XCFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
else
BUILD    := build/rel
endif

ifneq ($(V),1)
Q := @
E := @printf '  %-6s %s\n'
else
Q :=
E := @true
endif

CMDS     := $(patsubst bin/%.c,%,$(wildcard bin/el-*.c))
BINS     := $(addprefix bin/,$(CMDS))
LIBSRC   := $(wildcard lib/*.c)
LIBOBJ   := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(LIBSRC))
LIBA     := $(BUILD)/libelk.a
UNITSRC  := $(wildcard tests/unit/test_*.c)
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNITSRC))
# Helper programs the tests drive (not tests themselves).
TOOLS    := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
HDRS     := $(wildcard lib/*.h tests/unit/*.h tests/fuzz/*.c)
# Rebuild everything when the flags change (SAN=1 after a plain build, say).
# Objects live per variant; bin/ is shared, so it has its own stamp that
# changes whenever the variant does, and a plain build after SAN=1 relinks.
FLAGSTAMP := $(BUILD)/.flags
BINSTAMP  := build/.bin-flags

.PHONY: all check check-kernel units deps install uninstall clean demo bench FORCE
all: $(BINS)

$(FLAGSTAMP) $(BINSTAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(CFLAGS) $(XCFLAGS) $(LDFLAGS) $(LDLIBS)' | cmp -s - $@ || \
	  echo '$(CC) $(CFLAGS) $(XCFLAGS) $(LDFLAGS) $(LDLIBS)' > $@

$(BUILD)/lib/%.o: lib/%.c $(HDRS) $(FLAGSTAMP)
	@mkdir -p $(@D)
	$(E) CC $<
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

$(LIBA): $(LIBOBJ)
	$(E) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

# Binaries always land in bin/ (next to their one source file); the flag
# stamp makes a SAN=1 build relink them.
bin/%: bin/%.c $(LIBA) $(HDRS) $(FLAGSTAMP) $(BINSTAMP)
	$(E) CCLD $@
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBA) $(HDRS) $(FLAGSTAMP)
	@mkdir -p $(@D)
	$(E) CCLD $@
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIBA) $(HDRS) $(FLAGSTAMP)
	@mkdir -p $(@D)
	$(E) CCLD $@
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# Debian packages: to build, to test, and the real peers the tests talk to.
DEB_BUILD := gcc make pkg-config libc6-dev libsodium-dev libb2-dev libjansson-dev nettle-dev libmnl-dev
DEB_TEST  := jq bats wireguard-tools wireguard-go iproute2 iputils-ping iperf3 tshark bc socat python3 coturn nftables
DEB_PKGS  := $(DEB_BUILD) $(DEB_TEST)
# For the kernel backend's VM (tests/qemu): installed by the harness itself
# when it runs (tests/qemu/run.sh --install reads this line), never by
# `make deps`, so a kernel that cannot be downloaded skips those tests
# instead of breaking `make check`.
DEB_KERNEL := qemu-system-x86 linux-image-amd64 busybox-static dash cpio kmod xz-utils zstd iproute2 wireguard-tools jq
deps:
	@sh tests/deps.sh $(DEB_PKGS)

check: deps
	@$(MAKE) --no-print-directory all units
	@sh tests/run.sh $(BUILD)

units: $(UNITS) $(TOOLS)

# One VM boot, every kernel check inside (tests/qemu/guest-kernel.sh).
check-kernel: deps
	@$(MAKE) --no-print-directory all
	@bash tests/qemu/kernel.sh --install

bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/link.sh
	@bash bench/trust.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash share/examples/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(SHAREDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 share/man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 share/man/man7/*.7 $(DESTDIR)$(MANDIR)/man7/
	cp -R share/schema share/examples $(DESTDIR)$(SHAREDIR)/
	install -d $(DESTDIR)$(UNITDIR)
	install -m 0644 share/systemd/*.service $(DESTDIR)$(UNITDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(CMDS))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(wildcard share/man/man1/*.1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(wildcard share/man/man7/*.7)))
	rm -rf $(DESTDIR)$(SHAREDIR)
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(wildcard share/systemd/*.service)))

clean:
	rm -rf build $(BINS)

# libFuzzer on every parser of untrusted input (needs clang), one target
# after the other (facts_wire, wg_device, records, uapi): FUZZ_SECONDS=60
# each by default, FUZZ_TARGETS="uapi records" for some; crashes land in
# build/fuzz/. See tests/fuzz/run.sh.
.PHONY: fuzz
fuzz:
	@sh tests/fuzz/run.sh
