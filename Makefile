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

# The shim and the analyzer are grouped by stage (docs/ARCHITECTURE.md); objects are built flat,
# one directory each, so every base name is unique within its program.
SHIM_DIRS := preload/catalog preload/hooks preload/tables preload/snapshot preload/runtimes preload/base
ANA_DIRS  := analyzer/read analyzer/model analyzer/commands analyzer/writers
SHIM_INC  := $(addprefix -I,$(SHIM_DIRS))
ANA_INC   := $(addprefix -I,$(ANA_DIRS))
SHIM_SRC  := $(wildcard $(SHIM_DIRS:%=%/*.c))
ANA_SRC   := $(wildcard $(ANA_DIRS:%=%/*.c))
SHIM_HDR  := $(wildcard $(SHIM_DIRS:%=%/*.h))
ANA_HDR   := $(wildcard $(ANA_DIRS:%=%/*.h))
SHIM_OBJ   = $(addprefix $(B)/shim/,$(notdir $(SHIM_SRC:.c=.o))) $(B)/shim/declared_stubs.o \
             $(B)/shim/builtin_handles.o
# the analyzer checks a handle declaration file (imgleak run --handles) with the shim's parser
ANA_OBJ    = $(addprefix $(B)/ana/,$(notdir $(ANA_SRC:.c=.o))) $(B)/ana/assets.o \
             $(B)/ana/declfile.o $(B)/ana/builtin_handles.o
ANA_LIB    = $(filter-out $(B)/ana/main.o,$(ANA_OBJ))

SHIM_CFLAGS := -std=gnu11 -fPIC -fvisibility=hidden -ftls-model=initial-exec \
               $(shell pkg-config --cflags libunwind 2>/dev/null)
SHIM_LIBS   := $(shell pkg-config --libs libunwind 2>/dev/null) -ldl -lpthread -lm
ANA_CFLAGS  := -std=gnu11 $(shell pkg-config --cflags libdw libelf jansson zlib 2>/dev/null)
ANA_LIBS    := $(shell pkg-config --libs libdw libelf jansson zlib 2>/dev/null) -lstdc++ -lm -ldl
TEST_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)
# pattern: an uninitialised local holds garbage, not whatever zeros the stack happened to hold,
# so using one (freeing a struct never initialised) fails here on every machine
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
               -ftrivial-auto-var-init=pattern

.PHONY: all check check-run deps-test report-check fuzz fuzz-check torture unit integration workloads go-workloads workload-check sanitize tsan bench bench-analyzer bench-lsan demo deps clean
all: $(B)/libimgleak.so $(B)/libimgleak_audit.so $(B)/imgleak

# ---- the shim ----
define shim_rule
$$(B)/shim/%.o: $(1)/%.c | $$(B)/shim
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $$(WARN) $$(SHIM_CFLAGS) $$(SHIM_INC) $$(DEPFLAGS) -c $$< -o $$@
endef
$(foreach d,$(SHIM_DIRS),$(eval $(call shim_rule,$(d))))
# the trampolines of declared handle functions, and the built-in declarations' text
$(B)/shim/declared_stubs.o: preload/hooks/declared_stubs.S | $(B)/shim
	$(CC) -c $< -o $@
$(B)/shim/builtin_handles.o $(B)/ana/builtin_handles.o: preload/catalog/builtin_handles.S preload/catalog/builtin.handles \
                                                      preload/catalog/codecs.handles
	@mkdir -p $(@D)
	$(CC) -c $< -o $@
$(B)/ana/declfile.o: preload/catalog/declfile.c include/imgleak/declfile.h | $(B)/ana
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(ANA_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(B)/libimgleak.so: $(SHIM_OBJ)
	$(CC) -shared $(CFLAGS) -o $@ $^ $(SHIM_LIBS) -Wl,-z,nodelete

# The LD_AUDIT library that binds the codec hooks of libraries loaded by dlopen (preload/hooks/bind.c).
$(B)/libimgleak_audit.so: preload/hooks/audit/audit.c | $(B)/shim
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -fPIC -shared -fvisibility=hidden $< -o $@

# ---- the analyzer ----
define ana_rule
$$(B)/ana/%.o: $(1)/%.c | $$(B)/ana
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $$(WARN) $$(ANA_CFLAGS) $$(ANA_INC) $$(DEPFLAGS) -c $$< -o $$@
endef
$(foreach d,$(ANA_DIRS),$(eval $(call ana_rule,$(d))))
# files built into the binary (analyzer/writers/assets.S)
$(B)/ana/assets.o: analyzer/writers/assets.S suppressions/default.supp analyzer/writers/report.html | $(B)/ana
	$(CC) -c $< -o $@
$(B)/imgleak: $(ANA_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(ANA_LIBS)

# ---- unit tests (cmocka): plain, and the analyzer's under ASan/UBSan ----
UNIT_TESTS := test_table test_stacks test_stackcache test_maps test_format test_attribute test_golang \
              test_supervise test_declfile test_symbolize test_scrub test_sampler
TEST_SHIM_OBJS = $(B)/shim/table.o $(B)/shim/recsort.o $(B)/shim/stacks.o $(B)/shim/maps.o $(B)/shim/os.o \
                 $(B)/shim/guard.o $(B)/shim/snapfile.o $(B)/shim/ownfd.o
$(B)/tests/test_table: tests/unit/test_table.c $(TEST_SHIM_OBJS) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(SHIM_INC) $^ -o $@ $(TEST_LIBS) -lpthread
$(B)/tests/test_stacks: tests/unit/test_stacks.c $(TEST_SHIM_OBJS) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(SHIM_INC) $^ -o $@ $(TEST_LIBS) -lpthread
$(B)/tests/test_stackcache: tests/unit/test_stackcache.c $(TEST_SHIM_OBJS) $(B)/shim/stackcache.o | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(SHIM_INC) $^ -o $@ $(TEST_LIBS) -lpthread
$(B)/tests/test_scrub: tests/unit/test_scrub.c $(B)/shim/scrub.o $(B)/shim/glibc_heap.o | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(SHIM_INC) $^ -o $@ $(TEST_LIBS) -ldl
$(B)/tests/test_sampler: tests/unit/test_sampler.c $(B)/shim/sampler.o | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(SHIM_INC) $^ -o $@ $(TEST_LIBS) -lm
$(B)/tests/test_maps: tests/unit/test_maps.c $(TEST_SHIM_OBJS) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(SHIM_INC) $^ -o $@ $(TEST_LIBS) -lpthread
$(B)/tests/test_format: tests/unit/test_format.c $(TEST_SHIM_OBJS) $(ANA_LIB) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(SHIM_INC) $(ANA_INC) $^ -o $@ $(TEST_LIBS) $(ANA_LIBS) -lpthread
$(B)/tests/test_attribute: tests/unit/test_attribute.c $(ANA_LIB) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(ANA_INC) $^ -o $@ $(TEST_LIBS) $(ANA_LIBS)
$(B)/tests/test_supervise: tests/unit/test_supervise.c $(ANA_LIB) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(ANA_INC) $^ -o $@ $(TEST_LIBS) $(ANA_LIBS)
$(B)/tests/test_declfile: tests/unit/test_declfile.c $(B)/ana/declfile.o $(B)/ana/builtin_handles.o | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $^ -o $@ $(TEST_LIBS)
$(B)/tests/test_golang: tests/unit/test_golang.c $(ANA_LIB) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(ANA_INC) $^ -o $@ $(TEST_LIBS) $(ANA_LIBS)
$(B)/tests/test_symbolize: tests/unit/test_symbolize.c $(ANA_LIB) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(ANA_INC) $^ -o $@ $(TEST_LIBS) $(ANA_LIBS)

# The same under AddressSanitizer/UBSan: everything rebuilt into build/asan.
# The shim itself is not built with ASan (it goes into programs that are not): the ASan analyzer's
# imgleak run finds the plain one beside it.
$(B)/asan/.built: $(SHIM_SRC) $(ANA_SRC) preload/catalog/builtin.handles preload/catalog/codecs.handles analyzer/writers/assets.S suppressions/default.supp analyzer/writers/report.html $(wildcard tests/unit/*.c) $(wildcard include/imgleak/*.h) $(ANA_HDR) $(SHIM_HDR) \
                  $(B)/libimgleak.so $(B)/libimgleak_audit.so
	$(MAKE) --no-print-directory B=$(B)/asan CFLAGS="-O1 -g $(SAN_FLAGS)" \
	    $(B)/asan/imgleak $(UNIT_TESTS:%=$(B)/asan/tests/%)
	ln -sf ../libimgleak.so ../libimgleak_audit.so $(B)/asan/
	touch $@

# ThreadSanitizer for the lock-free tables.
$(B)/tsan/.built: $(SHIM_SRC) tests/unit/test_table.c tests/unit/test_stacks.c
	$(MAKE) --no-print-directory B=$(B)/tsan CFLAGS="-O1 -g -fsanitize=thread" \
	    $(B)/tsan/tests/test_table $(B)/tsan/tests/test_stacks
	touch $@

# ---- workloads: real codec programs with known leaks (workloads/truth.json) ----
WORKLOADS := jpeg png gif webp magick cairo mixed service userbuf vips opencv inputs
WL_LIBS_jpeg   := $(shell pkg-config --libs libjpeg 2>/dev/null)
WL_LIBS_png    := $(shell pkg-config --libs libpng 2>/dev/null)
WL_LIBS_gif    := -lgif
WL_LIBS_webp   := $(shell pkg-config --libs libwebp 2>/dev/null)
WL_LIBS_magick := $(shell pkg-config --libs MagickWand 2>/dev/null)
WL_LIBS_cairo  := $(shell pkg-config --libs cairo 2>/dev/null)
WL_LIBS_mixed  := $(WL_LIBS_jpeg) $(WL_LIBS_png) $(WL_LIBS_webp) -lpthread
WL_LIBS_service := $(WL_LIBS_webp)
WL_LIBS_inputs := $(WL_LIBS_jpeg) $(WL_LIBS_png) -lgif -lpthread
WL_LIBS_userbuf := -L$(B)/workloads -luserbuf -Wl,-rpath,'$$ORIGIN'
WL_LIBS_vips   := $(shell pkg-config --libs vips 2>/dev/null)
WL_LIBS_opencv := -lopencv_core
WL_CFLAGS_vips := $(shell pkg-config --cflags vips 2>/dev/null)
WL_CFLAGS_opencv := -I/usr/include/opencv4
WL_CFLAGS      := $(shell pkg-config --cflags MagickWand cairo libpng libwebp 2>/dev/null)
$(B)/workloads/wl_%: workloads/wl_%.c workloads/common.h | $(B)/workloads
	$(CC) -O2 -g $(WARN) -std=gnu11 -Iinclude $(WL_CFLAGS) $(WL_CFLAGS_$*) $< -o $@ $(WL_LIBS_$*)
# a program's own library, whose handles workloads/userbuf/userbuf.handles declares
$(B)/workloads/libuserbuf.so: workloads/userbuf/userbuf.c workloads/userbuf/userbuf.h | $(B)/workloads
	$(CC) -O2 -g $(WARN) -std=gnu11 -fPIC -shared $< -o $@
$(B)/workloads/wl_userbuf: $(B)/workloads/libuserbuf.so workloads/userbuf/userbuf.h
$(B)/workloads/wl_mixed: workloads/wl_jpeg.c workloads/wl_png.c workloads/wl_webp.c
$(B)/workloads/wl_jpeg $(B)/workloads/wl_inputs $(B)/workloads/wl_mixed $(B)/workloads/mkcorpus $(B)/bench/decode_loop: workloads/jpeg_errors.h
# the inputs workload's corpus, generated (no image is kept in the repository)
$(B)/workloads/wl_inputs: include/imgleak.h $(B)/workloads/corpus/.made
$(B)/workloads/mkcorpus: workloads/mkcorpus.c workloads/wl_jpeg.c workloads/wl_png.c workloads/common.h | $(B)/workloads
	$(CC) -O2 -g $(WARN) -std=gnu11 $(WL_CFLAGS) $< -o $@ $(WL_LIBS_jpeg) $(WL_LIBS_png) -lgif
$(B)/workloads/corpus/.made: $(B)/workloads/mkcorpus
	rm -rf $(B)/workloads/corpus && $< $(B)/workloads/corpus && touch $@
# Go workloads (cgo, standard library only): one directory each under workloads/go/; apart
# from `workloads` (make demo) since they need Go, which only the test dependencies install
GO_WORKLOADS := go go_service
$(GO_WORKLOADS:%=$(B)/workloads/wl_%): $(B)/workloads/wl_%: workloads/go/wl_%/main.go | $(B)/workloads
	cd $(<D) && GOCACHE=$(abspath $(B))/workloads/gocache GOFLAGS=-mod=mod GO111MODULE=off \
	    go build -o $(abspath $@) main.go
# The Node workload (workloads/node/): its N-API addon, built against the installed Node's own
# headers (<prefix>/include/node) as a package in build/workloads/node/node_modules; only when
# there is a Node (workloads.sh skips the workload without one)
NODE_INCLUDE := $(shell node -p "require('path').resolve(process.execPath, '../../include/node')" 2>/dev/null)
NODE_ADDON   := $(if $(shell command -v node 2>/dev/null),$(B)/workloads/node/node_modules/imgleak-pattern/pattern.node)
$(B)/workloads/node/node_modules/imgleak-pattern/pattern.node: workloads/node/pattern_addon.c
	@test -f "$(NODE_INCLUDE)/node_api.h" || { echo "no node_api.h in '$(NODE_INCLUDE)': the Node workload needs the installed Node's headers"; exit 1; }
	@mkdir -p $(@D)
	$(CC) -O2 -g $(WARN) -std=gnu11 -shared -fPIC -I$(NODE_INCLUDE) $(WL_CFLAGS) $< -o $@ $(WL_LIBS_cairo)
workloads: $(WORKLOADS:%=$(B)/workloads/wl_%) $(NODE_ADDON)
# Every other Go toolchain installed beside Debian's default (golang-1.NN-go from
# bookworm-backports, which scripts/deps.sh installs): the Go workloads and the Go end test are
# built with each too, in $(B)/go1.NN/, and go.sh, final.sh and workloads.sh run them all
GO_DEFAULT_ROOT := $(shell go env GOROOT 2>/dev/null)
GO_OTHER := $(patsubst /usr/lib/go-%/bin/go,%,$(filter-out $(GO_DEFAULT_ROOT)/bin/go,\
              $(wildcard /usr/lib/go-1.*/bin/go)))
