package realtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ClientMessage is an in-band action sent by a WebSocket client: {type, room?, data?, ref?}.
// Ref, when given, is echoed in the ack that confirms the action or the fault that refuses it.
type ClientMessage struct {
	Type string          `json:"type"`
	Room string          `json:"room,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
	Ref  string          `json:"ref,omitempty"`
}

// Client message types.
const (
	ClientJoinRoom       = "join_room"
	ClientLeaveRoom      = "leave_room"
	ClientChatMessage    = "chat_message"
	ClientTypingStart    = "typing_start"
	ClientTypingStop     = "typing_stop"
	ClientPresenceUpdate = "presence_update"
	ClientPing           = "ping"
	// ClientRefresh presents a fresh token, {"token": "…"}: the stream then ends at its expiry
	// instead of the old one's, without a reconnect.
	ClientRefresh = "refresh"
)

// maxRefLen bounds the ref a client may attach.
const maxRefLen = 64

// ParseClientMessage decodes one client message. Its errors are faults that name what is wrong.
func ParseClientMessage(b []byte) (ClientMessage, error) {
	var m ClientMessage
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return m, &Fault{Code: "invalid_json", Message: `message must be a JSON object such as {"type":"join_room","room":"general"}`}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return m, &Fault{Code: "validation_failed", Field: typeErr.Field,
				Message: fmt.Sprintf("%s must be a %s", typeErr.Field, jsonKind(typeErr.Field))}
		}
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return m, &Fault{Code: "invalid_json", Message: fmt.Sprintf("message is not valid JSON (at byte %d)", syntaxErr.Offset)}
		}
		return m, &Fault{Code: "invalid_json", Message: "message is not valid JSON"}
	}
	if dec.More() {
		return m, &Fault{Code: "invalid_json", Message: "one JSON object per message"}
	}
	if len(m.Ref) > maxRefLen {
		m.Ref = ""
		return m, &Fault{Code: "validation_failed", Field: "ref", Message: fmt.Sprintf("ref is longer than %d characters", maxRefLen)}
	}
	if m.Type == "" {
		return m, &Fault{Code: "validation_failed", Field: "type", Message: "type is required"}
	}
	if len(m.Data) > 0 && m.Data[0] != '{' && string(m.Data) != "null" {
		return m, &Fault{Code: "validation_failed", Field: "data", Message: "data must be an object"}
	}
	return m, nil
}

func jsonKind(field string) string {
	if field == "data" {
		return "object"
	}
	return "string"
}

// Fault is a refused client action, sent back as a "fault" event; the connection stays open.
type Fault struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Ref     string `json:"ref,omitempty"`
}

func (f *Fault) Error() string { return f.Code + ": " + f.Message }

// Ack confirms a client action that carried a ref: sent as an "ack" event once the action is
// carried out (for join_room, after room_joined).
type Ack struct {
	Ref    string `json:"ref"`
	Action string `json:"action"`
	Result any    `json:"result,omitempty"`
}

// FaultFrame returns the frame that tells one client its action was refused.
func FaultFrame(f Fault) *Frame {
	return &Frame{Type: EventFault, Payload: mustEncode(Event{Type: EventFault, Data: f})}
}
