package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// wsGUID is what the server appends to Sec-WebSocket-Key before hashing (RFC 6455 §1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// streamWSRaw reads GET /ws over a plain TCP socket: the handshake written by hand, then
// unmasked server frames read from one 4 KiB buffer, one goroutine per stream. An envelope
// that fits the buffer is handed on in place (no copy); pings are answered with a masked
// pong, a close frame with a close frame. It exists for the same reason as the raw SSE
// reader: coder/websocket's client costs the generator more (fanout, 1,000 subscribers,
// 10 msg/s, 10 s: 0.19–0.21 generator cores and 55 MiB against 0.15–0.16 and 36 MiB), which
// would be charged to WebSocket in a WebSocket-vs-SSE comparison. With deflate it offers
// permessage-deflate as browsers do, and inflates the messages that arrive compressed.
func streamWSRaw(ctx context.Context, t *target, s *sub, deflate bool) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, done, err := dialStream(ctx, &d, t)
	if err != nil {
		return err
	}
	defer done()

	q := url.Values{}
	if s.rooms != "" {
		q.Set("rooms", s.rooms)
	}
	if len(s.cursor) > 0 {
		q.Set("last_event_id", string(s.cursor))
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := fmt.Appendf(nil, "GET /ws?%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n",
		q.Encode(), t.hostport, key, s.token)
	if deflate {
		req = append(req, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"...)
	}
	req = append(req, "\r\n"...)
	if _, err := conn.Write(req); err != nil {
		return err
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		err := statusError(resp)
		resp.Body.Close()
		return err
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		return fmt.Errorf("WebSocket handshake: Sec-WebSocket-Accept %q does not match the key", got)
	}
	// A 101 response has no body: frames follow in br, which may already hold some.
	r := wsReader{r: br, w: conn, deflate: strings.HasPrefix(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")}
	for {
		data, err := r.next()
		if err != nil {
			if errors.Is(err, errWSClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil // the server ended the connection
			}
			return err
		}
		etyp, id := envelopeHead(data)
		s.onEvent(etyp, id, data)
	}
}

// acceptKey is the Sec-WebSocket-Accept the server must answer key with.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// errWSClosed reports that the server sent a close frame (and was answered).
var errWSClosed = errors.New("websocket closed by the server")

// wsReader reads a server's frames. Only the reading goroutine writes to w (pongs, the close
// answer), so there is never more than one writer.
type wsReader struct {
	r        *bufio.Reader
	w        io.Writer
	deflate  bool   // permessage-deflate was negotiated: RSV1 marks a compressed message
	msg      []byte // a message larger than the buffer, or fragmented, reassembled
	ctl      [125]byte
	wbuf     []byte
	inflated []byte // the last compressed message, inflated
}

// next returns the payload of the next text message, valid until the next call. Binary
// messages are skipped; pings are answered; a close frame is answered and ends the stream
// with errWSClosed.
func (p *wsReader) next() ([]byte, error) {
	fragmented, compressed := false, false
	var fragOp byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(p.r, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0F
		if rsv := h[0] & 0x70; rsv != 0 && (rsv != 0x40 || !p.deflate) {
			return nil, fmt.Errorf("websocket: reserved bits set (0x%02x) without an extension", h[0])
		}
		if h[1]&0x80 != 0 {
			return nil, errors.New("websocket: the server sent a masked frame")
		}
		n := uint64(h[1] & 0x7F)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(p.r, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(p.r, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 64<<20 {
			return nil, fmt.Errorf("websocket: frame of %d bytes", n)
		}

		if op >= opClose { // control frames: at most 125 bytes, never fragmented
			if n > 125 || !fin {
				return nil, fmt.Errorf("websocket: bad control frame (opcode %d, %d bytes)", op, n)
			}
			payload := p.ctl[:n]
			if _, err := io.ReadFull(p.r, payload); err != nil {
				return nil, err
			}
			switch op {
			case opPing:
				if err := p.write(opPong, payload); err != nil {
					return nil, err
				}
			case opClose:
				// Echo the status code, as RFC 6455 §5.5.1 asks; then the server closes TCP.
				if len(payload) >= 2 {
					payload = payload[:2]
				}
				_ = p.write(opClose, payload)
				return nil, errWSClosed
			}
			continue
		}

		switch {
		case op == opContinuation && !fragmented:
			return nil, errors.New("websocket: continuation frame without a message")
		case op != opContinuation && fragmented:
			return nil, errors.New("websocket: new message inside a fragmented one")
		case op != opContinuation && op != opText && op != opBinary:
			return nil, fmt.Errorf("websocket: unknown opcode %d", op)
		}
		if op != opContinuation {
			fragOp, compressed = op, h[0]&0x40 != 0
		}
		if fin && !fragmented && int(n) <= p.r.Size() {
			// The common case: a whole message that fits the buffer, read in place.
			b, err := p.r.Peek(int(n))
			if err != nil {
				return nil, err
			}
			if _, err := p.r.Discard(int(n)); err != nil {
				return nil, err
			}
			if fragOp != opText {
				continue
			}
			if compressed {
				return p.inflate(b)
			}
			return b, nil // valid until the next read of p.r
		}
		if !fragmented {
			p.msg = p.msg[:0]
		}
		start := len(p.msg)
		p.msg = append(p.msg, make([]byte, n)...)
		if _, err := io.ReadFull(p.r, p.msg[start:]); err != nil {
			return nil, err
		}
		fragmented = !fin
		if fin {
			if fragOp != opText {
				continue
			}
			if compressed {
				return p.inflate(p.msg)
			}
			return p.msg, nil
		}
	}
}

// inflaters are reused: each holds a 32 KiB window.
var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// inflate decodes a compressed message (RFC 7692: the deflate data less its final 00 00 ff ff,
// without context takeover), into a buffer valid until the next one.
//
// Switchboard sends an event to every connection as the same compressed blocks behind a
// stored block of the connection's own start (its cursor). Thousands of subscribers in this
// one process would inflate the same blocks thousands of times, work their browsers would do
// on machines of their own; so the generator inflates each shared part once (inflated), and
// every other message whole.
func (p *wsReader) inflate(b []byte) ([]byte, error) {
	if prefix, rest, ok := storedPrefix(b); ok {
		shared, err := inflated.get(rest)
		if err != nil {
			return nil, err
		}
		p.inflated = append(append(p.inflated[:0], prefix...), shared...)
		return p.inflated, nil
	}
	var err error
	p.inflated, err = inflateAppend(p.inflated[:0], b)
	return p.inflated, err
}

// inflateAppend appends the inflated message b to dst.
func inflateAppend(dst, b []byte) ([]byte, error) {
	zr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(zr)
	zr.(flate.Resetter).Reset(io.MultiReader(bytes.NewReader(b), strings.NewReader("\x00\x00\xff\xff")), nil)
	dst, err := appendAll(dst, zr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("websocket: inflating a message: %w", err)
	}
	return dst, nil
}

// storedPrefix splits a message that starts with a stored deflate block (not the final one)
// into that block's bytes and the deflate data after it.
func storedPrefix(b []byte) (prefix, rest []byte, ok bool) {
	if len(b) < 5 || b[0] != 0 {
		return nil, nil, false
	}
	n := int(binary.LittleEndian.Uint16(b[1:]))
	if binary.LittleEndian.Uint16(b[3:]) != ^uint16(n) || len(b) < 5+n {
		return nil, nil, false
	}
	return b[5 : 5+n], b[5+n:], true
}

// sharedInflates remembers the inflated form of recent shared parts, by their compressed bytes.
type sharedInflates struct {
	mu    sync.Mutex
	m     map[string][]byte
	order []string // oldest first, to bound the memory
}

var inflated = &sharedInflates{m: map[string][]byte{}}

func (s *sharedInflates) get(rest []byte) ([]byte, error) {
	s.mu.Lock()
	out, ok := s.m[string(rest)]
	s.mu.Unlock()
	if ok {
		return out, nil
	}
	out, err := inflateAppend(nil, rest)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[string(rest)]; !ok {
		key := string(rest)
		s.m[key] = out
		if s.order = append(s.order, key); len(s.order) > 4096 {
			delete(s.m, s.order[0])
			s.order = s.order[1:]
		}
	}
	return out, nil
}

// appendAll reads r to its end into dst.
func appendAll(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// write sends one masked frame (every client frame is masked, RFC 6455 §5.3).
func (p *wsReader) write(op byte, payload []byte) error {
	var mask [4]byte
	rand.Read(mask[:])
	b := append(p.wbuf[:0], 0x80|op, 0x80|byte(len(payload)))
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	p.wbuf = b
	_, err := p.w.Write(b)
	return err
}
