package main

import (
	"bufio"
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
// would be charged to WebSocket in a WebSocket-vs-SSE comparison.
func streamWSRaw(ctx context.Context, t *target, s *sub) error {
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
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
		q.Encode(), t.hostport, key, s.token)
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
	r := wsReader{r: br, w: conn}
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
	r    *bufio.Reader
	w    io.Writer
	msg  []byte // a message larger than the buffer, or fragmented, reassembled
	ctl  [125]byte
	wbuf []byte
}

// next returns the payload of the next text message, valid until the next call. Binary
// messages are skipped; pings are answered; a close frame is answered and ends the stream
// with errWSClosed.
func (p *wsReader) next() ([]byte, error) {
	fragmented := false
	var fragOp byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(p.r, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0F
		if h[0]&0x70 != 0 {
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
			fragOp = op
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
			return p.msg, nil
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
