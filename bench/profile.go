package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes the generator's CPU profile to path until the returned stop runs:
// where the generator's share of the two cores goes, next to the server's.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -cpuprofile:", err)
		}
	}, nil
}
