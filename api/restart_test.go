package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/db/dbtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serverBinary builds the switchboard command once per test run.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "switchboard")
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		out, err := exec.Command(goBin, "build", "-o", binPath, "..").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building the server: %v", buildErr)
	}
	return binPath
}

// process is a switchboard server running as a separate process.
type process struct {
	cmd  *exec.Cmd
	base string
	done chan error
}

// startProcess runs the server on the given database and waits until it listens.
func startProcess(t *testing.T, dbEnv []string) *process {
	t.Helper()
	cmd := exec.Command(serverBinary(t), "--addr", "127.0.0.1:0", "--log-format", "json", "--shutdown-window", "100ms")
	cmd.Env = append(os.Environ(), "SWITCHBOARD_JWT_SECRET="+string(testSecret))
	cmd.Env = append(cmd.Env, dbEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "switchboard listening" {
				listening <- line.Addr
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	select {
	case addr := <-listening:
		p.base = "http://" + addr
	case err := <-p.done:
		t.Fatalf("server exited at start: %v", err)
	case <-time.After(wait):
		t.Fatal("server did not start listening")
	}
	return p
}

// stop ends the process with sig and waits for it to exit.
func (p *process) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		p.done <- nil // for the cleanup
	case <-time.After(wait):
		t.Fatalf("server did not exit after %v", sig)
	}
}

// A server stopped gracefully or killed outright and started again on the same database
// resumes clients from their cursors: everything committed meanwhile arrives, nothing twice.
func TestResumeAcrossServerRestarts(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			forEachDB(t, func(t *testing.T, kind db.Kind) {
				dbEnv := []string{"SWITCHBOARD_DB=" + filepath.Join(t.TempDir(), "switchboard.db"), "DATABASE_URL="}
				if kind == db.Postgres {
					dbEnv = []string{"DATABASE_URL=" + dbtest.FreshPostgres(t)}
				}
				first := startProcess(t, dbEnv)
				e := &env{t: t, base: first.base, watch: watchContract(t)}
				alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")

				stream := e.dialSSE(alice, "rooms=general")
				for _, c := range []string{"m1", "m2", "m3", "m4"} {
					e.post(bob, "general", c)
				}
				var cursor string
				for _, want := range []string{"m1", "m2", "m3"} {
					ev := nextOf(t, stream, "chat_message")
					if m := ev.message(t); m.Content != want {
						t.Fatalf("got %q, want %q", m.Content, want)
					}
					cursor = ev.ID // the client has handled m1..m3; m4 may be on the wire
				}
				e.post(bob, "general", "m5")
				first.stop(t, sig)
				stream.ended(t)

				second := startProcess(t, dbEnv)
				e.base = second.base
				e.post(bob, "general", "m6")
				resumed := e.dialSSE(alice, "", "Last-Event-ID", cursor)
				e.post(bob, "general", "m7")
				var got []string
				for range 4 {
					got = append(got, nextOf(t, resumed, "chat_message").message(t).Content)
				}
				if strings.Join(got, " ") != "m4 m5 m6 m7" {
					t.Fatalf("after the restart got %v, want m4 m5 m6 m7", got)
				}
			})
		})
	}
}
