package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"switchboard/api/auth"
	"testing"
)

// writePublicKey writes key as a PEM public key file and returns its path.
func writePublicKey(t *testing.T, dir, name string, key any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Verification keys are read from files: PEM public keys (RSA, Ed25519), and a JSON list for
// rotation whose entries carry a secret or name a public key file. Files that are not what
// they should be are refused with a message naming them.
func TestKeysAreReadFromFiles(t *testing.T) {
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaFile := writePublicKey(t, dir, "rsa.pem", &rsaKey.PublicKey)
	edFile := writePublicKey(t, dir, "ed.pem", edPub)

	if k, err := auth.ReadPublicKey(rsaFile); err != nil {
		t.Fatal(err)
	} else if _, ok := k.(*rsa.PublicKey); !ok {
		t.Fatalf("RSA file read as %T", k)
	}
	if k, err := auth.ReadPublicKey(edFile); err != nil {
		t.Fatal(err)
	} else if _, ok := k.(ed25519.PublicKey); !ok {
		t.Fatalf("Ed25519 file read as %T", k)
	}

	list := filepath.Join(dir, "keys.json")
	os.WriteFile(list, []byte(`[{"kid":"old","alg":"HS256","secret":"an-old-secret-an-old-secret-an-old!"},
		{"kid":"new","alg":"EdDSA","public_key_file":"`+edFile+`"}]`), 0o600)
	keys, err := auth.ReadKeys(list)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "old" || string(keys[0].Material.([]byte)) != "an-old-secret-an-old-secret-an-old!" ||
		keys[1].ID != "new" || keys[1].Alg != "EdDSA" {
		t.Fatalf("keys %+v", keys)
	}
	if _, err := auth.New(auth.Config{Keys: keys}); err != nil {
		t.Fatalf("the keys read do not make an authenticator: %v", err)
	}

	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not a key"), 0o600)
	for name, read := range map[string]func() error{
		"a PEM-less key file":    func() error { _, err := auth.ReadPublicKey(garbage); return err },
		"a missing key file":     func() error { _, err := auth.ReadPublicKey(filepath.Join(dir, "none")); return err },
		"a key list of bad JSON": func() error { _, err := auth.ReadKeys(garbage); return err },
		"a list naming a bad key": func() error {
			os.WriteFile(list, []byte(`[{"kid":"x","alg":"RS256","public_key_file":"`+garbage+`"}]`), 0o600)
			_, err := auth.ReadKeys(list)
			return err
		},
	} {
		if err := read(); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
}
