//! The load tool keeps itself honest: a small open-loop run against the real stack, verified, must
//! account for every tip (a case and exactly one award each) and report nothing lost.

use std::{sync::Arc, time::Duration};

use redsupply::{
    ServiceName,
    loadtest::{Options, Tokens, run},
};
use redsupply_tests::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_verified_run_accounts_for_every_tip() {
    let app = TestApp::spawn().await;
    let options = Options {
        governance: vec![format!("http://{}", app.addr(ServiceName::Governance))],
        stations: format!("http://{}", app.addr(ServiceName::Stations)),
        rate: 50.0,
        duration: Duration::from_secs(2),
        warmup: Duration::from_millis(400),
        workers: 20,
        connections: 2,
        verify: true,
        verify_timeout: Duration::from_secs(60),
        progress: false,
    };
    let report = run(&options, &Tokens::Minted(Arc::clone(&app.auth)))
        .await
        .unwrap();
    assert_eq!(report.sent, 120);
    assert_eq!(report.accepted, 120, "{:?}", report.errors);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.ok(), "{}", report.table());
    assert_eq!(report.intake.count, 100, "the warm-up is not measured");
    let points = report.to_points.as_ref().unwrap();
    assert_eq!(points.count, 120, "every tip's award was found");
    assert!(report.to_case.as_ref().unwrap().count > 0);
    let entries = app
        .count("SELECT count(*) FROM stations.ledger_entries")
        .await;
    assert_eq!(entries, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tips_without_their_award_are_reported_lost() {
    // A daily cap of zero: every tip gets its case but no award, and verify must say so.
    let app = TestApp::spawn_with(|s| {
        s.stations
            .points
            .daily_cap
            .insert("tip_submitted".into(), 0);
    })
    .await;
    let options = Options {
        governance: vec![format!("http://{}", app.addr(ServiceName::Governance))],
        stations: format!("http://{}", app.addr(ServiceName::Stations)),
        rate: 20.0,
        duration: Duration::from_secs(1),
        warmup: Duration::ZERO,
        workers: 5,
        connections: 1,
        verify: true,
        verify_timeout: Duration::from_secs(3),
        progress: false,
    };
    let report = run(&options, &Tokens::Minted(Arc::clone(&app.auth)))
        .await
        .unwrap();
    assert_eq!(report.accepted, 20);
    assert!(!report.ok());
    assert_eq!(report.lost.len(), 20, "{}", report.table());
    assert!(report.lost.iter().all(|l| l.ends_with("(no award)")));
    assert!(report.duplicated.is_empty());
}

/// The feed bench (`redsupply loadtest feed`) against the real stack: its platforms are scoped to
/// their grids, its grids lie in the county, and a second run over the same grids works too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_bench_delivers_every_change_to_its_grid_and_runs_again() {
    use redsupply::loadtest::feed;
    let app = TestApp::spawn().await;
    let options = feed::Options {
        governance: format!("http://{}", app.addr(ServiceName::Governance)),
        organization: format!("http://{}", app.addr(ServiceName::Organization)),
        watchers: 12,
        rate: 20.0,
        duration: Duration::from_secs(1),
        idle: Duration::from_millis(300),
    };
    let pool = app.db.pool().await;
    for run in 1..=2 {
        let report = feed::run(&options, &app.auth, &pool).await.unwrap();
        assert_eq!(report.update_errors, 0, "run {run}: {report:?}");
        assert_eq!(report.updates_ok, report.updates_sent, "run {run}");
        assert_eq!(report.delivered, report.updates_ok, "run {run}: {report:?}");
        assert_eq!(
            (report.missing, report.duplicated, report.misrouted),
            (0, 0, 0),
            "run {run}"
        );
    }
    let grids = app.count("SELECT count(*) FROM organization.grids").await;
    assert_eq!(grids, 12, "the second run found the first run's grids");
}
