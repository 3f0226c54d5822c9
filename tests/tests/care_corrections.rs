//! Putting right forums, care visits and hardship files, against the real stack: a forum's date
//! stays on or before its issues' and it is withdrawn only once none of them stands; a care
//! visit or hardship file corrected keeps what its mask leaves out and is changed no more once
//! withdrawn; each change is a revision showing who changed what, and a care revision's reason
//! and before are sealed at rest like care itself.

use kit::auth::with_bearer;
use prost_types::FieldMask;
use redsupply_proto::{
    events::v1::{CareVisitChanged, ForumChanged},
    organization::v1::{self as pb, care_revision, revision},
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
async fn a_forum_is_corrected_within_its_issues_and_withdrawn_once_none_stands() {
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
    assert_eq!(forum.version, 1);
    let issue = ent
        .raise_enterprise_issue(with_bearer(
            pb::RaiseEnterpriseIssueRequest {
                request_id: rid(),
                forum_id: forum.id.clone(),
                title: "Loan extension".into(),
                raised_on: "2026-09-20".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .issue
        .unwrap();
    let correct = |f: pb::Forum, paths: &[&str]| pb::CorrectForumRequest {
        forum: Some(pb::Forum {
            id: forum.id.clone(),
            ..f
        }),
        update_mask: mask(paths),
        reason: "minutes checked".into(),
        expected_version: 0,
    };
    // Not after the day its first issue was raised; not by community staff.
    let late = ent
        .correct_forum(with_bearer(
            correct(
                pb::Forum {
                    held_on: "2026-09-25".into(),
                    ..Default::default()
                },
                &["held_on"],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_invalid(late, "forum.held_on");
    let community = app.create_community("Yingchun").await;
    let clerk = app.scoped_token(COMMUNITY_ADMIN, "clerk-1", &[community], &[]);
    let denied = ent
        .correct_forum(with_bearer(
            correct(
                pb::Forum {
                    title: "x".into(),
                    ..Default::default()
                },
                &["title"],
            ),
            &clerk,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let fixed = ent
        .correct_forum(with_bearer(
            correct(
                pb::Forum {
                    title: "Q3 joint meeting with outlets".into(),
                    held_on: "2026-09-18".into(),
                    ..Default::default()
                },
                &["title", "held_on"],
            ),
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .forum
        .unwrap();
    assert_eq!(
        (fixed.title.as_str(), fixed.held_on.as_str(), fixed.version),
        ("Q3 joint meeting with outlets", "2026-09-18", 2)
    );
    assert_eq!(fixed.issues_raised, 1, "counted from its issues, kept");

    // Withdrawn only once none of its issues stands.
    let withdraw = |version: i64| pb::WithdrawForumRequest {
        id: forum.id.clone(),
        reason: "recorded twice".into(),
        expected_version: version,
    };
    let standing = ent
        .withdraw_forum(with_bearer(withdraw(fixed.version), &admin))
        .await
        .unwrap_err();
    assert_eq!(standing.code(), Code::FailedPrecondition, "{standing:?}");
    assert!(standing.message().contains("1 issue"), "{standing:?}");
    ent.withdraw_enterprise_issue(with_bearer(
        pb::WithdrawEnterpriseIssueRequest {
            id: issue.id.clone(),
            reason: "belongs to the other forum".into(),
            expected_version: issue.version,
        },
        &admin,
    ))
    .await
    .unwrap();
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
            .forums
    };
    let forums_before = stats().await;
    let withdrawn = ent
        .withdraw_forum(with_bearer(withdraw(fixed.version), &admin))
        .await
        .unwrap()
        .into_inner()
        .forum
        .unwrap();
    assert!(withdrawn.withdrawn_at.is_some());
    assert_eq!(withdrawn.withdrawn_reason, "recorded twice");
    assert_eq!(stats().await, forums_before - 1);
    // A withdrawn forum takes no issue and no correction.
    let raise = ent
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
        .unwrap_err();
    assert_eq!(raise.code(), Code::FailedPrecondition, "{raise:?}");
    assert!(raise.message().contains("withdrawn"), "{raise:?}");
    let retitle = ent
        .correct_forum(with_bearer(
            correct(
                pb::Forum {
                    title: "Late".into(),
                    ..Default::default()
                },
                &["title"],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(retitle.code(), Code::FailedPrecondition, "{retitle:?}");

    let revisions = ent
        .list_revisions(with_bearer(
            pb::ListRevisionsRequest {
                record_id: forum.id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    assert_eq!(revisions[0].fields, ["title", "held_on"]);
    let Some(revision::Before::Forum(before)) = &revisions[0].before else {
        panic!("{revisions:?}")
    };
    assert_eq!(before.held_on, "2026-09-15");
    assert_eq!(revisions[1].action(), pb::RevisionAction::Withdrawn);

    let heard = redsupply_tests::eventually("the forum events", || async {
        let mine: Vec<ForumChanged> = app
            .published::<ForumChanged>("organization", "redsupply.organization.forum.changed")
            .await
            .into_iter()
            .filter(|e| e.forum_id == forum.id)
            .collect();
        (mine.len() >= 2).then_some(mine)
    })
    .await;
    let versions: Vec<(i64, bool)> = heard.iter().map(|e| (e.version, e.withdrawn)).collect();
    assert_eq!(versions, [(2, false), (3, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn care_records_are_put_right_with_a_sealed_history() {
    let app = TestApp::spawn().await;
    let community = app.create_community("Yingchun").await;
    let staff = app.scoped_token(COMMUNITY_ADMIN, "community-staff", &[community], &[]);
    let (worker, _) = app.register_worker_in(Some(community), "Liu Yang").await;
    let mut care = app.care().await;
    let visit = care
        .record_care_visit(with_bearer(
            pb::RecordCareVisitRequest {
                request_id: rid(),
                visit: Some(pb::CareVisit {
                    worker_id: worker.to_string(),
                    visited_on: "2026-02-10".into(),
                    occasion: "Spring Festival".into(),
                    visitor: "Community secretary".into(),
                    notes: "Mother in hospital in Leshan".into(),
                    ..Default::default()
                }),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    assert_eq!(visit.version, 1);
    let correct = |v: pb::CareVisit, paths: &[&str], reason: &str| pb::CorrectCareVisitRequest {
        visit: Some(pb::CareVisit {
            id: visit.id.clone(),
            ..v
        }),
        update_mask: mask(paths),
        reason: reason.into(),
        expected_version: visit.version,
    };
    let future = care
        .correct_care_visit(with_bearer(
            correct(
                pb::CareVisit {
                    visited_on: "2099-02-10".into(),
                    ..Default::default()
                },
                &["visited_on"],
                "wrong date",
            ),
            &staff,
        ))
        .await
        .unwrap_err();
    assert_invalid(future, "visit.visited_on");
    let moved = care
        .correct_care_visit(with_bearer(
            correct(
                pb::CareVisit {
                    worker_id: uuid::Uuid::now_v7().to_string(),
                    ..Default::default()
                },
                &["worker_id"],
                "wrong worker",
            ),
            &staff,
        ))
        .await
        .unwrap_err();
    assert_invalid(moved, "update_mask");
    let officer = app.scoped_token(GRID_OFFICER, "officer", &[community], &[]);
    let denied = care
        .correct_care_visit(with_bearer(
            correct(pb::CareVisit::default(), &["notes"], "x"),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    const REASON: &str = "Notes were about his father, not his mother";
    let corrected = care
        .correct_care_visit(with_bearer(
            correct(
                pb::CareVisit {
                    notes: "Father in hospital in Leshan".into(),
                    ..Default::default()
                },
                &["notes"],
                REASON,
            ),
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    assert_eq!(corrected.notes, "Father in hospital in Leshan");
    assert_eq!(
        (corrected.occasion.as_str(), corrected.version),
        ("Spring Festival", 2),
        "outside the mask, kept"
    );
    let withdrawn = care
        .withdraw_care_visit(with_bearer(
            pb::WithdrawCareVisitRequest {
                id: visit.id.clone(),
                reason: "Visit was to another Liu Yang".into(),
                expected_version: corrected.version,
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap();
    assert!(withdrawn.withdrawn_at.is_some());
    assert_eq!(withdrawn.withdrawn_reason, "Visit was to another Liu Yang");
    let again = care
        .correct_care_visit(with_bearer(
            pb::CorrectCareVisitRequest {
                expected_version: 0,
                ..correct(pb::CareVisit::default(), &["notes"], "late")
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    let revisions = care
        .list_care_revisions(with_bearer(
            pb::ListCareRevisionsRequest {
                record_id: visit.id.clone(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    assert_eq!(
        (
            revisions[0].reason.as_str(),
            revisions[0].changed_by.as_str()
        ),
        (REASON, "community-staff")
    );
    let Some(care_revision::Before::CareVisit(before)) = &revisions[0].before else {
        panic!("{revisions:?}")
    };
    assert_eq!(before.notes, "Mother in hospital in Leshan");
    assert_eq!(revisions[1].action(), pb::CareRevisionAction::Withdrawn);
    // Care revisions are not read through the enterprise registry's ListRevisions.
    let elsewhere = app
        .enterprises()
        .await
        .list_revisions(with_bearer(
            pb::ListRevisionsRequest {
                record_id: visit.id.clone(),
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound, "{elsewhere:?}");

    // A hardship file: help replaced whole, an open file has no outcome, a withdrawn file
    // takes no more help and is no longer listed as open.
    let file = care
        .open_hardship_file(with_bearer(
            pb::OpenHardshipFileRequest {
                request_id: rid(),
                worker_id: worker.to_string(),
                difficulty: "Rent two months behind".into(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .file
        .unwrap();
    let correct_file = |f: pb::HardshipFile, paths: &[&str]| pb::CorrectHardshipFileRequest {
        file: Some(pb::HardshipFile {
            id: file.id.clone(),
            ..f
        }),
        update_mask: mask(paths),
        reason: "entered from the wrong form".into(),
        expected_version: 0,
    };
    let outcome = care
        .correct_hardship_file(with_bearer(
            correct_file(
                pb::HardshipFile {
                    outcome: "Back at work".into(),
                    ..Default::default()
                },
                &["outcome"],
            ),
            &staff,
        ))
        .await
        .unwrap_err();
    assert_invalid(outcome, "file.outcome");
    let bad_help = care
        .correct_hardship_file(with_bearer(
            correct_file(
                pb::HardshipFile {
                    help: vec![pb::Help {
                        given_on: "2099-01-01".into(),
                        kind: "grant".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                &["help"],
            ),
            &staff,
        ))
        .await
        .unwrap_err();
    assert_invalid(bad_help, "file.help[0].given_on");
    let helped = care
        .correct_hardship_file(with_bearer(
            correct_file(
                pb::HardshipFile {
                    difficulty: "Rent three months behind".into(),
                    help: vec![pb::Help {
                        given_on: "2026-07-01".into(),
                        kind: "hardship grant".into(),
                        description: "Trade union grant".into(),
                        amount_yuan: 2_000,
                    }],
                    ..Default::default()
                },
                &["difficulty", "help"],
            ),
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .file
        .unwrap();
    assert_eq!(
        (
            helped.difficulty.as_str(),
            helped.help.len(),
            helped.version
        ),
        ("Rent three months behind", 1, 2)
    );
    care.withdraw_hardship_file(with_bearer(
        pb::WithdrawHardshipFileRequest {
            id: file.id.clone(),
            reason: "Opened for the wrong worker".into(),
            expected_version: helped.version,
        },
        &staff,
    ))
    .await
    .unwrap();
    let help = care
        .record_help(with_bearer(
            pb::RecordHelpRequest {
                file_id: file.id.clone(),
                help: Some(pb::Help {
                    given_on: "2026-08-01".into(),
                    kind: "grant".into(),
                    ..Default::default()
                }),
                expected_version: 0,
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(help.code(), Code::FailedPrecondition, "{help:?}");
    let open = care
        .list_hardship_files(with_bearer(
            pb::ListHardshipFilesRequest {
                worker_id: worker.to_string(),
                status: pb::HardshipFileStatus::Open as i32,
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .files;
    assert!(open.is_empty(), "{open:?}");

    // What the history holds at rest: no care text in clear, in the reason or the record.
    let pool = app.db.pool().await;
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT reason, before FROM organization.revisions WHERE record_id = ANY($1::uuid[])",
    )
    .bind(vec![
        visit.id.parse::<uuid::Uuid>().unwrap(),
        file.id.parse().unwrap(),
    ])
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 4, "two changes of each record");
    let sealed: Vec<Option<Vec<u8>>> = sqlx::query_scalar(
        "SELECT reason_sealed FROM organization.revisions WHERE record_id = ANY($1::uuid[])
         UNION ALL SELECT withdrawn_reason_sealed FROM organization.care_visits
         UNION ALL SELECT withdrawn_reason_sealed FROM organization.hardship_files",
    )
    .bind(vec![
        visit.id.parse::<uuid::Uuid>().unwrap(),
        file.id.parse().unwrap(),
    ])
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        sealed.iter().flatten().count(),
        6,
        "four changes, two withdrawals"
    );
    for bytes in sealed.iter().flatten() {
        for text in [
            "about his father",
            "another Liu Yang",
            "wrong worker",
            "wrong form",
        ] {
            assert!(
                !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
                "{text} in clear"
            );
        }
    }
    for (reason, before) in &rows {
        assert_eq!(reason, "", "the reason is sealed");
        for text in ["Mother in hospital", "Rent two months", "Spring Festival"] {
            assert!(
                !before.windows(text.len()).any(|w| w == text.as_bytes()),
                "{text} in clear"
            );
        }
    }
    let heard = redsupply_tests::eventually("the care visit events", || async {
        let mine: Vec<CareVisitChanged> = app
            .published::<CareVisitChanged>(
                "organization",
                "redsupply.organization.care.visit_changed",
            )
            .await
            .into_iter()
            .filter(|e| e.visit_id == visit.id)
            .collect();
        (mine.len() >= 2).then_some(mine)
    })
    .await;
    let versions: Vec<(i64, bool)> = heard.iter().map(|e| (e.version, e.withdrawn)).collect();
    assert_eq!(versions, [(2, false), (3, true)]);
}
