// A Go program calling image libraries through cgo, as gographics/imagick and the libwebp
// bindings do. leak mode reproduces three bugs, each in its own Go function:
//   - coalesceFrames: the wand an animated GIF was read into (from a blob) is never destroyed
//     after MagickCoalesceImages returned the coalesced copy (the CoalesceImages leak);
//   - encodeWebp: the WebPEncodeRGBA output is never given to WebPFree;
//   - copyToC: a C.malloc'ed buffer never C.free'd.
// clean mode does the same work and releases everything. Usage: wl_go leak|clean [--iterations N]
package main

/*
#cgo pkg-config: MagickWand libwebp
#include <stdlib.h>
#include <string.h>
#include <wand/MagickWand.h>
#include <webp/encode.h>
#include <webp/types.h>

#define MW 48
#define MH 32
#define FRAMES 4

// The input: a four-frame animated GIF, made once (and released) in C.
static unsigned char *make_gif(size_t *size)
{
    MagickWand *wand = NewMagickWand();
    PixelWand *color = NewPixelWand();
    const char *const colors[FRAMES] = {"#d03030", "#30d030", "#3030d0", "#d0d030"};
    for (int i = 0; i < FRAMES; i++) {
        PixelSetColor(color, colors[i]);
        MagickNewImage(wand, MW - i * 4, MH - i * 2, color);
        MagickSetImageDelay(wand, 10);
        MagickSetImagePage(wand, MW, MH, i * 2, i);
    }
    MagickSetFormat(wand, "GIF");
    unsigned char *blob = MagickGetImagesBlob(wand, size);
    DestroyPixelWand(color);
    DestroyMagickWand(wand);
    return blob;
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"unsafe"
)

// ImageMagick decodes with OpenMP, and libgomp keeps a thread pool for every OS thread that starts
// a parallel region, reachable from that thread's TLS. A goroutine moves between OS threads: left
// free, the main goroutine would leave a pool on each thread the scheduler happened to run it on,
// memory that grows with the threads, not with the work this workload measures.
func init() { runtime.LockOSThread() }

const (
	webpW = 64
	webpH = 48
	cSize = 3000
)

var leak bool

func coalesceFrames(gif unsafe.Pointer, size C.size_t) int {
	wand := C.NewMagickWand()
	if C.MagickReadImageBlob(wand, gif, size) == C.MagickFalse {
		panic("cannot read the test GIF")
	}
	frames := C.MagickCoalesceImages(wand)
	n := int(C.MagickGetNumberImages(frames))
	C.DestroyMagickWand(frames)
	if !leak {
		C.DestroyMagickWand(wand) // the leaking version keeps the original
	}
	return n
}

func encodeWebp(rgba []byte) int {
	var out *C.uint8_t
	size := C.WebPEncodeRGBA((*C.uint8_t)(unsafe.Pointer(&rgba[0])), webpW, webpH, webpW*4, 80, &out)
	if size == 0 {
		panic("WebPEncodeRGBA failed")
	}
	if !leak {
		C.WebPFree(unsafe.Pointer(out)) // the leaking version keeps the encoder's output
	}
	return int(size)
}

func copyToC(data []byte) int {
	buf := C.malloc(cSize)
	C.memcpy(buf, unsafe.Pointer(&data[0]), C.size_t(len(data)))
	sum := int(*(*byte)(buf))
	if !leak {
		C.free(buf) // the leaking version forgets it
	}
	return sum
}

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "leak" && os.Args[1] != "clean") {
		fmt.Fprintln(os.Stderr, "usage: wl_go leak|clean [--iterations N]")
		os.Exit(2)
	}
	leak = os.Args[1] == "leak"
	iterations := 10
	if len(os.Args) == 4 && os.Args[2] == "--iterations" {
		n, err := strconv.Atoi(os.Args[3])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "wl_go: bad --iterations")
			os.Exit(2)
		}
		iterations = n
	}
	C.MagickWandGenesis()
	var gifSize C.size_t
	gif := C.make_gif(&gifSize)
	if gif == nil || gifSize == 0 {
		panic("cannot make the test GIF")
	}
	rgba := make([]byte, webpW*webpH*4)
	for i := range rgba {
		rgba[i] = byte(i * 7)
	}
	frames, bytes, sum := 0, 0, 0
	for i := 0; i < iterations; i++ {
		frames += coalesceFrames(unsafe.Pointer(gif), gifSize)
		bytes += encodeWebp(rgba)
		sum += copyToC(rgba[:cSize])
	}
	C.MagickRelinquishMemory(unsafe.Pointer(gif))
	C.MagickWandTerminus()
	fmt.Printf("wl_go %s: %d iterations, %d frames, %d bytes of webp, sum %d\n", os.Args[1],
		iterations, frames, bytes, sum)
}
