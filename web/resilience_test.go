package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"switchboard/api"
	"switchboard/realtime"
)

// How the client meets a hostile network: the client in real Chromium behind a proxy that misbehaves on
// purpose (faultproxy_test.go). Servers send a heartbeat every 3 s and answer long-polls after
// 4 s, so that each scenario runs in seconds.

// resilient starts a server with short heartbeats and poll timeouts and a fault proxy before it.
func resilient(t *testing.T) (*server, *faultProxy) {
	t.Helper()
	s := newServer(t, func(c *api.Config) { c.PollTimeout = 4 * time.Second })
	s.hcfg = func(c *realtime.Config) { c.Heartbeat = 3 * time.Second }
	s.start()
	return s, newFaultProxy(t, s)
}

// clientPage opens a signed-out page through base (the app starts no connection then) and starts
// a client there with the options opts, a JavaScript object literal that may use TOKEN: window.sb.
// What it emits is recorded: states (with the time), errors, the contents of chat messages
// (got), the connection ids of connected events (conns), resets.
func clientPage(t *testing.T, base, user, opts string) *page {
	t.Helper()
	p := signedOutPage(t, base, user)
	p.startClient(user, opts)
	return p
}

// signedOutPage opens the app through base, signed out: nothing connects.
func signedOutPage(t *testing.T, base, user string) *page {
	t.Helper()
	p := newPage(t, newBrowser(t), user, 1024, 768)
	p.do("opening a page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("demo-name")))
	return p
}

// startClient starts the client of clientPage on the page as it is, with a token for user from
// the fault proxy.
func (p *page) startClient(user, opts string) {
	p.t.Helper()
	p.startClientWith(`await (await fetch('/_test/token?ttl=1h&sub=`+user+`')).json().then((b) => b.token)`, opts)
}

// startClientWith is startClient with TOKEN the value of the JavaScript expression token.
func (p *page) startClientWith(token, opts string) {
	p.t.Helper()
	p.do("starting a client", chromedp.Evaluate[chromedp.Void](`(async () => {
		const TOKEN = `+token+`
		const { connect } = await import('/switchboard.js')
		Object.assign(window, { states: [], errors: [], got: [], conns: [], resets: 0, tokens: 0 })
		window.sb = connect({ autoConnect: false, ...`+opts+` })
		sb.on('state', (e) => states.push({ at: Date.now(), ...e }))
		sb.on('error', (e) => errors.push(e))
		sb.on('chat_message', (e) => got.push(e.data.content))
		sb.on('connected', (e) => conns.push(e.data.connection_id))
		sb.on('reset', () => resets++)
		sb.open()
	})()`, chromedp.EvalAwaitPromise))
}

// got is true on a client page when each text arrived exactly once.
func got(texts ...string) string {
	conds := make([]string, len(texts))
	for i, text := range texts {
		conds[i] = fmt.Sprintf(`got.filter((c) => c === %s).length === 1`, js(text))
	}
	return strings.Join(conds, " && ")
}

// openOn is true on a client page when it is open over transport.
func openOn(transport string) string {
	return fmt.Sprintf(`sb.state === 'open' && sb.transport === %s`, js(transport))
}

// Scenarios 1–3: a stream that goes silent — the proxy stops forwarding it both ways and keeps
// both sockets open, so neither end notices — is replaced within two heartbeats and a margin
// (for a long-poll, within its timeout and a margin), on the same transport, and a message
// posted meanwhile arrives once. For SSE this is also the acceptance check: with a
// 3 s heartbeat, open again within 10 s of the freeze.
func TestBlackHoledStreamIsReplaced(t *testing.T) {
	t.Parallel()
	for _, tr := range []struct {
		transport, path string
		within          time.Duration // from the freeze to open again
	}{
		{"sse", "/events", 10 * time.Second},
		{"ws", "/ws", 10 * time.Second},
		{"poll", "/poll", 10 * time.Second}, // a 4 s poll timeout and a margin
	} {
		t.Run(tr.transport, func(t *testing.T) {
			t.Parallel()
			s, proxy := resilient(t)
			// The transport under test first, the others after it: a dead one is resumed on
			// the same transport, not taken for a blocked one.
			p := clientPage(t, proxy.url, "alice", `{ token: TOKEN, rooms: ['general'],
				transports: [`+js(tr.transport)+`, ...['ws', 'sse', 'poll'].filter((t) => t !== `+js(tr.transport)+`)] }`)
			p.until("open", openOn(tr.transport))
			s.post("Bob", "general", "before the freeze")
			p.until("the first message", got("before the freeze"))
			if tr.transport == "poll" {
				p.until("a poll waiting", `sb._conn._up`) // the answer with the message is followed by a new poll
				waitFor(t, "a poll held by the server", func() bool { return len(proxy.live("/poll")) == 1 })
			}
			if n := proxy.blackhole(tr.path); n != 1 {
				t.Fatalf("black-holed %d streams, want 1", n)
			}
			froze := time.Now()
			s.post("Bob", "general", "during the freeze")
			p.until("open again on a new connection, with the message once", fmt.Sprintf(
				`%s && states.some((e) => e.state === 'reconnecting') && %s`, openOn(tr.transport), got("before the freeze", "during the freeze")))
			reopened := eval[int64](p, `states.findLast((e) => e.state === 'open').at`)
			took := time.UnixMilli(reopened).Sub(froze)
			t.Logf("%s: open again %v after the freeze (%s)", tr.transport, took.Round(time.Millisecond),
				eval[string](p, `states.find((e) => e.state === 'reconnecting').why`))
			if took > tr.within {
				t.Errorf("open again %v after the freeze, want within %v", took, tr.within)
			}
			s.post("Bob", "general", "after the freeze")
			p.until("live", got("before the freeze", "during the freeze", "after the freeze"))
		})
	}
}

// In a room where nothing happens, the heartbeats keep the
// watchdog from taking a healthy connection for a dead one, over many of its periods, on every
// stream transport (a timer that a background tab runs late judges by the last heartbeat too).
func TestHeartbeatsKeepAQuietConnection(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.hcfg = func(c *realtime.Config) { c.Heartbeat = time.Second }
	s.start()
	for _, transport := range []string{"ws", "sse"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			alice := newPage(t, newBrowser(t), "Alice", 390, 844)
			alice.signIn(s.base()+"/?transports="+transport, "Alice")
			id := eval[string](alice, `switchboard.connectionId`)
			alice.do("counting heartbeats", chromedp.Evaluate[chromedp.Void](`window.beats = 0; switchboard.on('heartbeat', () => beats++)`))
			alice.until("eight heartbeats: more than two watchdog periods", `beats >= 8`)
			if got := eval[string](alice, `switchboard.state + ' ' + switchboard.connectionId`); got != "open "+id {
				t.Fatalf("a healthy connection was replaced: %s (was open %s)", got, id)
			}
		})
	}
}

