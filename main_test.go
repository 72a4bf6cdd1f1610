package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"switchboard/api/apitest"
	"switchboard/db/dbtest"
)

// The binary runs as a server when this test binary is started with SWITCHBOARD_TEST_MAIN=1:
// the tests below start it as a separate process with its real flags and signals.
func TestMain(m *testing.M) {
	if os.Getenv("SWITCHBOARD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	dbtest.ReportSkips("switchboard")
	os.Exit(code)
}

// With --tls-cert and --tls-key the server speaks HTTPS, HTTP/2 by ALPN; event streams flow over
// HTTP/2; a renewed certificate is served after SIGHUP; SIGTERM stops it cleanly.
func TestServesHTTP2OverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := apitest.WriteCert(t, dir, 1)
	addr, cmd := startBinary(t, "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "switchboard.db"),
		"--tls-cert", certFile, "--tls-key", keyFile, "--heartbeat", "100ms")
	base := "https://" + addr
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}

	res, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Fatalf("GET /healthz over %s, want HTTP/2", res.Proto)
	}

	res, err = client.Post(base+"/api/auth/demo", "application/json", strings.NewReader(`{"name":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	res, err = client.Get(base + "/events?rooms=general&access_token=" + login.Token)
	if err != nil {
		t.Fatal(err)
	}
	stream := bufio.NewScanner(res.Body)
	for _, want := range []string{"event: connected", "event: heartbeat", "event: heartbeat"} {
		for stream.Scan() && stream.Text() != want {
		}
		if stream.Err() != nil || stream.Text() != want {
			t.Fatalf("the stream over %s ended before %q: %v", res.Proto, want, stream.Err())
		}
	}
	res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Fatalf("the event stream came over %s, want HTTP/2", res.Proto)
	}

	apitest.WriteCert(t, dir, 2)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for serialAt(t, addr) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the server did not stop cleanly on SIGTERM: %v", err)
	}
}

// serialAt is the serial number of the certificate the server at addr presents.
func serialAt(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// startBinary runs the server with args in a process of its own and returns the address it
// listens on, read from its log.
func startBinary(t *testing.T, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append(args, "--log-format", "json")...)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_TEST_MAIN=1")
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(logs)
	for lines.Scan() {
		var entry struct{ Msg, Addr string }
		if json.Unmarshal(lines.Bytes(), &entry) == nil && entry.Msg == "switchboard listening" {
			go io.Copy(io.Discard, logs)
			return entry.Addr, cmd
		}
	}
	t.Fatalf("the server stopped before listening: %v", lines.Err())
	return "", nil
}

// switchboard cert writes a certificate the server can serve, and keeps one that is there.
func TestCertCommandWritesACertificateOnce(t *testing.T) {
	dir := t.TempDir()
	if err := runCert([]string{"--dir", dir, "--hosts", "localhost,127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := runCert([]string{"--dir", dir}); err != nil {
		t.Fatal(err)
	}
	again, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(first.Certificate[0]) != string(again.Certificate[0]) {
		t.Fatal("a second run replaced the certificate")
	}
	addr, _ := startBinary(t, "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "switchboard.db"),
		"--tls-cert", certFile, "--tls-key", keyFile)
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: pool(t, certFile)})
	if err != nil {
		t.Fatalf("the written certificate does not verify for localhost: %v", err)
	}
	c.Close()
}

func pool(t *testing.T, certFile string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(b)
	return p
}

// The README's Layout section walks one message through the code: every file it names exists,
// and every function it names is defined in the file it is named with.
func TestReadmeLayoutNamesWhatExists(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)[strings.Index(string(readme), "## Layout"):]
	files := regexp.MustCompile("`((?:[a-z]+/)*[a-z_]+\\.(?:go|js|sql|ts))`").FindAllStringSubmatch(section, -1)
	if len(files) < 15 {
		t.Fatalf("the Layout section names %d files", len(files))
	}
	dirs := []string{".", "api", "realtime", "db", "web", "web/static", "web/static/switchboard"}
	for _, m := range files {
		found := false
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, m[1])); err == nil {
				found = true
			}
		}
		if !found {
			t.Errorf("README Layout names %s, which is not in %v", m[1], dirs)
		}
	}
	for fn, file := range map[string]string{"handlePostMessage": "api/messages.go", "PostMessage": "db/messages.go",
		"Publish": "realtime/hub.go", "Poll": "realtime/transport_poll.go", "handlePoll": "api/streams.go",
		"onEvent": "api/control.go", "routes": "api/server.go", "newEvent": "api/events.go", "_connect": "web/static/switchboard/connection.js"} {
		src, err := os.ReadFile(file)
		if err != nil || !regexp.MustCompile(`(func (\([^)]*\) )?|  )`+regexp.QuoteMeta(fn)+` ?\(`).Match(src) {
			t.Errorf("README Layout names %s in %s, which does not define it", fn, file)
		}
	}
}
