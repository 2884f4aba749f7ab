# Lava gateway: nginx module, metering sidecar, SQL, tests.
#
#   make            build build/ngx_http_lava_module.so and build/lava-sidecar
#   make demo       private stack on loopback, sample traffic, ledger via psql
#   make test       unit tests (Check) and integration tests (prove t/)
#   make install    module, sidecar, config and SQL (honours DESTDIR); files
#                   already in /etc/lava are kept, new ones go beside as .dist
#   make uninstall  what make install put there, but edited files in /etc/lava
#   make deb        Debian packages libnginx-mod-http-lava and lava-sidecar in
#                   build/deb (debian/, dpkg-buildpackage)

SHELL      := /bin/bash
BUILD      ?= build
ABS_BUILD  := $(abspath $(BUILD))
NGX_SRC    ?= /usr/share/nginx/src
NGX_BUILD  := $(ABS_BUILD)/nginx

PREFIX     ?= /usr
DESTDIR    ?=
MODDIR     ?= /usr/lib/nginx/modules
CONFDIR    ?= /etc/lava
SHAREDIR   ?= $(PREFIX)/share/lava
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= /lib/systemd/system

# The version, written in one place: the upstream part of debian/changelog's
# first line ("lava (0.1.0-1) ..." is 0.1.0).
VERSION    := $(shell head -1 debian/changelog | cut -d' ' -f2 | tr -d '()' | sed 's/-[^-]*$$//')

CC         ?= cc
DEB_CFLAGS := $(shell dpkg-buildflags --get CFLAGS 2>/dev/null)
DEB_LDFLAGS:= $(shell dpkg-buildflags --get LDFLAGS 2>/dev/null)
WARN       := -Wall -Wextra -Wno-unused-parameter -Werror
SAN        ?=
CFLAGS     ?= -O2 -g
SIDECAR_CFLAGS = $(CFLAGS) $(WARN) $(SAN) -std=gnu11 -Ilib -I/usr/include/postgresql
GEN        := $(BUILD)/gen
SIDECAR_LIBS   = -lhiredis -lpq -ljansson -lcrypto

MODULE_SRCS := $(wildcard ngx_lava_module/*.c ngx_lava_module/*.h \
                 lib/*.c lib/*.h) config
SIDECAR_SRCS:= $(wildcard sidecar/*.c)
SIDECAR_HDRS:= $(wildcard sidecar/*.h)
LIB_SRCS    := $(filter-out %.h,$(wildcard lib/*.c))

.PHONY: all module sidecar deps test unit prove demo install uninstall deb clean \
        fuzz fuzz-replay bench bench-xstream test-asan build-deps sdk-kit

all: module sidecar

deps:
	@scripts/install-deps

# what the build needs, named with the command that installs it
build-deps:
	@scripts/install-deps --check

module: $(BUILD)/ngx_http_lava_module.so
sidecar: $(BUILD)/lava-sidecar

# Configure once (about 30 s) with the distro's own flags, so the .so is binary
# compatible with Debian's nginx; later builds only recompile what changed.
$(NGX_BUILD)/Makefile: config
	@scripts/install-deps --check
	@mkdir -p $(NGX_BUILD)
	cd $(NGX_SRC) && . ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="$(DEB_CFLAGS) -fPIC $(SAN)" \
	    --with-ld-opt="$(DEB_LDFLAGS) $(SAN)" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(NGX_BUILD) >$(NGX_BUILD)/configure.log 2>&1 \
	  || { tail -30 $(NGX_BUILD)/configure.log; exit 1; }

$(BUILD)/ngx_http_lava_module.so: $(NGX_BUILD)/Makefile $(MODULE_SRCS)
	$(MAKE) -s -f $(NGX_BUILD)/Makefile -C $(NGX_SRC) modules
	cp $(NGX_BUILD)/ngx_http_lava_module.so $@

# lib/ sources the sidecar links (the rest of lib/ is the module's)
SIDECAR_LIB_C := lib/lava_event_v2.c

$(BUILD)/lava-sidecar: $(SIDECAR_SRCS) $(SIDECAR_HDRS) lib/lava_event_fields.h $(SIDECAR_LIB_C) \
        lib/lava_event_v2.h $(GEN)/lava_build.h
	@scripts/install-deps --check
	$(CC) $(CPPFLAGS) $(SIDECAR_CFLAGS) -I$(GEN) $(LDFLAGS) -o $@ $(SIDECAR_SRCS) $(SIDECAR_LIB_C) \
	    $(SIDECAR_LIBS)

# The version and the SQL files lava-migrate records (the sidecar's schema
# check, sidecar/schema.h); rewritten only when they change.
SQL_FILES := $(patsubst sql/%,%,$(sort $(wildcard sql/schema/*.sql sql/functions/*.sql sql/views.sql)))

$(GEN)/lava_build.h: FORCE
	@mkdir -p $(@D)
	@{ echo '/* made by the Makefile: the version (debian/changelog) and sql/ files */'; \
	   echo '#define LAVA_VERSION "$(VERSION)"'; \
	   echo '#define LAVA_SQL_FILES \'; \
	   printf '    "%s", \\\n' $(SQL_FILES); \
	   echo '    /* end */'; } >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

FORCE:

# Unit tests of the pure-C parts (Check).
UNIT_TESTS := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/check_*.c))
SIDECAR_LIB_SRCS := $(filter-out sidecar/main.c,$(SIDECAR_SRCS))

