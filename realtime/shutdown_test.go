package realtime

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// At shutdown every connection gets the shutdown event last, with a reconnect delay of at
// least ShutdownRetry and under twice it; Shutdown returns once the transports have let go.
func TestShutdownTellsConnectionsWhenToReconnect(t *testing.T) {
	h := newTestHub(t, newMemStore(), Config{})
	c := connect(t, h, "alice")
	receive(t, c, 1)
	stopped := make(chan error, 1)
	go func() { stopped <- h.Shutdown(context.Background(), 0) }()

	var last []Message
	for {
		msgs, err := c.Drain(context.Background(), nil, 10)
		if len(msgs) > 0 {
			last = msgs
		}
		if err == ErrClosed {
			break
		}
		select {
		case <-c.Ready():
		case <-time.After(testWait):
			t.Fatal("the connection was not closed at shutdown")
		}
	}
	if c.Reason() != ReasonShutdown || len(last) == 0 || last[len(last)-1].Type != EventShutdown {
		t.Fatalf("closed for %s, last %v", c.Reason(), types(last))
	}
	var env struct {
		Data struct {
			RetryMS int64 `json:"retry_ms"`
		} `json:"data"`
	}
	if err := json.Unmarshal(last[len(last)-1].Payload, &env); err != nil {
		t.Fatal(err)
	}
	if retry := time.Duration(env.Data.RetryMS) * time.Millisecond; retry < ShutdownRetry || retry >= 2*ShutdownRetry {
		t.Fatalf("retry_ms %d, want from %s to under twice it", env.Data.RetryMS, ShutdownRetry)
	}

	h.Disconnect(c) // what its transport does once the stream has ended
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testWait):
		t.Fatal("Shutdown did not return once the connection was gone")
	}
}