// Scenario 4: /ws answers 503 for a while (a draining node behind round robin). The client waits
// as long as Retry-After says and tries WebSocket again; it never moves to SSE for a status,
// remembers nothing, and a reload opens over WebSocket.
func TestUnavailableWebSocketIsWaitedOutNotFledFrom(t *testing.T) {
	t.Parallel()
	s, proxy := resilient(t)
	p := clientPage(t, proxy.url, "alice", `{ token: TOKEN, rooms: ['general'] }`)
	p.until("open over WebSocket", openOn("ws"))
	proxy.answer("/ws", http.StatusServiceUnavailable, 1, 5*time.Second)
	proxy.kill("/ws")
	s.post("Bob", "general", "while /ws was unavailable")
	p.until("back over WebSocket", fmt.Sprintf(`%s && conns.length === 2 && %s`, openOn("ws"), got("while /ws was unavailable")))
	if n, m := len(proxy.opens("/events")), len(proxy.opens("/poll")); n+m != 0 {
		t.Fatalf("%d SSE and %d long-poll requests: a 503 was taken for a blocked transport", n, m)
	}
	if v := eval[bool](p, `localStorage.getItem('switchboard.transport') === null`); !v {
		t.Fatalf("a fallback was remembered: %s", eval[string](p, `localStorage.getItem('switchboard.transport')`))
	}
	p.do("reloading", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("demo-name")))
	p.startClient("alice", `{ token: TOKEN, rooms: ['general'] }`)
	p.until("the reloaded page opens over WebSocket", openOn("ws")+` && states.find((e) => e.transport).transport === 'ws'`)
}

