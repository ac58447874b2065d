use std::time::{Duration, SystemTime};

use hangar_tools::limits::GLOB_MAX_RESULTS;
use serde_json::json;

use super::Fixture;

fn touch(fx: &Fixture, path: &str, age_secs: u64) {
    let full = fx.dir.path().join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, path).unwrap();
    let file = std::fs::File::options().write(true).open(&full).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
        .unwrap();
}

#[test]
fn glob_returns_newest_first_with_doublestar() {
    let fx = Fixture::new();
    touch(&fx, "old.rs", 300);
    touch(&fx, "src/new.rs", 10);
    touch(&fx, "src/deep/mid.rs", 100);
    touch(&fx, "notes.txt", 1);
    let out = fx.ok("glob", json!({"pattern": "**/*.rs"}));
    let names: Vec<&str> = out.lines().map(|l| l.rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["new.rs", "mid.rs", "old.rs"]);
    let out = fx.ok("glob", json!({"pattern": "*.rs", "path": "src"}));
    assert!(out.ends_with("src/new.rs"), "{out}");
}

#[test]
fn glob_caps_results_with_a_note() {
    let fx = Fixture::new();
    for n in 0..GLOB_MAX_RESULTS + 5 {
        touch(&fx, &format!("f{n}.txt"), n as u64);
    }
    let out = fx.ok("glob", json!({"pattern": "*.txt"}));
    assert_eq!(
        out.lines().filter(|l| l.ends_with(".txt")).count(),
        GLOB_MAX_RESULTS
    );
    assert!(
        out.contains(&format!("newest of {} matches", GLOB_MAX_RESULTS + 5)),
        "{out}"
    );
    assert!(out.starts_with(&fx.dir.path().join("f0.txt").display().to_string()));
}

#[test]
fn glob_with_no_match_says_so() {
    let fx = Fixture::new();
    assert_eq!(
        fx.ok("glob", json!({"pattern": "*.nothing"})),
        "No files found"
    );
}

#[test]
fn grep_prints_path_line_and_text_and_skips_binaries() {
    let fx = Fixture::new();
    std::fs::write(fx.dir.path().join("a.txt"), "one\nneedle here\nthree\n").unwrap();
    std::fs::write(fx.dir.path().join("b.bin"), b"needle\0binary").unwrap();
    let out = fx.ok("grep", json!({"pattern": "need+le"}));
    assert_eq!(
        out,
        format!("{}:2:needle here", fx.dir.path().join("a.txt").display())
    );
}

#[test]
fn grep_bad_regex_is_a_tool_error() {
    let fx = Fixture::new();
    assert!(
        fx.err("grep", json!({"pattern": "(unclosed"}))
            .contains("Invalid regex")
    );
}

#[test]
fn grep_caps_matches_with_a_note() {
    let fx = Fixture::new();
    let content: String = (0..500).map(|n| format!("hit {n}\n")).collect();
    std::fs::write(fx.dir.path().join("many.txt"), content).unwrap();
    let out = fx.ok("grep", json!({"pattern": "hit", "path": "many.txt"}));
    assert!(out.contains("Showing the first 200"), "{out}");
}

#[test]
fn grep_without_match_says_so() {
    let fx = Fixture::new();
    std::fs::write(fx.dir.path().join("a.txt"), "abc").unwrap();
    assert_eq!(fx.ok("grep", json!({"pattern": "xyz"})), "No matches found");
}
