// Package apitest holds what tests of several packages need to put a server under conditions:
// self-signed certificates for TLS, and proxies that misbehave the way real proxies and servers
// do.
package apitest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"switchboard/api"
)

// WriteCert writes a self-signed certificate for 127.0.0.1, ::1 and localhost, with the given
// serial number, and its key to dir as cert.pem and key.pem, replacing them if present. It
// returns their paths.
func WriteCert(t testing.TB, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM, err := api.SelfSignedCert([]string{"127.0.0.1", "::1", "localhost"}, 24*time.Hour, serial)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	// The key first, then the certificate: a reader that sees the new certificate sees its key.
	write(t, keyFile, keyPEM)
	write(t, certFile, certPEM)
	return certFile, keyFile
}

// write replaces name with b in one rename, as certificate tools do.
func write(t testing.TB, name string, b []byte) {
	t.Helper()
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}