GO_OTHER_BINS := $(foreach v,$(GO_OTHER),$(B)/go$(v)/wl_go $(B)/go$(v)/wl_go_service $(B)/go$(v)/go_ends)
GO_BUILD = cd $(<D) && GOCACHE=$(abspath $(@D))/gocache GOFLAGS=-mod=mod GO111MODULE=off \
	    /usr/lib/go-$*/bin/go build -o $(abspath $@) main.go
$(B)/go%/wl_go: workloads/go/wl_go/main.go
	@mkdir -p $(@D)
	$(GO_BUILD)
$(B)/go%/wl_go_service: workloads/go/wl_go_service/main.go
	@mkdir -p $(@D)
	$(GO_BUILD)
$(B)/go%/go_ends: tests/integration/go_ends/main.go
	@mkdir -p $(@D)
	$(GO_BUILD)
go-workloads: $(GO_WORKLOADS:%=$(B)/workloads/wl_%) $(GO_OTHER_BINS)

# ---- benchmarks (make bench; never part of make check) ----
BENCH_PROGS := malloc_churn live_heavy deep_stacks decode_loop one_site_threads recursion
BENCH_BINS := $(B)/bench/measure $(BENCH_PROGS:%=$(B)/bench/%) $(B)/bench/interpose.so
$(B)/bench/%: bench/%.c | $(B)/bench
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
$(B)/bench/interpose.so: bench/interpose.c | $(B)/bench
	$(CC) -O2 -g $(WARN) -std=gnu11 -fPIC -shared $< -o $@
