-- Switchboard schema for PostgreSQL. This file is canonical: db/schema_sqlite.sql mirrors it
-- for the embedded default, section by section.
--
-- It is applied at start-up by a small versioned migrator: each section headed
-- "-- migrate: <version> <title>" runs once, in its own transaction, in version order, and is
-- recorded in schema_migrations. Never edit a released section; add a new one.
-- Timestamps are always written by the server (UTC), never by column defaults.

-- migrate: 1 foundation

CREATE TABLE switchboard_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Users are upserted from token claims; the token is the source of truth.
CREATE TABLE users (
    id         TEXT PRIMARY KEY,              -- the token's sub
    name       TEXT NOT NULL DEFAULT '',
    avatar     TEXT NOT NULL DEFAULT '',
    roles      JSONB NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE chat_rooms (
    id          UUID PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,         -- addresses the room in paths and topics
    name        TEXT NOT NULL,
    type        TEXT NOT NULL DEFAULT 'group' CHECK (type IN ('group', 'direct', 'support')),
    private     BOOLEAN NOT NULL DEFAULT FALSE,
    created_by  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    archived_at TIMESTAMPTZ
);

CREATE TABLE chat_room_members (
    room_id      UUID NOT NULL REFERENCES chat_rooms (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id),
    role         TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'moderator', 'member')),
    joined_at    TIMESTAMPTZ NOT NULL,
    last_read_at TIMESTAMPTZ,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX chat_room_members_user ON chat_room_members (user_id);

-- seq is the message's offset in its room's topic: history order is commit order.
CREATE TABLE chat_messages (
    id         UUID PRIMARY KEY,
    room_id    UUID NOT NULL REFERENCES chat_rooms (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    content    TEXT NOT NULL,
    client_id  TEXT,                          -- the sender's idempotency key
    created_at TIMESTAMPTZ NOT NULL,
    edited_at  TIMESTAMPTZ,
    deleted_at TIMESTAMPTZ,
    UNIQUE (room_id, seq)
);
CREATE UNIQUE INDEX chat_messages_client_id ON chat_messages (user_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE notifications (
    id          UUID PRIMARY KEY,
    user_id     TEXT NOT NULL,
    type        TEXT NOT NULL DEFAULT 'info' CHECK (type IN ('info', 'warning', 'error', 'success')),
    title       TEXT NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    data        JSONB NOT NULL DEFAULT '{}',
    action_url  TEXT,
    action_text TEXT,
    priority    TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    read_at     TIMESTAMPTZ,
    expires_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);

CREATE TABLE system_announcements (
    id           UUID PRIMARY KEY,
    title        TEXT NOT NULL,
    message      TEXT NOT NULL,
    type         TEXT NOT NULL CHECK (type IN ('maintenance', 'feature', 'warning')),
    target_roles JSONB NOT NULL DEFAULT '[]',
    starts_at    TIMESTAMPTZ NOT NULL,
    ends_at      TIMESTAMPTZ,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE user_presence (
    user_id      TEXT PRIMARY KEY,
    status       TEXT NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'away', 'busy', 'offline')),
    current_page TEXT,
    last_seen_at TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Connect/disconnect audit, written in batches off the hot path. A resumed long-poll
-- connection keeps its connection_id, so one id may have several rows.
CREATE TABLE connections (
    id              UUID PRIMARY KEY,
    connection_id   TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    transport       TEXT NOT NULL,
    node_id         TEXT NOT NULL,
    remote_addr     TEXT NOT NULL DEFAULT '',
    user_agent      TEXT NOT NULL DEFAULT '',
    connected_at    TIMESTAMPTZ NOT NULL,
    disconnected_at TIMESTAMPTZ,
    close_reason    TEXT
);
CREATE INDEX connections_connection_id ON connections (connection_id);
CREATE INDEX connections_user ON connections (user_id, connected_at DESC);

-- The event log. A topic's head is the offset of its last durable event; incrementing it in
-- the transaction that stores the event makes offsets gapless and per-topic order commit order.
-- trimmed_to is the highest offset retention has deleted: a cursor older than that gets a reset.
CREATE TABLE topics (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    head       BIGINT NOT NULL DEFAULT 0,
    trimmed_to BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE event_log (
    topic_id   BIGINT NOT NULL REFERENCES topics (id),
    seq        BIGINT NOT NULL,
    type       TEXT NOT NULL,
    envelope   TEXT NOT NULL,                 -- the JSON envelope as delivered, less the cursor
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (topic_id, seq)
);
CREATE INDEX event_log_created ON event_log (created_at);

-- migrate: 2 rooms, membership and read state

-- Read state moves by message position (seq), which is exact where timestamps can tie.
ALTER TABLE chat_room_members ADD COLUMN last_read_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chat_rooms ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE chat_rooms ADD COLUMN settings JSONB NOT NULL DEFAULT '{}';
-- A direct room is unique per pair of users: their ids, sorted, as a JSON array.
ALTER TABLE chat_rooms ADD COLUMN direct_pair TEXT;
CREATE UNIQUE INDEX chat_rooms_direct_pair ON chat_rooms (direct_pair) WHERE direct_pair IS NOT NULL;
ALTER TABLE chat_messages ADD COLUMN deleted_by TEXT;
CREATE INDEX chat_messages_room_seq ON chat_messages (room_id, seq) WHERE deleted_at IS NULL;

-- migrate: 3 notifications, announcements, publishing and audit

-- Roles that may see a logged event, comma-separated; NULL: every subscriber of its topic.
ALTER TABLE event_log ADD COLUMN audience TEXT;

-- An announcement is published once, when it starts.
ALTER TABLE system_announcements ADD COLUMN published_at TIMESTAMPTZ;
CREATE INDEX system_announcements_pending ON system_announcements (starts_at) WHERE published_at IS NULL;

-- High and critical notifications are also delivered to a webhook, at least once, with retries.
CREATE TABLE notification_outbox (
    id              UUID PRIMARY KEY,
    notification_id UUID NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    locked_until    TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE admin_audit (
    id         UUID PRIMARY KEY,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    details    JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL
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
    reserved_at   TIMESTAMPTZ NOT NULL,
    seen_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX connection_slots_user ON connection_slots (user_id);
CREATE INDEX connection_slots_node ON connection_slots (node_id);
