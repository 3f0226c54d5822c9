//! Partial updates (AIP-134) in the registry, against the real stack: an update names the fields
//! it changes in `update_mask` and every other field keeps its stored value — renaming an
//! organization keeps its community, enterprises and founding date; an enterprise or a guide keep
//! theirs the same way. An unknown or fixed field in the mask, or a mask on a create, is refused
//! naming `update_mask`; without a mask the request replaces the record whole, as before.

use kit::auth::with_bearer;
use prost_types::FieldMask;
use redsupply_proto::organization::v1::{self as pb, EnterpriseKind};
use redsupply_tests::{TestApp, assert_invalid, rid};

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_changes_only_the_fields_its_mask_names() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let community = app.create_community("Yingchun").await;
    let outlet = app
        .create_enterprise(pb::Enterprise {
            name: "SF Express Yingchun outlet".into(),
            kind: EnterpriseKind::ExpressOutlet as i32,
            brand: "SF Express".into(),
            community_id: community.to_string(),
            address: "12 Dongda Street".into(),
            ..Default::default()
        })
        .await;
    let (_, committee, branch) = app.organization_tree().await;
    let mut party = app.party().await;
    // The branch sits in the community, covers the outlet and has a founding date.
    let full = pb::Organization {
        community_id: community.to_string(),
        enterprise_ids: vec![outlet.id.clone()],
        founded_on: "2024-05-01".into(),
        ..branch.clone()
    };
    let branch = party
        .upsert_organization(with_bearer(
            pb::UpsertOrganizationRequest {
                organization: Some(full),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    // Renamed with a mask: the rest stays.
    let renamed = party
        .upsert_organization(with_bearer(
            pb::UpsertOrganizationRequest {
                organization: Some(pb::Organization {
                    id: branch.id.clone(),
                    name: "Riders' and Couriers' Online Branch".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(renamed.name, "Riders' and Couriers' Online Branch");
    assert_eq!(
        (
            renamed.community_id.as_str(),
            renamed.enterprise_ids.clone(),
            renamed.founded_on.as_str(),
            renamed.parent_id.as_str(),
            renamed.kind,
            renamed.formation_mode,
        ),
        (
            community.to_string().as_str(),
            vec![outlet.id.clone()],
            "2024-05-01",
            committee.id.as_str(),
            branch.kind,
            branch.formation_mode,
        ),
        "the fields not named keep their values"
    );
    assert_eq!(renamed.version, branch.version + 1);

    // Refused naming update_mask: a misspelt field, a field the service keeps, a masked create.
    for (paths, id) in [
        (&["nmae"][..], branch.id.clone()),
        (&["member_count"][..], branch.id.clone()),
        (&["name"][..], String::new()),
    ] {
        let err = party
            .upsert_organization(with_bearer(
                pb::UpsertOrganizationRequest {
                    organization: Some(pb::Organization {
                        id,
                        name: "x".into(),
                        ..Default::default()
                    }),
                    request_id: rid(),
                    update_mask: mask(paths),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap_err();
        assert_invalid(err, "update_mask");
    }
    // A stale version with a mask is refused as any stale update is.
    let stale = party
        .upsert_organization(with_bearer(
            pb::UpsertOrganizationRequest {
                organization: Some(pb::Organization {
                    id: branch.id.clone(),
                    name: "Again".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
                expected_version: branch.version,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted);

    // An enterprise's address changes alone; its brand and community stay.
    let moved = app
        .enterprises()
        .await
        .upsert_enterprise(with_bearer(
            pb::UpsertEnterpriseRequest {
                enterprise: Some(pb::Enterprise {
                    id: outlet.id.clone(),
                    address: "3 Yingchun Road".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["address"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .enterprise
        .unwrap();
    assert_eq!(
        (
            moved.address.as_str(),
            moved.name.as_str(),
            moved.brand.as_str(),
            moved.community_id.as_str()
        ),
        (
            "3 Yingchun Road",
            "SF Express Yingchun outlet",
            "SF Express",
            community.to_string().as_str()
        )
    );

    // A guide's department changes alone; the enterprises they guide stay.
    let guide = party
        .upsert_guide(with_bearer(
            pb::UpsertGuideRequest {
                guide: Some(pb::Guide {
                    name: "Wang Min".into(),
                    kind: pb::GuideKind::RedCommissioner as i32,
                    department: "Market supervision".into(),
                    enterprise_ids: vec![outlet.id.clone()],
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
        .guide
        .unwrap();
    let moved = party
        .upsert_guide(with_bearer(
            pb::UpsertGuideRequest {
                guide: Some(pb::Guide {
                    id: guide.id.clone(),
                    department: "County federation of trade unions".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["department"]),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .guide
        .unwrap();
    assert_eq!(moved.department, "County federation of trade unions");
    assert_eq!(
        (moved.name, moved.enterprise_ids),
        (guide.name, guide.enterprise_ids)
    );

    // Without a mask the request is the whole record, as before.
    let replaced = party
        .upsert_guide(with_bearer(
            pb::UpsertGuideRequest {
                guide: Some(pb::Guide {
                    id: guide.id.clone(),
                    name: "Wang Min".into(),
                    kind: pb::GuideKind::RedCommissioner as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .guide
        .unwrap();
    assert!(replaced.enterprise_ids.is_empty() && replaced.department.is_empty());
}
