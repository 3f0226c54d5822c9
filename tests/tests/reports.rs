//! Reports for the staff who keep the registry, against the real stack: figures for a period and
//! for one township or community (within the caller's scope), the ledgers to review (stale visits,
//! the ledger's headcount beside the workers registered), and names beside the ids of lists.

use chrono::{Duration, Utc};
use kit::auth::with_bearer;
use redsupply_proto::{
    organization::v1::{self as pb},
    roles::{COMMUNITY_ADMIN, GRID_OFFICER},
};
use redsupply_tests::{TestApp, assert_invalid, rid, unique_phone};
use tonic::Code;
use uuid::Uuid;

/// Today in the county (the test stack's default offset, UTC+8).
fn county_today() -> chrono::NaiveDate {
    (Utc::now() + Duration::minutes(480)).date_naive()
}

async fn township_with(app: &TestApp, name: &str, communities: &[&str]) -> (Uuid, Vec<Uuid>) {
    let admin = app.admin_token();
    let mut org = app.organization().await;
    let t = org
        .upsert_township(with_bearer(
            pb::UpsertTownshipRequest {
                township: Some(pb::Township {
                    name: name.into(),
                    kind: pb::TownshipKind::Town as i32,
                    ..Default::default()
                }),
                request_id: rid(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .township
        .unwrap();
    let mut ids = Vec::new();
    for c in communities {
        let c = org
            .upsert_community(with_bearer(
                pb::UpsertCommunityRequest {
                    community: Some(pb::Community {
                        name: (*c).into(),
                        township_id: t.id.clone(),
                        ..Default::default()
                    }),
                    request_id: rid(),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .community
            .unwrap();
        ids.push(c.id.parse().unwrap());
    }
    (t.id.parse().unwrap(), ids)
}

async fn enterprise_in(app: &TestApp, community: Uuid, name: &str) -> pb::Enterprise {
    app.create_enterprise(pb::Enterprise {
        name: name.into(),
        kind: pb::EnterpriseKind::ExpressOutlet as i32,
        community_id: community.to_string(),
        ..Default::default()
    })
    .await
}

async fn visit(app: &TestApp, enterprise: &str, on: chrono::NaiveDate, headcount: i32) {
    app.enterprises()
        .await
        .record_census_visit(with_bearer(
            pb::RecordCensusVisitRequest {
                request_id: rid(),
                visit: Some(pb::CensusVisit {
                    enterprise_id: enterprise.into(),
                    visited_on: on.to_string(),
                    visitor: "census team".into(),
                    headcount: Some(headcount),
                    ..Default::default()
                }),
            },
            &app.admin_token(),
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_come_for_a_period_and_for_a_township_or_community_of_the_callers_scope() {
    let app = TestApp::spawn().await;
    let (ganjiang, communities) = township_with(&app, "Ganjiang", &["Yingchun", "Dongyue"]).await;
    let (yingchun, dongyue) = (communities[0], communities[1]);
    let (_, others) = township_with(&app, "Muchen", &["Xinchang"]).await;
    let xinchang = others[0];
    for (c, name) in [
        (yingchun, "Liu Yang"),
        (yingchun, "Chen Jie"),
        (dongyue, "Wang Fang"),
    ] {
        app.register_worker_in(Some(c), name).await;
    }
    app.register_worker_in(Some(xinchang), "Zhou Min").await;
    let outlet = enterprise_in(&app, yingchun, "China Post Jiajiang").await;
    let far = enterprise_in(&app, xinchang, "Yunda Muchen").await;
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    visit(&app, &outlet.id, d("2026-11-10"), 52).await;
    visit(&app, &outlet.id, d("2026-10-05"), 50).await;
    visit(&app, &far.id, d("2026-11-20"), 9).await;

    let stats = async |r: pb::GetOrganizationStatsRequest, token: &str| {
        app.organization()
            .await
            .get_organization_stats(with_bearer(r, token))
            .await
    };
    let admin = app.admin_token();
    let ask = |period: &str, township: Option<Uuid>, community: Option<Uuid>| {
        pb::GetOrganizationStatsRequest {
            period: period.into(),
            township_id: township.map(|t| t.to_string()).unwrap_or_default(),
            community_id: community.map(|c| c.to_string()).unwrap_or_default(),
        }
    };
    let county = stats(ask("2026-11", None, None), &admin)
        .await
        .unwrap()
        .into_inner();
    let november = county.period.clone().unwrap();
    assert_eq!(
        (november.from.as_str(), november.to.as_str()),
        ("2026-11-01", "2026-11-30")
    );
    assert_eq!(
        (november.census_visits, november.enterprises_visited),
        (2, 2)
    );
    assert_eq!(county.workers, 4);
    let q4 = stats(ask("2026-Q4", Some(ganjiang), None), &admin)
        .await
        .unwrap()
        .into_inner();
    assert_eq!((q4.workers, q4.communities, q4.enterprises), (3, 2, 1));
    assert_eq!(
        q4.period.unwrap().census_visits,
        2,
        "both of the outlet's visits"
    );
    let one = stats(ask("ytd", None, Some(dongyue)), &admin)
        .await
        .unwrap()
        .into_inner();
    let ytd = one.period.unwrap();
    assert_eq!((one.workers, ytd.workers_registered), (1, 1));
    assert_eq!(ytd.to, county_today().to_string());
    assert!(
        stats(ask("", None, None), &admin)
            .await
            .unwrap()
            .into_inner()
            .period
            .is_none()
    );

    // Refusals: a period that is no period, a community of another township, one outside the
    // caller's scope; a township reaches only the communities of the scope.
    assert_invalid(
        stats(ask("2026-13", None, None), &admin).await.unwrap_err(),
        "period",
    );
    assert_invalid(
        stats(ask("", Some(ganjiang), Some(xinchang)), &admin)
            .await
            .unwrap_err(),
        "community_id",
    );
    let clerk = app.scoped_token(COMMUNITY_ADMIN, "clerk-1", &[yingchun], &[]);
    let denied = stats(ask("", None, Some(xinchang)), &clerk)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let mine = stats(ask("", Some(ganjiang), None), &clerk)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.workers, 2, "Yingchun's, not Dongyue's");
    let unknown = stats(ask("", Some(Uuid::now_v7()), None), &admin)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_ledgers_and_registered_workers_are_reviewed_beside_each_other() {
    let app = TestApp::spawn().await;
    let community = app.create_community("Yingchun").await;
    let today = county_today();
    let post = enterprise_in(&app, community, "China Post Jiajiang").await;
    let sf = enterprise_in(&app, community, "SF Express Jiajiang").await;
    let never = enterprise_in(&app, community, "Meituan Station 3").await;
    visit(&app, &post.id, today - Duration::days(100), 52).await;
    visit(&app, &sf.id, today - Duration::days(3), 20).await;
    for i in 0..3 {
        app.register_worker_with(pb::RegisterWorkerRequest {
            request_id: rid(),
            name: format!("Rider {i}"),
            phone: unique_phone(),
            platform: "China Post".into(),
            enterprise_id: Some(post.id.clone()),
            community_id: Some(community.to_string()),
            ..Default::default()
        })
        .await;
    }
    let officer = app.scoped_token(GRID_OFFICER, "officer-1", &[community], &[]);
    let review = async |days: i32, page_size: i32, page_token: String| {
        app.enterprises()
            .await
            .list_ledger_reviews(with_bearer(
                pb::ListLedgerReviewsRequest {
                    community_id: community.to_string(),
                    not_visited_for_days: days,
                    page_size,
                    page_token,
                    ..Default::default()
                },
                &officer,
            ))
            .await
    };
    let stale = review(30, 1, String::new()).await.unwrap().into_inner();
    assert_eq!(
        stale.total, 2,
        "the outlet visited 100 days ago and the one never visited"
    );
    let rest = review(30, 1, stale.next_page_token.clone())
        .await
        .unwrap()
        .into_inner();
    let mut both: Vec<pb::LedgerReview> = stale.reviews.into_iter().chain(rest.reviews).collect();
    both.sort_by(|a, b| a.enterprise_name.cmp(&b.enterprise_name));
    let names: Vec<&str> = both.iter().map(|r| r.enterprise_name.as_str()).collect();
    assert_eq!(names, ["China Post Jiajiang", "Meituan Station 3"]);
    let post_review = &both[0];
    assert_eq!(
        (
            post_review.days_since_visit,
            post_review.ledger_headcount,
            post_review.registered_workers
        ),
        (Some(100), Some(52), 3)
    );
    assert_eq!(post_review.community_name, "Yingchun");
    let never_review = &both[1];
    assert_eq!(never_review.enterprise_id, never.id);
    assert_eq!(
        (
            never_review.last_visited_on.as_str(),
            never_review.days_since_visit,
            never_review.ledger_headcount
        ),
        ("", None, None)
    );
    let all = review(0, 0, String::new()).await.unwrap().into_inner();
    assert_eq!((all.total, all.reviews.len()), (3, 3));
    assert_invalid(
        review(-1, 0, String::new()).await.unwrap_err(),
        "not_visited_for_days",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_name_what_their_records_refer_to() {
    let app = TestApp::spawn().await;
    let community = app.create_community("Yingchun").await;
    let clerk = app.scoped_token(COMMUNITY_ADMIN, "clerk-1", &[community], &[]);
    let outlet = enterprise_in(&app, community, "China Post Jiajiang").await;
    let elsewhere = app.create_community("Xinchang").await;
    let far = enterprise_in(&app, elsewhere, "Yunda Muchen").await;
    let (worker, worker_token) = app.register_worker_in(Some(community), "Liu Yang").await;
    let mut ent = app.enterprises().await;
    let forum = ent
        .record_forum(with_bearer(
            pb::RecordForumRequest {
                request_id: rid(),
                forum: Some(pb::Forum {
                    title: "Q4 talk".into(),
                    held_on: "2026-10-15".into(),
                    enterprise_ids: vec![outlet.id.clone(), far.id.clone()],
                    ..Default::default()
                }),
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .forum
        .unwrap();
    ent.raise_enterprise_issue(with_bearer(
        pb::RaiseEnterpriseIssueRequest {
            request_id: rid(),
            forum_id: forum.id.clone(),
            enterprise_id: outlet.id.clone(),
            title: "Parking for riders".into(),
            ..Default::default()
        },
        &clerk,
    ))
    .await
    .unwrap();
    let issues = ent
        .list_enterprise_issues(with_bearer(
            pb::ListEnterpriseIssuesRequest {
                forum_id: forum.id.clone(),
                ..Default::default()
            },
            &clerk,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issues.issues.len(), 1);
    assert_eq!(
        issues.names.get(&outlet.id).map(String::as_str),
        Some("China Post Jiajiang")
    );
    let forums = ent
        .list_forums(with_bearer(pb::ListForumsRequest::default(), &clerk))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        forums.names.get(&outlet.id).map(String::as_str),
        Some("China Post Jiajiang")
    );
    // Names follow what the caller may read: not an enterprise of another community, and no
    // enterprise at all for a worker.
    assert!(!forums.names.contains_key(&far.id), "{:?}", forums.names);
    let as_worker = ent
        .list_forums(with_bearer(pb::ListForumsRequest::default(), &worker_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(as_worker.forums.len(), 1);
    assert!(as_worker.names.is_empty(), "{:?}", as_worker.names);

    let mut care = app.care().await;
    care.record_care_visit(with_bearer(
        pb::RecordCareVisitRequest {
            request_id: rid(),
            visit: Some(pb::CareVisit {
                worker_id: worker.to_string(),
                visited_on: "2026-02-10".into(),
                occasion: "Spring Festival".into(),
                visitor: "Community secretary".into(),
                ..Default::default()
            }),
        },
        &clerk,
    ))
    .await
    .unwrap();
    let visits = care
        .list_care_visits(with_bearer(pb::ListCareVisitsRequest::default(), &clerk))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        visits.names.get(&worker.to_string()).map(String::as_str),
        Some("Liu Yang")
    );
    let workers = app
        .organization()
        .await
        .search_workers(with_bearer(
            pb::SearchWorkersRequest {
                community_id: community.to_string(),
                ..Default::default()
            },
            &clerk,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        workers
            .names
            .get(&community.to_string())
            .map(String::as_str),
        Some("Yingchun")
    );
}
