package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// spawned is a server the generator built and started: on 127.0.0.1, with a fresh database
// and its own JWT secret. It dies with the generator (PR_SET_PDEATHSIG).
type spawned struct {
	cmd     *exec.Cmd
	dir     string
	addr    string
	secret  string
	dbKind  string
	logPath string
	pg      *pgSchema // nil on SQLite
	crashed bool
	keepLog bool // keep the log (and the SQLite file) after stopping

	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// spawn builds the server from the module root (unless -server-bin names one) and starts it.
func spawn(ctx context.Context, cfg config) (*spawned, error) {
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	s := &spawned{dir: dir, logPath: filepath.Join(dir, "server.log"), done: make(chan struct{}), keepLog: cfg.keepLog}
	ok := false
	defer func() {
		if !ok {
			s.cleanup()
		}
	}()

	bin := cfg.serverBin
	if bin == "" {
		if bin, err = buildServer(ctx, dir); err != nil {
			return nil, err
		}
	}
	if s.addr, err = freeLoopbackAddr(); err != nil {
		return nil, err
	}
	var raw [32]byte
	rand.Read(raw[:])
	s.secret = hex.EncodeToString(raw[:])

	// A load generator is one client posting for many: lift the per-user rate and connection
	// limits, which would otherwise be what the run measures. -server-args can set them back.
	args := []string{"--addr", s.addr, "--log-level", cfg.logLevel, "--rate-limits", "off",
		"--max-conns-per-user", "100000", "--max-conns", "100000"}
	if cfg.heartbeat > 0 {
		args = append(args, "--heartbeat", cfg.heartbeat.String())
	}
	if cfg.queueSize > 0 {
		args = append(args, "--queue-size", strconv.Itoa(cfg.queueSize))
	}
	if cfg.databaseURL != "" {
		if s.pg, err = newPGSchema(ctx, cfg.databaseURL); err != nil {
			return nil, err
		}
		args = append(args, "--database-url", s.pg.url)
		s.dbKind = "postgres"
	} else {
		args = append(args, "--db", filepath.Join(dir, "bench.db"))
		s.dbKind = "sqlite"
	}
	args = append(args, strings.Fields(cfg.serverArgs)...)

	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(serverEnv(), "SWITCHBOARD_JWT_SECRET="+s.secret)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the server: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	ok = true
	return s, nil
}

// buildServer runs `go build` at the module root and returns the binary's path.
func buildServer(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "switchboard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the server in %s: %v\n%s", root, err, out)
	}
	return bin, nil
}

// moduleRoot finds the directory of the switchboard go.mod at or above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module switchboard\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("-spawn: run from inside the switchboard module (no go.mod of module switchboard above the working directory)")
		}
		dir = parent
	}
}

// serverEnv is the generator's environment without any Switchboard setting, so that only the
// flags given here configure the spawned server.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SWITCHBOARD_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (s *spawned) pid() int { return s.cmd.Process.Pid }

func (s *spawned) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop ends the server with SIGTERM (its graceful shutdown), SIGKILL after 30 s, then removes
// its database and files. A server that had already exited is reported as crashed, and its
// log is kept.
func (s *spawned) stop() error {
	s.stopOnce.Do(func() {
		if s.exited() {
			s.crashed = true
		} else {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(30 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
				s.stopErr = errors.New("the server did not stop within 30 s of SIGTERM; killed")
			}
		}
		s.cleanup()
	})
	return s.stopErr
}

// kill ends the server at once (the watchdog's last resort).
func (s *spawned) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	if s.pg != nil {
		s.pg.drop()
	}
}

func (s *spawned) cleanup() {
	if s.pg != nil {
		s.pg.drop()
	}
	if s.crashed || s.keepLog {
		return // keep the log to read
	}
	os.RemoveAll(s.dir)
}

// logTail returns the last lines of the server's log.
func (s *spawned) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
