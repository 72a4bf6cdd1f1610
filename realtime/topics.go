package realtime

import "strings"

// Topic name prefixes. A topic is what events are published to.
const (
	TopicAll         = "all"
	roomTopicPrefix  = "room:"
	userTopicPrefix  = "user:"
	maxTopicNameSize = 200
)

// RoomTopic returns the topic of the room with the given key.
func RoomTopic(key string) string { return roomTopicPrefix + key }

// UserTopic returns the topic of one user's private events.
func UserTopic(userID string) string { return userTopicPrefix + userID }

// RoomOf returns the room key of a room topic, and "" and false for any other topic.
func RoomOf(topic string) (key string, ok bool) {
	if key, ok = strings.CutPrefix(topic, roomTopicPrefix); !ok {
		return "", false
	}
	return key, true
}

// UserOf returns the user id of a user topic.
func UserOf(topic string) (userID string, ok bool) { return strings.CutPrefix(topic, userTopicPrefix) }

// DefaultTopics are the topics every connection of u is subscribed to: its own user topic and
// "all". Events for roles go to "all" with an Audience, so that a user holding several of the
// roles gets each event once.
func DefaultTopics(u User) []string {
	return []string{UserTopic(u.ID), TopicAll}
}
