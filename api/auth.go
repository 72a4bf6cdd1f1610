package api

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"switchboard/realtime"
)

// AuthConfig says which tokens Switchboard accepts.
type AuthConfig struct {
	// Secret verifies (and, for demo mode and `switchboard token`, signs) HS256 tokens.
	Secret []byte
	// PublicKey, when set, verifies tokens of an external identity provider: an *rsa.PublicKey
	// for RS256 or an ed25519.PublicKey for EdDSA.
	PublicKey crypto.PublicKey
	// Demo enables POST /api/auth/demo, which hands out tokens to anyone. Only for a server
	// running without a configured secret.
	Demo    bool
	DemoTTL time.Duration // lifetime of demo tokens (default 24 h)
	Leeway  time.Duration // clock skew tolerated on exp and nbf (default 30 s)
}

// Claims are the token claims Switchboard reads. sub and exp are required.
type Claims struct {
	jwt.RegisteredClaims
	Name        string   `json:"name,omitempty"`
	Avatar      string   `json:"avatar,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// Principal is an authenticated caller.
type Principal struct {
	realtime.User
	Expires time.Time
}

// Can reports whether the principal holds a permission.
func (p Principal) Can(permission string) bool { return slices.Contains(p.Permissions, permission) }

// Authenticator verifies tokens with the algorithm pinned to each configured key.
type Authenticator struct {
	cfg    AuthConfig
	parser *jwt.Parser
}

// NewAuthenticator checks cfg and returns an Authenticator.
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	if cfg.DemoTTL <= 0 {
		cfg.DemoTTL = 24 * time.Hour
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	var methods []string
	if len(cfg.Secret) > 0 {
		if len(cfg.Secret) < 32 {
			return nil, errors.New("auth: the HS256 secret must be at least 32 bytes")
		}
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	switch cfg.PublicKey.(type) {
	case nil:
	case *rsa.PublicKey:
		methods = append(methods, jwt.SigningMethodRS256.Alg())
	case ed25519.PublicKey:
		methods = append(methods, jwt.SigningMethodEdDSA.Alg())
	default:
		return nil, fmt.Errorf("auth: unsupported public key type %T (want RSA or Ed25519)", cfg.PublicKey)
	}
	if len(methods) == 0 {
		return nil, errors.New("auth: no secret and no public key configured")
	}
	return &Authenticator{cfg: cfg, parser: jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
	)}, nil
}

// key returns the one key that may verify a token signed with the token's algorithm.
func (a *Authenticator) key(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case jwt.SigningMethodHS256.Alg():
		return a.cfg.Secret, nil
	case jwt.SigningMethodRS256.Alg(), jwt.SigningMethodEdDSA.Alg():
		return a.cfg.PublicKey, nil
	}
	return nil, jwt.ErrTokenUnverifiable
}

// Verify checks a token and returns who it names. Its errors are *Error values with status 401
// that say what is wrong without helping an attacker.
func (a *Authenticator) Verify(token string) (Principal, error) {
	var claims Claims
	_, err := a.parser.ParseWithClaims(token, &claims, a.key)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return Principal{}, unauthorized("token_expired", "the token has expired; get a new one")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return Principal{}, unauthorized("invalid_token", "the token has no exp claim")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return Principal{}, unauthorized("invalid_token", "the token is not valid yet")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return Principal{}, unauthorized("invalid_token", "the token is malformed")
	default:
		return Principal{}, unauthorized("invalid_token", "the token's signature or algorithm is not accepted")
	}
	if claims.Subject == "" {
		return Principal{}, unauthorized("invalid_token", "the token has no sub claim")
	}
	return Principal{Expires: claims.ExpiresAt.Time, User: realtime.User{ID: claims.Subject,
		Name: claims.Name, Avatar: claims.Avatar, Roles: claims.Roles, Permissions: claims.Permissions}}, nil
}

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

// TokenCookie is the cookie a browser may carry its token in.
const TokenCookie = "switchboard_token"

// tokenFrom finds the request's token: the Authorization header, then the access_token query
// parameter (EventSource and browser WebSockets cannot set headers), then the cookie.
func tokenFrom(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if tok := r.URL.Query().Get("access_token"); tok != "" {
		return tok
	}
	if ck, err := r.Cookie(TokenCookie); err == nil {
		return ck.Value
	}
	return ""
}

const principalKey = "principal"

// requireAuth admits requests that carry a valid token and stores their Principal.
func (s *Server) requireAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok := tokenFrom(c.Request())
		if tok == "" {
			return unauthorized("unauthorized",
				"a token is required: send Authorization: Bearer <token>, the access_token query parameter, or the "+TokenCookie+" cookie")
		}
		p, err := s.auth.Verify(tok)
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

func principal(c echo.Context) Principal {
	p, _ := c.Get(principalKey).(Principal)
	return p
}

func registered(subject string) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{Subject: subject}
}
