use pretty_assertions::assert_eq;
use serde_json::json;

use super::Fixture;

#[test]
fn write_creates_parents_and_read_numbers_lines() {
    let fx = Fixture::new();
    fx.ok(
        "write",
        json!({"file_path": "a/b/c.txt", "content": "one\ntwo\nthree\n"}),
    );
    assert_eq!(
        fx.ok("read", json!({"file_path": "a/b/c.txt"})),
        "     1\tone\n     2\ttwo\n     3\tthree\n"
    );
}

#[test]
fn write_overwrites() {
    let fx = Fixture::new();
    fx.ok(
        "write",
        json!({"file_path": "f", "content": "long content"}),
    );
    fx.ok("write", json!({"file_path": "f", "content": "short"}));
    assert_eq!(
        std::fs::read_to_string(fx.dir.path().join("f")).unwrap(),
        "short"
    );
}

#[test]
fn view_range_is_inclusive_and_end_zero_means_eof() {
    let fx = Fixture::new();
    let content: String = (1..=10).map(|n| format!("line{n}\n")).collect();
    fx.ok("write", json!({"file_path": "f", "content": content}));
    assert_eq!(
        fx.ok("read", json!({"file_path": "f", "view_range": [2, 3]})),
        "     2\tline2\n     3\tline3\n"
    );
    let tail = fx.ok("read", json!({"file_path": "f", "view_range": [9, 0]}));
    assert_eq!(tail, "     9\tline9\n    10\tline10\n");
    let tail = fx.ok("read", json!({"file_path": "f", "view_range": [10, -1]}));
    assert_eq!(tail, "    10\tline10\n");
}

#[test]
fn view_range_out_of_bounds_is_an_error() {
    let fx = Fixture::new();
    fx.ok("write", json!({"file_path": "f", "content": "a\nb\n"}));
    assert!(
        fx.err("read", json!({"file_path": "f", "view_range": [5, 6]}))
            .contains("only 2 lines")
    );
    assert!(
        fx.err("read", json!({"file_path": "f", "view_range": [0, 1]}))
            .contains("start")
    );
    assert!(
        fx.err("read", json!({"file_path": "f", "view_range": [2, 1]}))
            .contains("before")
    );
}

#[test]
fn missing_file_and_directory_are_errors() {
    let fx = Fixture::new();
    assert!(
        fx.err("read", json!({"file_path": "nope"}))
            .contains("not found")
    );
    std::fs::create_dir(fx.dir.path().join("d")).unwrap();
    assert!(
        fx.err("read", json!({"file_path": "d"}))
            .contains("directory")
    );
}

#[test]
fn binary_file_is_described_not_dumped() {
    let fx = Fixture::new();
    std::fs::write(
        fx.dir.path().join("bin"),
        [0x7f, b'E', b'L', b'F', 0, 1, 2, 3],
    )
    .unwrap();
    let text = fx.err("read", json!({"file_path": "bin"}));
    assert!(text.contains("binary file (8 bytes)"), "{text}");
}

#[test]
fn long_files_are_capped_with_a_note() {
    let fx = Fixture::new();
    let content: String = (1..=5000).map(|n| format!("{n}\n")).collect();
    fx.ok("write", json!({"file_path": "big", "content": content}));
    let text = fx.ok("read", json!({"file_path": "big"}));
    assert!(
        text.contains("continues at line 2001"),
        "{}",
        &text[text.len() - 200..]
    );
}

#[test]
fn edit_replaces_a_unique_match() {
    let fx = Fixture::new();
    fx.ok(
        "write",
        json!({"file_path": "f", "content": "alpha beta gamma"}),
    );
    fx.ok(
        "edit",
        json!({"file_path": "f", "old_string": "beta", "new_string": "BETA"}),
    );
    assert_eq!(
        std::fs::read_to_string(fx.dir.path().join("f")).unwrap(),
        "alpha BETA gamma"
    );
}

#[test]
fn edit_refuses_non_unique_and_missing_matches() {
    let fx = Fixture::new();
    fx.ok("write", json!({"file_path": "f", "content": "x x x"}));
    let text = fx.err(
        "edit",
        json!({"file_path": "f", "old_string": "x", "new_string": "y"}),
    );
    assert!(text.contains("matches 3 times"), "{text}");
    let text = fx.err(
        "edit",
        json!({"file_path": "f", "old_string": "z", "new_string": "y"}),
    );
    assert!(text.contains("0 matches"), "{text}");
    let text = fx.err(
        "edit",
        json!({"file_path": "f", "old_string": "x", "new_string": "x"}),
    );
    assert!(text.contains("identical"), "{text}");
    fx.ok(
        "edit",
        json!({"file_path": "f", "old_string": "x", "new_string": "y", "replace_all": true}),
    );
    assert_eq!(
        std::fs::read_to_string(fx.dir.path().join("f")).unwrap(),
        "y y y"
    );
}

#[test]
fn edit_of_missing_file_is_an_error() {
    let fx = Fixture::new();
    assert!(
        fx.err(
            "edit",
            json!({"file_path": "nope", "old_string": "a", "new_string": "b"})
        )
        .contains("not found")
    );
}

#[test]
fn unknown_tool_and_unknown_field_are_errors() {
    let fx = Fixture::new();
    assert!(fx.err("fly", json!({})).contains("Unknown tool"));
    assert!(
        fx.err("write", json!({"file_path": "f", "content": "", "mode": 1}))
            .contains("mode")
    );
}