// A proxy that refuses WebSocket upgrades makes the client fall back to SSE, and remember it for
// the next page; once upgrades pass again, the open page moves back to WebSocket by itself,
// losing and doubling nothing, and forgets the fallback.
func TestFallbackComesBackToWebSocket(t *testing.T) {
	t.Parallel()
	s, proxy := resilient(t)
	proxy.set("/ws", fault{refuseUpgrade: true})
	p := clientPage(t, proxy.url, "alice", `{ token: TOKEN, rooms: ['general'] }`)
	p.until("open over SSE", openOn("sse"))
	if got := eval[string](p, `JSON.parse(localStorage.getItem('switchboard.transport')).t`); got != "sse" {
		t.Fatalf("remembered %q, want sse", got)
	}
	s.post("Bob", "general", "over SSE")
	p.until("the message over SSE", got("over SSE"))
	proxy.set("/ws", fault{})
	s.post("Bob", "general", "after upgrades pass again")
	ctx, cancel := withTimeout(p, 60*time.Second) // the first upgrade check comes 30 s after opening
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](openOn("ws"),
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		t.Fatalf("not back on WebSocket within a minute: %v; states %s", err, eval[string](p, `JSON.stringify(states.slice(-5))`))
	}
	s.post("Bob", "general", "over WebSocket")
	p.until("every message once", got("over SSE", "after upgrades pass again", "over WebSocket"))
	if v := eval[bool](p, `localStorage.getItem('switchboard.transport') === null`); !v {
		t.Fatal("the fallback is still remembered")
	}
}

