package api_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"switchboard/api/auth"
	"switchboard/db"
	"switchboard/db/dbtest"
)

// runCommand runs the switchboard binary with args and the given extra environment (later
// entries override earlier ones) and returns what it printed.
func runCommand(t *testing.T, extraEnv []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(serverBinary(t), args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("switchboard %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// processDBEnv is the environment that points a server process at a fresh database of kind.
func processDBEnv(t *testing.T, kind db.Kind) []string {
	t.Helper()
	if kind == db.Postgres {
		return []string{"DATABASE_URL=" + dbtest.FreshPostgres(t)}
	}
	return []string{"SWITCHBOARD_DB=" + filepath.Join(t.TempDir(), "switchboard.db"), "DATABASE_URL="}
}

// `switchboard token` prints an HS256 token signed with the configured secret, carrying the
// claims asked for and expiring after the ttl; the server accepts it.
func TestTokenCommand(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		tok := runCommand(t, []string{"SWITCHBOARD_JWT_SECRET=" + string(testSecret)},
			"token", "--sub", "alice", "--name", "Alice", "--roles", "admin", "--ttl", "1h")
		var claims auth.Claims
		_, err := jwt.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return testSecret, nil },
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
		if err != nil {
			t.Fatalf("token %q: %v", tok, err)
		}
		if claims.Subject != "alice" || claims.Name != "Alice" || !slices.Equal(claims.Roles, []string{"admin"}) {
			t.Fatalf("claims %+v", claims)
		}
		if left := time.Until(claims.ExpiresAt.Time); left < time.Hour-time.Minute || left > time.Hour {
			t.Fatalf("the token expires in %s, want about 1h", left)
		}
		if c := e.dialSSE(tok, "").conn; c.UserID != "alice" {
			t.Fatalf("the token connected as %q", c.UserID)
		}
	})
}

// A server started without a secret runs in demo mode: anyone signs in by name, and
// `switchboard token` on the same database signs with the same demo secret. Restarted with a
// secret, the server has no demo sign-in and refuses the demo tokens.
func TestDemoModeServer(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		dbEnv := processDBEnv(t, kind)
		demo := startProcess(t, append(slices.Clone(dbEnv), "SWITCHBOARD_JWT_SECRET="))
		e := &env{t: t, base: demo.base, watch: watchContract(t)}
		var signedIn struct {
			Token string `json:"token"`
		}
		decode(t, e.mustDo(http.StatusOK, "POST", "/api/auth/demo", "", map[string]string{"name": "alice"}), &signedIn)
		if c := e.dialSSE(signedIn.Token, "").conn; c.UserID != "alice" {
			t.Fatalf("the demo token connected as %q", c.UserID)
		}
		tok := runCommand(t, append(slices.Clone(dbEnv), "SWITCHBOARD_JWT_SECRET="), "token", "--sub", "bob", "--name", "Bob")
		e.mustDo(http.StatusOK, "GET", "/api/rooms", tok, nil)
		demo.stop(t, syscall.SIGTERM)

		secured := startProcess(t, dbEnv) // startProcess sets the test secret
		e.base = secured.base
		if status, body := e.do("POST", "/api/auth/demo", "", map[string]string{"name": "alice"}); status != http.StatusNotFound {
			t.Fatalf("demo sign-in with a secret configured: %d %s", status, body)
		}
		if status, _ := e.do("GET", "/api/rooms", signedIn.Token, nil); status != http.StatusUnauthorized {
			t.Fatalf("a demo token after a secret was configured: %d", status)
		}
		e.mustDo(http.StatusOK, "GET", "/api/rooms", e.token("carol", "Carol"), nil)
	})
}
