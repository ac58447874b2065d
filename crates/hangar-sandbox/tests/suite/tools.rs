//! Each tool through a real sandbox (the edge cases themselves are covered in hangar-tools).

use serde_json::json;

use super::{Harness, text, unique_session};

#[tokio::test]
async fn bash_runs_in_debian_as_root_in_workspace() {
    let h = Harness::new();
    let s = unique_session("tools");
    let out = h
        .ok(
            &s,
            "bash",
            json!({"command": "id -u; pwd; hostname; . /etc/os-release; echo $ID"}),
        )
        .await;
    assert_eq!(out, "0\n/workspace\nsandbox\ndebian\n");
    h.finish().await;
}

#[tokio::test]
async fn file_tools_work_inside_the_sandbox() {
    let h = Harness::new();
    let s = unique_session("tools");
    h.ok(
        &s,
        "write",
        json!({"file_path": "src/main.rs", "content": "fn main() {\n    println!(\"hi\");\n}\n"}),
    )
    .await;
    h.ok(
        &s,
        "edit",
        json!({"file_path": "/workspace/src/main.rs", "old_string": "hi", "new_string": "hello"}),
    )
    .await;
    let read = h
        .ok(
            &s,
            "read",
            json!({"file_path": "src/main.rs", "view_range": [2, 2]}),
        )
        .await;
    assert_eq!(read, "     2\t    println!(\"hello\");\n");
    let found = h.ok(&s, "glob", json!({"pattern": "**/*.rs"})).await;
    assert_eq!(found, "/workspace/src/main.rs");
    let grep = h
        .ok(
            &s,
            "grep",
            json!({"pattern": "print\\w+", "path": "/workspace"}),
        )
        .await;
    assert_eq!(grep, "/workspace/src/main.rs:2:    println!(\"hello\");");
    h.finish().await;
}

#[tokio::test]
async fn unknown_tool_is_a_tool_error_not_a_runtime_error() {
    let h = Harness::new();
    let output = h
        .call(&unique_session("tools"), "web_fetch", json!({"url": "x"}))
        .await
        .unwrap();
    assert!(output.is_error);
    assert!(text(&output).contains("does not run in the sandbox"));
    assert_eq!(h.runtime.running().await, 0, "no sandbox is started for it");
    h.finish().await;
}

#[tokio::test]
async fn bad_input_is_a_tool_error_naming_the_field() {
    let h = Harness::new();
    let output = h
        .call(&unique_session("tools"), "read", json!({"file_path": 3}))
        .await
        .unwrap();
    assert!(output.is_error);
    assert!(text(&output).contains("file_path"), "{}", text(&output));
    h.finish().await;
}

#[tokio::test]
async fn an_input_larger_than_a_frame_is_a_tool_error_and_the_sandbox_stays() {
    let h = Harness::new();
    let s = unique_session("tools-big");
    let content = "x".repeat(hangar_sandbox::protocol::MAX_FRAME_BYTES);
    let output = h
        .call(&s, "write", json!({"file_path": "big", "content": content}))
        .await
        .unwrap();
    assert!(output.is_error);
    assert!(
        text(&output).contains("accepts at most"),
        "{}",
        text(&output)
    );
    assert_eq!(h.sh(&s, "echo still").await, "still\n");
    h.finish().await;
}
