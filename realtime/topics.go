package realtime

import "strings"

// Topic name prefixes. A topic is what events are published to.
const (
	TopicAll         = "all"
	roomTopicPrefix  = "room:"
	userTopicPrefix  = "user:"
	roleTopicPrefix  = "role:"
	maxTopicNameSize = 200
)

// RoomTopic returns the topic of the room with the given key.
func RoomTopic(key string) string { return roomTopicPrefix + key }

// UserTopic returns the topic of one user's private events.
func UserTopic(userID string) string { return userTopicPrefix + userID }

// RoleTopic returns the topic of everyone holding a role.
func RoleTopic(role string) string { return roleTopicPrefix + role }

// RoomOf returns the room key of a room topic.
func RoomOf(topic string) (key string, ok bool) { return strings.CutPrefix(topic, roomTopicPrefix) }

// UserOf returns the user id of a user topic.
func UserOf(topic string) (userID string, ok bool) { return strings.CutPrefix(topic, userTopicPrefix) }

// RoleOf returns the role of a role topic.
func RoleOf(topic string) (role string, ok bool) { return strings.CutPrefix(topic, roleTopicPrefix) }

// DefaultTopics are the topics every connection of u is subscribed to: its own user topic,
// the topics of its roles, and "all".
func DefaultTopics(u User) []string {
	topics := make([]string, 0, 2+len(u.Roles))
	topics = append(topics, UserTopic(u.ID), TopicAll)
	for _, r := range u.Roles {
		topics = append(topics, RoleTopic(r))
	}
	return topics
}
