package api_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/api/apitest"
)

// A certificate renewed on disk is served without a restart: picked up when its files change,
// or at once on Reload (SIGHUP); files that do not load leave the one in use.
func TestCertificateIsReloadedWithoutARestart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := apitest.WriteCert(t, dir, 1)
	r, err := api.NewCertReloader(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), TLSConfig: r.TLSConfig()}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	serial := func() int64 {
		t.Helper()
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 1 {
		t.Fatalf("serving certificate %d, want 1", s)
	}

	apitest.WriteCert(t, dir, 2) // renewed in place
	waitUntil(t, "the renewed certificate to be served", func() bool { return serial() == 2 })

	apitest.WriteCert(t, dir, 3)
	if err := r.Reload(); err != nil { // SIGHUP
		t.Fatal(err)
	}
	if s := serial(); s != 3 {
		t.Fatalf("after Reload serving certificate %d, want 3", s)
	}

	if err := os.WriteFile(certFile, []byte("half a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil {
		t.Fatal("Reload of a broken certificate file succeeded")
	}
	time.Sleep(1100 * time.Millisecond) // past the interval at which a handshake looks at the files
	if s := serial(); s != 3 {
		t.Fatalf("with a broken certificate file serving %d, want 3 (the one in use)", s)
	}
	if _, err := api.NewCertReloader(certFile, keyFile, nil); err == nil {
		t.Fatal("a broken certificate file loaded at start")
	}
}

// The plain HTTP listener beside the TLS one redirects every request to HTTPS, keeping the path
// and query, on the TLS port.
func TestPlainHTTPRedirectsToHTTPS(t *testing.T) {
	for _, c := range []struct{ httpsAddr, host, want string }{
		{":8443", "example.com:8080", "https://example.com:8443/api/me?x=1"},
		{":443", "example.com", "https://example.com/api/me?x=1"},
		{"127.0.0.1:8443", "[::1]:80", "https://[::1]:8443/api/me?x=1"},
	} {
		h, err := api.RedirectToHTTPS(c.httpsAddr)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "http://"+c.host+"/api/me?x=1", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != c.want {
			t.Errorf("%s via %s: %d %q, want 308 %q", c.host, c.httpsAddr, w.Code, w.Header().Get("Location"), c.want)
		}
	}
	if _, err := api.RedirectToHTTPS("no-port"); err == nil {
		t.Error("an https address without a port was accepted")
	}
}