$(B)/bench/decode_loop: bench/decode_loop.c workloads/wl_jpeg.c workloads/wl_png.c workloads/wl_webp.c | $(B)/bench
	$(CC) -O2 -g $(WARN) -std=gnu11 $(WL_CFLAGS) $< -o $@ $(WL_LIBS_jpeg) $(WL_LIBS_png) $(WL_LIBS_webp) -lgif
# The same programs under LeakSanitizer, for the comparison; skipped when the compiler lacks it.
bench-lsan: $(BENCH_PROGS:%=bench/%.c) | $(B)/bench
	@mkdir -p $(B)/bench/lsan
	@for p in $(BENCH_PROGS); do \
	    libs="-lpthread"; [ $$p = decode_loop ] && libs="$(WL_CFLAGS) $(WL_LIBS_jpeg) $(WL_LIBS_png) $(WL_LIBS_webp) -lgif"; \
	    $(CC) -O2 -g -std=gnu11 -fsanitize=leak bench/$$p.c -o $(B)/bench/lsan/$$p $$libs 2>/dev/null || \
	    { echo "bench: no -fsanitize=leak with $(CC): LeakSanitizer left out"; rm -rf $(B)/bench/lsan; break; }; \
	done
bench: all $(BENCH_BINS) $(B)/bench/gensnap bench-lsan
	@B=$(B) bash bench/run.sh
	@B=$(B) bash bench/analyzer.sh