// Scenario 5: a room the user may not read, named when connecting, is refused alone: the
// connection opens with the other rooms, the app gets an error event with status 403, and the
// client does not retry. A join() made before the connection opens settles when it does.
func TestRoomTheUserMayNotReadIsReported(t *testing.T) {
	t.Parallel()
	s, proxy := resilient(t)
	s.call(s.token("Carol", time.Hour), "POST", "/api/rooms", map[string]any{"name": "Secret", "key": "secret", "private": true}, http.StatusCreated)
	started := time.Now()
	p := clientPage(t, proxy.url, "alice", `{ token: TOKEN, rooms: ['general', 'secret'] }`)
	p.until("open, with an error for the private room", openOn("ws")+
		` && errors.length === 1 && errors[0].status === 403 && errors[0].room === 'secret' && errors[0].code === 'forbidden'`)
	s.post("Bob", "general", "the other room works")
	p.until("the other room is live", got("the other room works"))

	result := eval[string](p, `(async () => {
		const c = (await import('/switchboard.js')).connect({ token: sb.token, autoConnect: false })
		const open = c.join('general'), refused = c.join('secret'), ready = c.ready()
		c.open()
		const out = [(await open).subscribed, await refused.then(() => 'joined', (e) => e.status + ' ' + e.code), await ready.then(() => 'ready')]
		c.close()
		return out.join(' ')
	})()`, chromedp.EvalAwaitPromise)
	if result != "true 403 forbidden ready" {
		t.Fatalf("join() before open: %q, want the public room joined and the private one refused with 403", result)
	}
	// Twenty seconds to watch for retries: each client made one stream request, and the page
	// stayed on its first connection.
	ctx, cancel := withTimeout(p, time.Until(started.Add(25*time.Second)))
	defer cancel()
	<-ctx.Done()
	if n := len(proxy.opens("/ws")) + len(proxy.opens("/events")) + len(proxy.opens("/poll")); n > 2 {
		t.Fatalf("%d stream requests in 20 s, want 2 (one per client)", n)
	}
	if n := eval[int](p, `conns.length`); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// Scenario 6: /ws answers 429 with Retry-After: 5. No WebSocket attempt comes sooner than five
// seconds after the last, and a 429 is no reason to leave WebSocket.
func TestRetryAfterIsRespected(t *testing.T) {
	t.Parallel()
	_, proxy := resilient(t)
	p := signedOutPage(t, proxy.url, "alice")
	proxy.answer("/ws", http.StatusTooManyRequests, 5, 8*time.Second) // two attempts: at once, and after 5 s
	p.startClient("alice", `{ token: TOKEN, rooms: ['general'] }`)
	p.until("open over WebSocket once the 429s end", openOn("ws"))
	opens := proxy.opens("/ws")
	if len(opens) < 3 {
		t.Fatalf("%d WebSocket attempts, want at least 3 (two refused, one accepted)", len(opens))
	}
	for i := 1; i < len(opens); i++ {
		if gap := opens[i].Sub(opens[i-1]); gap < 5*time.Second {
			t.Errorf("attempt %d came %v after the one before, want at least 5 s", i+1, gap.Round(time.Millisecond))
		}
	}
	if n := len(proxy.opens("/events")) + len(proxy.opens("/poll")); n != 0 {
		t.Fatalf("%d SSE or long-poll requests: a 429 was taken for a blocked transport", n)
	}
	if d := eval[int](p, `states.find((e) => e.state === 'connecting' && e.delay > 0)?.delay ?? 0`); d < 5000 {
		t.Errorf("the connecting event announced a delay of %d ms, want at least 5000", d)
	}
}

// Scenario 7: a proxy kills every connection 600 ms after it opened. Backoff is not reset by
// an open that did not stay healthy, so the delays grow: at most 8 opens in 20 s, and the
// reconnecting events count the attempts.
func TestConnectionsKilledSoonAfterOpeningBackOff(t *testing.T) {
	t.Parallel()
	_, proxy := resilient(t)
	proxy.set("/ws", fault{killAfter: 600 * time.Millisecond})
	p := clientPage(t, proxy.url, "alice", `{ token: TOKEN, rooms: ['general'] }`)
	p.until("open", openOn("ws"))
	start := proxy.opens("/ws")[0]
	ctx, cancel := withTimeout(p, time.Until(start.Add(20*time.Second))) // the window under watch
	defer cancel()
	<-ctx.Done()
	n := 0
	for _, at := range proxy.opens("/ws") {
		if at.Sub(start) < 20*time.Second {
			n++
		}
	}
	attempts := eval[int](p, `Math.max(...states.filter((e) => e.state === 'reconnecting').map((e) => e.attempt || 0))`)
	t.Logf("%d opens in 20 s; the last reconnecting event counted attempt %d", n, attempts)
	if n > 8 {
		t.Fatalf("%d opens in 20 s, want at most 8", n)
	}
	if attempts < n-1 {
		t.Fatalf("the reconnecting events counted %d attempts over %d opens: the backoff was reset", attempts, n)
	}
	if n := len(proxy.opens("/events")) + len(proxy.opens("/poll")); n != 0 {
		t.Fatalf("%d SSE or long-poll requests: a killed connection was taken for a blocked transport", n)
	}
}

// Scenario 8: with 15 s tokens and getToken, a connection lives on across many expiries without
// reconnecting, on each transport: one connected event in a minute, and every message posted
// meanwhile arrives once.
func TestShortTokensAreRefreshedWithoutReconnecting(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"ws", "sse", "poll"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			s, proxy := resilient(t)
			p := clientPage(t, proxy.url, "alice", `{ rooms: ['general'], transports: [`+js(transport)+`],
				token: await (await fetch('/_test/token?ttl=15s&sub=alice')).json().then((b) => b.token),
				getToken: async () => { tokens++; return (await (await fetch('/_test/token?ttl=15s&sub=alice')).json()).token } }`)
			p.until("open", openOn(transport))
			var sent []string
			tick := time.NewTicker(5 * time.Second)
			defer tick.Stop()
			for i := range 12 { // a minute: four token lifetimes
				<-tick.C
				sent = append(sent, fmt.Sprint("message ", i))
				s.post("Bob", "general", sent[i])
			}
			p.until("every message once", got(sent...))
			if n := eval[int](p, `conns.length`); n != 1 {
				t.Fatalf("%d connected events in a minute, want 1: %s", n, eval[string](p, `JSON.stringify(states)`))
			}
			if n := eval[int](p, `tokens`); n < 3 {
				t.Fatalf("getToken called %d times in a minute of 15 s tokens, want at least 3", n)
			}
			if v := eval[string](p, `sb.state + ' ' + sb.transport`); v != "open "+transport {
				t.Fatalf("the client is %s", v)
			}
		})
	}
}

