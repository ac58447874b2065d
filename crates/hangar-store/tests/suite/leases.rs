//! Session leases: one owner at a time, renewable, reclaimable after expiry or by the same
//! node, released only by the runner that holds it.

use hangar_protocol::time::Timestamp;

use super::Fixture;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_micros(seconds * 1_000_000)
}

#[tokio::test]
async fn one_owner_at_a_time_until_expiry() {
    let fx = Fixture::new().await;
    let log = fx.events();
    let session = fx.session().await.id;
    assert!(
        log.acquire_lease(&session, "node-a", "r1", at(100), at(130))
            .await
            .unwrap()
    );
    assert!(
        !log.acquire_lease(&session, "node-b", "r2", at(110), at(140))
            .await
            .unwrap(),
        "held"
    );
    assert!(
        log.acquire_lease(&session, "node-a", "r1", at(120), at(150))
            .await
            .unwrap(),
        "renewed"
    );
    assert!(
        !log.acquire_lease(&session, "node-b", "r2", at(140), at(170))
            .await
            .unwrap(),
        "renewed lease holds"
    );
    assert!(
        log.acquire_lease(&session, "node-b", "r2", at(151), at(181))
            .await
            .unwrap(),
        "expired"
    );
}

#[tokio::test]
async fn a_node_reclaims_its_own_lease_and_only_the_holding_runner_releases_it() {
    let fx = Fixture::new().await;
    let log = fx.events();
    let session = fx.session().await.id;
    assert!(
        log.acquire_lease(&session, "node-a", "old-runner", at(100), at(130))
            .await
            .unwrap()
    );
    // A restarted node (same owner) takes its session back at once, as a new runner.
    assert!(
        log.acquire_lease(&session, "node-a", "new-runner", at(101), at(131))
            .await
            .unwrap()
    );
    log.release_lease(&session, "node-a", "old-runner")
        .await
        .unwrap();
    assert!(
        !log.acquire_lease(&session, "node-b", "x", at(102), at(132))
            .await
            .unwrap(),
        "still held"
    );
    log.release_lease(&session, "node-a", "new-runner")
        .await
        .unwrap();
    assert!(
        log.acquire_lease(&session, "node-b", "x", at(103), at(133))
            .await
            .unwrap(),
        "released"
    );
}
