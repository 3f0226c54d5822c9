//! A case as staff, platforms and reporters change it: updates checked against the version the
//! caller saw (a stale one is refused with the current version) and that may keep the status; an
//! internal note the reporter never sees beside a public reply they do; rejection of a case's last
//! tip closing it as void (never escalated, never counted as resolved); closed cases frozen and
//! reopened only within the window; the reporter's "fixed" / "not fixed"; and the backfill and
//! lookups a platform that lost its cursor needs.

use chrono::Utc;
use kit::auth::with_bearer;
use redsupply_proto::governance::v1::{
    Case, CaseResolution, CaseStatus, CaseTransition, ConfirmResolutionRequest,
    GetGovernanceStatsRequest, ListCaseHistoryRequest, ListCasesRequest, RejectTipRequest, Tip,
    TipCategory, TipStatus, UpdateCaseRequest,
};
use redsupply_tests::{TestApp, eventually, field_violations as field_of, next_case_change};
use tonic::Code;
use tonic_types::StatusExt;
use uuid::Uuid;

async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| s.governance.tips_per_minute = 0).await
}

/// A tip at (lat, lng) by `reporter`, once dispatched.
async fn tip_at(app: &TestApp, reporter: Uuid, token: &str, lat: f64, lng: f64) -> Tip {
    let id = app
        .submit_tip_at(reporter, token, TipCategory::PublicFacility, (lat, lng))
        .await
        .id;
    app.dispatched_tip(&id).await
}

async fn platform(app: &TestApp) -> String {
    app.platform_token("municipal-platform").await
}

async fn update(app: &TestApp, req: UpdateCaseRequest) -> Result<Case, tonic::Status> {
    app.try_update_case(req, &platform(app).await).await
}

fn status_to(case: &str, status: CaseStatus) -> UpdateCaseRequest {
    UpdateCaseRequest {
        case_id: case.into(),
        status: status as i32,
        ..Default::default()
    }
}

