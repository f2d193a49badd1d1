# rostersync: make, make check, make demo, make bench, make install.
# CC, CFLAGS, PREFIX and DESTDIR may be overridden; SANITIZE=1 builds with
# AddressSanitizer and UBSan (make check-asan).

CC	?= cc
CFLAGS	?= -O2 -g
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wpointer-arith -Wformat=2
CPPFLAGS += -std=c11 -D_GNU_SOURCE -Isrc
LDLIBS	 = -lssh -lcsv -lxlsxwriter -lconfig -lsqlite3 -lzip -lz -lexpat -lunistring \
	   -lcrypto -lsystemd -pthread
PREFIX	?= /usr/local

# Every Debian package rostersync needs, in one place: what the program
# needs to build and run (make, make demo), and what the tests and the
# bench add (make check, make bench, make fuzz).
DEBIAN_PACKAGES = gcc make pkg-config libc6-dev \
	libssh-dev libcsv-dev libxlsxwriter-dev libconfig-dev \
	libsqlite3-dev libzip-dev zlib1g-dev libexpat1-dev libunistring-dev libssl-dev \
	libsystemd-dev libldap-dev
DEBIAN_TEST_PACKAGES = openssh-server openssh-client sqlite3 python3 \
	python3-openpyxl slapd ldap-utils libreoffice-calc-nogui zip unzip time \
	systemd groff-base mandoc openssl \
	valgrind clang libclang-rt-14-dev strace

ifeq ($(SANITIZE),1)
BUILD	 = build/asan
CFLAGS	 = -O1 -g -fno-omit-frame-pointer
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all
# and checks of the work done ahead of the diff (the prep; diff.c)
CPPFLAGS += -DRS_SELFCHECK
else
BUILD	 = build/release
SANFLAGS =
endif

# One source per stage of the pipeline (see src/rostersync.h).
SRCS	 = src/util.c \
	   src/json.c \
	   src/log.c \
	   src/sha256.c \
	   src/names.c \
	   src/config.c \
	   src/spool.c \
	   src/fetch.c \
	   src/fetch_dir.c \
	   src/fetch_sftp.c \
	   src/sftp_xfer.c \
	   src/publish.c \
	   src/known.c \
	   src/load.c \
	   src/load_csv.c \
	   src/load_xlsx.c \
	   src/job.c \
	   src/xmltok.c \
	   src/validate.c \
	   src/diff.c \
	   src/snapshot.c \
	   src/guard.c \
	   src/apply.c \
	   src/hook.c \
	   src/hook_stream.c \
	   src/progress.c \
	   src/decide.c \
	   src/store.c \
	   src/store_io.c \
	   src/store_dir.c \
	   src/store_run.c \
	   src/store_query.c \
	   src/summary.c \
	   src/report.c \
	   src/report_csv.c \
	   src/report_xlsx.c \
	   src/runlog.c \
	   src/calendar.c \
	   src/roles.c \
	   src/run.c \
	   src/cli.c \
	   src/table.c \
	   src/views.c \
	   src/main.c
OBJS	 = $(SRCS:src/%.c=$(BUILD)/%.o)
LIBOBJS	 = $(filter-out $(BUILD)/main.o,$(OBJS))
TESTS	 = $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c))

ifeq ($(SANITIZE),1)
all: $(BUILD)/rostersync $(BUILD)/rostersync-ldap $(TESTS)
else
all: rostersync $(BUILD)/rostersync-ldap
endif

# The LDAP connector: a program of its own, with the few objects it needs.
LDAP_OBJS = $(BUILD)/rostersync-ldap.o $(BUILD)/util.o $(BUILD)/json.o \
	   $(BUILD)/log.o $(BUILD)/names.o
$(BUILD)/rostersync-ldap: $(LDAP_OBJS)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(LDAP_OBJS) -lldap -llber -lcrypto \
	    -lunistring -lsystemd -pthread

rostersync: $(BUILD)/rostersync
	cp $(BUILD)/rostersync $@

$(BUILD)/rostersync: $(OBJS)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/%.o: src/%.c src/rostersync.h src/known.h src/store_int.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) $(WARN) -c -o $@ $<

$(BUILD)/test_%: tests/test_%.c $(LIBOBJS) src/rostersync.h src/known.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) $(WARN) -Werror -o $@ $< \
	    $(LIBOBJS) $(LDLIBS)

