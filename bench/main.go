// Command bench is Switchboard's load generator. It drives a running server over the loopback
// interface only, or builds and spawns one with a fresh database (-spawn), runs one scenario
// (-scenario idle|fanout|rooms|publish|stall|resume|cluster) with bounded counts under a hard
// time limit (-timeout), prints a table and, last, one JSON line with every figure. With
// -render it turns a file of such lines into BENCHMARKS.md instead (bench/benchmarks.sh).
//
//	go run ./bench -spawn -scenario fanout -n 5000 -rate 10 -duration 20s
//
// See bench/README.md for every scenario and how to read its figures.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		if errors.Is(err, errHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if cfg.render != "" {
		if err := renderFile(cfg.render, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -render:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(cfg))
}

// run executes one scenario and returns the process exit code.
func run(cfg config) int {
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: raising RLIMIT_NOFILE:", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	t, err := openTarget(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	// The watchdog ends the process even if a cleanup step hangs: the run always stops.
	watchdog := time.AfterFunc(cfg.timeout+45*time.Second, func() {
		fmt.Fprintln(os.Stderr, "bench: hard time limit passed during cleanup; killing the server and exiting")
		t.kill()
		os.Exit(3)
	})
	defer watchdog.Stop()

	if cfg.cpuProfile != "" {
		stopProfile, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -cpuprofile:", err)
			return 1
		}
		defer stopProfile()
	}
	rep := newReport(cfg, t)
	scenario := scenarios[cfg.scenario]
	runErr := scenario(ctx, cfg, t, rep)
	if ctx.Err() != nil && runErr == nil {
		runErr = fmt.Errorf("stopped early: %w", context.Cause(ctx))
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		rep.add("timed_out", true, "", "the -timeout limit ended the run; figures are partial")
	}
	if runErr != nil {
		rep.add("error", runErr.Error(), "", "")
	}
	t.finish(rep)
	rep.print(os.Stdout)
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "bench:", runErr)
		return 1
	}
	return 0
}
