// A Go program calling C through cgo: the Go runtime's own threads and mappings, C allocations
// made from Go, some kept and some leaked. The shim must not disturb the runtime.
package main

/*
#include <stdlib.h>
#include <string.h>

void *volatile kept; // visible and volatile: the compiler must keep the allocation

static char *c_work(int n) {
    char *p = malloc((size_t)n);
    memset(p, 7, (size_t)n);
    return p;
}

static void *volatile last;
static void c_leak(void) { last = malloc(4096); last = 0; }
static void c_keep(void) { kept = malloc(2048); }
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

func main() {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				p := C.c_work(C.int(64 + i%512))
				C.free(unsafe.Pointer(p))
				if i%500 == 0 {
					runtime.GC()
				}
			}
		}(g)
	}
	wg.Wait()
	C.c_leak()
	C.c_keep()
	time.Sleep(700 * time.Millisecond) // the timed snapshots see both
	fmt.Println("cgo: done")
}
