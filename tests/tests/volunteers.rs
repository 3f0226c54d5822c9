//! The "Hu Wan Jia" volunteer team and the county's governance figures: joining, the five roles,
//! services from check-in to check-out, and the seed's 210 tips and 331 problems solved.

use kit::auth::with_bearer;
use redsupply_proto::governance::v1::{self as pb, GetGovernanceStatsRequest, VolunteerRole};
use redsupply_tests::{TestApp, eventually};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volunteers_join_take_roles_and_check_in_and_out_of_service() {
    let app = TestApp::spawn().await;
    let mut c = app.volunteers().await;
    let admin = app.admin_token();
    // Volunteers are registered workers.
    let (worker, token) = app.register_worker("Zhou Qiang").await;

    let err = app
        .appoint_volunteer_role(worker, VolunteerRole::DisputeScreener, &admin)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "not a member yet");
    let base = c.clone();
    let start = |request_id: &str, role: VolunteerRole| {
        let mut c = base.clone();
        let req = with_bearer(
            pb::StartVolunteerServiceRequest {
                request_id: request_id.into(),
                worker_id: worker.to_string(),
                role: role as i32,
            },
            &token,
        );
        async move { c.start_volunteer_service(req).await }
    };
    assert_eq!(
        start("s0", VolunteerRole::Unspecified)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );

    app.join_volunteer_team(worker, &token).await.unwrap();
    let err = app
        .appoint_volunteer_role(worker, VolunteerRole::DisputeScreener, &token)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "workers do not appoint themselves"
    );
    let v = app
        .appoint_volunteer_role(worker, VolunteerRole::DisputeScreener, &admin)
        .await
        .unwrap();
    assert_eq!(v.roles, [VolunteerRole::DisputeScreener as i32]);
    assert_eq!(
        start("s1", VolunteerRole::PolicyPromoter)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition,
        "a role not held"
    );

    let open = start("s1", VolunteerRole::DisputeScreener)
        .await
        .unwrap()
        .into_inner()
        .record
        .unwrap();
    let retry = start("s1", VolunteerRole::DisputeScreener)
        .await
        .unwrap()
        .into_inner()
        .record
        .unwrap();
    assert_eq!(open.id, retry.id);
    assert_eq!(
        start("s2", VolunteerRole::Unspecified)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition,
        "one open service at a time"
    );

    let end = |problems: i32| {
        let mut c = base.clone();
        let req = with_bearer(
            pb::EndVolunteerServiceRequest {
                record_id: open.id.clone(),
                problems_solved: problems,
                note: "settled a parking quarrel".into(),
            },
            &admin,
        );
        async move {
            c.end_volunteer_service(req)
                .await
                .unwrap()
                .into_inner()
                .record
                .unwrap()
        }
    };
    // Problems solved feed the county's figures: staff confirm them, not the volunteer.
    let refused = base
        .clone()
        .end_volunteer_service(with_bearer(
            pb::EndVolunteerServiceRequest {
                record_id: open.id.clone(),
                problems_solved: 1,
                note: String::new(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let done = end(1).await;
    assert!(done.ended_at.is_some() && done.hours >= 0.0 && done.hours < 0.1);
    assert_eq!(done.problems_solved, 1);
    assert_eq!(
        end(5).await.problems_solved,
        1,
        "a second check-out changes nothing"
    );
    start("s2", VolunteerRole::Unspecified).await.unwrap();

    let listed = c
        .list_volunteers(with_bearer(
            pb::ListVolunteersRequest {
                role: VolunteerRole::DisputeScreener as i32,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .volunteers;
    assert_eq!(listed.len(), 1);
    let stats = app
        .governance()
        .await
        .get_governance_stats(with_bearer(GetGovernanceStatsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            stats.volunteers,
            stats.role_holders,
            stats.solved_by_volunteers
        ),
        (1, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_county_reports_210_tips_and_331_problems_solved() {
    let app = TestApp::spawn().await;
    let seeded = redsupply::seed::demo_county(&app.settings).await.unwrap();
    assert_eq!((seeded.tips, seeded.problems_solved), (210, 331));
    let admin = app.admin_token();
    let stats = app
        .governance()
        .await
        .get_governance_stats(with_bearer(GetGovernanceStatsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.tips_reported, 210);
    assert_eq!(stats.problems_solved, 331);
    assert!(
        stats.volunteers >= 300,
        "300+ volunteers: {}",
        stats.volunteers
    );
    assert!(
        stats.role_holders >= 50,
        "50+ role holders: {}",
        stats.role_holders
    );
    // Once dispatched, every tip is counted under a grid (the demo tips all lie inside the 9).
    let by_grid = eventually("the demo tips to reach their grids", || {
        let admin = admin.clone();
        let app = &app;
        async move {
            let s = app
                .governance()
                .await
                .get_governance_stats(with_bearer(GetGovernanceStatsRequest::default(), &admin))
                .await
                .ok()?
                .into_inner();
            s.by_grid
                .iter()
                .all(|g| !g.grid_id.is_empty())
                .then_some(s.by_grid)
        }
    })
    .await;
    assert_eq!(by_grid.iter().map(|g| g.tips_reported).sum::<i32>(), 210);
    assert!(
        by_grid.len() >= 5,
        "spread over the grids: {}",
        by_grid.len()
    );
}

/// A finished shift earns nothing until a team leader (not the volunteer themself) or county
/// staff confirms it, for at most the hours recorded; a second confirmation changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_confirmed_shift_earns_its_hours() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (rider, rider_token) = app.register_worker("Zhou Qiang").await;
    let (leader, leader_token) = app.register_worker("Team leader Wu").await;
    for (w, t) in [(rider, &rider_token), (leader, &leader_token)] {
        app.join_volunteer_team(w, t).await.unwrap();
    }
    app.appoint_volunteer_role(leader, VolunteerRole::TeamLeader, &admin)
        .await
        .unwrap();
    let pool = app.db.pool().await;
    // A shift of two hours: checked in, the clock moved back two hours, checked out.
    let shift = |worker: uuid::Uuid, token: String, request_id: &'static str| {
        let app = &app;
        let pool = pool.clone();
        async move {
            let mut c = app.volunteers().await;
            let open = c
                .start_volunteer_service(with_bearer(
                    pb::StartVolunteerServiceRequest {
                        request_id: request_id.into(),
                        worker_id: worker.to_string(),
                        role: 0,
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .record
                .unwrap();
            sqlx::query(
                "UPDATE governance.service_records SET started_at = now() - interval '2 hours'
                 WHERE id = $1::uuid",
            )
            .bind(&open.id)
            .execute(&pool)
            .await
            .unwrap();
            c.end_volunteer_service(with_bearer(
                pb::EndVolunteerServiceRequest {
                    record_id: open.id,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .record
            .unwrap()
        }
    };
    let ridden = shift(rider, rider_token.clone(), "r1").await;
    assert!((ridden.hours - 2.0).abs() < 0.01, "{}", ridden.hours);
    let led = shift(leader, leader_token.clone(), "l1").await;
    let confirm = |record: &str, hours: f64, token: &str| {
        let app = &app;
        let req = with_bearer(
            pb::ConfirmVolunteerServiceRequest {
                record_id: record.into(),
                hours,
            },
            token,
        );
        async move { app.volunteers().await.confirm_volunteer_service(req).await }
    };
    // Recorded, not confirmed: no points.
    app.await_count(
        "both services announced",
        "SELECT count(*) FROM governance.outbox",
        0,
    )
    .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    assert_eq!(
        app.count("SELECT count(*) FROM stations.ledger_entries")
            .await,
        0
    );
    let own = confirm(&ridden.id, 0.0, &rider_token).await.unwrap_err();
    assert_eq!(own.code(), Code::PermissionDenied, "not a team leader");
    let own = confirm(&led.id, 0.0, &leader_token).await.unwrap_err();
    assert_eq!(own.code(), Code::PermissionDenied, "a leader's own shift");
    let more = confirm(&ridden.id, 3.0, &leader_token).await.unwrap_err();
    assert_eq!(more.code(), Code::InvalidArgument);
    assert!(more.message().contains("hours"), "{more:?}");

    // The leader confirms 1.5 of the rider's 2 hours: 15 points, once.
    let done = confirm(&ridden.id, 1.5, &leader_token)
        .await
        .unwrap()
        .into_inner()
        .record
        .unwrap();
    assert_eq!(
        (done.confirmed_by.as_str(), done.confirmed_hours),
        (leader.to_string().as_str(), 1.5)
    );
    app.await_balance(rider, 15).await;
    let again = confirm(&ridden.id, 2.0, &admin)
        .await
        .unwrap()
        .into_inner()
        .record
        .unwrap();
    assert_eq!(again.confirmed_hours, 1.5, "the first confirmation stands");
    // County staff confirm the leader's shift as recorded.
    confirm(&led.id, 0.0, &admin).await.unwrap();
    app.await_balance(leader, 20).await;
    app.await_count(
        "the confirmations announced",
        "SELECT count(*) FROM governance.outbox",
        0,
    )
    .await;
    app.consumer_idle("governance", stations::POINTS_CONSUMER)
        .await;
    assert_eq!(app.balance(rider).await, 15);
}
