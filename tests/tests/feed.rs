//! The municipal case feed as an integrator relies on it: resuming from any cursor it gave out
//! delivers each change exactly once and in order — also where positions and transaction ids cross
//! a power of ten, also for cursors given out before positions existed; a transaction left open
//! anywhere on the server holds no watcher back; every stream starts with its cursor and stays alive
//! with heartbeats; a case that leaves a watcher's filter is sent once more; and each message is the
//! case as `GetCase` shows it. A randomized run resumes several watchers at random points while
//! cases change concurrently across grids.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

use futures::{StreamExt, future::join_all};
use kit::auth::with_bearer;
use prost::Message;
use rand::{Rng, SeedableRng, rngs::StdRng};
use redsupply_proto::governance::v1::{
    Case, CaseStatus, RerouteCaseRequest, TipCategory, UpdateCaseRequest, WatchCasesRequest,
    WatchCasesResponse,
};
use redsupply_tests::{DEADLINE, TestApp, TestDb, eventually, next_case_change};
use sqlx::Connection;
use tonic::Code;
use uuid::Uuid;

/// A stack whose feed beats every second, with no rate limit and no merging (each tip its case).
async fn spawn_on(db: Option<TestDb>) -> TestApp {
    let tweak = |s: &mut redsupply::AppSettings| {
        s.governance.watch_heartbeat_secs = 1;
        s.governance.tips_per_minute = 0;
        s.governance.merge.distance_meters = 0.0;
        // These tests open a stream per cursor at once, all as the same operator; the cap on
        // streams per caller is tested in `geography.rs`.
        s.governance.watch_streams_per_caller = 0;
    };
    match db {
        Some(db) => TestApp::spawn_on(db, tweak).await,
        None => TestApp::spawn_with(tweak).await,
    }
}

/// A stream as the county's own operator sees it (every grid and the county queue): these tests
/// follow the feed's mechanics; what each token may watch is tested in `scope.rs`.
async fn watch(
    app: &TestApp,
    cursor: &str,
    grids: &[Uuid],
    statuses: &[CaseStatus],
) -> tonic::Streaming<WatchCasesResponse> {
    app.watch_cases(
        WatchCasesRequest {
            cursor: cursor.into(),
            grid_ids: grids.iter().map(Uuid::to_string).collect(),
            statuses: statuses.iter().map(|s| *s as i32).collect(),
        },
        &app.admin_token(),
    )
    .await
}

/// The next message, heartbeat or not.
async fn next_message(stream: &mut tonic::Streaming<WatchCasesResponse>) -> WatchCasesResponse {
    tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("a message within the deadline")
        .expect("the stream stays open")
        .expect("a message, not an error")
}

/// Case changes up to the next heartbeat: what a resumed stream has to catch up with.
async fn changes_until_heartbeat(
    stream: &mut tonic::Streaming<WatchCasesResponse>,
) -> (Vec<WatchCasesResponse>, String) {
    let mut got = Vec::new();
    loop {
        let m = next_message(stream).await;
        if m.case.is_none() {
            return (got, m.cursor);
        }
        got.push(m);
    }
}

/// Submits a tip at (lat, lng) and returns the case it became.
async fn new_case(app: &TestApp, reporter: Uuid, token: &str, lat: f64, lng: f64) -> Uuid {
    let tip = app
        .submit_tip_at(reporter, token, TipCategory::Traffic, (lat, lng))
        .await
        .id;
    case_of(app, &tip).await
}

async fn case_of(app: &TestApp, tip: &str) -> Uuid {
    Uuid::parse_str(&app.dispatched_tip(tip).await.case_id).unwrap()
}

async fn update(app: &TestApp, case: Uuid, status: CaseStatus, note: &str) -> Result<(), Code> {
    app.try_update_case(
        UpdateCaseRequest {
            case_id: case.to_string(),
            status: status as i32,
            note: note.into(),
            ..Default::default()
        },
        &app.admin_token(),
    )
    .await
    .map(|_| ())
    .map_err(|s| s.code())
}

async fn get_case(app: &TestApp, id: &str) -> Case {
    app.case(id).await
}

