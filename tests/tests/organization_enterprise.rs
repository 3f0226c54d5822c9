//! Enterprises in the organization service, against the real stack: census visits that keep an
//! enterprise's five-clears ledger current, guides (instructors, red commissioners) assigned to
//! enterprises and organizations, and the quarterly forums whose enterprise issues are tracked to
//! resolution.

use kit::auth::with_bearer;
use redsupply_proto::{organization::v1 as pb, roles::GRID_OFFICER};
use redsupply_tests::{TestApp, assert_invalid, rid};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn census_visits_keep_the_five_clears_ledger_current() {
    let app = TestApp::spawn().await;
    let community = app.create_community("Yingchun").await;
    let mut ent = app.enterprises().await;
    let outlet = app
        .create_enterprise(pb::Enterprise {
            name: "SF Express Jiajiang Outlet".into(),
            kind: pb::EnterpriseKind::ExpressOutlet as i32,
            brand: "SF Express".into(),
            community_id: community.to_string(),
            ..Default::default()
        })
        .await;
    let officer = app.scoped_token(GRID_OFFICER, "officer-1", &[community], &[]);
    let visit =
        |on: &str, headcount: Option<i32>, needs: Option<&str>| pb::RecordCensusVisitRequest {
            request_id: rid(),
            visit: Some(pb::CensusVisit {
                enterprise_id: outlet.id.clone(),
                visited_on: on.into(),
                visitor: "census team".into(),
                headcount,
                party_members: Some(2),
                needs: needs.map(Into::into),
                ..Default::default()
            }),
        };
    ent.record_census_visit(with_bearer(visit("2026-04-01", Some(50), None), &officer))
        .await
        .unwrap();
    // A paper form from an earlier visit arrives late: its headcount is older than the ledger's.
    let late = ent
        .record_census_visit(with_bearer(
            visit("2026-03-01", Some(40), Some("a rest corner")),
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    let ledger = late.ledger.unwrap();
    let headcount = ledger.headcount.unwrap();
    assert_eq!(
        (headcount.value, headcount.confirmed_on.as_str()),
        (50, "2026-04-01")
    );
    let needs = ledger.needs.unwrap();
    assert_eq!(
        (needs.value.as_str(), needs.confirmed_on.as_str()),
        ("a rest corner", "2026-03-01")
    );
    assert_eq!(
        ledger.situation.unwrap().confirmed_on,
        "",
        "never confirmed"
    );
    assert_eq!(
        (ledger.visits, ledger.last_visited_on.as_str()),
        (2, "2026-04-01")
    );
    assert_eq!(late.version, 3);

    // Refusals: more party members than people, a future date, a worker recording.
    let mut bad = visit("2026-04-02", Some(1), None);
    bad.visit.as_mut().unwrap().party_members = Some(3);
    assert_invalid(
        ent.record_census_visit(with_bearer(bad, &officer))
            .await
            .unwrap_err(),
        "visit.party_members",
    );
    assert_invalid(
        ent.record_census_visit(with_bearer(visit("2099-01-01", Some(1), None), &officer))
            .await
            .unwrap_err(),
        "visit.visited_on",
    );
    let (_, worker) = app.register_party_worker("Li Wei", false).await;
    let denied = ent
        .record_census_visit(with_bearer(visit("2026-04-03", Some(1), None), &worker))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let visits = ent
        .list_census_visits(with_bearer(
            pb::ListCensusVisitsRequest {
                enterprise_id: outlet.id.clone(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .visits;
    let dates: Vec<&str> = visits.iter().map(|v| v.visited_on.as_str()).collect();
    assert_eq!(
        dates,
        ["2026-04-01", "2026-03-01"],
        "by visit date, newest first"
    );
    let surveyed = ent
        .list_enterprises(with_bearer(
            pb::ListEnterprisesRequest {
                surveyed_only: true,
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .enterprises;
    assert_eq!(surveyed.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guides_are_assigned_and_forum_issues_are_tracked_to_resolution() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let (_, _, branch) = app.organization_tree().await;
    let mut ent = app.enterprises().await;
    let mut outlets = Vec::new();
    for name in ["ZTO Yancheng", "Meituan Dongfeng"] {
        outlets.push(
            app.create_enterprise(pb::Enterprise {
                name: name.into(),
                kind: pb::EnterpriseKind::DeliveryStation as i32,
                ..Default::default()
            })
            .await
            .id,
        );
    }
    let mut party = app.party().await;
    let guide =
        |kind: pb::GuideKind, enterprises: &[String], orgs: &[String]| pb::UpsertGuideRequest {
            guide: Some(pb::Guide {
                name: "Guide".into(),
                kind: kind as i32,
                department: "Market Supervision Bureau".into(),
                enterprise_ids: enterprises.to_vec(),
                organization_ids: orgs.to_vec(),
                ..Default::default()
            }),
            request_id: rid(),
            expected_version: 0,
            update_mask: None,
        };
    party
        .upsert_guide(with_bearer(
            guide(
                pb::GuideKind::Instructor,
                &outlets[..1],
                std::slice::from_ref(&branch.id),
            ),
            &admin,
        ))
        .await
        .unwrap();
    // One commissioner, several enterprises (一人多企).
    party
        .upsert_guide(with_bearer(
            guide(pb::GuideKind::RedCommissioner, &outlets, &[]),
            &admin,
        ))
        .await
        .unwrap();
    assert_invalid(
        party
            .upsert_guide(with_bearer(
                guide(
                    pb::GuideKind::RedCommissioner,
                    &outlets,
                    std::slice::from_ref(&branch.id),
                ),
                &admin,
            ))
            .await
            .unwrap_err(),
        "guide.organization_ids",
    );
    assert_invalid(
        party
            .upsert_guide(with_bearer(
                guide(pb::GuideKind::Instructor, &["nope".into()], &[]),
                &admin,
            ))
            .await
            .unwrap_err(),
        "guide.enterprise_ids[0]",
    );
    let at_second = party
        .list_guides(with_bearer(
            pb::ListGuidesRequest {
                enterprise_id: outlets[1].clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .guides;
    assert_eq!(at_second.len(), 1);
    assert_eq!(at_second[0].kind(), pb::GuideKind::RedCommissioner);

    let forum = ent
        .record_forum(with_bearer(
            pb::RecordForumRequest {
                request_id: rid(),
                forum: Some(pb::Forum {
                    title: "Q3 joint meeting".into(),
                    held_on: "2026-09-15".into(),
                    enterprise_ids: outlets.clone(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .forum
        .unwrap();
    assert_eq!(forum.quarter, "2026-Q3");
    let issue = ent
        .raise_enterprise_issue(with_bearer(
            pb::RaiseEnterpriseIssueRequest {
                request_id: rid(),
                forum_id: forum.id.clone(),
                enterprise_id: outlets[0].clone(),
                title: "Loan extension".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .issue
        .unwrap();
    assert_eq!(issue.raised_on, "2026-09-15", "raised at the forum");
    // Not before its forum, and nothing dated after today: an issue, its resolution, a forum.
    let early = ent
        .raise_enterprise_issue(with_bearer(
            pb::RaiseEnterpriseIssueRequest {
                request_id: rid(),
                forum_id: forum.id.clone(),
                enterprise_id: outlets[0].clone(),
                title: "Tax relief".into(),
                raised_on: "2026-08-01".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_invalid(early, "raised_on");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(8 + 24))
        .format("%Y-%m-%d")
        .to_string();
    let future_forum = ent
        .record_forum(with_bearer(
            pb::RecordForumRequest {
                request_id: rid(),
                forum: Some(pb::Forum {
                    title: "Joint meeting".into(),
                    held_on: tomorrow.clone(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_invalid(future_forum, "forum.held_on");
    let resolve = |on: &str| pb::ResolveEnterpriseIssueRequest {
        id: issue.id.clone(),
        resolution: "Bank extended the loan by a year".into(),
        resolved_on: on.into(),
        expected_version: 0,
    };
    for not_then in ["2026-09-01", "2099-12-31", tomorrow.as_str()] {
        assert_invalid(
            ent.resolve_enterprise_issue(with_bearer(resolve(not_then), &admin))
                .await
                .unwrap_err(),
            "resolved_on",
        );
    }
    let done = ent
        .resolve_enterprise_issue(with_bearer(resolve("2026-10-08"), &admin))
        .await
        .unwrap()
        .into_inner()
        .issue
        .unwrap();
    assert_eq!(
        (done.status(), done.resolved_on.as_str()),
        (pb::EnterpriseIssueStatus::Resolved, "2026-10-08")
    );
    assert_eq!(
        ent.resolve_enterprise_issue(with_bearer(resolve("2026-10-09"), &admin))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    let q3 = ent
        .list_forums(with_bearer(
            pb::ListForumsRequest {
                quarter: "2026-Q3".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .forums;
    assert_eq!(q3.len(), 1);
    assert_eq!((q3[0].issues_raised, q3[0].issues_resolved), (1, 1));
    let q4 = ent
        .list_forums(with_bearer(
            pb::ListForumsRequest {
                quarter: "2026-Q4".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .forums;
    assert!(q4.is_empty());
}