# The benchmark's own programs: the readers and the hash on their own,
# SQLite's part of a first load, and the XLSX twin of an export.
BENCHPROGS = $(BUILD)/rsbench $(BUILD)/sqlite_floor $(BUILD)/csv2xlsx \
	     $(BUILD)/latproxy
$(BUILD)/rsbench $(BUILD)/sqlite_floor: $(BUILD)/%: bench/%.c $(LIBOBJS) \
	    src/rostersync.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) $(WARN) -o $@ $< \
	    $(LIBOBJS) $(LDLIBS)

# The bench's latency proxy (loopback only): SFTP at WAN latency.
$(BUILD)/latproxy: bench/latproxy.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $<

$(BUILD)/csv2xlsx: bench/csv2xlsx.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< -lxlsxwriter -lcsv

$(BUILD):
	mkdir -p $@

# Install whatever Debian packages are missing (as root, with apt-get):
# deps for the program, deps-test for the tests and the bench too.
deps:
	@$(MAKE) --no-print-directory install-packages PKGS="$(DEBIAN_PACKAGES)"

deps-test:
	@$(MAKE) --no-print-directory install-packages \
	    PKGS="$(DEBIAN_PACKAGES) $(DEBIAN_TEST_PACKAGES)"

install-packages:
	@missing=""; for p in $(PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "make: run as root to install:$$missing" >&2; \
	        exit 1; fi; \
	    policy=""; case " $$missing " in *" slapd "*) \
	        echo "slapd slapd/no_configuration boolean true" | \
	            debconf-set-selections; \
	        if [ ! -e /usr/sbin/policy-rc.d ]; then \
	            policy=/usr/sbin/policy-rc.d; \
	            printf '#!/bin/sh\nexit 101\n' >$$policy; \
	            chmod 0755 $$policy; fi;; esac; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	    rc=$$?; [ -n "$$policy" ] && rm -f $$policy; exit $$rc; \
	fi

check: deps-test
	$(MAKE) all $(TESTS)
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) bash tests/run.sh

check-asan: deps-test
	$(MAKE) SANITIZE=1 check

# Not part of check: 1M-row exports, minutes of run time (bench/run.sh).
bench: deps-test
	$(MAKE) $(BUILD)/rostersync $(BENCHPROGS)
	BUILD=$(BUILD) bash bench/run.sh

demo: deps
	$(MAKE) rostersync
	bash fixtures/demo/run.sh

# make fuzz [FUZZ_SECONDS=600] [FUZZ_TARGETS="csv xlsx config"]: the
# libFuzzer targets tests/fuzz_*.c, built with clang, ASan and UBSan in
# build/fuzz, each run for FUZZ_SECONDS (tests/fuzz_run.sh). Crash inputs
# go to build/fuzz/crashes/; fixed, they join fixtures/fuzz/TARGET/, which
# make check replays (test_fuzz_replay).
FUZZ_SECONDS ?= 600
FUZZ_CC	 = clang
FUZZ_DIR = build/fuzz
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	   -fno-sanitize-recover=all
FUZZ_OBJS = $(filter-out $(FUZZ_DIR)/main.o,$(SRCS:src/%.c=$(FUZZ_DIR)/%.o))
FUZZERS	 = $(FUZZ_DIR)/fuzz_csv $(FUZZ_DIR)/fuzz_xlsx $(FUZZ_DIR)/fuzz_config
.SECONDARY: $(FUZZ_OBJS)

$(FUZZ_DIR)/%.o: src/%.c src/rostersync.h src/known.h src/store_int.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c \
	    -o $@ $<

$(FUZZ_DIR)/fuzz_%: tests/fuzz_%.c tests/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_OBJS) $(LDLIBS)

fuzz: deps-test
	$(MAKE) $(FUZZERS)
	FUZZ_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz_run.sh

# The replay driver includes the fuzz targets.
$(BUILD)/test_fuzz_replay: tests/fuzz.h tests/fuzz_csv.c tests/fuzz_xlsx.c \
	tests/fuzz_config.c

clean:
	rm -rf build rostersync

.PHONY: all deps deps-test install-packages check check-asan bench demo fuzz clean