// Scenario 9: the browser goes offline. The client says so at once (reconnecting) and makes no
// attempt until the network is back; then it reconnects and misses nothing.
func TestOfflineWaitsForTheNetwork(t *testing.T) {
	t.Parallel()
	s, proxy := resilient(t)
	p := clientPage(t, proxy.url, "alice", `{ token: TOKEN, rooms: ['general'] }`)
	p.until("open", openOn("ws"))
	before := len(proxy.opens("/ws"))
	offlineAt := time.Now()
	p.network(true)
	p.until("reconnecting because offline", `sb.state === 'reconnecting' && states.at(-1).why === 'offline'`)
	if at := eval[int64](p, `states.at(-1).at`); time.UnixMilli(at).Sub(offlineAt) > time.Second {
		t.Errorf("reconnecting %v after going offline, want within a second", time.UnixMilli(at).Sub(offlineAt))
	}
	s.post("Bob", "general", "while offline")
	p.network(false)
	p.until("open again, with the message once", openOn("ws")+` && `+got("while offline"))
	if n := len(proxy.opens("/ws")) - before; n != 1 {
		t.Fatalf("%d WebSocket attempts since going offline, want 1 (once back online)", n)
	}
}

// network takes the page's browser context off the network, or puts it back: navigator.onLine,
// the offline and online events, and requests failing.
func (p *page) network(offline bool) {
	p.t.Helper()
	ctx, cancel := withTimeout(p, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		var rules []*network.Conditions
		if offline {
			rules = append(rules, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
		}
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule,
			network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.OverrideNetworkState,
			network.OverrideNetworkStateParams{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1})
		return err
	})); err != nil {
		p.t.Fatalf("%s: emulating offline=%v: %v", p.name, offline, err)
	}
}

// Scenario 10: a cursor the server did not issue is answered 400 invalid_cursor on WebSocket
// too: the client resets and starts afresh on WebSocket, never walking down to long-poll.
func TestInvalidCursorResetsOnTheSameTransport(t *testing.T) {
	t.Parallel()
	_, proxy := resilient(t)
	p := clientPage(t, proxy.url, "alice", `{ token: TOKEN, rooms: ['general'] }`)
	p.until("open", openOn("ws"))
	p.do("spoiling the cursor", chromedp.Evaluate[chromedp.Void](`sb.cursor = 'AAAA-not-a-cursor'`))
	proxy.kill("/ws")
	p.until("reset and open on WebSocket again", openOn("ws")+` && resets === 1 && conns.length === 2`)
	if n := len(proxy.opens("/events")) + len(proxy.opens("/poll")); n != 0 {
		t.Fatalf("%d SSE or long-poll requests after invalid_cursor", n)
	}
	if n := proxy.checked("/ws"); n != 1 {
		t.Fatalf("%d status checks of /ws, want 1", n)
	}
}

