// Package auth verifies Switchboard's tokens (JWT: HS256, RS256, EdDSA, with key rotation by
// kid) and signs them (HS256). It knows nothing of HTTP: the API reads a token from a request
// and asks Verify who it names; the token command signs one.
package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"switchboard/realtime"
)

// Config says which tokens Switchboard accepts.
type Config struct {
	// Secret verifies (and, for demo mode and `switchboard token`, signs) HS256 tokens.
	Secret []byte
	// PublicKey, when set, verifies tokens of an external identity provider: an *rsa.PublicKey
	// for RS256 or an ed25519.PublicKey for EdDSA.
	PublicKey crypto.PublicKey
	// Keys are further verification keys, named by kid for rotation: a token naming a kid is
	// checked against that key only, with that key's algorithm only.
	Keys     []Key
	Issuer   string // when set, tokens must carry this iss
	Audience string // when set, tokens must carry this aud
	// Demo enables POST /api/auth/demo, which hands out tokens to anyone. Only for a server
	// running without a configured secret.
	Demo    bool
	DemoTTL time.Duration // lifetime of demo tokens (default 24 h)
	Leeway  time.Duration // clock skew tolerated on exp and nbf (default 30 s)
}

// Key is one verification key and the one algorithm it accepts.
type Key struct {
	ID  string // kid; empty for a key that tokens without a kid may use
	Alg string // HS256, RS256 or EdDSA
	// Material is a []byte secret for HS256, an *rsa.PublicKey for RS256 or an
	// ed25519.PublicKey for EdDSA.
	Material any
}

// check validates that a key's material fits its algorithm.
func (k Key) check() error {
	switch k.Alg {
	case jwt.SigningMethodHS256.Alg():
		if b, ok := k.Material.([]byte); !ok || len(b) < 32 {
			return fmt.Errorf("auth: key %q: an HS256 secret must be at least 32 bytes", k.ID)
		}
	case jwt.SigningMethodRS256.Alg():
		if _, ok := k.Material.(*rsa.PublicKey); !ok {
			return fmt.Errorf("auth: key %q: RS256 needs an RSA public key", k.ID)
		}
	case jwt.SigningMethodEdDSA.Alg():
		if _, ok := k.Material.(ed25519.PublicKey); !ok {
			return fmt.Errorf("auth: key %q: EdDSA needs an Ed25519 public key", k.ID)
		}
	default:
		return fmt.Errorf("auth: key %q: unsupported algorithm %q (want HS256, RS256 or EdDSA)", k.ID, k.Alg)
	}
	return nil
}

// MaxSubjectLen bounds a user id (a token's sub): it names the user's topic, "user:<sub>",
// which the hub keeps within 200 bytes.
const MaxSubjectLen = 128

