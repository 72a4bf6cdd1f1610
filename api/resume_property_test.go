package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/r3labs/sse/v2"
	"gopkg.in/cenkalti/backoff.v1"

	"switchboard/db"
)

// Property: clients on SSE, WebSocket and long-poll, each in several rooms, disconnecting and
// resuming at random while publishers post concurrently, receive every message of their rooms
// exactly once and in per-room order.
func TestResumeDeliversEverythingExactlyOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		const (
			clients    = 20
			publishers = 4
			perPub     = 40
		)
		rooms := []string{"r0", "r1", "r2", "r3"}
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute) // a bound, not a speed target: CI runs it beside the browser tests
		defer cancel()

		var (
			lastSeq  sync.Map // room → seq of its last message, set when publishers finish
			pubsDone atomic.Bool
		)
		complete := func(got map[string][]uint64) bool {
			if !pubsDone.Load() {
				return false
			}
			for room, seqs := range got {
				last, _ := lastSeq.Load(room)
				if n, _ := last.(uint64); len(seqs) == 0 && n > 0 || len(seqs) > 0 && seqs[len(seqs)-1] < n {
					return false
				}
			}
			return true
		}

		type result struct {
			name string
			got  map[string][]uint64
			err  error
		}
		results := make(chan result, clients)
		ready := make(chan struct{}, clients)
		for i := range clients {
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			mine := []string{rooms[i%4], rooms[(i+1+rng.IntN(3))%4]}
			c := &resumingClient{e: e, token: e.token(fmt.Sprintf("u%d", i), "U"), rooms: mine, rng: rng,
				got: map[string][]uint64{}, ready: ready}
			for _, r := range mine {
				c.got[r] = nil
			}
			c.complete = func() bool { return complete(c.snapshot()) }
			transport := []string{"sse", "ws", "poll"}[i%3]
			go func() {
				err := c.run(ctx, transport)
				results <- result{fmt.Sprintf("client %d (%s, rooms %v)", i, transport, mine), c.snapshot(), err}
			}()
		}
		for range clients {
			select {
			case <-ready:
			case <-ctx.Done():
				t.Fatal("clients did not all connect")
			}
		}

		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			sent    = map[string][]uint64{} // room → seqs of the messages posted there
			pubErrs []error
		)
		for p := range publishers {
			tok := e.token(fmt.Sprintf("pub%d", p), "Publisher")
			rng := rand.New(rand.NewPCG(uint64(p), 7))
			wg.Go(func() {
				for i := range perPub {
					room := rooms[rng.IntN(len(rooms))]
					m, err := e.postRetrying(tok, room, fmt.Sprintf("p%d-%d", p, i))
					mu.Lock()
					if err != nil {
						pubErrs = append(pubErrs, err)
						mu.Unlock()
						return
					}
					sent[room] = append(sent[room], m.Seq)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(pubErrs) > 0 {
			t.Fatalf("publishing: %v", pubErrs)
		}
		for room, seqs := range sent {
			slices.Sort(seqs)
			lastSeq.Store(room, seqs[len(seqs)-1])
		}
		pubsDone.Store(true)

		for range clients {
			r := <-results
			if r.err != nil {
				t.Errorf("%s: %v", r.name, r.err)
				continue
			}
			for room, seqs := range r.got {
				if want := sent[room]; !slices.Equal(seqs, want) {
					t.Errorf("%s, room %s: got %d messages %v, want %v: each exactly once, in order", r.name, room, len(seqs), seqs, want)
				}
			}
		}
	})
}

// resumingClient reconnects again and again with its last cursor.
type resumingClient struct {
	e        *env
	token    string
	rooms    []string
	rng      *rand.Rand
	ready    chan<- struct{}
	complete func() bool

	mu       sync.Mutex
	got      map[string][]uint64 // room → seq of each chat message received, in order
	cursor   string
	sessions int
}

func (c *resumingClient) snapshot() map[string][]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]uint64, len(c.got))
	for k, v := range c.got {
		out[k] = slices.Clone(v)
	}
	return out
}

// record takes one event into account; it reports an error for anything a client would choke on.
func (c *resumingClient) record(ev envelope) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.ID != "" {
		c.cursor = ev.ID
	}
	switch ev.Type {
	case "connected":
		if c.sessions == 0 && c.ready != nil {
			c.ready <- struct{}{}
		}
		c.sessions++
	case "reset":
		return fmt.Errorf("unexpected reset: %s", ev.Data)
	case "chat_message":
		var m message
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			return err
		}
		if _, mine := c.got[ev.Room]; !mine {
			return fmt.Errorf("received a message of room %s", ev.Room)
		}
		c.got[ev.Room] = append(c.got[ev.Room], m.Seq)
	}
	return nil
}

func (c *resumingClient) resumeQuery() url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := url.Values{}
	if c.cursor == "" {
		q.Set("rooms", strings.Join(c.rooms, ","))
	}
	return q
}

func (c *resumingClient) lastCursor() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cursor
}

