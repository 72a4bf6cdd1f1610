-- Switchboard schema for the embedded SQLite database: the mirror of ../schema.sql, which is
-- canonical. Same sections, same tables and columns; SQLite types (UUID and JSON as TEXT,
-- BOOLEAN as INTEGER, TIMESTAMP as text written by the server in UTC).

-- migrate: 1 foundation

CREATE TABLE switchboard_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    avatar     TEXT NOT NULL DEFAULT '',
    roles      TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE chat_rooms (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL DEFAULT 'group' CHECK (type IN ('group', 'direct', 'support')),
    private     INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT,
    created_at  TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);

CREATE TABLE chat_room_members (
    room_id      TEXT NOT NULL REFERENCES chat_rooms (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id),
    role         TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'moderator', 'member')),
    joined_at    TIMESTAMP NOT NULL,
    last_read_at TIMESTAMP,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX chat_room_members_user ON chat_room_members (user_id);

CREATE TABLE chat_messages (
    id         TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL REFERENCES chat_rooms (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    content    TEXT NOT NULL,
    client_id  TEXT,
    created_at TIMESTAMP NOT NULL,
    edited_at  TIMESTAMP,
    deleted_at TIMESTAMP,
    UNIQUE (room_id, seq)
);
CREATE UNIQUE INDEX chat_messages_client_id ON chat_messages (user_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    type        TEXT NOT NULL DEFAULT 'info' CHECK (type IN ('info', 'warning', 'error', 'success')),
    title       TEXT NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL DEFAULT '{}',
    action_url  TEXT,
    action_text TEXT,
    priority    TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    read_at     TIMESTAMP,
    expires_at  TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);

CREATE TABLE system_announcements (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    message      TEXT NOT NULL,
    type         TEXT NOT NULL CHECK (type IN ('maintenance', 'feature', 'warning')),
    target_roles TEXT NOT NULL DEFAULT '[]',
    starts_at    TIMESTAMP NOT NULL,
    ends_at      TIMESTAMP,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);

CREATE TABLE user_presence (
    user_id      TEXT PRIMARY KEY,
    status       TEXT NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'away', 'busy', 'offline')),
    current_page TEXT,
    last_seen_at TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

CREATE TABLE connections (
    id              TEXT PRIMARY KEY,
    connection_id   TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    transport       TEXT NOT NULL,
    node_id         TEXT NOT NULL,
    remote_addr     TEXT NOT NULL DEFAULT '',
    user_agent      TEXT NOT NULL DEFAULT '',
    connected_at    TIMESTAMP NOT NULL,
    disconnected_at TIMESTAMP,
    close_reason    TEXT
);
CREATE INDEX connections_connection_id ON connections (connection_id);
CREATE INDEX connections_user ON connections (user_id, connected_at DESC);

CREATE TABLE topics (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    head       INTEGER NOT NULL DEFAULT 0,
    trimmed_to INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE event_log (
    topic_id   INTEGER NOT NULL REFERENCES topics (id),
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    envelope   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (topic_id, seq)
) WITHOUT ROWID;
CREATE INDEX event_log_created ON event_log (created_at);

-- migrate: 2 rooms, membership and read state

ALTER TABLE chat_room_members ADD COLUMN last_read_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chat_rooms ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE chat_rooms ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE chat_rooms ADD COLUMN direct_pair TEXT;
CREATE UNIQUE INDEX chat_rooms_direct_pair ON chat_rooms (direct_pair) WHERE direct_pair IS NOT NULL;
ALTER TABLE chat_messages ADD COLUMN deleted_by TEXT;
CREATE INDEX chat_messages_room_seq ON chat_messages (room_id, seq) WHERE deleted_at IS NULL;

-- migrate: 3 notifications, announcements, publishing and audit

ALTER TABLE event_log ADD COLUMN audience TEXT;

ALTER TABLE system_announcements ADD COLUMN published_at TIMESTAMP;
CREATE INDEX system_announcements_pending ON system_announcements (starts_at) WHERE published_at IS NULL;

CREATE TABLE notification_outbox (
    id              TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until    TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    delivered_at    TIMESTAMP
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE admin_audit (
    id         TEXT PRIMARY KEY,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX admin_audit_created ON admin_audit (created_at DESC);

-- migrate: 4 room quotas

-- Rooms a user created count against their quota.
CREATE INDEX chat_rooms_created_by ON chat_rooms (created_by) WHERE archived_at IS NULL;

-- migrate: 5 connection slots

-- Live connections of a cluster, counted against their users' caps (PostgreSQL; unused on SQLite).
-- Each node refreshes seen_at for its own; rows of a node silent for two minutes are dropped.
CREATE TABLE connection_slots (
    connection_id TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    node_id       TEXT NOT NULL,
    reserved_at   TIMESTAMP NOT NULL,
    seen_at       TIMESTAMP NOT NULL
);
CREATE INDEX connection_slots_user ON connection_slots (user_id);
CREATE INDEX connection_slots_node ON connection_slots (node_id);
