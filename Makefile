# imgleak: `make` builds the shim and the analyzer; `make check` runs every test; `make demo`
# installs what is missing (as root), builds, and shows a report. Output goes to build/.
VERSION   := 0.1.0
CC        ?= cc
B         := build
PKGS      := libunwind libdw libelf
WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
CPPFLAGS  += -Iinclude -DIMGLEAK_VERSION='"$(VERSION)"'
DEPFLAGS   = -MMD -MP

SHIM_SRC  := $(wildcard preload/*.c)
ANA_SRC   := $(wildcard analyzer/*.c)
ANA_OBJ    = $(ANA_SRC:analyzer/%.c=$(B)/ana/%.o) $(B)/ana/assets.o
ANA_LIB    = $(filter-out $(B)/ana/main.o,$(ANA_OBJ))

SHIM_CFLAGS := -std=gnu11 -fPIC -fvisibility=hidden -ftls-model=initial-exec \
               $(shell pkg-config --cflags libunwind 2>/dev/null)
SHIM_LIBS   := $(shell pkg-config --libs libunwind 2>/dev/null) -ldl -lpthread -lm
ANA_CFLAGS  := -std=gnu11 $(shell pkg-config --cflags libdw libelf jansson zlib 2>/dev/null)
ANA_LIBS    := $(shell pkg-config --libs libdw libelf jansson zlib 2>/dev/null) -lm -ldl
TEST_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)
# pattern: an uninitialised local holds garbage, not whatever zeros the stack happened to hold,
# so using one (freeing a struct never initialised) fails here on every machine
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
               -ftrivial-auto-var-init=pattern

.PHONY: all check check-run deps-test report-check fuzz fuzz-check torture unit integration workloads workload-check sanitize tsan bench demo deps clean
all: $(B)/libimgleak.so $(B)/imgleak

# ---- the shim ----
$(B)/shim/%.o: preload/%.c | $(B)/shim
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(SHIM_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(B)/libimgleak.so: $(SHIM_SRC:preload/%.c=$(B)/shim/%.o)
	$(CC) -shared $(CFLAGS) -o $@ $^ $(SHIM_LIBS) -Wl,-z,nodelete

# ---- the analyzer ----
$(B)/ana/%.o: analyzer/%.c | $(B)/ana
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(ANA_CFLAGS) $(DEPFLAGS) -c $< -o $@
# files built into the binary (analyzer/assets.S)
$(B)/ana/assets.o: analyzer/assets.S suppressions/default.supp analyzer/report.html | $(B)/ana
	$(CC) -c $< -o $@
$(B)/imgleak: $(ANA_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(ANA_LIBS)

# ---- unit tests (cmocka): plain, and the analyzer's under ASan/UBSan ----
UNIT_TESTS := test_table test_stacks test_maps test_format test_attribute
TEST_SHIM_OBJS = $(B)/shim/table.o $(B)/shim/stacks.o $(B)/shim/maps.o $(B)/shim/os.o \
                 $(B)/shim/guard.o $(B)/shim/snapfile.o
$(B)/tests/test_table: tests/unit/test_table.c $(TEST_SHIM_OBJS) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -Ipreload $^ -o $@ $(TEST_LIBS) -lpthread
$(B)/tests/test_stacks: tests/unit/test_stacks.c $(TEST_SHIM_OBJS) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -Ipreload $^ -o $@ $(TEST_LIBS) -lpthread
$(B)/tests/test_maps: tests/unit/test_maps.c $(TEST_SHIM_OBJS) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -Ipreload $^ -o $@ $(TEST_LIBS) -lpthread
$(B)/tests/test_format: tests/unit/test_format.c $(TEST_SHIM_OBJS) $(ANA_LIB) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -Ipreload -Ianalyzer $^ -o $@ $(TEST_LIBS) $(ANA_LIBS) -lpthread
$(B)/tests/test_attribute: tests/unit/test_attribute.c $(ANA_LIB) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -Ianalyzer $^ -o $@ $(TEST_LIBS) $(ANA_LIBS)

# The same under AddressSanitizer/UBSan: everything rebuilt into build/asan.
$(B)/asan/.built: $(SHIM_SRC) $(ANA_SRC) analyzer/assets.S suppressions/default.supp analyzer/report.html $(wildcard tests/unit/*.c) $(wildcard include/imgleak/*.h analyzer/*.h preload/*.h)
	$(MAKE) --no-print-directory B=$(B)/asan CFLAGS="-O1 -g $(SAN_FLAGS)" \
	    $(B)/asan/imgleak $(UNIT_TESTS:%=$(B)/asan/tests/%)
	touch $@

# ThreadSanitizer for the lock-free tables.
$(B)/tsan/.built: $(SHIM_SRC) tests/unit/test_table.c tests/unit/test_stacks.c
	$(MAKE) --no-print-directory B=$(B)/tsan CFLAGS="-O1 -g -fsanitize=thread" \
	    $(B)/tsan/tests/test_table $(B)/tsan/tests/test_stacks
	touch $@

# ---- workloads: real codec programs with known leaks (workloads/truth.json) ----
WORKLOADS := jpeg png gif webp magick cairo mixed service
WL_LIBS_jpeg   := $(shell pkg-config --libs libjpeg 2>/dev/null)
WL_LIBS_png    := $(shell pkg-config --libs libpng 2>/dev/null)
WL_LIBS_gif    := -lgif
WL_LIBS_webp   := $(shell pkg-config --libs libwebp 2>/dev/null)
WL_LIBS_magick := $(shell pkg-config --libs MagickWand 2>/dev/null)
WL_LIBS_cairo  := $(shell pkg-config --libs cairo 2>/dev/null)
WL_LIBS_mixed  := $(WL_LIBS_jpeg) $(WL_LIBS_png) $(WL_LIBS_webp) -lpthread
WL_LIBS_service := $(WL_LIBS_webp)
WL_CFLAGS      := $(shell pkg-config --cflags MagickWand cairo libpng libwebp 2>/dev/null)
$(B)/workloads/wl_%: workloads/wl_%.c workloads/common.h | $(B)/workloads
	$(CC) -O2 -g $(WARN) -std=gnu11 $(WL_CFLAGS) $< -o $@ $(WL_LIBS_$*)
$(B)/workloads/wl_mixed: workloads/wl_jpeg.c workloads/wl_png.c workloads/wl_webp.c
workloads: $(WORKLOADS:%=$(B)/workloads/wl_%)

# ---- benchmarks (make bench; never part of make check) ----
BENCH_BINS := $(B)/bench/measure $(B)/bench/malloc_churn $(B)/bench/live_heavy $(B)/bench/deep_stacks \
              $(B)/bench/decode_loop
$(B)/bench/%: bench/%.c | $(B)/bench
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
$(B)/bench/decode_loop: bench/decode_loop.c workloads/wl_jpeg.c workloads/wl_png.c workloads/wl_webp.c | $(B)/bench
	$(CC) -O2 -g $(WARN) -std=gnu11 $(WL_CFLAGS) $< -o $@ $(WL_LIBS_jpeg) $(WL_LIBS_png) $(WL_LIBS_webp) -lgif
bench: all $(BENCH_BINS)
	@B=$(B) bash bench/run.sh

# ---- torture: the shim under threads, processes, signals, edge cases and other runtimes ----
TORTURE_BINS := $(B)/torture/threads $(B)/torture/procs $(B)/torture/signals $(B)/torture/edge \
                $(B)/torture/exceptions $(B)/torture/cgo
$(B)/torture/%: tests/torture/%.c | $(B)/torture
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
$(B)/torture/exceptions: tests/torture/exceptions.cc | $(B)/torture
	g++ -O2 -g $(WARN) -std=c++17 $< -o $@
$(B)/torture/cgo: tests/torture/cgo/main.go | $(B)/torture
	cd tests/torture/cgo && GOCACHE=$(abspath $(B))/torture/gocache GOFLAGS=-mod=mod GO111MODULE=off \
	    go build -o $(abspath $@) main.go
torture: all $(TORTURE_BINS) $(B)/tests/leaky $(B)/tests/stress $(B)/tests/semantics $(B)/asan/.built
	@B=$(B) bash tests/torture/run.sh

# ---- fuzzing (libFuzzer, clang): the snapshot reader, and every command; 30 s in make check,
# longer by make fuzz ----
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
$(B)/fuzz/fuzz_reader: tests/fuzz/fuzz_reader.c analyzer/reader.c analyzer/error.c analyzer/progress.c \
                       analyzer/escape.c analyzer/safeopen.c \
                       $(wildcard include/imgleak/*.h analyzer/*.h) | $(B)/fuzz
	clang $(CPPFLAGS) -Ianalyzer -std=gnu11 $(WARN) $(FUZZ_FLAGS) $(filter %.c,$^) -o $@
# every command in process (analyzer/main.c's main renamed), on snapshots and JSON reports
$(B)/fuzz/fuzz_commands: tests/fuzz/fuzz_commands.c $(ANA_SRC) analyzer/assets.S suppressions/default.supp \
                         analyzer/report.html $(wildcard include/imgleak/*.h analyzer/*.h) | $(B)/fuzz
	clang $(CPPFLAGS) -Ianalyzer -std=gnu11 $(WARN) $(FUZZ_FLAGS) $(ANA_CFLAGS) -Dmain=imgleak_main \
	    $(filter %.c %.S,$^) -o $@ $(ANA_LIBS)
FUZZ_DEPS := $(B)/fuzz/fuzz_reader $(B)/fuzz/fuzz_commands $(B)/tests/leaky $(B)/tests/reach \
             $(B)/tests/jpeg_misuse all
# FUZZ_SECONDS (or 30 in make check) is shared between the two targets
fuzz-check: $(FUZZ_DEPS)
	@B=$(B) bash tests/fuzz/run.sh 30
fuzz: $(FUZZ_DEPS)
	@B=$(B) bash tests/fuzz/run.sh $${FUZZ_SECONDS:-600}

# ---- integration: real programs under the shim ----
$(B)/tests/leaky: tests/integration/leaky.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
$(B)/tests/stress: tests/integration/stress.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
$(B)/tests/semantics: tests/integration/semantics.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
$(B)/tests/plugin.so: tests/integration/plugin.c | $(B)/tests
	$(CC) -O0 -g -shared -fPIC $(WARN) $< -o $@
$(B)/tests/dlopen_host: tests/integration/dlopen_host.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -ldl
$(B)/tests/jpeg_misuse: tests/integration/jpeg_misuse.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ $(WL_LIBS_jpeg)
$(B)/tests/png_plugin.so: tests/integration/png_plugin.c | $(B)/tests
	$(CC) -O0 -g -shared -fPIC $(WARN) $(shell pkg-config --cflags libpng 2>/dev/null) $< -o $@ $(WL_LIBS_png)
$(B)/tests/plugin_host: tests/integration/plugin_host.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -ldl
$(B)/tests/bigleak: tests/integration/bigleak.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -lm
$(B)/tests/fragment: tests/integration/fragment.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@
$(B)/tests/libreach_lib.so: tests/integration/reach_lib.c | $(B)/tests
	$(CC) -O2 -g -shared -fPIC $(WARN) $< -o $@
$(B)/tests/reach: tests/integration/reach.c $(B)/tests/libreach_lib.so | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -L$(B)/tests -lreach_lib -Wl,-rpath,'$$ORIGIN' -lpthread
$(B)/tests/init_only: tests/integration/init_only.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $(shell pkg-config --cflags MagickWand cairo fontconfig 2>/dev/null) $< -o $@ \
	    $(shell pkg-config --libs MagickWand cairo fontconfig 2>/dev/null)
$(B)/tests/protected: tests/integration/protected.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@
INTEGRATION_BINS := $(B)/tests/protected $(B)/tests/reach $(B)/tests/init_only $(B)/tests/bigleak $(B)/tests/fragment $(B)/tests/leaky $(B)/tests/stress $(B)/tests/semantics $(B)/tests/plugin.so \
                    $(B)/tests/dlopen_host $(B)/tests/jpeg_misuse $(B)/tests/png_plugin.so \
                    $(B)/tests/plugin_host

unit: $(UNIT_TESTS:%=$(B)/tests/%)
	@for t in $(UNIT_TESTS); do echo "== $$t"; $(B)/tests/$$t || exit 1; done

sanitize: $(B)/asan/.built
	@for t in $(UNIT_TESTS); do echo "== asan $$t"; $(B)/asan/tests/$$t || exit 1; done

tsan: $(B)/tsan/.built
	@for t in test_table test_stacks; do echo "== tsan $$t"; \
	    TSAN_OPTIONS=halt_on_error=1 setarch -R $(B)/tsan/tests/$$t || exit 1; done

integration: all $(INTEGRATION_BINS) $(B)/asan/.built $(WORKLOADS:%=$(B)/workloads/wl_%)
	@B=$(B) bash tests/integration/run.sh
	@B=$(B) bash tests/integration/service.sh
	@B=$(B) bash tests/integration/reach.sh

# reports, gate, diff and bad input: with the plain build, then all again under ASan/UBSan
report-check: all $(B)/asan/.built $(B)/workloads/wl_magick
	@B=$(B) bash tests/integration/reports.sh
	@B=$(B) IMGLEAK=$(B)/asan/imgleak bash tests/integration/reports.sh
	@B=$(B) bash tests/integration/robust.sh
	@B=$(B) IMGLEAK=$(B)/asan/imgleak bash tests/integration/robust.sh

workload-check: all workloads
	@B=$(B) bash tests/integration/workloads.sh

check: deps-test
	@$(MAKE) --no-print-directory check-run
check-run: all unit sanitize tsan integration workload-check report-check torture fuzz-check
	@echo "make check: all passed"

demo:
	@bash scripts/deps.sh --install
	@$(MAKE) --no-print-directory all workloads
	@bash scripts/demo.sh $(B)

deps:
	@bash scripts/deps.sh --install
deps-test:
	@bash scripts/deps.sh --install --tests

$(B)/shim $(B)/ana $(B)/tests $(B)/workloads $(B)/bench $(B)/fuzz $(B)/torture:
	mkdir -p $@

clean:
	rm -rf $(B)

-include $(wildcard $(B)/shim/*.d $(B)/ana/*.d)
