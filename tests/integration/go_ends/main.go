// Ends a Go program the way os.Args[1] names after a C allocation it never frees, so that the
// final snapshot can be checked for each end (tests/integration/final.sh): "return" (the runtime
// calls exit_group), "exit" (os.Exit), "panic", "term" (SIGTERM, as docker stop sends: the
// runtime dies of it), "kill" (SIGKILL to itself).
package main

/*
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"os"
	"syscall"
)

func leakBuffer() {
	p := (*C.char)(C.malloc(5555)) // LEAK(go_ends)
	_ = p
}

func main() {
	leakBuffer()
	how := "return"
	if len(os.Args) > 1 {
		how = os.Args[1]
	}
	fmt.Println("go_ends:", how)
	switch how {
	case "exit":
		os.Exit(6)
	case "panic":
		panic("go_ends: panic")
	case "term":
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {}
	case "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}