async fn confirm(
    app: &TestApp,
    tip: &str,
    token: &str,
    fixed: bool,
    comment: &str,
) -> Result<Case, tonic::Status> {
    app.governance()
        .await
        .confirm_resolution(with_bearer(
            ConfirmResolutionRequest {
                tip_id: tip.into(),
                fixed,
                comment: comment.into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().case.unwrap())
}

async fn history(app: &TestApp, case: &str) -> Vec<CaseTransition> {
    app.governance()
        .await
        .list_case_history(with_bearer(
            ListCaseHistoryRequest {
                case_id: case.into(),
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .transitions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_update_is_refused_with_the_current_version_and_status_may_be_kept() {
    let app = spawn().await;
    app.create_grid("Grid", 29.73, 103.56, 0.05).await;
    let (w, token) = app.register_worker("Li Wei").await;
    let case_id = tip_at(&app, w, &token, 29.74, 103.57).await.case_id;
    let seen = app.case(&case_id).await;

    // An officer resolves it; a platform with the old view then tries to put it back in progress.
    let resolved = update(
        &app,
        UpdateCaseRequest {
            expected_version: seen.version,
            ..status_to(&case_id, CaseStatus::Resolved)
        },
    )
    .await
    .unwrap();
    let stale = update(
        &app,
        UpdateCaseRequest {
            expected_version: seen.version,
            note: "crew on the way".into(),
            ..status_to(&case_id, CaseStatus::InProgress)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let info = stale.get_details_error_info().expect("ErrorInfo details");
    assert_eq!(info.reason, "CASE_VERSION_MISMATCH");
    assert_eq!(
        info.metadata.get("current_version"),
        Some(&resolved.version.to_string())
    );
    assert_eq!(app.case(&case_id).await.status(), CaseStatus::Resolved);

    // A note alone (status unspecified) keeps the status.
    let noted = update(
        &app,
        UpdateCaseRequest {
            case_id: case_id.clone(),
            note: "photo of the repair filed".into(),
            expected_version: resolved.version,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(noted.status(), CaseStatus::Resolved);
    assert_eq!(noted.note, "photo of the repair filed");
    assert_eq!(noted.version, resolved.version + 1);
    // Its retry changes nothing, although its version is now old.
    let again = update(
        &app,
        UpdateCaseRequest {
            case_id: case_id.clone(),
            note: "photo of the repair filed".into(),
            expected_version: resolved.version,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(again.version, noted.version);

    // Bad input names its field.
    for (req, field) in [
        (
            UpdateCaseRequest {
                status: 99,
                ..status_to(&case_id, CaseStatus::Resolved)
            },
            "status",
        ),
        (
            UpdateCaseRequest {
                expected_version: -1,
                ..status_to(&case_id, CaseStatus::Resolved)
            },
            "expected_version",
        ),
        (
            UpdateCaseRequest {
                external_ref: "x".repeat(200),
                ..status_to(&case_id, CaseStatus::Resolved)
            },
            "external_ref",
        ),
        (
            UpdateCaseRequest {
                public_reply: "y".repeat(2_001),
                ..status_to(&case_id, CaseStatus::Resolved)
            },
            "public_reply",
        ),
    ] {
        let err = update(&app, req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(field_of(&err), vec![field.to_owned()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reporter_sees_the_public_reply_and_never_the_internal_note() {
    let app = spawn().await;
    app.create_grid("Grid", 29.73, 103.56, 0.05).await;
    let (w, token) = app.register_worker("Li Wei").await;
    let tip = tip_at(&app, w, &token, 29.74, 103.57).await;
    let case_id = tip.case_id.clone();
    update(
        &app,
        UpdateCaseRequest {
            note: "reporter known for false alarms".into(),
            public_reply: "a crew is on its way".into(),
            ..status_to(&case_id, CaseStatus::Accepted)
        },
    )
    .await
    .unwrap();
    // A status change without a reply keeps the last reply (and the note).
    let progressing = update(&app, status_to(&case_id, CaseStatus::InProgress))
        .await
        .unwrap();
    assert_eq!(progressing.public_reply, "a crew is on its way");
    assert_eq!(progressing.note, "reporter known for false alarms");

    let mine = app.tip_as(&tip.id, &token).await;
    assert_eq!(mine.case_note, "a crew is on its way");
    assert_eq!(mine.case_status(), CaseStatus::InProgress);
    let as_worker = app.case_as(&case_id, &token).await;
    assert_eq!(as_worker.note, "", "the internal note is for staff");
    assert_eq!(as_worker.public_reply, "a crew is on its way");

    let history = history(&app, &case_id).await;
    let accepted = history
        .iter()
        .find(|t| t.to_status() == CaseStatus::Accepted)
        .unwrap();
    assert_eq!(accepted.reason, "reporter known for false alarms");
    assert_eq!(accepted.public_reply, "a crew is on its way");
    let versions: Vec<i64> = history.iter().map(|t| t.version).collect();
    assert_eq!(
        versions,
        vec![1, 2, 3],
        "every change in history, with its version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_a_cases_last_tip_voids_it_and_the_reporter_sees_why() {
    let app = spawn().await;
    let grid = app.create_grid("Grid", 29.73, 103.56, 0.05).await;
    let (li, li_token) = app.register_worker("Li Wei").await;
    let (wang, wang_token) = app.register_worker("Wang Fang").await;
    let lone = tip_at(&app, li, &li_token, 29.74, 103.57).await;
    // Two reporters of one problem (merged), and a lone tip.
    let first = tip_at(&app, li, &li_token, 29.76, 103.59).await;
    let second = tip_at(&app, wang, &wang_token, 29.76001, 103.59001).await;
    assert_eq!(first.case_id, second.case_id);
    let mut feed = app
        .watch_cases(
            redsupply_proto::governance::v1::WatchCasesRequest {
                grid_ids: vec![grid.to_string()],
                ..Default::default()
            },
            &platform(&app).await,
        )
        .await;
    let reject = |tip: String, reason: &'static str| {
        let app = &app;
        async move {
            app.governance()
                .await
                .reject_tip(with_bearer(
                    RejectTipRequest {
                        tip_id: tip,
                        reason: reason.into(),
                    },
                    &app.admin_token(),
                ))
                .await
                .unwrap()
                .into_inner()
                .tip
                .unwrap()
        }
    };

    // One of two: the case stays open with one reporter, and says so on the feed.
    reject(second.id.clone(), "photo taken elsewhere").await;
    let m = next_case_change(&mut feed).await;
    let shared = m.case.unwrap();
    assert_eq!(shared.id, first.case_id);
    assert_eq!(shared.reporter_count, 1);
    assert_eq!(shared.status(), CaseStatus::Assigned);
    assert_eq!(shared, app.case(&first.case_id).await);

    // The only one: the case closes as void, off the deadline.
    let rejected = reject(lone.id.clone(), "the light works; tested on site").await;
    assert_eq!(rejected.status(), TipStatus::Rejected);
    assert_eq!(rejected.rejection_reason, "the light works; tested on site");
    let m = next_case_change(&mut feed).await;
    let void = m.case.clone().unwrap();
    assert_eq!(void.id, lone.case_id);
    assert_eq!(
        (void.status(), void.resolution()),
        (CaseStatus::Closed, CaseResolution::Void)
    );
    assert_eq!(m.previous_status(), CaseStatus::Assigned);
    assert_eq!(void.reporter_count, 0);
    let seen_by_reporter = app.tip_as(&lone.id, &li_token).await;
    assert_eq!(
        seen_by_reporter.rejection_reason,
        "the light works; tested on site"
    );
    assert_eq!(seen_by_reporter.case_resolution(), CaseResolution::Void);
    let history = history(&app, &lone.case_id).await;
    let last = history.last().unwrap();
    assert_eq!(last.to_status(), CaseStatus::Closed);
    assert!(
        last.reason.contains("the light works; tested on site"),
        "{last:?}"
    );

    // A void case has no tip left to work on: it cannot be reopened.
    let reopen = update(&app, status_to(&lone.case_id, CaseStatus::InProgress))
        .await
        .unwrap_err();
    assert_eq!(reopen.code(), Code::FailedPrecondition, "{reopen:?}");

    // Past its deadline it is not escalated, and it is not a solved problem.
    let pool = app.db.pool().await;
    sqlx::query("UPDATE governance.cases SET due_at = now() - interval '1 day'")
        .execute(&pool)
        .await
        .unwrap();
    let gov_pool = governance::pool(&app.settings.common).unwrap();
    governance::app::escalation::sweep_once(&gov_pool)
        .await
        .unwrap();
    assert!(app.case(&lone.case_id).await.escalated_at.is_none());
    assert!(app.case(&first.case_id).await.escalated_at.is_some());
    let stats = app
        .governance()
        .await
        .get_governance_stats(with_bearer(
            GetGovernanceStatsRequest::default(),
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.cases_resolved, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_case_is_frozen_and_reopens_only_within_the_window() {
    let app = spawn().await;
    app.create_grid("Grid", 29.73, 103.56, 0.05).await;
    let (w, token) = app.register_worker("Li Wei").await;
    let case_id = tip_at(&app, w, &token, 29.74, 103.57).await.case_id;
    update(&app, status_to(&case_id, CaseStatus::Resolved))
        .await
        .unwrap();
    let closed = update(&app, status_to(&case_id, CaseStatus::Closed))
        .await
        .unwrap();
    assert!(closed.closed_at.is_some());
    assert_eq!(closed.resolution(), CaseResolution::Fixed);

    let frozen = update(
        &app,
        UpdateCaseRequest {
            case_id: case_id.clone(),
            note: "one more remark".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(frozen.code(), Code::FailedPrecondition);

    let reopened = update(&app, status_to(&case_id, CaseStatus::InProgress))
        .await
        .unwrap();
    assert_eq!(reopened.resolution(), CaseResolution::Unspecified);
    assert!(reopened.closed_at.is_none());
    let due = kit::time::from_timestamp(reopened.due_at.as_ref().unwrap()).unwrap();
    assert!(due > Utc::now(), "a reopened case has a new deadline");

    update(&app, status_to(&case_id, CaseStatus::Resolved))
        .await
        .unwrap();
    update(&app, status_to(&case_id, CaseStatus::Closed))
        .await
        .unwrap();
    sqlx::query("UPDATE governance.cases SET closed_at = now() - interval '31 days'")
        .execute(&app.db.pool().await)
        .await
        .unwrap();
    let late = update(&app, status_to(&case_id, CaseStatus::InProgress))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(late.message().contains("30 days"), "{late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reporter_confirms_a_fix_or_reopens_the_case_in_its_grid() {
    let app = spawn().await;
    let grid = app.create_grid("Grid", 29.73, 103.56, 0.05).await;
    let (w, token) = app.register_worker("Li Wei").await;
    let (_, other_token) = app.register_worker("Wang Fang").await;
    let tip = tip_at(&app, w, &token, 29.74, 103.57).await;
    let case_id = tip.case_id.clone();

    // Not yet resolved: nothing to confirm.
    let early = confirm(&app, &tip.id, &token, true, "").await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    update(&app, status_to(&case_id, CaseStatus::Resolved))
        .await
        .unwrap();

    // Only the reporter answers; "not fixed" needs a word on what is still wrong.
    let other = confirm(&app, &tip.id, &other_token, true, "")
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    let staff = confirm(&app, &tip.id, &app.admin_token(), true, "")
        .await
        .unwrap_err();
    assert_eq!(staff.code(), Code::PermissionDenied);
    let silent = confirm(&app, &tip.id, &token, false, "").await.unwrap_err();
    assert_eq!(field_of(&silent), vec!["comment".to_owned()]);

    let reopened = confirm(&app, &tip.id, &token, false, "still dark at night")
        .await
        .unwrap();
    assert_eq!(reopened.status(), CaseStatus::Assigned);
    assert_eq!(reopened.grid_id, grid.to_string());
    assert_eq!(
        app.tip_as(&tip.id, &token).await.confirmed_fixed,
        Some(false)
    );
    let history = history(&app, &case_id).await;
    let last = history.last().unwrap();
    assert_eq!(last.actor, w.to_string());
    assert!(last.reason.contains("still dark at night"));

    // Resolved again, then confirmed: closed as fixed, and the tip_confirmed points.
    update(&app, status_to(&case_id, CaseStatus::Resolved))
        .await
        .unwrap();
    let fixed = confirm(&app, &tip.id, &token, true, "works now")
        .await
        .unwrap();
    assert_eq!(
        (fixed.status(), fixed.resolution()),
        (CaseStatus::Closed, CaseResolution::Fixed)
    );
    assert_eq!(
        fixed.note, "",
        "the reporter does not see the internal note"
    );
    assert_eq!(
        app.tip_as(&tip.id, &token).await.confirmed_fixed,
        Some(true)
    );
    // 5 for the tip, 3 for the resolution, 2 for the confirmed fix.
    app.await_balance(w, 5 + 3 + 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_lost_its_cursor_backfills_and_looks_cases_up() {
    let app = spawn().await;
    let grid = app.create_grid("Grid", 29.73, 103.56, 0.05).await;
    let (w, token) = app.register_worker("Li Wei").await;
    let a = tip_at(&app, w, &token, 29.74, 103.57).await.case_id;
    let b = tip_at(&app, w, &token, 29.76, 103.59).await.case_id;
    let queued = tip_at(&app, w, &token, 29.50, 103.35).await.case_id; // outside every grid
    let since = app.case(&queued).await.updated_at;
    let b_case = update(
        &app,
        UpdateCaseRequest {
            external_ref: "SZ-2026-00077".into(),
            ..status_to(&b, CaseStatus::Accepted)
        },
    )
    .await
    .unwrap();
    let list = |req: ListCasesRequest| {
        let app = &app;
        async move {
            app.governance()
                .await
                .list_cases(with_bearer(req, &platform(app).await))
                .await
                .map(|r| {
                    let mut ids: Vec<String> =
                        r.into_inner().cases.into_iter().map(|c| c.id).collect();
                    ids.sort();
                    ids
                })
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // The platform mirrors the county's grids: the county queue is not its to see.
    assert_eq!(
        list(ListCasesRequest {
            updated_since: since,
            ..Default::default()
        })
        .await
        .unwrap(),
        vec![b.clone()]
    );
    let as_county = |req: ListCasesRequest| {
        let app = &app;
        async move {
            let mut ids: Vec<String> = app
                .governance()
                .await
                .list_cases(with_bearer(req, &app.admin_token()))
                .await
                .unwrap()
                .into_inner()
                .cases
                .into_iter()
                .map(|c| c.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        as_county(ListCasesRequest {
            updated_since: since,
            ..Default::default()
        })
        .await,
        sorted(vec![b.clone(), queued.clone()])
    );
    assert_eq!(
        list(ListCasesRequest {
            updated_before: since,
            ..Default::default()
        })
        .await
        .unwrap(),
        vec![a.clone()],
        "b changed after the instant"
    );
    assert_eq!(
        list(ListCasesRequest {
            number: b_case.number.clone(),
            ..Default::default()
        })
        .await
        .unwrap(),
        vec![b.clone()]
    );
    assert_eq!(
        list(ListCasesRequest {
            external_ref: "SZ-2026-00077".into(),
            ..Default::default()
        })
        .await
        .unwrap(),
        vec![b.clone()]
    );
    assert_eq!(
        list(ListCasesRequest {
            county_queue: true,
            ..Default::default()
        })
        .await
        .unwrap_err()
        .code(),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        as_county(ListCasesRequest {
            county_queue: true,
            ..Default::default()
        })
        .await,
        vec![queued.clone()]
    );
    let dept = app.case(&a).await.department;
    assert!(
        list(ListCasesRequest {
            department: dept,
            grid_id: grid.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .contains(&a)
    );
    sqlx::query("UPDATE governance.cases SET due_at = now() - interval '1 hour' WHERE id = $1")
        .bind(Uuid::parse_str(&a).unwrap())
        .execute(&app.db.pool().await)
        .await
        .unwrap();
    assert_eq!(
        list(ListCasesRequest {
            overdue: true,
            ..Default::default()
        })
        .await
        .unwrap(),
        vec![a.clone()]
    );
    assert!(
        list(ListCasesRequest {
            escalated: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty()
    );

    // Filters that contradict themselves name their field.
    let both = list(ListCasesRequest {
        county_queue: true,
        grid_id: grid.to_string(),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(field_of(&both), vec!["county_queue".to_owned()]);
    let backwards = list(ListCasesRequest {
        updated_since: since,
        updated_before: since,
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(field_of(&backwards), vec!["updated_before".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_connections_end_runaway_statements_and_forgotten_transactions() {
    let app = TestApp::spawn_with(|s| {
        s.common.database.statement_timeout_ms = 1_500;
        s.common.database.idle_in_transaction_timeout_ms = 2_500;
    })
    .await;
    let pool = governance::pool(&app.settings.common).unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let limits: (String, String) = sqlx::query_as(
        "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(limits, ("1500ms".to_owned(), "2500ms".to_owned()));
    // A statement over the limit is cancelled (57014), which callers answer as UNAVAILABLE.
    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("57014")
    );
    // A transaction left open is ended by the server.
    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *conn)
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let watcher = app.db.pool().await;
    eventually("the idle transaction's session to be ended", || {
        let watcher = watcher.clone();
        async move {
            let alive: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                    .bind(pid)
                    .fetch_one(&watcher)
                    .await
                    .ok()?;
            (!alive).then_some(())
        }
    })
    .await;
    drop(conn);
}
