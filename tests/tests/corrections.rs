//! Correcting and withdrawing what was recorded, against the real stack: a census visit
//! corrected or withdrawn with a reason derives its enterprise's ledger again from the visits
//! that stand; an enterprise issue corrected stays after its forum, and withdrawn counts no more;
//! every change is a revision that shows who changed what and what stood before.

use kit::auth::with_bearer;
use prost_types::FieldMask;
use redsupply_proto::{
    organization::v1::{self as pb, revision::Before},
    roles::{COMMUNITY_ADMIN, GRID_OFFICER},
};
use redsupply_tests::{TestApp, assert_invalid, rid};
use tonic::Code;

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrected_or_withdrawn_census_visit_sets_the_ledger_from_the_visits_that_stand() {
    let app = TestApp::spawn().await;
    let community = app.create_community("Yingchun").await;
    let clerk = app.scoped_token(COMMUNITY_ADMIN, "clerk-1", &[community], &[]);
    let officer = app.scoped_token(GRID_OFFICER, "officer-1", &[community], &[]);
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
    let mut record = async |on: &str, headcount: i32| {
        ent.record_census_visit(with_bearer(
            pb::RecordCensusVisitRequest {
                request_id: rid(),
                visit: Some(pb::CensusVisit {
                    enterprise_id: outlet.id.clone(),
                    visited_on: on.into(),
                    visitor: "census team".into(),
                    headcount: Some(headcount),
                    ..Default::default()
                }),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
    };
    record("2026-01-10", 40).await;
    let second = record("2026-03-01", 52).await;
    let visit = second.visit.unwrap();
    let headcount = |e: &pb::Enterprise| {
        let l = e.ledger.clone().unwrap();
        let h = l.headcount.unwrap();
        (h.value, h.confirmed_on, l.visits)
    };
    assert_eq!(
        headcount(&second.enterprise.unwrap()),
        (52, "2026-03-01".into(), 2)
    );

    let correct = |paths: &[&str], headcount: i32, reason: &str| pb::CorrectCensusVisitRequest {
        visit: Some(pb::CensusVisit {
            id: visit.id.clone(),
            headcount: Some(headcount),
            visited_on: "2099-01-01".into(),
            ..Default::default()
        }),
        update_mask: mask(paths),
        reason: reason.into(),
        expected_version: 0,
    };
    let mut ent = app.enterprises().await;
    // A reason, a mask, a field that may change, a date not in the future; and a clerk's call.
    assert_invalid(
        ent.correct_census_visit(with_bearer(correct(&["headcount"], 55, ""), &clerk))
            .await
            .unwrap_err(),
        "reason",
    );
    assert_invalid(
        ent.correct_census_visit(with_bearer(correct(&[], 55, "typo"), &clerk))
            .await
            .unwrap_err(),
        "update_mask",
    );
    assert_invalid(
        ent.correct_census_visit(with_bearer(correct(&["enterprise_id"], 55, "typo"), &clerk))
            .await
            .unwrap_err(),
        "update_mask",
    );
    assert_invalid(
        ent.correct_census_visit(with_bearer(correct(&["visited_on"], 55, "typo"), &clerk))
            .await
            .unwrap_err(),
        "visit.visited_on",
    );
    let denied = ent
        .correct_census_visit(with_bearer(correct(&["headcount"], 55, "typo"), &officer))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    let corrected = ent
        .correct_census_visit(with_bearer(
            correct(&["headcount"], 55, "the form says 55"),
            &clerk,
        ))
        .await
        .unwrap()
        .into_inner();
    let v = corrected.visit.unwrap();
    assert_eq!((v.headcount, v.version), (Some(55), visit.version + 1));
    assert_eq!(v.visited_on, "2026-03-01", "outside the mask, kept");
    assert_eq!(
        headcount(&corrected.enterprise.unwrap()),
        (55, "2026-03-01".into(), 2)
    );

    // Withdrawn (entered for the wrong outlet): the ledger stands on the first visit again.
    let withdrawn = ent
        .withdraw_census_visit(with_bearer(
            pb::WithdrawCensusVisitRequest {
                id: visit.id.clone(),
                reason: "entered for the wrong outlet".into(),
                expected_version: v.version,
            },
            &clerk,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(withdrawn.visit.unwrap().withdrawn_at.is_some());
    assert_eq!(
        headcount(&withdrawn.enterprise.unwrap()),
        (40, "2026-01-10".into(), 1)
    );
    let again = ent
        .correct_census_visit(with_bearer(correct(&["headcount"], 60, "late"), &clerk))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert!(again.message().contains("withdrawn"), "{again:?}");

    // Who changed what, and what stood before each change.
    let revisions = ent
        .list_revisions(with_bearer(
            pb::ListRevisionsRequest {
                record_id: visit.id.clone(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    assert_eq!(revisions[0].action(), pb::RevisionAction::Corrected);
    assert_eq!(revisions[0].fields, ["headcount"]);
    assert_eq!(revisions[0].changed_by, "clerk-1");
    assert_eq!(revisions[0].reason, "the form says 55");
    let Some(Before::CensusVisit(before)) = &revisions[0].before else {
        panic!("{revisions:?}")
    };
    assert_eq!(before.headcount, Some(52));
    assert_eq!(revisions[1].action(), pb::RevisionAction::Withdrawn);
    let Some(Before::CensusVisit(before)) = &revisions[1].before else {
        panic!("{revisions:?}")
    };
    assert_eq!(before.headcount, Some(55));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrected_issue_stays_after_its_forum_and_a_withdrawn_one_counts_no_more() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let mut ent = app.enterprises().await;
    let forum = ent
        .record_forum(with_bearer(
            pb::RecordForumRequest {
                request_id: rid(),
                forum: Some(pb::Forum {
                    title: "Q3 joint meeting".into(),
                    held_on: "2026-09-15".into(),
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
    let issue = ent
        .raise_enterprise_issue(with_bearer(
            pb::RaiseEnterpriseIssueRequest {
                request_id: rid(),
                forum_id: forum.id.clone(),
                title: "Loan extnesion".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .issue
        .unwrap();
    let correct = |issue: pb::EnterpriseIssue, paths: &[&str]| pb::CorrectEnterpriseIssueRequest {
        issue: Some(issue),
        update_mask: mask(paths),
        reason: "typo".into(),
        expected_version: 0,
    };
    let early = ent
        .correct_enterprise_issue(with_bearer(
            correct(
                pb::EnterpriseIssue {
                    id: issue.id.clone(),
                    raised_on: "2026-08-01".into(),
                    ..Default::default()
                },
                &["raised_on"],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_invalid(early, "issue.raised_on");
    let open_resolution = ent
        .correct_enterprise_issue(with_bearer(
            correct(
                pb::EnterpriseIssue {
                    id: issue.id.clone(),
                    resolution: "granted".into(),
                    ..Default::default()
                },
                &["resolution"],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_invalid(open_resolution, "issue.resolution");
    let fixed = ent
        .correct_enterprise_issue(with_bearer(
            correct(
                pb::EnterpriseIssue {
                    id: issue.id.clone(),
                    title: "Loan extension".into(),
                    ..Default::default()
                },
                &["title"],
            ),
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .issue
        .unwrap();
    assert_eq!(fixed.title, "Loan extension");
    assert_eq!(fixed.raised_on, issue.raised_on);
    // Against a version that is not the current one: refused, nothing written.
    let stale = ent
        .correct_enterprise_issue(with_bearer(
            pb::CorrectEnterpriseIssueRequest {
                expected_version: issue.version,
                ..correct(
                    pb::EnterpriseIssue {
                        id: issue.id.clone(),
                        title: "Late".into(),
                        ..Default::default()
                    },
                    &["title"],
                )
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

    // A resolved issue keeps a resolution: it may be put right, not emptied.
    let other = ent
        .raise_enterprise_issue(with_bearer(
            pb::RaiseEnterpriseIssueRequest {
                request_id: rid(),
                forum_id: forum.id.clone(),
                title: "Tax relief".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .issue
        .unwrap();
    ent.resolve_enterprise_issue(with_bearer(
        pb::ResolveEnterpriseIssueRequest {
            id: other.id.clone(),
            resolution: "deferred to Q4".into(),
            resolved_on: "2026-10-01".into(),
            expected_version: 0,
        },
        &admin,
    ))
    .await
    .unwrap();
    let emptied = ent
        .correct_enterprise_issue(with_bearer(
            correct(
                pb::EnterpriseIssue {
                    id: other.id.clone(),
                    ..Default::default()
                },
                &["resolution"],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_invalid(emptied, "issue.resolution");
    let reworded = ent
        .correct_enterprise_issue(with_bearer(
            correct(
                pb::EnterpriseIssue {
                    id: other.id.clone(),
                    resolution: "relief granted for Q4".into(),
                    ..Default::default()
                },
                &["resolution", "resolution"],
            ),
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .issue
        .unwrap();
    assert_eq!(reworded.resolved_on, "2026-10-01");

    let stats = async || {
        app.organization()
            .await
            .get_organization_stats(with_bearer(
                pb::GetOrganizationStatsRequest::default(),
                &app.admin_token(),
            ))
            .await
            .unwrap()
            .into_inner()
    };
    let before = stats().await;
    ent.withdraw_enterprise_issue(with_bearer(
        pb::WithdrawEnterpriseIssueRequest {
            id: issue.id.clone(),
            reason: "raised twice".into(),
            expected_version: fixed.version,
        },
        &admin,
    ))
    .await
    .unwrap();
    let after = stats().await;
    assert_eq!(after.enterprise_issues, before.enterprise_issues - 1);
    let listed = ent
        .list_forums(with_bearer(pb::ListForumsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .forums;
    assert_eq!(listed[0].issues_raised, 1, "{listed:?}");
    let open = ent
        .list_enterprise_issues(with_bearer(
            pb::ListEnterpriseIssuesRequest {
                forum_id: forum.id.clone(),
                status: pb::EnterpriseIssueStatus::Open as i32,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .issues;
    assert!(open.is_empty(), "a withdrawn issue is not open: {open:?}");
    // A withdrawn issue is not resolved afterwards.
    let resolve = ent
        .resolve_enterprise_issue(with_bearer(
            pb::ResolveEnterpriseIssueRequest {
                id: issue.id.clone(),
                resolution: "granted".into(),
                resolved_on: "2026-10-01".into(),
                expected_version: 0,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(resolve.code(), Code::FailedPrecondition, "{resolve:?}");
}
