-- Resources of the Managed Agents API. Objects are stored whole as JSON (`body`); the columns
-- beside it exist only for lookups, filters, ordering and compare-and-swap. Timestamps are
-- integer microseconds since the Unix epoch. Ids are time-ordered, so `ORDER BY id` is
-- creation order.

CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    archived_at INTEGER,
    body        TEXT NOT NULL            -- latest version
) STRICT;

CREATE TABLE agent_versions (
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    version  INTEGER NOT NULL,
    body     TEXT NOT NULL,
    PRIMARY KEY (agent_id, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE environments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    rev         INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    archived_at INTEGER,
    body        TEXT NOT NULL
) STRICT;

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    rev            INTEGER NOT NULL,
    agent_id       TEXT NOT NULL,
    agent_version  INTEGER NOT NULL,
    environment_id TEXT NOT NULL,
    status         TEXT NOT NULL,
    deployment_id  TEXT,
    created_at     INTEGER NOT NULL,
    archived_at    INTEGER,
    body           TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_by_agent ON sessions (agent_id, agent_version);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,     -- hex SHA-256 of the key; the key itself is never stored
    created_at INTEGER NOT NULL
) STRICT;
