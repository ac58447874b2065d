//! What the model is told about the built-in tools of `agent_toolset_20260401`: names,
//! descriptions and input schemas (inputs as `cma-api.md` §4.6), and which tools run in the
//! sandbox versus in the server.

use hangar_protocol::agent::BuiltinToolName;
use serde_json::{Value, json};

use crate::model::ToolSpec;

/// Tools that act on the session's file system and processes (the sandbox). In a
/// self-hosted environment the client's worker runs them.
pub fn runs_in_sandbox(name: BuiltinToolName) -> bool {
    !matches!(name, BuiltinToolName::WebFetch | BuiltinToolName::WebSearch)
}

/// The spec the model sees for a built-in tool.
pub fn spec(name: BuiltinToolName) -> ToolSpec {
    let (description, schema) = match name {
        BuiltinToolName::Bash => (
            "Run a command in a persistent bash shell in the session's sandbox (working \
             directory /workspace; state such as the current directory and exported variables \
             persists between calls). Set `restart` to start a fresh shell.",
            json!({"type": "object", "properties": {
                "command": {"type": "string", "description": "The command to run."},
                "restart": {"type": "boolean", "description": "Restart the shell (no command)."},
                "timeout_ms": {"type": "integer",
                    "description": "Optional timeout in milliseconds (default 2 minutes, at least 1000)."}}}),
        ),
        BuiltinToolName::Read => (
            "Read a text file. Lines are numbered. `view_range` [start, end] is 1-based and \
             inclusive; an end of 0 or less means the end of the file.",
            json!({"type": "object", "properties": {
                "file_path": {"type": "string"},
                "view_range": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}},
                "required": ["file_path"]}),
        ),
        BuiltinToolName::Write => (
            "Write a file, replacing it if it exists and creating parent directories.",
            json!({"type": "object", "properties": {
                "file_path": {"type": "string"}, "content": {"type": "string"}},
                "required": ["file_path", "content"]}),
        ),
        BuiltinToolName::Edit => (
            "Replace text in a file. `old_string` must occur exactly once unless `replace_all` \
             is true.",
            json!({"type": "object", "properties": {
                "file_path": {"type": "string"}, "old_string": {"type": "string"},
                "new_string": {"type": "string"}, "replace_all": {"type": "boolean"}},
                "required": ["file_path", "old_string", "new_string"]}),
        ),
        BuiltinToolName::Glob => (
            "Find files by glob pattern (`**` matches directories), newest first.",
            json!({"type": "object", "properties": {
                "pattern": {"type": "string"}, "path": {"type": "string"}},
                "required": ["pattern"]}),
        ),
        BuiltinToolName::Grep => (
            "Search file contents with a regular expression; prints path:line:text.",
            json!({"type": "object", "properties": {
                "pattern": {"type": "string"}, "path": {"type": "string"}},
                "required": ["pattern"]}),
        ),
        BuiltinToolName::WebFetch => (
            "Fetch a web page or document by URL and return its text.",
            json!({"type": "object", "properties": {"url": {"type": "string"}},
                "required": ["url"]}),
        ),
        BuiltinToolName::WebSearch => (
            "Search the web and return result titles, URLs and snippets.",
            json!({"type": "object", "properties": {"query": {"type": "string"}},
                "required": ["query"]}),
        ),
    };
    ToolSpec {
        name: name.as_str().to_owned(),
        description: description.to_owned(),
        input_schema: schema,
    }
}

/// The JSON schema of a custom tool as the model sees it.
pub fn custom_schema(input_schema: &hangar_protocol::agent::InputSchema) -> Value {
    let mut schema = json!({"type": "object"});
    if let Some(properties) = &input_schema.properties {
        schema["properties"] = Value::Object(properties.clone());
    }
    if let Some(required) = &input_schema.required {
        schema["required"] = json!(required);
    }
    schema
}