fn position(cursor: &str) -> i64 {
    cursor.parse().expect("a position cursor")
}

/// The feed as stored: (position, case, grid and status before), in order.
type Stored = (i64, Case, Option<(String, i32)>);

/// The feed as stored once every committed change has its position (the sequencer may still be
/// at work when a call returns).
async fn stored_feed(app: &TestApp) -> Vec<Stored> {
    let pool = app.db.pool().await;
    eventually("every change to have its position", || {
        let pool = pool.clone();
        async move {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM governance.case_changes WHERE position IS NULL",
            )
            .fetch_one(&pool)
            .await
            .ok()?;
            (waiting == 0).then_some(())
        }
    })
    .await;
    type Row = (i64, Vec<u8>, Option<Uuid>, Option<i16>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT position, snapshot, previous_grid_id, previous_status FROM governance.case_changes
         WHERE position IS NOT NULL ORDER BY position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(p, snap, pg, ps)| {
            let before = ps.map(|s| (pg.map(|g| g.to_string()).unwrap_or_default(), i32::from(s)));
            (p, Case::decode(snap.as_slice()).unwrap(), before)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_from_every_cursor_across_a_power_of_ten_gives_each_change_once_in_order() {
    let app = spawn_on(None).await;
    let pool = app.db.pool().await;
    // An old feed: its newest change has position 99,990 (a case of some other grid).
    let old = Case {
        id: Uuid::now_v7().to_string(),
        status: CaseStatus::Resolved as i32,
        version: 4,
        ..Default::default()
    };
    sqlx::query(
        "INSERT INTO governance.case_changes (case_id, snapshot, status, previous_status, position)
         VALUES ($1, $2, 4, 3, 99990)",
    )
    .bind(Uuid::parse_str(&old.id).unwrap())
    .bind(old.encode_to_vec())
    .execute(&pool)
    .await
    .unwrap();
    app.create_grid("Yingchun Grid 1", 29.73, 103.56, 0.05)
        .await;
    let (worker, token) = app.register_worker("Li Wei").await;
    let mut cases = Vec::new();
    for i in 0..6 {
        let case = new_case(&app, worker, &token, 29.735 + 0.005 * f64::from(i), 103.565).await;
        cases.push(case);
    }
    for case in &cases {
        update(&app, *case, CaseStatus::Accepted, "").await.unwrap();
        update(&app, *case, CaseStatus::InProgress, "crew sent")
            .await
            .unwrap();
    }
    let stored = stored_feed(&app).await;
    assert_eq!(
        stored.len(),
        1 + 18,
        "the old change, then 6 cases, 3 changes each"
    );
    assert!(stored.first().unwrap().0 < 100_000 && stored.last().unwrap().0 > 100_000);

    // From the very beginning: everything, in order.
    let mut all = watch(&app, "0", &[], &[]).await;
    let first = next_message(&mut all).await;
    assert!(first.case.is_none(), "the first message is a heartbeat");
    assert_eq!(first.cursor, "0");
    let (seen, beat) = changes_until_heartbeat(&mut all).await;
    let positions: Vec<i64> = seen.iter().map(|m| position(&m.cursor)).collect();
    assert_eq!(
        positions,
        stored.iter().map(|s| s.0).collect::<Vec<_>>(),
        "every change once, in order"
    );
    assert_eq!(beat, seen.last().unwrap().cursor);
    for (m, s) in seen.iter().zip(&stored) {
        assert_eq!(m.case.as_ref(), Some(&s.1));
    }

    // Resumed from each cursor: exactly what follows it.
    let resumed = join_all(seen.iter().enumerate().map(|(i, m)| {
        let app = &app;
        let cursor = m.cursor.clone();
        async move {
            let mut s = watch(app, &cursor, &[], &[]).await;
            let hello = next_message(&mut s).await;
            assert!(hello.case.is_none());
            assert_eq!(
                hello.cursor, cursor,
                "a resumed stream starts at its cursor"
            );
            (i, changes_until_heartbeat(&mut s).await.0)
        }
    }))
    .await;
    for (i, got) in resumed {
        let got: Vec<&str> = got.iter().map(|m| m.cursor.as_str()).collect();
        let want: Vec<&str> = seen[i + 1..].iter().map(|m| m.cursor.as_str()).collect();
        assert_eq!(got, want, "resumed after change {i}");
    }

    // A cursor ahead of the feed was not given out here.
    let err = app
        .gateway()
        .await
        .watch_cases(with_bearer(
            WatchCasesRequest {
                cursor: "900000".into(),
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_given_out_before_positions_resume_in_transaction_id_order_across_powers_of_ten() {
    // A database whose feed was written by the old schema, with transaction ids on both sides of
    // 10^4 and 10^5 (where text order and number order disagree).
    let db = TestDb::create().await;
    let mut settings = redsupply::AppSettings::load(None).unwrap();
    settings.common.database.url = kit::settings::Secret::new(db.url.clone());
    let pool = governance::pool(&settings.common).unwrap();
    let old = sqlx::migrate::Migrator::with_migrations(
        governance::MIGRATOR
            .iter()
            .filter(|m| m.version <= 103)
            .cloned()
            .collect(),
    );
    kit::db::migrate(&pool, governance::SCHEMA, &old)
        .await
        .unwrap();
    let grid = Uuid::now_v7();
    let written = [99_999u64, 100_000, 9_999, 10_000, 100_001, 9_998, 10_000];
    let mut rows = Vec::new(); // (xid, seq, case)
    for xid in written {
        let case = Case {
            id: Uuid::now_v7().to_string(),
            grid_id: grid.to_string(),
            status: CaseStatus::Assigned as i32,
            version: 1,
            ..Default::default()
        };
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO case_changes (xid, case_id, grid_id, snapshot, status)
             VALUES ($1::text::xid8, $2, $3, $4, 1) RETURNING seq",
        )
        .bind(xid.to_string())
        .bind(Uuid::parse_str(&case.id).unwrap())
        .bind(grid)
        .bind(case.encode_to_vec())
        .fetch_one(&pool)
        .await
        .unwrap();
        rows.push((xid, seq, case));
    }
    pool.close().await;
    rows.sort_by_key(|(x, s, _)| (*x, *s));
    let app = spawn_on(Some(db)).await;

    // Old cursors: after a change (xid.seq), and a horizon (xid.0: everything below xid).
    for (cursor, skip) in [
        (format!("{}.{}", rows[1].0, rows[1].1), 2), // after 9,999
        ("10000.0".to_owned(), 2),
        (format!("{}.{}", rows[3].0, rows[3].1), 4), // after the second change of 10,000
        ("1.0".to_owned(), 0),
    ] {
        let mut s = watch(&app, &cursor, &[], &[]).await;
        let hello = next_message(&mut s).await;
        assert!(hello.case.is_none());
        let (got, _) = changes_until_heartbeat(&mut s).await;
        let got: Vec<String> = got.into_iter().map(|m| m.case.unwrap().id).collect();
        let want: Vec<String> = rows[skip..].iter().map(|r| r.2.id.clone()).collect();
        assert_eq!(got, want, "resumed from {cursor}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_left_open_anywhere_on_the_server_does_not_hold_the_feed_back() {
    let app = spawn_on(None).await;
    let grid = app
        .create_grid("Yingchun Grid 1", 29.73, 103.56, 0.05)
        .await;
    let (worker, token) = app.register_worker("Li Wei").await;
    let first = new_case(&app, worker, &token, 29.74, 103.57).await;
    let mut feed = watch(&app, "", &[grid], &[]).await;
    assert!(next_message(&mut feed).await.case.is_none());

    // Left open: one in another database of the server, one in this one, and one that has written
    // a change of `first` but not committed it.
    let mut elsewhere = sqlx::PgConnection::connect(&redsupply_tests::pg::admin_url())
        .await
        .unwrap();
    let mut here = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    let mut writer = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    for c in [&mut elsewhere, &mut here, &mut writer] {
        sqlx::query("BEGIN").execute(&mut *c).await.unwrap();
        sqlx::query("SELECT pg_current_xact_id()")
            .execute(&mut *c)
            .await
            .unwrap();
    }
    let held = get_case(&app, &first.to_string()).await;
    sqlx::query(
        "INSERT INTO governance.case_changes (case_id, grid_id, snapshot, status, previous_status)
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(first)
    .bind(grid)
    .bind(held.encode_to_vec())
    .bind(held.status as i16)
    .execute(&mut writer)
    .await
    .unwrap();

    let second = new_case(&app, worker, &token, 29.76, 103.58).await;
    let m = next_case_change(&mut feed).await;
    assert_eq!(m.case.unwrap().id, second.to_string(), "not held back");

    // The late commit is not lost: it comes after, with a later cursor.
    sqlx::query("COMMIT").execute(&mut writer).await.unwrap();
    let late = next_case_change(&mut feed).await;
    assert_eq!(late.case.unwrap().id, first.to_string());
    assert!(position(&late.cursor) > position(&m.cursor));
    for c in [&mut elsewhere, &mut here] {
        sqlx::query("ROLLBACK").execute(&mut *c).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_starts_with_its_cursor_and_beats_while_idle() {
    let app = spawn_on(None).await;
    let west = app.create_grid("West", 29.73, 103.56, 0.01).await;
    app.create_grid("East", 29.73, 103.60, 0.01).await;
    let (worker, token) = app.register_worker("Li Wei").await;

    // A quiet grid: the client has a cursor to store at once.
    let mut feed = watch(&app, "", &[west], &[]).await;
    let hello = next_message(&mut feed).await;
    assert!(hello.case.is_none());
    let start = position(&hello.cursor);

    // A change elsewhere is not sent, but the next heartbeat's cursor has moved past it, so a
    // client that resumes from it does not scan it again.
    new_case(&app, worker, &token, 29.735, 103.605).await;
    let head = stored_feed(&app).await.last().unwrap().0;
    assert!(head > start);
    let beat = loop {
        let m = next_message(&mut feed).await;
        assert!(m.case.is_none(), "the east case is not for the west grid");
        if position(&m.cursor) >= head {
            break m;
        }
    };
    assert_eq!(position(&beat.cursor), head);
    let again = next_message(&mut feed).await;
    assert!(again.case.is_none());
    assert_eq!(again.cursor, beat.cursor, "idle: the same cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_that_leaves_a_status_filter_is_sent_once_more_and_back_when_it_returns() {
    let app = spawn_on(None).await;
    let grid = app
        .create_grid("Yingchun Grid 1", 29.73, 103.56, 0.05)
        .await;
    let (worker, token) = app.register_worker("Li Wei").await;
    let case = new_case(&app, worker, &token, 29.74, 103.57).await;
    let mut resolved = watch(&app, "", &[], &[CaseStatus::Resolved]).await;

    update(&app, case, CaseStatus::Resolved, "fixed")
        .await
        .unwrap();
    let m = next_case_change(&mut resolved).await;
    assert_eq!(m.case.as_ref().unwrap().status(), CaseStatus::Resolved);
    assert_eq!(m.previous_status(), CaseStatus::Assigned);
    assert!(!m.left_filter);

    // Reopened: the watcher learns it left RESOLVED.
    update(&app, case, CaseStatus::InProgress, "not fixed after all")
        .await
        .unwrap();
    let left = next_case_change(&mut resolved).await;
    assert!(left.left_filter);
    assert_eq!(left.case.as_ref().unwrap().status(), CaseStatus::InProgress);
    assert_eq!(left.previous_status(), CaseStatus::Resolved);
    assert_eq!(left.previous_grid_id, grid.to_string());

    // A change while outside the filter is not sent; coming back is.
    update(&app, case, CaseStatus::InProgress, "crew on site")
        .await
        .unwrap();
    update(&app, case, CaseStatus::Resolved, "fixed now")
        .await
        .unwrap();
    let back = next_case_change(&mut resolved).await;
    assert!(!back.left_filter);
    assert_eq!(back.case.as_ref().unwrap().note, "fixed now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tip_merged_one_by_one_is_on_the_feed_as_get_case_shows_it() {
    let app = TestApp::spawn_with(|s| s.governance.watch_heartbeat_secs = 1).await;
    app.create_grid("Yingchun Grid 1", 29.73, 103.56, 0.05)
        .await;
    let (li, li_token) = app.register_worker("Li Wei").await;
    let (wang, wang_token) = app.register_worker("Wang Fang").await;
    let mut feed = watch(&app, "", &[], &[]).await;
    let case = new_case(&app, li, &li_token, 29.74, 103.57).await;
    let opened = next_case_change(&mut feed).await;
    assert_eq!(opened.case.as_ref().unwrap().reporter_count, 1);
    // The second tip arrives alone, so the tip-by-tip path merges it.
    let merged_into = new_case(&app, wang, &wang_token, 29.74001, 103.57001).await;
    assert_eq!(merged_into, case);
    let merged = next_case_change(&mut feed).await;
    let shown = get_case(&app, &case.to_string()).await;
    assert_eq!(merged.case.as_ref(), Some(&shown));
    assert_eq!(shown.reporter_count, 2);
    assert_eq!(shown.tip_ids.len(), 2);
    assert_eq!(merged.previous_status(), CaseStatus::Assigned);
}

/// Whether a watcher with these filters is sent a change (now or before matching).
fn selected(grids: &[String], statuses: &[i32], s: &Stored) -> bool {
    let matches = |g: &str, st: i32| {
        (grids.is_empty() || grids.iter().any(|x| x == g))
            && (statuses.is_empty() || statuses.contains(&st))
    };
    matches(&s.1.grid_id, s.1.status) || s.2.as_ref().is_some_and(|(g, st)| matches(g, *st))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_that_resume_at_random_points_get_their_filters_feed_exactly() {
    let seed: u64 = rand::random();
    eprintln!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = spawn_on(None).await;
    let mut grids = Vec::new();
    for i in 0..3 {
        grids.push(
            app.create_grid(
                &format!("Grid {i}"),
                29.70,
                103.50 + 0.02 * f64::from(i),
                0.01,
            )
            .await,
        );
    }
    let (worker, token) = app.register_worker("Li Wei").await;
    let mut cases = Vec::new();
    for (i, _) in grids.iter().enumerate() {
        for k in 0..3 {
            cases.push(
                new_case(
                    &app,
                    worker,
                    &token,
                    29.701 + 0.003 * f64::from(k),
                    103.501 + 0.02 * i as f64,
                )
                .await,
            );
        }
    }
    let start = stored_feed(&app).await.last().unwrap().0.to_string();

    // Four watchers with random filters, each disconnecting after a random number of messages
    // (heartbeats included) and resuming from the last cursor it got.
    let filters: Vec<(Vec<Uuid>, Vec<CaseStatus>)> = (0..4)
        .map(|_| {
            let g: Vec<Uuid> = grids
                .iter()
                .filter(|_| rng.random_bool(0.5))
                .copied()
                .collect();
            let s: Vec<CaseStatus> = [
                CaseStatus::Assigned,
                CaseStatus::Accepted,
                CaseStatus::InProgress,
                CaseStatus::Resolved,
            ]
            .into_iter()
            .filter(|_| rng.random_bool(0.4))
            .collect();
            (g, s)
        })
        .collect();
    // The feed's final position, once the writers are done (-1 until then).
    let done = Arc::new(AtomicI64::new(-1));
    let watchers = filters.iter().enumerate().map(|(w, (g, s))| {
        let app = &app;
        let done = done.clone();
        let mut rng = StdRng::seed_from_u64(seed ^ (w as u64 + 1));
        let start = start.clone();
        async move {
            let mut cursor = start;
            let mut got: Vec<WatchCasesResponse> = Vec::new();
            let mut reconnects = 0;
            loop {
                let mut stream = watch(app, &cursor, g, s).await;
                let budget = rng.random_range(1..6);
                for _ in 0..budget {
                    let m = next_message(&mut stream).await;
                    cursor = m.cursor.clone();
                    if m.case.is_some() {
                        got.push(m);
                    } else {
                        let end = done.load(Ordering::SeqCst);
                        if end >= 0 && position(&cursor) >= end {
                            return (got, reconnects);
                        }
                    }
                }
                reconnects += 1;
            }
        }
    });

    // Writers: random status changes, notes and reroutes, three at a time.
    let writers = (0..3).map(|t| {
        let app = &app;
        let cases = &cases;
        let grids = &grids;
        let mut rng = StdRng::seed_from_u64(seed ^ (100 + t));
        async move {
            for _ in 0..25 {
                let case = cases[rng.random_range(0..cases.len())];
                if rng.random_bool(0.15) {
                    let grid = grids[rng.random_range(0..grids.len())];
                    let rerouted = app
                        .governance()
                        .await
                        .reroute_case(with_bearer(
                            RerouteCaseRequest {
                                case_id: case.to_string(),
                                grid_id: grid.to_string(),
                                reason: "wrong grid".into(),
                                ..Default::default()
                            },
                            &app.admin_token(),
                        ))
                        .await;
                    if let Err(e) = rerouted {
                        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
                    }
                } else {
                    let to = [
                        CaseStatus::Accepted,
                        CaseStatus::InProgress,
                        CaseStatus::Resolved,
                    ][rng.random_range(0..3)];
                    match update(app, case, to, &format!("step {}", rng.random::<u16>())).await {
                        Ok(()) | Err(Code::FailedPrecondition) => {}
                        Err(c) => panic!("update answered {c:?}"),
                    }
                }
            }
        }
    });
    let feed_done = async {
        join_all(writers).await;
        let end = stored_feed(&app).await.last().unwrap().0;
        done.store(end, Ordering::SeqCst);
    };
    let (results, ()) = tokio::join!(join_all(watchers), feed_done);

    let stored = stored_feed(&app).await;
    let begin = position(&start);
    let delivered: usize = results.iter().map(|(got, _)| got.len()).sum();
    let resumed: usize = results.iter().map(|(_, r)| r).sum();
    assert!(
        delivered > 0 && resumed >= filters.len(),
        "the run exercised the feed: {delivered} messages, {resumed} reconnects"
    );
    for ((got, reconnects), (g, s)) in results.into_iter().zip(&filters) {
        let gs: Vec<String> = g.iter().map(Uuid::to_string).collect();
        let ss: Vec<i32> = s.iter().map(|x| *x as i32).collect();
        let want: Vec<i64> = stored
            .iter()
            .filter(|x| x.0 > begin && selected(&gs, &ss, x))
            .map(|x| x.0)
            .collect();
        let have: Vec<i64> = got.iter().map(|m| position(&m.cursor)).collect();
        assert_eq!(
            have, want,
            "filter grids {gs:?} statuses {ss:?}, {reconnects} reconnects (seed {seed})"
        );
        let by_pos: HashMap<i64, &Stored> = stored.iter().map(|x| (x.0, x)).collect();
        for m in &got {
            let x = by_pos[&position(&m.cursor)];
            assert_eq!(m.case.as_ref(), Some(&x.1));
        }
    }
    // Each change is the case as its history shows it at that version, and the last one is the
    // case as GetCase shows it.
    for case in &cases {
        let history = app
            .governance()
            .await
            .list_case_history(with_bearer(
                redsupply_proto::governance::v1::ListCaseHistoryRequest {
                    case_id: case.to_string(),
                },
                &app.admin_token(),
            ))
            .await
            .unwrap()
            .into_inner()
            .transitions;
        for x in stored.iter().filter(|x| x.1.id == case.to_string()) {
            let at = history
                .iter()
                .find(|t| t.version == x.1.version)
                .unwrap_or_else(|| panic!("history of {case} at version {}", x.1.version));
            assert_eq!(
                (
                    at.to_status,
                    at.to_grid_id.as_str(),
                    at.to_department.as_str()
                ),
                (x.1.status, x.1.grid_id.as_str(), x.1.department.as_str()),
                "case {case} version {}",
                x.1.version
            );
        }
    }
    // Every case's last change is the case as GetCase shows it.
    let mut last: HashMap<String, &Case> = HashMap::new();
    for x in &stored {
        last.insert(x.1.id.clone(), &x.1);
    }
    for case in &cases {
        let shown = get_case(&app, &case.to_string()).await;
        assert_eq!(Some(&&shown), last.get(&case.to_string()));
    }
}
