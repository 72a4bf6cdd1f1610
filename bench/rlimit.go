package main

import "syscall"

// raiseFileLimit lifts RLIMIT_NOFILE to its hard limit. It calls Setrlimit explicitly (the Go
// runtime's own raise is undone for child processes), so a spawned server inherits it too.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// fileLimit returns the current soft RLIMIT_NOFILE.
func fileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Cur
}
