mod bash;
mod files;
mod search;

use std::sync::atomic::AtomicBool;

use hangar_tools::{ToolResult, Toolbox};
use serde_json::Value;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub toolbox: Toolbox,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
            ("HOME".to_owned(), dir.path().display().to_string()),
        ];
        let toolbox = Toolbox::new(dir.path(), env);
        Fixture { dir, toolbox }
    }

    pub fn run(&self, tool: &str, input: Value) -> ToolResult {
        self.toolbox.run(tool, &input, &AtomicBool::new(false))
    }

    pub fn ok(&self, tool: &str, input: Value) -> String {
        let result = self.run(tool, input);
        assert!(!result.is_error, "{tool} failed: {}", result.text);
        result.text
    }

    pub fn err(&self, tool: &str, input: Value) -> String {
        let result = self.run(tool, input);
        assert!(
            result.is_error,
            "{tool} should fail but said: {}",
            result.text
        );
        result.text
    }
}
