//! The base template's build discipline: one build at a time, nothing half-made on failure.

use std::time::Duration;

use hangar_sandbox::SandboxError;
use hangar_sandbox::rootfs::{BaseSpec, base_key, ensure_base};

fn bogus_suite() -> BaseSpec {
    BaseSpec {
        suite: "no-such-suite".into(),
        ..BaseSpec::default()
    }
}

#[tokio::test]
async fn a_failed_build_names_the_step_and_leaves_nothing_behind() {
    let templates = tempfile::tempdir().unwrap();
    let error = ensure_base(templates.path(), &bogus_suite(), 100_000, true)
        .await
        .unwrap_err();
    let SandboxError::TemplateBuild { step, detail } = error else {
        panic!("{error:?}")
    };
    assert_eq!(step, "debootstrap");
    assert!(
        detail.contains("no-such-suite"),
        "the tool's output is in the error: {detail}"
    );
    let left: Vec<String> = std::fs::read_dir(templates.path().join("base"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "half-made template left: {left:?}");
}

#[tokio::test]
async fn a_second_request_waits_for_the_first_build_and_does_not_build_again() {
    let templates = tempfile::tempdir().unwrap();
    let spec = bogus_suite();
    let key = base_key(&spec, 100_000);
    let base = templates.path().join("base");
    std::fs::create_dir_all(&base).unwrap();
    let lock = std::fs::File::create(base.join(format!("{key}.lock"))).unwrap();
    lock.lock().unwrap();

    let dir = templates.path().to_path_buf();
    let waiter =
        tokio::spawn(async move { ensure_base(&dir, &bogus_suite(), 100_000, true).await });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !waiter.is_finished(),
        "the second request must wait for the lock"
    );

    // "The first build" finishes: publish a template, then release the lock.
    std::fs::create_dir_all(base.join(&key).join("rootfs")).unwrap();
    std::fs::write(base.join(&key).join("template.json"), "{}").unwrap();
    lock.unlock().unwrap();
    let rootfs = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        rootfs,
        base.join(&key).join("rootfs"),
        "no second build (it would have failed)"
    );
}
