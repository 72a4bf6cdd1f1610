package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// streamSSERaw reads GET /events over a plain TCP socket: one goroutine and two small buffers
// per stream, and no copy of an event beyond its data line. It also serves the stall
// scenario: the socket's SO_RCVBUF can be made small, and reading can pause after
// "connected" (sub.pause) while the socket stays open.
func streamSSERaw(ctx context.Context, t *target, s *sub) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	if s.rcvbuf > 0 {
		size := s.rcvbuf
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				// Set before connect, so the advertised window scale matches the small buffer.
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
			})
			return errors.Join(err, serr)
		}
	}
	conn, done, err := dialStream(ctx, &d, t)
	if err != nil {
		return err
	}
	defer done()

	q := url.Values{}
	if s.rooms != "" {
		q.Set("rooms", s.rooms)
	}
	req := fmt.Appendf(nil, "GET /events?%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n"+
		"Cache-Control: no-cache\r\nAuthorization: Bearer %s\r\n", q.Encode(), t.hostport, s.token)
	if len(s.cursor) > 0 {
		req = fmt.Appendf(req, "Last-Event-ID: %s\r\n", s.cursor)
	}
	req = append(req, "\r\n"...)
	if _, err := conn.Write(req); err != nil {
		return err
	}
	br := bufio.NewReaderSize(conn, 2048)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError(resp)
	}
	r := sseReader{r: bufio.NewReaderSize(resp.Body, 4096)}
	for {
		typ, id, data, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil // the server ended the stream
			}
			return err
		}
		s.onEvent(typ, id, data)
		if s.pause != nil && bytes.Equal(typ, typConnected) {
			select { // stop reading, keep the socket open: the stalled client
			case <-s.pause:
				s.pause = nil
				// Reading again, the client is an ordinary one: a 4 KiB window would make
				// draining what the kernel holds take TCP persist-timer round trips.
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetReadBuffer(1 << 20)
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// sseReader parses an event stream: "id:", "event:" and "data:" lines up to a blank line.
// Comments (the prelude) and "retry:" are skipped. The returned slices are valid until the next
// call.
type sseReader struct {
	r             *bufio.Reader
	id, typ, data []byte
	long          []byte // a line longer than the buffer, reassembled
}

func (p *sseReader) next() (typ, id, data []byte, err error) {
	p.typ, p.data = p.typ[:0], p.data[:0]
	idSet := false
	for {
		line, err := p.line()
		if err != nil {
			return nil, nil, nil, err
		}
		if len(line) == 0 {
			if len(p.typ) == 0 && len(p.data) == 0 && !idSet {
				continue // a comment or retry block ended
			}
			if !idSet {
				p.id = p.id[:0]
			}
			return p.typ, p.id, p.data, nil
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "id":
			p.id, idSet = append(p.id[:0], value...), true
		case "event":
			p.typ = append(p.typ[:0], value...)
		case "data":
			if len(p.data) > 0 {
				p.data = append(p.data, '\n')
			}
			p.data = append(p.data, value...)
		}
	}
}

// line returns the next line without its end of line.
func (p *sseReader) line() ([]byte, error) {
	line, err := p.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		p.long = append(p.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = p.r.ReadSlice('\n')
			p.long = append(p.long, line...)
		}
		line = p.long
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}
