package web_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Chromium offers permessage-deflate and gets it; the events that the
// server compressed once for every connection decode, in the browser, to the same messages.
func TestCompressedWebSocketEventsDecodeInTheBrowser(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	var (
		mu         sync.Mutex
		extensions []string
	)
	ctx, cancel := context.WithCancel(alice.ctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	handshakes := chromedp.Events(ctx, network.WebSocketHandshakeResponseReceived)
	go func() {
		for ev, err := range handshakes {
			if err != nil {
				return
			}
			mu.Lock()
			for k, v := range ev.Response.Headers {
				if strings.EqualFold(k, "Sec-WebSocket-Extensions") {
					extensions = append(extensions, fmt.Sprint(v))
				}
			}
			mu.Unlock()
		}
	}()
	alice.signIn(s.base()+"/?transports=ws", "Alice")
	alice.until("open over WebSocket", `switchboard.transport === 'ws'`)
	mu.Lock()
	got := strings.Join(extensions, " | ")
	mu.Unlock()
	if !strings.Contains(got, "permessage-deflate") {
		t.Fatalf("the handshake answered Sec-WebSocket-Extensions %q, want permessage-deflate", got)
	}
	long := strings.Repeat("Compressed once, sent to every connection. ", 20) + "The end."
	s.post("Bob", "general", long)
	s.post("Bob", "general", "A short one")
	alice.until("both messages, whole and once", allOnce(long, "A short one"))
}