// The server shuts down: the client hears shutdown, waits the retry_ms it carries (at least
// realtime.ShutdownRetry) rather than taking the end for a failure, and resumes once the
// server is back.
func TestShutdownIsWaitedOutThenResumed(t *testing.T) {
	t.Parallel()
	s, proxy := resilient(t)
	p := clientPage(t, proxy.url, "alice", `{ token: TOKEN, rooms: ['general'] }`)
	p.until("open", openOn("ws"))
	s.stop()
	p.until("reconnecting after the delay shutdown suggests", fmt.Sprintf(
		`states.some((e) => e.state === 'reconnecting' && e.why === 'server shutting down' && e.delay >= %d)`,
		realtime.ShutdownRetry.Milliseconds()))
	s.start()
	p.until("open again", openOn("ws")+` && conns.length === 2`)
}

// A refusal from the server that retrying will not change (here a 403 with the server's JSON
// error on /ws) stops the client: closed, with an error event that says why, and no fallback
// to SSE or long-poll — a status is never taken for a blocked transport.
func TestRefusalStopsTheClient(t *testing.T) {
	t.Parallel()
	_, proxy := resilient(t)
	p := signedOutPage(t, proxy.url, "alice")
	proxy.answer("/ws", http.StatusForbidden, 0, time.Hour)
	p.startClient("alice", `{ token: TOKEN, rooms: ['general'] }`)
	p.until("closed, saying why", `sb.state === 'closed' && states.at(-1).reason === 'refused' &&
		errors.length === 1 && errors[0].status === 403 && errors[0].code === 'injected'`)
	if ws, check, other := len(proxy.opens("/ws")), proxy.checked("/ws"), len(proxy.opens("/events"))+len(proxy.opens("/poll")); ws != 1 || check != 1 || other != 0 {
		t.Fatalf("%d WebSocket handshakes, %d status checks, %d SSE or long-poll requests; want 1, 1, 0", ws, check, other)
	}
	if v := eval[string](p, `sb.ready().then(() => 'ready', (e) => 'rejected: ' + e.status)`, chromedp.EvalAwaitPromise); v != "rejected: 403" {
		t.Fatalf("ready() after the refusal: %s", v)
	}
}

// A token refused at the handshake (the server restarted with a rotated key) is renewed with
// getToken and the client carries on from its cursor without closing: the app never sees
// auth_required, and a message posted meanwhile arrives.
func TestRefusedTokenIsRenewedWithGetToken(t *testing.T) {
	t.Parallel()
	s, proxy := resilient(t)
	p := clientPage(t, proxy.url, "alice", `{ token: TOKEN, rooms: ['general'],
		getToken: async () => { tokens++; return (await (await fetch('/_test/token?ttl=1h&sub=alice')).json()).token } }`)
	p.until("open", openOn("ws"))
	p.do("counting auth_required", chromedp.Evaluate[chromedp.Void](`window.authRequired = 0; sb.on('auth_required', () => authRequired++)`))
	s.stop()
	s.cfg.Auth.Secret = []byte("a-rotated-secret-a-rotated-secret-!!")
	s.start()
	s.post("Bob", "general", "after the key changed")
	p.until("open again with a renewed token", openOn("ws")+` && tokens >= 1 && conns.length === 2 && `+got("after the key changed"))
	if v := eval[string](p, `states.filter((e) => e.state === 'closed').length + ' ' + authRequired`); v != "0 0" {
		t.Fatalf("closed states and auth_required events: %s, want none", v)
	}
}
