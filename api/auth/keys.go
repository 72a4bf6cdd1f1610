package auth

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
)

// Token verification keys kept in files.

// ReadKeys reads a JSON file of verification keys, for rotation:
// [{"kid","alg":"HS256|RS256|EdDSA","secret"|"public_key_file"}].
func ReadKeys(path string) ([]Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the JWT keys: %w", err)
	}
	var entries []struct {
		Kid           string `json:"kid"`
		Alg           string `json:"alg"`
		Secret        string `json:"secret"`
		PublicKeyFile string `json:"public_key_file"`
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	keys := make([]Key, 0, len(entries))
	for _, e := range entries {
		k := Key{ID: e.Kid, Alg: e.Alg, Material: []byte(e.Secret)}
		if e.PublicKeyFile != "" {
			if k.Material, err = ReadPublicKey(e.PublicKeyFile); err != nil {
				return nil, err
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ReadPublicKey reads a PEM file holding an RSA (RS256) or Ed25519 (EdDSA) public key.
func ReadPublicKey(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the JWT public key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the JWT public key in %s: %w", path, err)
	}
	return key, nil
}
