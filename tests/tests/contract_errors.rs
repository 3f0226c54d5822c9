//! Each contract error a client can meet: INVALID_ARGUMENT naming the field, UNAUTHENTICATED for a
//! missing, expired or forged token, PERMISSION_DENIED for a role that may not call, NOT_FOUND for
//! an unknown id — and nothing already accepted is lost by a refused call.

use kit::{auth::with_bearer, settings::Secret};
use redsupply::ServiceName;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{GetCaseRequest, GetTipRequest, SubmitTipRequest, TipCategory},
    organization::v1::{GetWorkerRequest, Grid, UpsertGridRequest},
    roles,
};
use redsupply_tests::{TestApp, field_violations as fields};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_naming_each_field() {
    let app = TestApp::spawn().await;
    let (worker, token) = app.register_worker("Li Wei").await;
    let mut gov = app.governance().await;
    let err = gov
        .submit_tip(with_bearer(
            SubmitTipRequest {
                request_id: String::new(),
                reporter_id: worker.to_string(),
                category: TipCategory::Unspecified as i32,
                description: "   ".into(),
                location: Some(LatLng {
                    latitude: 123.0,
                    longitude: f64::NAN,
                }),
                photo_urls: vec!["file:///etc/passwd".into()],
                observed_at: None,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let named = fields(&err);
    for f in [
        "request_id",
        "category",
        "description",
        "location.latitude",
        "location.longitude",
        "photo_urls[0]",
    ] {
        assert!(named.iter().any(|n| n == f), "{f} missing from {named:?}");
    }

    let err = app
        .organization()
        .await
        .upsert_grid(with_bearer(
            UpsertGridRequest {
                grid: Some(Grid {
                    name: "Bow tie".into(),
                    boundary: [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]
                        .map(|(latitude, longitude)| LatLng {
                            latitude,
                            longitude,
                        })
                        .to_vec(),
                    ..Default::default()
                }),
                request_id: "g".into(),
                expected_version: 0,
                update_mask: None,
            },
            &app.admin_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["grid.boundary"]);
    assert!(
        err.message().contains("intersects itself"),
        "{}",
        err.message()
    );

    let err = gov
        .get_case(with_bearer(
            GetCaseRequest { id: "nope".into() },
            &app.admin_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["id".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_expired_and_forged_tokens_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let mut gov = app.governance().await;
    let req = || GetCaseRequest {
        id: Uuid::now_v7().to_string(),
    };

    let missing = gov.get_case(tonic::Request::new(req())).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);

    let expired = app
        .auth
        .issue_expired("someone", &[roles::COUNTY_ADMIN], 3_600)
        .unwrap();
    let err = gov
        .get_case(with_bearer(req(), &expired))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("expired"), "{}", err.message());

    let mut other = app.settings.common.auth.clone();
    other.hs256_key = Secret::new("not-the-county-key");
    let forger = kit::auth::Authenticator::from_settings(&other).unwrap();
    let forged = forger
        .issue("mallory", &[roles::COUNTY_ADMIN], None)
        .unwrap();
    let err = gov.get_case(with_bearer(req(), &forged)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let err = gov
        .get_case(with_bearer(req(), "not.a.jwt"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Health stays open to probes without a token.
    let status = app
        .health(ServiceName::Governance)
        .await
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner()
        .status();
    assert_eq!(status, ServingStatus::Serving);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_may_not_call_is_denied() {
    let app = TestApp::spawn().await;
    let community = app.create_community("Yingchun").await;
    let (worker, token) = app.register_worker_in(Some(community), "Wang Fang").await;
    let (other, _) = app.register_worker("Zhang Qiang").await;

    // A worker may not draw grids.
    let err = app
        .organization()
        .await
        .upsert_grid(with_bearer(UpsertGridRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // A worker reports only as themselves, and reads only their own record.
    let err = app
        .try_submit_tip(
            SubmitTipRequest {
                request_id: "x".into(),
                reporter_id: other.to_string(),
                category: TipCategory::Traffic as i32,
                description: "d".into(),
                location: Some(LatLng {
                    latitude: 29.7,
                    longitude: 103.5,
                }),
                ..Default::default()
            },
            &token,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app.try_worker_as(other, &token).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let me = app.worker_as(worker, &token).await;
    assert!(
        me.phone.len() == 11 && me.phone.chars().all(|c| c.is_ascii_digit()),
        "a worker sees their own phone, unmasked: {}",
        me.phone
    );

    // A grid officer of the worker's community sees the record, with the phone masked.
    let officer = app.scoped_token(roles::GRID_OFFICER, "officer-1", &[community], &[]);
    let seen = app.worker_as(worker, &officer).await;
    assert_eq!(
        seen.phone,
        format!("{}****{}", &me.phone[..3], &me.phone[7..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let unknown = Uuid::now_v7().to_string();
    let err = app
        .governance()
        .await
        .get_case(with_bearer(
            GetCaseRequest {
                id: unknown.clone(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .governance()
        .await
        .get_tip(with_bearer(
            GetTipRequest {
                id: unknown.clone(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .organization()
        .await
        .get_worker(with_bearer(GetWorkerRequest { id: unknown }, &admin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_in_text_is_a_field_error_never_internal() {
    let app = TestApp::spawn().await;
    let (worker, token) = app.register_worker("Li Wei").await;
    let admin = app.admin_token();
    // A tip is checked before it joins a group commit: its NUL cannot fail anyone else's tip.
    let err = app
        .try_submit_tip(
            SubmitTipRequest {
                request_id: "nul\0id".into(),
                reporter_id: worker.to_string(),
                category: TipCategory::Traffic as i32,
                description: "Broken\0light".into(),
                location: Some(LatLng {
                    latitude: 29.74,
                    longitude: 103.57,
                }),
                ..Default::default()
            },
            &token,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let mut named = fields(&err);
    named.sort();
    assert_eq!(
        named,
        vec!["description".to_owned(), "request_id".to_owned()]
    );

    // Names go through the shared text check and name their field.
    let err = app
        .organization()
        .await
        .upsert_community(with_bearer(
            redsupply_proto::organization::v1::UpsertCommunityRequest {
                community: Some(redsupply_proto::organization::v1::Community {
                    name: "Ying\0chun".into(),
                    ..Default::default()
                }),
                request_id: Uuid::now_v7().to_string(),
                expected_version: 0,
                update_mask: None,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(fields(&err), vec!["community.name".to_owned()]);

    // A text field no check covers yet still answers INVALID_ARGUMENT (the store's refusal is
    // classified as the caller's input), not INTERNAL.
    let err = app
        .education()
        .await
        .create_learning_site(with_bearer(
            redsupply_proto::education::v1::CreateLearningSiteRequest {
                request_id: Uuid::now_v7().to_string(),
                name: "Xiao Ge Xue Ba".into(),
                address: "Community\0centre".into(),
                capacity: 30,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
}