# each suite defines make_suite(); t/unit/main.c is the one main() (t/unit/unit.h)
$(BUILD)/unit/check_%: t/unit/check_%.c t/unit/main.c $(wildcard t/unit/*.h) $(LIB_SRCS) \
        $(SIDECAR_LIB_SRCS) $(wildcard lib/*.h) $(SIDECAR_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(SIDECAR_CFLAGS) -Ilib -Isidecar -It/unit -o $@ $< t/unit/main.c \
	    $(LIB_SRCS) $(SIDECAR_LIB_SRCS) $(SIDECAR_LIBS) $$(pkg-config --libs check)

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; CK_FORK=yes $$t; done

# Fuzz targets (fuzz/, see docs/security.md): every parser of untrusted bytes.
# fuzz-replay runs the committed corpus through a build without libFuzzer
# (the project's compiler, with ASan/UBSan), part of `make test`; `make fuzz`
# runs each target under libFuzzer (clang) for FUZZ_SECONDS.
FUZZ_TARGETS  := sse tap token url usage_openai usage_anthropic usage_gemini \
                 usage_cohere usage_custom usage_elevenlabs usage_retell usage_ep \
                 request metadata event usage_chunk authsnap spool_record keys \
                 multipart xlate xlate_stream partition entry3
FUZZ_SECONDS  ?= 60
FUZZ_CC       ?= clang
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_INC      := -Ilib -Isidecar -Ifuzz
FUZZ_LIBS     := -ljansson -lcrypto
FUZZ_DEPS     := $(LIB_SRCS) sidecar/event.c sidecar/partition.c sidecar/entry3.c \
                 $(wildcard fuzz/*.c fuzz/*.h \
                 lib/*.h) $(SIDECAR_HDRS)
# the target's source (usage_<format>: one source, built per format) and the
# parser sources it links
fuzz_src = $(if $(filter-out usage_ep usage_chunk,$(filter usage_%,$(1))),fuzz/fuzz_usage.c \
             -DFUZZ_USAGE_FORMAT=LAVA_USAGE_$(shell echo $(patsubst usage_%,%,$(1)) | tr a-z A-Z),\
             fuzz/fuzz_$(1).c)
fuzz_lib = $(if $(filter event,$(1)),sidecar/event.c lib/lava_event_v2.c,$(if $(filter partition,$(1)),sidecar/partition.c,$(if $(filter entry3,$(1)),sidecar/entry3.c sidecar/event.c lib/lava_event_v2.c,$(LIB_SRCS))))

FUZZ_REPLAY := $(patsubst %,$(BUILD)/fuzz/replay/%,$(FUZZ_TARGETS))
FUZZ_BINS   := $(patsubst %,$(BUILD)/fuzz/bin/%,$(FUZZ_TARGETS))

$(BUILD)/fuzz/replay/%: $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(WARN) -std=gnu11 $(FUZZ_SAN) $(FUZZ_INC) -o $@ \
	    fuzz/replay.c $(call fuzz_src,$*) $(call fuzz_lib,$*) $(FUZZ_LIBS)

$(BUILD)/fuzz/bin/%: $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) -O1 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(FUZZ_INC) -o $@ \
	    $(call fuzz_src,$*) $(call fuzz_lib,$*) $(FUZZ_LIBS)

fuzz-replay: $(FUZZ_REPLAY)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $(BUILD)/fuzz/replay/$$t fuzz/corpus/$$t; done

fuzz:
	@scripts/install-deps fuzz
	$(MAKE) $(FUZZ_BINS)
	fuzz/run $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Benchmarks (bench/, docs/benchmarks.md): the gateway against stock nginx on
# loopback, results in bench/results/<date>.md.
BENCH_CFLAGS := -O2 -g -std=gnu11 $(WARN)

$(BUILD)/bench/%: bench/%.c bench/bench_clock.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

# the stream translator alone, ns per event (docs/benchmarks.md)
$(BUILD)/bench/xstream: bench/xstream.c bench/bench_clock.h $(LIB_SRCS) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -Ilib -o $@ bench/xstream.c $(LIB_SRCS) -ljansson -lcrypto

bench-xstream: $(BUILD)/bench/xstream
	$(BUILD)/bench/xstream

# the tap alone on bench/run's SSE stream (bench/tapfeed.c)
$(BUILD)/bench/tapfeed: bench/tapfeed.c bench/bench_clock.h $(LIB_SRCS) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -Ilib -o $@ $< $(LIB_SRCS) -ljansson -lcrypto

bench:
	@scripts/install-deps bench
	$(MAKE) all $(BUILD)/bench/fastmock $(BUILD)/bench/sseclient
	bench/run $(BUILD)

# Sanitizers (fuzz/sanitize): module and sidecar built with ASan and UBSan in
# $(BUILD)-asan, unit tests and integration tests run against them; with
# VALGRIND=1 the integration tests run under valgrind with the plain build.
ASAN_BUILD := $(BUILD)-asan
VALGRIND   ?=

test-asan:
ifeq ($(VALGRIND),1)
	@scripts/install-deps valgrind
	$(MAKE) all
	fuzz/sanitize valgrind $(BUILD)
else
	@scripts/install-deps
	@# GCC warns more with the sanitizers on (paths it cannot prove): shown, not fatal
	$(MAKE) all unit BUILD=$(ASAN_BUILD) SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" \
	    WARN="-Wall -Wextra -Wno-unused-parameter"
	fuzz/sanitize asan $(ASAN_BUILD)
endif

# The integration tests start their stacks with the binaries of this build.
export LAVA_MODULE  := $(ABS_BUILD)/ngx_http_lava_module.so
export LAVA_SIDECAR := $(ABS_BUILD)/lava-sidecar

prove: all
	prove -r t/

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) sdk-kit
	prove -r t/

# The real client SDKs t/93 drives, pinned in t/sdk (package-lock.json)
sdk-kit:
	@mkdir -p $(BUILD)/sdk
	cp t/sdk/package.json t/sdk/package-lock.json $(BUILD)/sdk/
	cd $(BUILD)/sdk && npm ci --no-audit --no-fund

demo: deps
	$(MAKE) all
	scripts/demo

# Files under $(CONFDIR) already there are never overwritten (they hold the
# operator's keys and settings): a shipped file that differs is installed
# beside as <name>.dist, as dpkg's conffile prompt would offer it.
# provider-keys (read by nginx as root) is 0600; sidecar.conf (it may hold the
# Postgres password) 0640, group _lava when that user exists (the unit's).
CONF_FILES := $(wildcard conf/*.conf) conf/provider-keys.example conf/provider-keys.mock
MAN_PAGES  := $(wildcard docs/man/*.8)

install: all
	install -d $(DESTDIR)$(MODDIR) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(CONFDIR) \
	    $(DESTDIR)$(SHAREDIR)/sql/schema $(DESTDIR)$(SHAREDIR)/sql/functions \
	    $(DESTDIR)$(SHAREDIR)/sql/seed $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(PREFIX)/share/doc/lava
	install -m 644 $(BUILD)/ngx_http_lava_module.so $(DESTDIR)$(MODDIR)/
	install -m 755 $(BUILD)/lava-sidecar $(DESTDIR)$(PREFIX)/bin/
	install -m 755 scripts/lava-migrate $(DESTDIR)$(PREFIX)/bin/
	@set -e; for f in $(CONF_FILES); do \
	    case $$f in *provider-keys.example) d=provider-keys; m=600 ;; \
	                *provider-keys.mock) d=provider-keys.mock; m=600 ;; \
	                *sidecar.conf) d=sidecar.conf; m=640 ;; \
	                *) d=$${f##*/}; m=644 ;; esac; \
	    t=$(DESTDIR)$(CONFDIR)/$$d; \
	    if [ ! -e $$t ]; then install -m $$m $$f $$t; echo "installed $$t"; \
	        if [ $$m = 640 ] && [ -z "$(DESTDIR)" ] && getent group _lava >/dev/null; then \
	            chgrp _lava $$t; fi; \
	    elif cmp -s $$f $$t; then rm -f $$t.dist; \
	    else install -m $$m $$f $$t.dist; echo "kept $$t (yours); the shipped one is $$t.dist"; fi; \
	done
	install -m 644 sql/README.md sql/views.sql sql/roles.sql $(DESTDIR)$(SHAREDIR)/sql/
	install -m 644 sql/schema/*.sql $(DESTDIR)$(SHAREDIR)/sql/schema/
	install -m 644 sql/functions/*.sql $(DESTDIR)$(SHAREDIR)/sql/functions/
	install -m 644 sql/seed/*.sql $(DESTDIR)$(SHAREDIR)/sql/seed/
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 debian/lava-sidecar.service $(DESTDIR)$(UNITDIR)/
	install -m 644 docs/*.md README.md $(DESTDIR)$(PREFIX)/share/doc/lava/

# Leaves what the operator changed: a file of $(CONFDIR) that differs from
# the shipped one is kept (and named), and the directory with it.
uninstall:
	rm -f $(DESTDIR)$(MODDIR)/ngx_http_lava_module.so $(DESTDIR)$(PREFIX)/bin/lava-sidecar \
	    $(DESTDIR)$(PREFIX)/bin/lava-migrate $(DESTDIR)$(UNITDIR)/lava-sidecar.service \
	    $(patsubst docs/man/%,$(DESTDIR)$(MANDIR)/man8/%,$(MAN_PAGES))
	rm -rf $(DESTDIR)$(SHAREDIR)/sql $(DESTDIR)$(PREFIX)/share/doc/lava
	@rmdir $(DESTDIR)$(SHAREDIR) 2>/dev/null || true
	@set -e; for f in $(CONF_FILES); do \
	    case $$f in *provider-keys.example) d=provider-keys ;; *) d=$${f##*/} ;; esac; \
	    t=$(DESTDIR)$(CONFDIR)/$$d; rm -f $$t.dist; \
	    if [ -e $$t ]; then \
	        if cmp -s $$f $$t; then rm -f $$t; else echo "kept $$t (changed by you)"; fi; \
	    fi; \
	done
	-@rmdir $(DESTDIR)$(CONFDIR) 2>/dev/null || true

# Debian packages, built the Debian way (debian/: debhelper 13 with
# dh-sequence-nginx, as Debian's own libnginx-mod-* are) from a copy of the
# tree, so that the build leaves nothing in it; the .debs land in $(BUILD)/deb.
DEB_DIR := $(ABS_BUILD)/deb

deb:
	@scripts/install-deps --check
	@dpkg-checkbuilddeps || { echo "install them with:  make deps  (as root)" >&2; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	@# the tree's files (tracked, and new ones not ignored), or all of it outside git
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	    git ls-files -z -c -o --exclude-standard | tar -c --null -T - | tar -x -C $(DEB_DIR)/src; \
	else \
	    tar -c --exclude=./.git --exclude='./build*' --exclude=./.lava-stack . | tar -x -C $(DEB_DIR)/src; \
	fi
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc >$(DEB_DIR)/build.log 2>&1 \
	  || { tail -40 $(DEB_DIR)/build.log; exit 1; }
	@ls $(DEB_DIR)/*.deb

clean:
	rm -rf $(BUILD)