// Claims are the token claims Switchboard reads. sub and exp are required.
type Claims struct {
	jwt.RegisteredClaims
	Name        string   `json:"name,omitempty"`
	Avatar      string   `json:"avatar,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// Principal is who a token names, and until when.
type Principal struct {
	realtime.User
	Expires time.Time
}

// Can reports whether the principal holds a permission.
func (p Principal) Can(permission string) bool { return slices.Contains(p.Permissions, permission) }

// Authenticator verifies tokens with the algorithm pinned to each configured key.
type Authenticator struct {
	cfg      Config
	keys     []Key
	parser   *jwt.Parser
	verified verifiedTokens
}

// New checks cfg and returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.DemoTTL <= 0 {
		cfg.DemoTTL = 24 * time.Hour
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	var keys []Key
	if len(cfg.Secret) > 0 {
		keys = append(keys, Key{Alg: jwt.SigningMethodHS256.Alg(), Material: cfg.Secret})
	}
	switch k := cfg.PublicKey.(type) {
	case nil:
	case *rsa.PublicKey:
		keys = append(keys, Key{Alg: jwt.SigningMethodRS256.Alg(), Material: k})
	case ed25519.PublicKey:
		keys = append(keys, Key{Alg: jwt.SigningMethodEdDSA.Alg(), Material: k})
	default:
		return nil, fmt.Errorf("auth: unsupported public key type %T (want RSA or Ed25519)", cfg.PublicKey)
	}
	keys = append(keys, cfg.Keys...)
	if len(keys) == 0 {
		return nil, errors.New("auth: no secret and no public key configured")
	}
	var methods []string
	for _, k := range keys {
		if err := k.check(); err != nil {
			return nil, err
		}
		if !slices.Contains(methods, k.Alg) {
			methods = append(methods, k.Alg)
		}
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithExpirationRequired(), jwt.WithLeeway(cfg.Leeway)}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Authenticator{cfg: cfg, keys: keys, parser: jwt.NewParser(opts...)}, nil
}

// key returns the keys that may verify t: the one its kid names, or, without a kid, every
// unnamed key — and in either case only keys of the token's own algorithm.
func (a *Authenticator) key(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	for _, k := range a.keys {
		if k.ID == kid && k.Alg == t.Method.Alg() {
			set.Keys = append(set.Keys, k.Material)
		}
	}
	if len(set.Keys) == 0 {
		return nil, jwt.ErrTokenUnverifiable
	}
	return set, nil
}

// Verify checks a token and returns who it names. Its errors are *Error values that say what
// is wrong without helping an attacker.
func (a *Authenticator) Verify(token string) (Principal, error) {
	now := time.Now()
	if p, ok := a.verified.get(token, now); ok {
		return p, nil
	}
	p, err := a.verify(token)
	if err == nil {
		a.verified.put(token, p, now)
	}
	return p, err
}

// VerifyOnce is Verify for a token presented once for a long time (the request that opens a
// stream): a token remembered already is taken from memory, but this one is not remembered.
// An entry per idle stream would cost more memory than the verification it might save.
func (a *Authenticator) VerifyOnce(token string) (Principal, error) {
	if p, ok := a.verified.get(token, time.Now()); ok {
		return p, nil
	}
	return a.verify(token)
}

func (a *Authenticator) verify(token string) (Principal, error) {
	var claims Claims
	_, err := a.parser.ParseWithClaims(token, &claims, a.key)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return Principal{}, refuse("token_expired", "the token has expired; get a new one")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return Principal{}, refuse("invalid_token", "the token has no exp claim")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return Principal{}, refuse("invalid_token", "the token is not valid yet")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return Principal{}, refuse("invalid_token", "the token is malformed")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return Principal{}, refuse("invalid_token", "the token was issued for another service")
	default:
		return Principal{}, refuse("invalid_token", "the token's signature or algorithm is not accepted")
	}
	if claims.Subject == "" {
		return Principal{}, refuse("invalid_token", "the token has no sub claim")
	}
	if claims.Subject == APIKeyActor {
		return Principal{}, refuse("invalid_token", "the token's sub "+APIKeyActor+" is reserved for the API key")
	}
	if len(claims.Subject) > MaxSubjectLen || strings.ContainsRune(claims.Subject, 0) {
		return Principal{}, refuse("invalid_token",
			fmt.Sprintf("the token's sub claim must be at most %d bytes, with no NUL character", MaxSubjectLen))
	}
	return Principal{Expires: claims.ExpiresAt.Time, User: realtime.User{ID: claims.Subject,
		Name: claims.Name, Avatar: claims.Avatar, Roles: claims.Roles, Permissions: claims.Permissions}}, nil
}

// Config returns the authenticator's configuration, with defaults applied.
func (a *Authenticator) Config() Config { return a.cfg }

// Issue signs an HS256 token for claims, valid for ttl.
func (a *Authenticator) Issue(claims Claims, ttl time.Duration) (string, time.Time, error) {
	return IssueToken(a.cfg.Secret, claims, ttl)
}

// IssueToken signs an HS256 token for claims with secret, valid for ttl from now.
func IssueToken(secret []byte, claims Claims, ttl time.Duration) (string, time.Time, error) {
	if len(secret) == 0 {
		return "", time.Time{}, errors.New("no HS256 secret to sign with")
	}
	now := time.Now()
	exp := now.Add(ttl).Truncate(time.Second)
	claims.IssuedAt = jwt.NewNumericDate(now)
	claims.ExpiresAt = jwt.NewNumericDate(exp)
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	return s, exp, err
}

// APIKeyActor is the user id of requests made with the server's API key: no token may name it.
const APIKeyActor = "api-key"

// Error is a refused token: Code and Message say what is wrong, for a 401.
type Error struct {
	Code    string // invalid_token or token_expired
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func refuse(code, message string) *Error { return &Error{Code: code, Message: message} }
