package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on Linux/amd64
// and arm64 (reading sysconf(_SC_CLK_TCK) would take cgo).
const clockTicks = 100

// readRSS returns a process's resident set size (VmRSS) in bytes.
func readRSS(pid int) (int64, error) {
	return statusField(pid, "VmRSS:")
}

// statusField reads one "kB" field of /proc/<pid>/status, in bytes.
func statusField(pid int, field string) (int64, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	return statusFile(path, field)
}

// statusFile reads one "kB" field of a /proc file of "Name: value kB" lines, in bytes.
func statusFile(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(rest)), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s has no %s", path, field)
}

// readCPU returns the user plus system CPU time a process has used (utime+stime of
// /proc/<pid>/stat).
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after its closing ')' are plain.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 { // fields[0] is field 3 (state); utime and stime are fields 14 and 15
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// selfCPU returns the CPU time this process has used (getrusage).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures the CPU a process and the generator use over a window, in cores
// (CPU seconds per wall-clock second: 1.0 is one core busy).
type cpuMeter struct {
	pid       int
	start     time.Time
	server0   time.Duration
	self0     time.Duration
	serverErr error
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, start: time.Now(), self0: selfCPU()}
	if pid > 0 {
		m.server0, m.serverErr = readCPU(pid)
	}
	return m
}

// stop returns the cores used by the server (-1 when unknown) and by the generator.
func (m *cpuMeter) stop() (server, self float64, wall time.Duration) {
	wall = time.Since(m.start)
	self = float64(selfCPU()-m.self0) / float64(wall)
	server = -1
	if m.pid > 0 && m.serverErr == nil {
		if s, err := readCPU(m.pid); err == nil {
			server = float64(s-m.server0) / float64(wall)
		}
	}
	return server, self, wall
}

// machine describes the host, for the report.
type machine struct {
	cpuModel string
	memMiB   int64
	kernel   string
}

// readMachine reads the CPU model, total memory and kernel release from /proc; what it cannot
// read stays empty.
func readMachine() machine {
	var m machine
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if mem, err := statusFile("/proc/meminfo", "MemTotal:"); err == nil {
		m.memMiB = mem >> 20
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	return m
}
