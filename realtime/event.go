package realtime

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// EventType names an event on the wire: the SSE `event:` field and the envelope's "type".
type EventType string

// Event types sent from server to client. None is named "error", "open" or "message": those
// are EventSource's own event names.
const (
	EventConnected          EventType = "connected"
	EventRoomJoined         EventType = "room_joined"
	EventRoomLeft           EventType = "room_left"
	EventChatMessage        EventType = "chat_message"
	EventTypingStart        EventType = "user_typing_start"
	EventTypingStop         EventType = "user_typing_stop"
	EventNotification       EventType = "notification"
	EventRoomNotification   EventType = "room_notification"
	EventSystemAnnouncement EventType = "system_announcement"
	EventDataUpdate         EventType = "data_update"
	EventUserPresence       EventType = "user_presence"
	EventUserJoined         EventType = "user_joined"
	EventUserLeft           EventType = "user_left"
	EventRoomInfo           EventType = "room_info"
	EventRoomCreated        EventType = "room_created"
	EventRoomUpdated        EventType = "room_updated" // renamed, settings changed, or archived
	EventMemberJoined       EventType = "member_joined"
	EventMemberLeft         EventType = "member_left"
	EventMessageUpdated     EventType = "chat_message_updated"
	EventMessageDeleted     EventType = "chat_message_deleted"
	EventReadReceipt        EventType = "read_receipt"
	EventNotificationRead   EventType = "notification_read" // read state changed: every tab's badge agrees
	EventReset              EventType = "reset"
	EventFault              EventType = "fault"
	EventKicked             EventType = "kicked"
	EventTokenExpired       EventType = "token_expired"
	EventPong               EventType = "pong"
	// EventAck answers a WebSocket action that carried a ref and was carried out:
	// {"ref", "action", "result"?} (result: the stored message, for chat_message).
	EventAck EventType = "ack"
	// EventHeartbeat keeps an idle stream visibly alive: EventSource shows no comments, so a
	// page can watch a stream for silence only if the heartbeat is an event.
	EventHeartbeat EventType = "heartbeat"
	// EventTokenRefreshed answers a WebSocket refresh: the stream now ends at the new expiry.
	EventTokenRefreshed EventType = "token_refreshed"
	// EventShutdown is a connection's last event when the server stops: reconnect, to any
	// node, after the retry_ms it carries.
	EventShutdown EventType = "shutdown"
)

// ServerEventTypes lists every type the server itself sends. Other backends may not publish
// these (nor EventSource's own names), and clients listen for each of them.
var ServerEventTypes = []EventType{EventConnected, EventRoomJoined, EventRoomLeft, EventChatMessage,
	EventTypingStart, EventTypingStop, EventNotification, EventRoomNotification, EventSystemAnnouncement,
	EventDataUpdate, EventUserPresence, EventUserJoined, EventUserLeft, EventRoomInfo, EventRoomCreated,
	EventRoomUpdated, EventMemberJoined, EventMemberLeft, EventMessageUpdated, EventMessageDeleted,
	EventReadReceipt, EventNotificationRead, EventReset, EventFault, EventKicked, EventTokenExpired,
	EventPong, EventAck, EventHeartbeat, EventTokenRefreshed, EventShutdown}

// Event is one event before encoding; Encode marshals Data into the envelope.
type Event struct {
	Type EventType
	Room string
	Data any
	TS   time.Time
}

// envelope is the wire shape of an event, less the per-connection "id" that Message splices in.
type envelope struct {
	Type EventType `json:"type"`
	Room string    `json:"room,omitempty"`
	Data any       `json:"data"`
	TS   string    `json:"ts"`
}

// TimeFormat is the layout of every timestamp on the wire: RFC 3339 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// WireTime is a time written in the wire's format (TimeFormat, in UTC) in an event's data.
type WireTime struct{ time.Time }

// MarshalJSON writes t as every time on the wire is written: milliseconds, UTC.
func (t WireTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(TimeFormat) + `"`), nil
}

// Encode returns the envelope of e as JSON, without "id". It is computed once per event and
// shared by every subscriber; Message.AppendJSON adds each connection's cursor.
func (e Event) Encode() ([]byte, error) {
	ts := e.TS
	if ts.IsZero() {
		ts = time.Now()
	}
	data := e.Data
	if data == nil {
		data = struct{}{}
	}
	return json.Marshal(envelope{Type: e.Type, Room: e.Room, Data: data, TS: ts.UTC().Format(TimeFormat)})
}

// mustEncode encodes events built by this package from known-good values.
func mustEncode(e Event) []byte {
	b, err := e.Encode()
	if err != nil {
		panic("realtime: encoding a server event: " + err.Error())
	}
	return b
}

// Frame is an encoded event addressed to one topic. Frames are immutable once published and
// shared by every subscriber.
type Frame struct {
	Topic   string
	TopicID int64  // durable id of Topic; set with Offset
	Offset  uint64 // position in the topic's log; 0 for ephemeral events, which are never replayed
	Type    EventType
	Payload []byte // the envelope without "id", from Event.Encode

	// ExceptUser, when set, keeps the frame from that user's connections (a typing indicator is
	// not echoed to its sender).
	ExceptUser string
	// Audience, when set, limits a frame to users holding one of these roles. Others' cursors
	// pass over it without delivering it, live and on replay alike.
	Audience []string
	// At is when the frame was published live (set by Hub.Publish); zero for replayed frames.
	At time.Time

	deflate deflateOnce // the envelope compressed for WebSocket, made on first use
}

// visibleTo reports whether u may receive f.
func (f *Frame) visibleTo(u *User) bool {
	if len(f.Audience) == 0 {
		return true
	}
	for _, r := range f.Audience {
		if slices.Contains(u.Roles, r) {
			return true
		}
	}
	return false
}

// AudienceString is the stored form of an audience: roles joined by commas ("" = everyone).
func AudienceString(roles []string) string { return strings.Join(roles, ",") }

// ParseAudience is the inverse of AudienceString.
func ParseAudience(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Durable reports whether f has a place in its topic's log and so moves the cursor.
func (f *Frame) Durable() bool { return f.Offset > 0 }

// Message is one frame as delivered to one connection: the transport writes it.
// Cursor and Payload are valid until the next Drain of the same connection: the cursor lives in
// a buffer the connection reuses, so that delivering an event allocates nothing per subscriber.
type Message struct {
	Type    EventType
	Cursor  []byte    // the connection's cursor after this message; empty when it does not move it
	Payload []byte    // the envelope without "id", shared by every subscriber
	At      time.Time // when it was published live; zero for replays and per-connection messages

	frame *Frame // the shared frame it comes from, if any: it holds the compressed envelope
}

// AppendJSON appends the wire envelope of m to dst, with "id" set to the cursor when m moves it.
func (m Message) AppendJSON(dst []byte) []byte {
	if len(m.Cursor) == 0 || len(m.Payload) < 2 {
		return append(dst, m.Payload...)
	}
	dst = append(dst, `{"id":"`...)
	dst = append(dst, m.Cursor...) // cursors are base64url: nothing to escape
	dst = append(dst, `",`...)
	return append(dst, m.Payload[1:]...)
}
