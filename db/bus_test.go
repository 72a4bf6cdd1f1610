package db

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// A node recognises what it sent itself by the first bytes alone, whatever the message, and
// never takes another node's — not even one whose id begins with its own.
func TestOwnPrefixMatchesOnlyTheNodesOwnMessages(t *testing.T) {
	ev := Appended{Topic: "room:a", TopicID: 7, Offset: 3, Type: "chat_message", Envelope: []byte(`{"type":"chat_message"}`)}
	big := Appended{Topic: "room:a", TopicID: 7, Offset: 4, Type: "chat_message",
		Envelope: []byte(`{"x":"` + strings.Repeat("y", 3*maxNotify) + `"}`)}
	for _, node := range []string{"n1", `odd "node" \ id`, "eu,1"} {
		own := ownPrefix(node)
		broadcast, _ := json.Marshal(busMessage{Node: node, Seq: 9, Kind: "hub.room", Data: []byte(`{}`)})
		mine := [][]byte{[]byte(eventNotice(node, ev)), []byte(eventNotice(node, big)), broadcast}
		mine = append(mine, split(node, bytes.Repeat([]byte("z"), 3*maxNotify))...)
		for _, m := range mine {
			if !bytes.HasPrefix(m, own) {
				t.Errorf("node %q: its own message %.40s… does not begin with %s", node, m, own)
			}
		}
		other := []byte(eventNotice(node+"2", ev))
		if bytes.HasPrefix(other, own) {
			t.Errorf("node %q takes node %q's message as its own", node, node+"2")
		}
	}
}
