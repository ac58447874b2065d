//! Every size limit the API enforces, in one place. Each is tested through the API.

/// Largest request body accepted (413 above it).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Agent and environment names: 1..=256 characters.
pub const MAX_NAME_CHARS: usize = 256;
/// `description` of agents and environments.
pub const MAX_DESCRIPTION_CHARS: usize = 2048;
/// `system` prompt of an agent (and its per-session override).
pub const MAX_SYSTEM_CHARS: usize = 100_000;
/// `model` id.
pub const MAX_MODEL_ID_CHARS: usize = 256;
/// Session `title`.
pub const MAX_TITLE_CHARS: usize = 512;

/// Metadata: pairs, key length (non-empty), value length.
pub const MAX_METADATA_PAIRS: usize = 16;
pub const MAX_METADATA_KEY_CHARS: usize = 64;
pub const MAX_METADATA_VALUE_CHARS: usize = 512;

/// Agent tool lists.
pub const MAX_TOOLS: usize = 128;
pub const MAX_MCP_SERVERS: usize = 20;
pub const MAX_MCP_SERVER_NAME_CHARS: usize = 255;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_SKILLS: usize = 20;
pub const MAX_TOOL_NAME_CHARS: usize = 128;
pub const MAX_TOOL_DESCRIPTION_CHARS: usize = 10_000;
pub const MAX_ROLE_ARN_CHARS: usize = 2048;
/// `allowed_domains` / `blocked_domains` of the web tools.
pub const MAX_WEB_DOMAINS: usize = 64;
/// `tools` of a web_fetch `only` / `except` url source.
pub const MAX_URL_SOURCE_TOOLS: usize = 128;

/// Environment networking and packages.
pub const MAX_ALLOWED_HOSTS: usize = 256;
pub const MAX_HOSTNAME_CHARS: usize = 253;
pub const MAX_PACKAGES_PER_MANAGER: usize = 256;
pub const MAX_PACKAGE_SPEC_CHARS: usize = 256;

/// Sessions.
pub const MAX_VAULT_IDS: usize = 50;

/// List pages: default and maximum `limit` for agents, agent versions, environments, sessions.
pub const DEFAULT_PAGE_LIMIT: usize = 20;
pub const MAX_PAGE_LIMIT: usize = 100;

/// Session events.
/// Events in one `POST …/events` request, and in `initial_events`.
pub const MAX_EVENTS_PER_REQUEST: usize = 50;
/// Content blocks in one event.
pub const MAX_CONTENT_BLOCKS: usize = 1000;
/// Characters in one text block of an event.
pub const MAX_TEXT_BLOCK_CHARS: usize = 1_000_000;
/// `deny_message` of a tool confirmation.
pub const MAX_DENY_MESSAGE_CHARS: usize = 10_000;
/// The events list: default and maximum `limit` (the SDK's own runner asks for 1000).
pub const DEFAULT_EVENTS_PAGE_LIMIT: usize = 1000;
pub const MAX_EVENTS_PAGE_LIMIT: usize = 1000;
/// `event_deltas[]` values per stream request.
pub const MAX_EVENT_DELTAS: usize = 100;
