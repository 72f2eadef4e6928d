// A long-running Go image service, for watching growth over time: a goroutine per "request",
// one every --interval-ms, until --seconds are up or SIGTERM/SIGINT arrives. Each request makes
// a WebP thumbnail through cgo. Two kinds of C memory stay live:
//   - warmCache: a C cache of tiles, one added every other request until it holds cacheEntries
//     (about the first second at the default pace), then flat: warm-up, not a leak;
//   - makeThumbnail (leak mode): the WebPEncodeRGBA output is never given to WebPFree, so live
//     bytes grow with every request for as long as the service runs.
// Usage: wl_go_service leak|clean [--seconds S] [--interval-ms MS]
package main

/*
#cgo pkg-config: libwebp
#include <stdlib.h>
#include <webp/encode.h>
#include <webp/types.h>
*/
import "C"

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const (
	thumbW       = 48
	thumbH       = 32
	cacheEntries = 50
	tileBytes    = 4096
)

var (
	leak    bool
	cacheMu sync.Mutex
	cache   []unsafe.Pointer
)

func warmCache(request int) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if len(cache) == cacheEntries || request%2 == 1 {
		return
	}
	cache = append(cache, C.calloc(1, tileBytes))
}

func makeThumbnail(request int) int {
	rgba := make([]byte, thumbW*thumbH*4)
	for i := range rgba {
		rgba[i] = byte(i + request)
	}
	var out *C.uint8_t
	size := C.WebPEncodeRGBA((*C.uint8_t)(unsafe.Pointer(&rgba[0])), thumbW, thumbH, thumbW*4, 75, &out)
	if !leak {
		C.WebPFree(unsafe.Pointer(out)) // the leaking version keeps the encoder's output
	}
	return int(size)
}

func handle(request int, wg *sync.WaitGroup) {
	defer wg.Done()
	warmCache(request)
	makeThumbnail(request)
}

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "leak" && os.Args[1] != "clean") {
		fmt.Fprintln(os.Stderr, "usage: wl_go_service leak|clean [--seconds S] [--interval-ms MS]")
		os.Exit(2)
	}
	leak = os.Args[1] == "leak"
	seconds, interval := 5.0, 10
	for i := 2; i+1 < len(os.Args); i += 2 {
		v, err := strconv.ParseFloat(os.Args[i+1], 64)
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "wl_go_service: bad", os.Args[i])
			os.Exit(2)
		}
		switch os.Args[i] {
		case "--seconds":
			seconds = v
		case "--interval-ms":
			interval = int(v)
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	deadline := time.After(time.Duration(seconds * float64(time.Second)))
	tick := time.NewTicker(time.Duration(interval) * time.Millisecond)
	var wg sync.WaitGroup
	requests := 0
loop:
	for {
		select {
		case <-tick.C:
			wg.Add(1)
			go handle(requests, &wg)
			requests++
		case <-deadline:
			break loop
		case <-stop:
			break loop
		}
	}
	wg.Wait()
	fmt.Printf("wl_go_service %s: %d requests\n", os.Args[1], requests)
}