# make install [PREFIX=/usr/local] [DESTDIR=]: the program, its units and
# sysusers.d/tmpfiles.d snippets (under $(PREFIX)/lib, where systemd looks
# for them; a Debian package built with PREFIX=/usr may set
# UNITDIR=/lib/systemd/system), the man pages, and the example configuration
# as /etc/rostersync/rostersync.conf (never over an existing one: the new
# example is then rostersync.conf.dist). The unit's ExecStart= names
# $(BINDIR). On a live system (no DESTDIR, as root) it also creates the user,
# groups and directories and reloads systemd; see README.md, Operations.
BINDIR	 = $(PREFIX)/bin
LIBEXECDIR = $(PREFIX)/lib/rostersync
MANDIR	 = $(PREFIX)/share/man
UNITDIR	 = $(PREFIX)/lib/systemd/system
SYSUSERSDIR = $(PREFIX)/lib/sysusers.d
TMPFILESDIR = $(PREFIX)/lib/tmpfiles.d
CONFDIR	 = /etc/rostersync

install: $(BUILD)/rostersync $(BUILD)/rostersync-ldap
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(BUILD)/rostersync $(DESTDIR)$(BINDIR)/rostersync
	install -m 0755 $(BUILD)/rostersync-ldap \
	    $(DESTDIR)$(LIBEXECDIR)/rostersync-ldap
	install -m 0644 src/rostersync-ldap.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|^ExecStart=/usr/bin/rostersync |ExecStart=$(BINDIR)/rostersync |' \
	    systemd/rostersync.service >$(BUILD)/rostersync.service
	install -m 0644 $(BUILD)/rostersync.service systemd/rostersync.timer \
	    $(DESTDIR)$(UNITDIR)/
	install -m 0644 systemd/rostersync.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/rostersync.conf
	install -m 0644 systemd/rostersync.tmpfiles \
	    $(DESTDIR)$(TMPFILESDIR)/rostersync.conf
	install -m 0644 src/rostersync.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 src/rostersync.conf.5 $(DESTDIR)$(MANDIR)/man5/
	[ -d $(DESTDIR)$(CONFDIR) ] || install -d -m 0750 $(DESTDIR)$(CONFDIR)
	@c=$(DESTDIR)$(CONFDIR)/rostersync.conf; \
	if [ ! -e $$c ]; then \
	    echo "install -m 0640 etc/rostersync.conf $$c"; \
	    install -m 0640 etc/rostersync.conf $$c; \
	elif ! cmp -s etc/rostersync.conf $$c; then \
	    install -m 0640 etc/rostersync.conf $$c.dist; \
	    echo "kept $$c as it is; the new example is $$c.dist"; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    $(MAKE) --no-print-directory postinstall; fi

# What a Debian postinst does: the user and groups, the directories, the
# configuration's group, and systemd told about the units.
postinstall:
	systemd-sysusers $(SYSUSERSDIR)/rostersync.conf
	systemd-tmpfiles --create $(TMPFILESDIR)/rostersync.conf
	@for f in $(CONFDIR) $(CONFDIR)/rostersync.conf \
	    $(CONFDIR)/rostersync.conf.dist; do \
	    [ -e $$f ] && [ "$$(stat -c %G $$f)" = root ] && \
	    chgrp rostersync-auditors $$f; done; true
	-systemctl daemon-reload

# Removes what install put, except a configuration that was changed; the
# data (/var/lib/rostersync, /var/spool/rostersync), the user and the groups
# stay.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    systemctl disable --now rostersync.timer 2>/dev/null; true; fi
	rm -f $(DESTDIR)$(BINDIR)/rostersync \
	    $(DESTDIR)$(LIBEXECDIR)/rostersync-ldap \
	    $(DESTDIR)$(MANDIR)/man8/rostersync-ldap.8 \
	    $(DESTDIR)$(UNITDIR)/rostersync.service \
	    $(DESTDIR)$(UNITDIR)/rostersync.timer \
	    $(DESTDIR)$(SYSUSERSDIR)/rostersync.conf \
	    $(DESTDIR)$(TMPFILESDIR)/rostersync.conf \
	    $(DESTDIR)$(MANDIR)/man8/rostersync.8 \
	    $(DESTDIR)$(MANDIR)/man5/rostersync.conf.5 \
	    $(DESTDIR)$(CONFDIR)/rostersync.conf.dist
	@c=$(DESTDIR)$(CONFDIR)/rostersync.conf; \
	if cmp -s etc/rostersync.conf $$c; then echo "rm -f $$c"; rm -f $$c; \
	elif [ -e $$c ]; then echo "kept $$c: it was changed"; fi
	@rmdir $(DESTDIR)$(CONFDIR) $(DESTDIR)$(LIBEXECDIR) 2>/dev/null; true
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    systemctl daemon-reload 2>/dev/null; true; fi
	@echo "kept the data in /var/lib/rostersync and /var/spool/rostersync," \
	    "the user rostersync and its groups"

.PHONY: install postinstall uninstall
