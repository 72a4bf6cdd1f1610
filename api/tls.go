package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// CertReloader serves a TLS certificate and key from files and reloads them without a
// restart: when the files change (looked at, at most once a second, when a client connects)
// and when Reload is called (on SIGHUP). A reload that fails — a half-written file, a key that
// does not match — keeps the certificate in use and is logged.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex // guards the fields below
	cert    *tls.Certificate
	stamp   [2]fileStamp // of certFile and keyFile when cert was loaded
	checked time.Time    // when the files were last looked at
}

// fileStamp tells whether a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(name string) (fileStamp, error) {
	st, err := os.Stat(name)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{st.ModTime(), st.Size()}, nil
}

// NewCertReloader loads the certificate and key; they must load now.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload loads the certificate and key again.
func (r *CertReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked()
}

func (r *CertReloader) loadLocked() error {
	var stamp [2]fileStamp
	for i, name := range []string{r.certFile, r.keyFile} {
		s, err := stampOf(name)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		stamp[i] = s
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.stamp, r.checked = &cert, stamp, time.Now()
	return nil
}

// GetCertificate is tls.Config.GetCertificate: the current certificate, reloaded first if its
// files changed.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= time.Second {
		r.checked = time.Now()
		if r.changedLocked() {
			if err := r.loadLocked(); err != nil {
				r.log.Warn("keeping the TLS certificate in use: its files changed but do not load", "err", err)
			} else {
				r.log.Info("TLS certificate reloaded", "cert", r.certFile)
			}
		}
	}
	return r.cert, nil
}

func (r *CertReloader) changedLocked() bool {
	for i, name := range []string{r.certFile, r.keyFile} {
		if s, err := stampOf(name); err != nil || s != r.stamp[i] {
			return true
		}
	}
	return false
}

// TLSConfig returns a server configuration that serves r's certificate, TLS 1.2 and later, and
// leaves the protocols (HTTP/2 and HTTP/1.1, by ALPN) to net/http.
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}
}

// RedirectToHTTPS answers every request with a permanent redirect to the same URL over HTTPS
// on httpsAddr's port, for a plain HTTP listener beside the TLS one.
func RedirectToHTTPS(httpsAddr string) (http.Handler, error) {
	_, port, err := net.SplitHostPort(httpsAddr)
	if err != nil {
		return nil, fmt.Errorf("https address %q: %w", httpsAddr, err)
	}
	if port == "" {
		return nil, errors.New("the https address has no port")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]") // an IPv6 address alone
		if port != "443" {
			host = net.JoinHostPort(host, port)
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	}), nil
}

// SelfSignedCert makes a self-signed certificate for hosts (names or IP addresses), valid for
// ttl, with the given serial number, and its ECDSA P-256 key, both PEM-encoded: for development,
// tests and a first start of a proxy, never for production.
func SelfSignedCert(hosts []string, ttl time.Duration, serial int64) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "switchboard (self-signed)"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// WriteSelfSignedCert writes a self-signed certificate for hosts, valid for ttl, and its key to
// cert.pem and key.pem in dir, unless both are there already: it reports whether it wrote them.
func WriteSelfSignedCert(dir string, hosts []string, ttl time.Duration) (bool, error) {
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	if certErr == nil && keyErr == nil {
		return false, nil
	}
	var serial [8]byte
	rand.Read(serial[:])
	certPEM, keyPEM, err := SelfSignedCert(hosts, ttl, int64(binary.BigEndian.Uint64(serial[:])>>1))
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return false, err
	}
	return true, os.WriteFile(certFile, certPEM, 0o644)
}
