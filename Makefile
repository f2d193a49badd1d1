# rostersync: make, make check, make demo, make bench, make install.
# CC, CFLAGS, PREFIX and DESTDIR may be overridden; SANITIZE=1 builds with
# AddressSanitizer and UBSan (make check-asan).

CC	?= cc
CFLAGS	?= -O2 -g
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wpointer-arith -Wformat=2
CPPFLAGS += -std=c11 -D_GNU_SOURCE -Isrc
LDLIBS	 = -lcsv -lxlsxwriter -lconfig -lsqlite3 -lzip -lexpat
PREFIX	?= /usr/local

# Every Debian package a build, the demo or the tests need: the one list.
DEBIAN_PACKAGES = gcc make pkg-config libc6-dev \
	libssh-dev libcsv-dev libxlsxwriter-dev libconfig-dev \
	libsqlite3-dev libzip-dev libexpat1-dev \
	openssh-server openssh-client sqlite3 python3 python3-openpyxl \
	libreoffice-calc-nogui zip unzip

ifeq ($(SANITIZE),1)
BUILD	 = build/asan
CFLAGS	 = -O1 -g -fno-omit-frame-pointer
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD	 = build/release
SANFLAGS =
endif

# One source per stage of the pipeline (see src/rostersync.h).
SRCS	 = src/util.c \
	   src/log.c \
	   src/sha256.c \
	   src/names.c \
	   src/config.c \
	   src/spool.c \
	   src/fetch.c \
	   src/fetch_dir.c \
	   src/publish.c \
	   src/load.c \
	   src/load_csv.c \
	   src/load_xlsx.c \
	   src/validate.c \
	   src/diff.c \
	   src/guard.c \
	   src/apply.c \
	   src/store.c \
	   src/report.c \
	   src/report_csv.c \
	   src/report_xlsx.c \
	   src/runlog.c \
	   src/run.c \
	   src/cli.c \
	   src/main.c
OBJS	 = $(SRCS:src/%.c=$(BUILD)/%.o)
LIBOBJS	 = $(filter-out $(BUILD)/main.o,$(OBJS))
TESTS	 = $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c))

ifeq ($(SANITIZE),1)
all: $(BUILD)/rostersync $(TESTS)
else
all: rostersync
endif

rostersync: $(BUILD)/rostersync
	cp $(BUILD)/rostersync $@

$(BUILD)/rostersync: $(OBJS)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/%.o: src/%.c src/rostersync.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) $(WARN) -c -o $@ $<

$(BUILD)/test_%: tests/test_%.c $(LIBOBJS) src/rostersync.h | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) $(WARN) -Werror -o $@ $< \
	    $(LIBOBJS) $(LDLIBS)

$(BUILD):
	mkdir -p $@

# Install whatever Debian packages are missing (as root, with apt-get).
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "make deps: run as root to install:$$missing" >&2; \
	        exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	fi

check: deps
	$(MAKE) all $(TESTS)
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) bash tests/run.sh

check-asan: deps
	$(MAKE) SANITIZE=1 check

demo: deps
	$(MAKE) rostersync
	bash fixtures/demo/run.sh

clean:
	rm -rf build rostersync

.PHONY: all deps check check-asan demo clean