// run keeps a session open until every message is in, cutting each session after a few events
// or a short while, whichever comes first. A session that brought no message doubles the
// next one's while (up to 64 times): on a loaded machine a handshake and its replay can take
// longer than the while, and sessions cut before anything arrives would never get further.
func (c *resumingClient) run(ctx context.Context, transport string) error {
	var p *poller
	empty := 0 // sessions in a row that brought no message
	for !c.complete() {
		if ctx.Err() != nil {
			return fmt.Errorf("timed out; got %v", c.snapshot())
		}
		budget := 1 + c.rng.IntN(12)
		lifetime := time.Duration(20+c.rng.IntN(200)) * time.Millisecond << min(empty, 6)
		before := c.messages()
		var err error
		switch transport {
		case "sse":
			err = c.sseSession(ctx, budget, lifetime)
		case "ws":
			err = c.wsSession(ctx, budget, lifetime)
		case "poll":
			if p == nil {
				p = &poller{e: c.e, token: c.token, query: c.resumeQuery()}
			}
			err = c.pollSession(ctx, p, budget, lifetime)
		}
		if err != nil {
			return err
		}
		if c.messages() == before {
			empty++
		} else {
			empty = 0
		}
	}
	return nil
}

// messages counts the chat messages received so far.
func (c *resumingClient) messages() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, seqs := range c.got {
		n += len(seqs)
	}
	return n
}

func (c *resumingClient) sseSession(ctx context.Context, budget int, lifetime time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, lifetime)
	defer cancel()
	cl := sse.NewClient(c.e.base + "/events?" + c.resumeQuery().Encode())
	cl.Headers["Authorization"] = "Bearer " + c.token
	if cur := c.lastCursor(); cur != "" {
		cl.Headers["Last-Event-ID"] = cur
	}
	cl.ReconnectStrategy = backoff.WithMaxTries(&backoff.StopBackOff{}, 0)
	var failure error
	stopped := false
	err := cl.SubscribeRawWithContext(ctx, func(m *sse.Event) {
		// Once the session's time is up, r3labs hands over what it had read of the frame it
		// was reading when the context ended: not an event the server sent.
		if stopped || len(m.Data) == 0 || ctx.Err() != nil {
			return
		}
		var ev envelope
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			failure = err
		} else {
			failure = c.record(ev)
		}
		if budget--; budget <= 0 || failure != nil || c.complete() {
			stopped = true // later events of this session are dropped unseen: their cursor was not kept
			cancel()
		}
	})
	if failure != nil {
		return failure
	}
	if err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("SSE session: %w", err)
	}
	return nil
}

func (c *resumingClient) wsSession(ctx context.Context, budget int, lifetime time.Duration) error {
	q := c.resumeQuery()
	if cur := c.lastCursor(); cur != "" {
		q.Set("last_event_id", cur)
	}
	ctx, cancel := context.WithTimeout(ctx, lifetime)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.e.base, "http")+"/ws?"+q.Encode(),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + c.token}}})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("dialing: %w", err)
	}
	defer ws.CloseNow() // abrupt: no close handshake, as when a network drops
	for budget > 0 && !c.complete() {
		_, b, err := ws.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading: %w", err)
		}
		var ev envelope
		if err := json.Unmarshal(b, &ev); err != nil {
			return err
		}
		if err := c.record(ev); err != nil {
			return err
		}
		budget--
	}
	return nil
}

// pollSession polls until its budget of events is spent; now and then it drops a response
// unread, as when a proxy loses it, so that the next poll presents an older cursor.
func (c *resumingClient) pollSession(ctx context.Context, p *poller, budget int, lifetime time.Duration) error {
	deadline := time.Now().Add(lifetime)
	for budget > 0 && time.Now().Before(deadline) && !c.complete() {
		q := url.Values{"timeout": {"0.2"}}
		for k, v := range p.query {
			q[k] = v
		}
		if p.id != "" {
			q.Set("connection_id", p.id)
		}
		if cur := c.lastCursor(); cur != "" {
			q.Set("cursor", cur)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", c.e.base+"/poll?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("polling: %w", err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("poll: %d %s", res.StatusCode, body)
		}
		var out struct {
			Events       []envelope `json:"events"`
			ConnectionID string     `json:"connection_id"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			return err
		}
		p.id = out.ConnectionID
		if len(out.Events) > 0 && c.rng.IntN(8) == 0 {
			continue // the response is lost on the way
		}
		for _, ev := range out.Events {
			if err := c.record(ev); err != nil {
				return err
			}
			budget--
		}
	}
	time.Sleep(time.Duration(c.rng.IntN(30)) * time.Millisecond) // a gap between sessions
	return nil
}

// postRaw posts a chat message from any goroutine; it returns errors instead of failing.
// postRetrying posts content with a client_id, and posts it again while the server answers 503
// (a busy database on a loaded test machine), as a client should: the client_id makes a retry
// of a post that was stored after all return that message rather than store a second one.
func (e *env) postRetrying(token, room, content string) (message, error) {
	for attempt := 1; ; attempt++ {
		m, err := e.postWith(token, room, map[string]string{"content": content, "client_id": content})
		var unavailable errUnavailable
		if !errors.As(err, &unavailable) || attempt == 5 {
			return m, err
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond) // backoff, not synchronisation
	}
}

// errUnavailable is a 503 answer.
type errUnavailable struct{ body string }

func (e errUnavailable) Error() string { return "post: 503 " + e.body }

func (e *env) postRaw(token, room, content string) (message, error) {
	return e.postWith(token, room, map[string]string{"content": content})
}

func (e *env) postWith(token, room string, fields map[string]string) (message, error) {
	body, _ := json.Marshal(fields)
	req, _ := http.NewRequest("POST", e.base+"/api/rooms/"+room+"/messages", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return message{}, err
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	switch res.StatusCode {
	case http.StatusCreated, http.StatusOK: // 200: a repeated client_id, the first message
	case http.StatusServiceUnavailable:
		return message{}, errUnavailable{string(out)}
	default:
		return message{}, fmt.Errorf("post: %d %s", res.StatusCode, out)
	}
	var m message
	return m, json.Unmarshal(out, &m)
}