# the analyzer alone, on generated large and adversarial snapshots
$(B)/bench/gensnap: bench/gensnap.c include/imgleak/format.h | $(B)/bench
	$(CC) $(CPPFLAGS) -O2 -g $(WARN) -std=gnu11 $< -o $@
bench-analyzer: all $(B)/bench/gensnap
	@B=$(B) bash bench/analyzer.sh

# ---- torture: the shim under threads, processes, signals, edge cases and other runtimes ----
TORTURE_BINS := $(B)/torture/threads $(B)/torture/procs $(B)/torture/signals $(B)/torture/edge \
                $(B)/torture/exceptions $(B)/torture/cgo $(B)/torture/exits $(B)/torture/fdstorm \
                $(B)/torture/newstacks $(B)/torture/nomembarrier
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
$(B)/fuzz/fuzz_reader: tests/fuzz/fuzz_reader.c analyzer/read/reader.c analyzer/read/reader_script.c analyzer/commands/error.c \
                       analyzer/commands/progress.c analyzer/writers/escape.c analyzer/read/safeopen.c \
                       $(wildcard include/imgleak/*.h) $(ANA_HDR) | $(B)/fuzz
	clang $(CPPFLAGS) $(ANA_INC) -std=gnu11 $(WARN) $(FUZZ_FLAGS) $(filter %.c,$^) -o $@
# every command in process (analyzer/commands/main.c's main renamed), on snapshots and JSON reports
$(B)/fuzz/fuzz_commands: tests/fuzz/fuzz_commands.c $(ANA_SRC) analyzer/writers/assets.S suppressions/default.supp \
                         analyzer/writers/report.html preload/catalog/declfile.c preload/catalog/builtin_handles.S \
                         preload/catalog/builtin.handles preload/catalog/codecs.handles $(wildcard include/imgleak/*.h) $(ANA_HDR) | $(B)/fuzz
	clang $(CPPFLAGS) $(ANA_INC) -std=gnu11 $(WARN) $(FUZZ_FLAGS) $(ANA_CFLAGS) -Dmain=imgleak_main \
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
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@
$(B)/tests/jpeg_misuse: tests/integration/jpeg_misuse.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ $(WL_LIBS_jpeg)
$(B)/tests/thread_key: tests/integration/thread_key.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
$(B)/tests/webp_rescale: tests/integration/webp_rescale.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ $(WL_LIBS_webp)
$(B)/tests/glib_slices: tests/integration/glib_slices.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $(shell pkg-config --cflags glib-2.0) $< -o $@ $(shell pkg-config --libs glib-2.0)
$(B)/tests/gobject_types: tests/integration/gobject_types.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $(shell pkg-config --cflags gobject-2.0) $< -o $@ $(shell pkg-config --libs gobject-2.0)
$(B)/tests/png_plugin.so: tests/integration/png_plugin.c | $(B)/tests
	$(CC) -O0 -g -shared -fPIC $(WARN) $(shell pkg-config --cflags libpng 2>/dev/null) $< -o $@ $(WL_LIBS_png)
$(B)/tests/plugin_host: tests/integration/plugin_host.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@
$(B)/tests/bigleak: tests/integration/bigleak.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -lm
$(B)/tests/fragment: tests/integration/fragment.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@
$(B)/tests/libreach_lib.so: tests/integration/reach_lib.c | $(B)/tests
	$(CC) -O2 -g -shared -fPIC $(WARN) $< -o $@
$(B)/tests/reach: tests/integration/reach.c $(B)/tests/libreach_lib.so | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -L$(B)/tests -lreach_lib -Wl,-rpath,'$$ORIGIN' -lpthread
$(B)/tests/stale: tests/integration/stale.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@
$(B)/tests/init_only: tests/integration/init_only.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $(shell pkg-config --cflags MagickWand cairo fontconfig 2>/dev/null) $< -o $@ \
	    $(shell pkg-config --libs MagickWand cairo fontconfig 2>/dev/null)
$(B)/tests/tls_plugin.so: tests/integration/tls_plugin.c | $(B)/tests
	$(CC) -O2 -g -shared -fPIC $(WARN) $< -o $@
$(B)/tests/tls_host: tests/integration/tls_host.c $(B)/tests/tls_plugin.so | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -ldl -lpthread
$(B)/tests/protected: tests/integration/protected.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@
# how the codec hooks bind (tests/integration/bind.sh)
$(B)/tests/plugin_loop: tests/integration/plugin_loop.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -ldl
$(B)/tests/libown_names.so: tests/integration/own_names_lib.c | $(B)/tests
	$(CC) -O2 -g -shared -fPIC $(WARN) $< -o $@
$(B)/tests/own_names: tests/integration/own_names.c $(B)/tests/libown_names.so | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -L$(B)/tests -lown_names -Wl,-rpath,'$$ORIGIN'
$(B)/tests/dlsym_codec: tests/integration/dlsym_codec.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ $(WL_LIBS_png) -ldl
$(B)/tests/runpath/librunpath_dep.so: tests/integration/runpath_dep.c | $(B)/tests
	mkdir -p $(B)/tests/runpath
	$(CC) -O2 -g -shared -fPIC $(WARN) $< -o $@
$(B)/tests/runpath_host: tests/integration/runpath_host.c $(B)/tests/runpath/librunpath_dep.so | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -ldl -Wl,--enable-new-dtags,-rpath,'$$ORIGIN/runpath'
$(B)/tests/bindnow_png: tests/integration/bindnow_png.c | $(B)/tests
	$(CC) -O0 -g -fno-plt $(WARN) -std=gnu11 $(shell pkg-config --cflags libpng 2>/dev/null) $< -o $@ \
	    $(WL_LIBS_png) -Wl,-z,now
$(B)/tests/libbig_tls.so: tests/integration/big_tls_lib.c | $(B)/tests
	$(CC) -O2 -g -shared -fPIC $(WARN) $< -o $@
$(B)/tests/big_tls: tests/integration/big_tls.c $(B)/tests/libbig_tls.so | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -L$(B)/tests -lbig_tls -Wl,-rpath,'$$ORIGIN'
BIND_BINS := $(B)/tests/plugin_loop $(B)/tests/png_plugin.so $(B)/tests/own_names $(B)/tests/dlsym_codec \
             $(B)/tests/runpath_host $(B)/tests/bindnow_png $(B)/tests/big_tls
INTEGRATION_BINS := $(B)/tests/tls_host $(B)/tests/protected $(B)/tests/reach $(B)/tests/init_only $(B)/tests/bigleak $(B)/tests/fragment $(B)/tests/leaky $(B)/tests/stress $(B)/tests/semantics $(B)/tests/plugin.so \
                    $(B)/tests/dlopen_host $(B)/tests/jpeg_misuse $(B)/tests/webp_rescale $(B)/tests/glib_slices $(B)/tests/gobject_types $(B)/tests/thread_key $(B)/tests/png_plugin.so \
                    $(B)/tests/plugin_host $(BIND_BINS)
$(B)/tests/mapedge: tests/integration/mapedge.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@
$(B)/tests/sandboxed: tests/integration/sandboxed.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
$(B)/tests/forkbig: tests/integration/forkbig.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@
$(B)/tests/vlimit: tests/integration/vlimit.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@
# -O0: no identical-code folding, which would make via_a and via_b one function
$(B)/tests/samestack: tests/integration/samestack.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@
# no unwind tables in lowfds_nocfi.c: libunwind checks the frames it reads through its pipe
$(B)/tests/lowfds: tests/integration/lowfds.c tests/integration/lowfds_nocfi.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 -fno-asynchronous-unwind-tables -fno-unwind-tables -c \
	    tests/integration/lowfds_nocfi.c -o $(B)/tests/lowfds_nocfi.o
	$(CC) -O2 -g $(WARN) -std=gnu11 tests/integration/lowfds.c $(B)/tests/lowfds_nocfi.o -o $@
# tracking.sh's programs
$(B)/tests/vforker: tests/integration/vforker.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@
INTEGRATION_BINS += $(B)/tests/vlimit $(B)/tests/forkbig $(B)/tests/sandboxed $(B)/tests/mapedge \
                    $(B)/tests/samestack $(B)/tests/lowfds $(B)/tests/vforker
$(B)/tests/outdir: tests/integration/outdir.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@
$(B)/tests/forker: tests/integration/forker.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@
INTEGRATION_BINS += $(B)/tests/outdir $(B)/tests/forker
$(B)/tests/fds: tests/integration/fds.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@
INTEGRATION_BINS += $(B)/tests/fds
$(B)/tests/ends: tests/integration/ends.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
$(B)/tests/hog: tests/integration/hog.c | $(B)/tests
	$(CC) -O1 -g $(WARN) -std=gnu11 $< -o $@
$(B)/tests/go_ends: tests/integration/go_ends/main.go | $(B)/tests
	cd tests/integration/go_ends && GOCACHE=$(abspath $(B))/tests/gocache GOFLAGS=-mod=mod GO111MODULE=off \
	    go build -o $(abspath $@) main.go
INTEGRATION_BINS += $(B)/tests/ends $(B)/tests/hog $(B)/tests/go_ends $(B)/tests/stale
# declared.sh's host that dlopens libuserbuf
$(B)/tests/declared_dlopen: tests/integration/declared_dlopen.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -ldl
$(B)/tests/libdeclared_cxx.so: tests/integration/declared_cxx_lib.cc | $(B)/tests
	g++ -O2 -g $(WARN) -std=c++17 -fPIC -shared $< -o $@
$(B)/tests/declared_cxx: tests/integration/declared_cxx.cc $(B)/tests/libdeclared_cxx.so | $(B)/tests
	g++ -O2 -g $(WARN) -std=c++17 $< -o $@ -L$(B)/tests -ldeclared_cxx -Wl,-rpath,'$$ORIGIN' -lpthread
$(B)/tests/declared_ort: tests/integration/declared_ort.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -ldl
# -O2: its destroy functions end in tail calls to close and fclose
$(B)/tests/libtailclose.so: tests/integration/tailclose_lib.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 -fPIC -shared $< -o $@
$(B)/tests/tailclose: tests/integration/tailclose.c $(B)/tests/libtailclose.so | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -L$(B)/tests -ltailclose -Wl,-rpath,'$$ORIGIN'
INTEGRATION_BINS += $(B)/tests/declared_dlopen $(B)/tests/declared_cxx $(B)/tests/declared_ort \
                    $(B)/tests/tailclose $(B)/workloads/libuserbuf.so
# imgleak attach (tests/integration/attach.sh)
$(B)/tests/attach_svc: tests/integration/attach_svc.c | $(B)/tests
	$(CC) -O2 -g $(WARN) -std=gnu11 $< -o $@ -lpthread
INTEGRATION_BINS += $(B)/tests/attach_svc

unit: $(UNIT_TESTS:%=$(B)/tests/%)
	@for t in $(UNIT_TESTS); do echo "== $$t"; $(B)/tests/$$t || exit 1; done

sanitize: $(B)/asan/.built
	@for t in $(UNIT_TESTS); do echo "== asan $$t"; $(B)/asan/tests/$$t || exit 1; done

tsan: $(B)/tsan/.built
	@for t in test_table test_stacks; do echo "== tsan $$t"; \
	    TSAN_OPTIONS=halt_on_error=1 setarch -R $(B)/tsan/tests/$$t || exit 1; done

integration: all $(INTEGRATION_BINS) $(B)/asan/.built $(WORKLOADS:%=$(B)/workloads/wl_%) \
             $(GO_WORKLOADS:%=$(B)/workloads/wl_%) $(GO_OTHER_BINS) $(NODE_ADDON)
	@B=$(B) bash tests/integration/run.sh
	@B=$(B) bash tests/integration/bind.sh
	@B=$(B) bash tests/integration/declared.sh
	@B=$(B) bash tests/integration/service.sh
	@B=$(B) bash tests/integration/output.sh
	@B=$(B) bash tests/integration/reach.sh
	@B=$(B) bash tests/integration/split.sh
	@B=$(B) bash tests/integration/symbols.sh
	@B=$(B) bash tests/integration/tracking.sh
	@B=$(B) bash tests/integration/realprogs.sh
	@B=$(B) bash tests/integration/final.sh
	@B=$(B) bash tests/integration/go.sh
	@B=$(B) bash tests/integration/attach.sh
	@B=$(B) bash tests/integration/python.sh
	@B=$(B) bash tests/integration/node.sh
	@B=$(B) bash tests/integration/inputs.sh

# reports, gate, diff and bad input: with the plain build, then again under ASan/UBSan
report-check: all $(B)/asan/.built $(B)/workloads/wl_magick $(B)/workloads/wl_jpeg $(B)/workloads/wl_service $(B)/tests/reach \
              $(B)/tests/jpeg_misuse $(B)/bench/gensnap
	@B=$(B) bash tests/integration/reports.sh
	@B=$(B) IMGLEAK=$(B)/asan/imgleak bash tests/integration/reports.sh
	@B=$(B) bash tests/integration/robust.sh
	@B=$(B) IMGLEAK=$(B)/asan/imgleak bash tests/integration/robust.sh
	@B=$(B) bash tests/integration/ci.sh
	@B=$(B) bash tests/integration/entries.sh
	@B=$(B) bash tests/integration/dataloss.sh
	@B=$(B) bash tests/integration/scale.sh

workload-check: all workloads go-workloads
	@B=$(B) bash tests/integration/workloads.sh

check: deps-test
	@$(MAKE) --no-print-directory check-run
check-run: all unit sanitize tsan integration workload-check report-check torture fuzz-check package-check
	@echo "make check: all passed"

demo:
	@bash scripts/deps.sh --install
	@$(MAKE) --no-print-directory all workloads
	@bash scripts/demo.sh $(B)

deps:
	@bash scripts/deps.sh --install
deps-test:
	@bash scripts/deps.sh --install --tests

# ---- install, uninstall and the Debian package ----
# make install [PREFIX=/usr/local] [DESTDIR=]: imgleak in bin/, the shim in lib/imgleak/ (where
# the installed imgleak run looks for it: ../lib/imgleak beside its own bin/), the man page made
# from imgleak --help by help2man, bash and zsh completion, and the program API (imgleak_set_tag,
# imgleak_snapshot): include/imgleak.h and its pkg-config file (lib/pkgconfig/imgleak.pc).
# make deb: the same, staged with PREFIX=/usr and packed by dpkg-deb.
PREFIX      ?= /usr/local
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
INCLUDEDIR  ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(PREFIX)/lib/pkgconfig
INSTALLED    = $(PREFIX)/bin/imgleak $(PREFIX)/lib/imgleak/libimgleak.so \
               $(PREFIX)/lib/imgleak/libimgleak_audit.so $(MANDIR)/man1/imgleak.1 \
               $(BASHCOMPDIR)/imgleak $(ZSHCOMPDIR)/_imgleak $(INCLUDEDIR)/imgleak.h \
               $(PKGCONFIGDIR)/imgleak.pc
DEB_ARCH    := $(shell dpkg --print-architecture 2>/dev/null)
DEB         := $(B)/imgleak_$(VERSION)_$(DEB_ARCH).deb
DEB_MAINTAINER ?= imgleak maintainers <imgleak@example.org>
# the date help2man writes into the page: the last commit's, so a rebuild gives the same page
MAN_DATE     = $(shell git log -1 --format=%ct 2>/dev/null)
.PHONY: install uninstall deb package-check FORCE

$(B)/imgleak.1: $(B)/imgleak
	@command -v help2man > /dev/null || { echo "the man page is made by help2man: apt-get install help2man" >&2; exit 1; }
	SOURCE_DATE_EPOCH=$(MAN_DATE) help2man --no-info --no-discard-stderr --version-string=$(VERSION) \
	    --name="find the memory a program leaks and the line that allocated it" -o $@ ./$(B)/imgleak

install: all $(B)/imgleak.1 $(B)/imgleak.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/imgleak $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(B)/imgleak $(DESTDIR)$(PREFIX)/bin/imgleak
	install -m 644 $(B)/libimgleak.so $(DESTDIR)$(PREFIX)/lib/imgleak/libimgleak.so
	install -m 644 $(B)/libimgleak_audit.so $(DESTDIR)$(PREFIX)/lib/imgleak/libimgleak_audit.so
	install -m 644 $(B)/imgleak.1 $(DESTDIR)$(MANDIR)/man1/imgleak.1
	install -m 644 completions/imgleak.bash $(DESTDIR)$(BASHCOMPDIR)/imgleak
	install -m 644 completions/_imgleak $(DESTDIR)$(ZSHCOMPDIR)/_imgleak
	install -m 644 include/imgleak.h $(DESTDIR)$(INCLUDEDIR)/imgleak.h
	install -m 644 $(B)/imgleak.pc $(DESTDIR)$(PKGCONFIGDIR)/imgleak.pc

# the prefix is the one installed to (a rebuild with another PREFIX makes it again)
$(B)/imgleak.pc: packaging/imgleak.pc.in FORCE | $(B)/shim
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@.tmp
	cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
FORCE:
uninstall:
	rm -f $(INSTALLED:%=$(DESTDIR)%)
	rmdir $(DESTDIR)$(PREFIX)/lib/imgleak 2> /dev/null || true
	rmdir $(DESTDIR)$(PKGCONFIGDIR) 2> /dev/null || true

deb: $(DEB)
$(DEB): all $(B)/imgleak.1 completions/imgleak.bash completions/_imgleak packaging/deb/control \
        packaging/deb/copyright packaging/deb/changelog
	rm -rf $(B)/deb && mkdir -p $(B)/deb/root/DEBIAN $(B)/deb/src/debian
	$(MAKE) --no-print-directory install B=$(B) DESTDIR=$(abspath $(B))/deb/root PREFIX=/usr \
	    ZSHCOMPDIR=/usr/share/zsh/vendor-completions PKGCONFIGDIR=/usr/share/pkgconfig
	cd $(B)/deb/root && strip --strip-unneeded --remove-section=.comment --remove-section=.note \
	    usr/bin/imgleak usr/lib/imgleak/libimgleak.so usr/lib/imgleak/libimgleak_audit.so && \
	    gzip -9n usr/share/man/man1/imgleak.1
	install -d $(B)/deb/root/usr/share/doc/imgleak
	install -m 644 packaging/deb/copyright $(B)/deb/root/usr/share/doc/imgleak/copyright
	gzip -9nc packaging/deb/changelog > $(B)/deb/root/usr/share/doc/imgleak/changelog.gz
	printf 'Source: imgleak\n\nPackage: imgleak\nArchitecture: any\n' > $(B)/deb/src/debian/control
	cd $(B)/deb/src && dpkg-shlibdeps -O ../root/usr/bin/imgleak ../root/usr/lib/imgleak/libimgleak.so \
	    ../root/usr/lib/imgleak/libimgleak_audit.so \
	    2> /dev/null | sed 's/^shlibs:Depends=//' > ../depends
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' -e 's/@MAINTAINER@/$(DEB_MAINTAINER)/' \
	    -e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(B)/deb/root | cut -f1)/" \
	    -e "s/@DEPENDS@/$$(cat $(B)/deb/depends)/" packaging/deb/control > $(B)/deb/root/DEBIAN/control
	cd $(B)/deb/root && find usr -type f -exec md5sum {} + > DEBIAN/md5sums
	dpkg-deb --root-owner-group --build $(B)/deb/root $@

package-check: all $(B)/tests/sigloop $(B)/tests/leaky
	@B=$(B) bash tests/integration/package.sh

$(B)/tests/sigloop: tests/integration/sigloop.c | $(B)/tests
	$(CC) -O0 -g $(WARN) -std=gnu11 $< -o $@

$(B)/shim $(B)/ana $(B)/tests $(B)/workloads $(B)/bench $(B)/fuzz $(B)/torture:
	mkdir -p $@

clean:
	rm -rf $(B)

-include $(wildcard $(B)/shim/*.d $(B)/ana/*.d)
