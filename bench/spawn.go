package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// spawned is what -spawn started: one server, or for -scenario cluster -nodes servers sharing
// one database, all on 127.0.0.1 with one fresh database and one JWT secret of their own.
// They die with the generator (PR_SET_PDEATHSIG).
type spawned struct {
	dir     string
	secret  string
	dbKind  string
	pg      *pgSchema // nil on SQLite
	procs   []*serverProc
	crashed bool
	keepLog bool // keep the logs (and the SQLite file) after stopping

	stopOnce sync.Once
	stopErr  error
}

// serverProc is one server process of a spawned set.
type serverProc struct {
	cmd     *exec.Cmd
	addr    string
	nodeID  string // empty for a lone server
	logPath string
	done    chan struct{}
	waitErr error
}

// spawn builds the server from the module root (unless -server-bin names one) and starts
// cfg.nodes processes of it; more than one share the PostgreSQL schema and form a cluster.
func spawn(ctx context.Context, cfg config) (*spawned, error) {
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	s := &spawned{dir: dir, keepLog: cfg.keepLog}
	ok := false
	defer func() {
		if !ok {
			s.kill()
			s.cleanup()
		}
	}()

	bin := cfg.serverBin
	if bin == "" {
		if bin, err = buildServer(ctx, dir); err != nil {
			return nil, err
		}
	}
	var raw [32]byte
	rand.Read(raw[:])
	s.secret = hex.EncodeToString(raw[:])

	// A load generator is one client, on one address, posting for many: lift the per-user rate,
	// the connection and request limits and the room quota, which would otherwise be what the run measures.
	// -server-args can set them back.
	args := []string{"--log-level", cfg.logLevel, "--rate-limits", "off",
		"--max-conns-per-user", "100000", "--max-conns", "100000", "--max-conns-per-ip", "0", "--max-rooms-per-user", "100000",
		"--max-requests-per-user", "100000"}
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

	for i := range max(cfg.nodes, 1) {
		p := &serverProc{logPath: filepath.Join(dir, "server.log"), done: make(chan struct{})}
		pargs := args
		if cfg.nodes > 1 {
			p.nodeID = "bench-" + string(rune('a'+i))
			p.logPath = filepath.Join(dir, p.nodeID+".log")
			pargs = append([]string{"--node-id", p.nodeID}, args...)
		}
		if p.addr, err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
		if err := p.start(bin, append([]string{"--addr", p.addr}, pargs...), s.secret); err != nil {
			return nil, err
		}
		s.procs = append(s.procs, p)
		if i == 0 && cfg.nodes > 1 {
			// Nodes migrating a fresh schema at once would race on CREATE TABLE: the others
			// start once the first is ready, its migrations done.
			if err := p.waitReady(ctx, 60*time.Second); err != nil {
				return nil, err
			}
		}
	}
	ok = true
	return s, nil
}

// waitReady waits until the process answers GET /readyz with 200.
func (p *serverProc) waitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.exited() {
			log, _ := os.ReadFile(p.logPath)
			return fmt.Errorf("the server %s exited while starting; its log:\n%s", p.nodeID, log)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server %s at %s was not ready within %v", p.nodeID, p.addr, within)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *serverProc) start(bin string, args []string, secret string) error {
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(serverEnv(), "SWITCHBOARD_JWT_SECRET="+secret)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return nil
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

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

func (p *serverProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process with SIGTERM (its graceful shutdown), SIGKILL after 30 s. It reports
// whether the process had exited before.
func (p *serverProc) stop() (crashed bool, err error) {
	if p.exited() {
		return true, nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		err = fmt.Errorf("the server %s did not stop within 30 s of SIGTERM; killed", p.addr)
	}
	return false, err
}

// exited reports whether any of the processes has exited.
func (s *spawned) exited() bool {
	for _, p := range s.procs {
		if p.exited() {
			return true
		}
	}
	return false
}

// stop ends every process (all at once: a cluster's nodes shut down together), then removes
// the database and files. A process that had already exited is reported as crashed, and the
// logs are kept.
func (s *spawned) stop() error {
	s.stopOnce.Do(func() {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, p := range s.procs {
			wg.Go(func() {
				crashed, err := p.stop()
				mu.Lock()
				defer mu.Unlock()
				s.crashed = s.crashed || crashed
				s.stopErr = errors.Join(s.stopErr, err)
			})
		}
		wg.Wait()
		s.cleanup()
	})
	return s.stopErr
}

// kill ends every process at once (the watchdog's last resort) and drops the schema.
func (s *spawned) kill() {
	for _, p := range s.procs {
		if p.cmd != nil && p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
		}
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
		return // keep the logs to read
	}
	os.RemoveAll(s.dir)
}

// logPaths names the processes' logs.
func (s *spawned) logPaths() string {
	var paths []string
	for _, p := range s.procs {
		paths = append(paths, p.logPath)
	}
	return strings.Join(paths, " ")
}

// logTail returns the last lines of each process's log.
func (s *spawned) logTail() string {
	var b strings.Builder
	for _, p := range s.procs {
		log, _ := os.ReadFile(p.logPath)
		if len(log) > 4096 {
			log = log[len(log)-4096:]
		}
		if len(s.procs) > 1 {
			fmt.Fprintf(&b, "--- %s (%s)\n", p.nodeID, p.addr)
		}
		b.Write(log)
	}
	return b.String()
}
