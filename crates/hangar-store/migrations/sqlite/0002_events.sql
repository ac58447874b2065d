-- The session log, the harness's runtime state and session leases.
--
-- `seq` is the append order of every event (global, so one B-tree append per event and a
-- flat insert cost however long a log grows); per-session reads use (session_id, seq).
-- `body` is the wire JSON without `id` and `processed_at`, which live in their own columns.
-- `private` holds harness-only data (e.g. model reasoning signatures), never sent out.
-- `effective_seq` places a queued client event in the conversation where it was processed
-- (a message steered into a running turn follows the tool result it waited for).

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT NOT NULL,
    id           TEXT NOT NULL,
    type         TEXT NOT NULL,
    processed_at INTEGER,                 -- NULL while a client event is queued
    effective_seq INTEGER,                -- for queued client events: MAX(seq) when processed
    body         TEXT NOT NULL,
    private      TEXT
) STRICT;

CREATE INDEX events_by_session ON events (session_id, seq);
CREATE UNIQUE INDEX events_by_id ON events (id);
CREATE INDEX events_queued ON events (session_id, seq) WHERE processed_at IS NULL;

ALTER TABLE sessions ADD COLUMN runtime TEXT NOT NULL DEFAULT '{}';
CREATE INDEX sessions_by_status ON sessions (status);

CREATE TABLE session_leases (
    session_id TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,             -- the node (fencing of commits)
    token      TEXT NOT NULL,             -- the runner on that node (release)
    expires_at INTEGER NOT NULL
) STRICT;
