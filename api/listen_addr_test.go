package api

import (
	"testing"

	"switchboard/api/auth"
)

// A server in demo mode, where anyone who reaches it can get an administrator's token, keeps
// to the loopback interface unless told otherwise; with real keys it listens everywhere.
func TestDemoModeListensOnLoopbackByDefault(t *testing.T) {
	for _, c := range []struct {
		setup Setup
		want  string
	}{
		{Setup{API: Config{Auth: auth.Config{Demo: true}}}, "127.0.0.1:8080"},
		{Setup{API: Config{Auth: auth.Config{Demo: true}}, Addr: ":8080"}, ":8080"},
		{Setup{API: Config{Auth: auth.Config{Secret: []byte("a secret of at least thirty-two bytes")}}}, ":8080"},
		{Setup{Addr: "127.0.0.1:9000"}, "127.0.0.1:9000"},
	} {
		if got := c.setup.listenAddr(); got != c.want {
			t.Errorf("Addr %q, demo %v: listens on %q, want %q", c.setup.Addr, c.setup.API.Auth.Demo, got, c.want)
		}
	}
}
