//! The demo county that `redsupply seed` loads: idempotent, and usable through the APIs — nearest
//! stations around Jiajiang's seat, learning sites, and a tip at the seat routed to its grid.

use kit::auth::with_bearer;
use redsupply::{
    ServiceName,
    seed::{self, SEAT},
};
use redsupply_proto::{
    common::v1::LatLng,
    education::v1::{
        self as edu_pb, ActivityKind, ListLearningSitesRequest,
        activity_service_client::ActivityServiceClient,
        education_service_client::EducationServiceClient,
    },
    organization::v1::{self as desk_pb, GetOrganizationStatsRequest},
    stations::v1::{self as st_pb, Amenity, FindNearestStationsRequest, StationTier},
};
use redsupply_tests::{TestApp, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_county_is_seeded_once_and_served() {
    let app = TestApp::spawn().await;
    let first = seed::demo_county(&app.settings).await.unwrap();
    let again = seed::demo_county(&app.settings).await.unwrap();
    assert_eq!(first.grids, again.grids, "seeding twice changes nothing");
    assert_eq!(first.workers, again.workers);
    assert_eq!((first.communities.len(), first.grids.len()), (9, 9));
    assert_eq!(first.stations, 13, "1 + 9 + 3 stations");

    let stations = app.count("SELECT count(*) FROM stations.stations").await;
    assert_eq!(stations, 13);
    app.await_count(
        "governance to learn all 9 grids",
        "SELECT count(*) FROM governance.grids",
        9,
    )
    .await;

    let token = app.token(
        redsupply_proto::roles::WORKER,
        &first.workers[0].to_string(),
    );
    let seat = LatLng {
        latitude: SEAT.0,
        longitude: SEAT.1,
    };
    let stations_client = app.stations().await;
    let near = eventually("the stations to be searchable", || {
        let mut c = stations_client.clone();
        let token = token.clone();
        async move {
            let found = c
                .find_nearest_stations(with_bearer(
                    FindNearestStationsRequest {
                        location: Some(seat),
                        amenity: Amenity::Unspecified as i32,
                        limit: 5,
                        open_now: false,
                    },
                    &token,
                ))
                .await
                .ok()?
                .into_inner()
                .stations;
            (found.len() == 5).then_some(found)
        }
    })
    .await;
    assert_eq!(near.len(), 5);
    let main = near[0].station.as_ref().unwrap();
    assert_eq!(main.tier(), StationTier::Main);
    assert!(near[0].distance_meters < 1.0);
    assert!(
        near.windows(2)
            .all(|w| w[0].distance_meters <= w[1].distance_meters),
        "nearest first"
    );
    // 15 km/h (minutes = meters / 250), but 8 km/h in the ceramics market's crowded lanes.
    for n in &near {
        let slow = n
            .station
            .as_ref()
            .unwrap()
            .name
            .starts_with("Ceramics Market");
        let kmh = if slow { 8.0 } else { 15.0 };
        assert_eq!(n.riding_speed_kmh, kmh);
        assert!((n.travel_minutes - n.distance_meters * 60.0 / (kmh * 1000.0)).abs() < 1e-6);
    }

    let legal_aid = app
        .stations()
        .await
        .find_nearest_stations(with_bearer(
            FindNearestStationsRequest {
                location: Some(seat),
                amenity: Amenity::MediationLegalAid as i32,
                limit: 5,
                open_now: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .stations;
    assert!(!legal_aid.is_empty());
    assert!(legal_aid.iter().all(|n| {
        n.station
            .as_ref()
            .unwrap()
            .amenities
            .contains(&(Amenity::MediationLegalAid as i32))
    }));
    assert!(legal_aid.len() < near.len());

    let channel = tonic::transport::Endpoint::from_shared(format!(
        "http://{}",
        app.addr(redsupply::ServiceName::Education)
    ))
    .unwrap()
    .connect()
    .await
    .unwrap();
    let sites = EducationServiceClient::new(channel)
        .list_learning_sites(with_bearer(ListLearningSitesRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .sites;
    assert_eq!(sites.len(), 9, "nine learning sites");

    // The registry's headline figures, counted from the data by the API.
    let stats = app
        .organization()
        .await
        .get_organization_stats(with_bearer(
            GetOrganizationStatsRequest::default(),
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.enterprises_surveyed, 19, "19 outlets surveyed");
    assert_eq!(stats.party_organizations, 5, "5 new party organizations");
    assert_eq!(stats.instructors, 25, "25 instructors");
    assert_eq!(
        stats.instructors_assigned_to_organizations, 5,
        "5 instructors assigned"
    );
    assert_eq!(stats.members_in_touch, 145, "145 members in touch");
    assert!(stats.workers_in_touch >= 2_000, "with 2,000+ workers");
    assert_eq!(stats.forums, 4, "4 forums");
    assert_eq!(stats.enterprise_issues_resolved, 18, "18 issues resolved");
    assert_eq!(stats.communities, 9);
    assert_eq!(stats.townships, 1);
    assert_eq!(
        stats.organizations_by_formation_mode.len(),
        4,
        "every formation mode"
    );
    // The Q4 forum of the demo falls in the fourth quarter's figures.
    let q4 = app
        .organization()
        .await
        .get_organization_stats(with_bearer(
            GetOrganizationStatsRequest {
                period: "2026-Q4".into(),
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .period
        .unwrap();
    assert_eq!(q4.forums_held, 1, "{q4:?}");
    // Each outlet's ledger beside the registry: China Post's ledger counts 52 riders, fewer
    // than the workers registered with it.
    let reviews = app
        .enterprises()
        .await
        .list_ledger_reviews(with_bearer(
            redsupply_proto::organization::v1::ListLedgerReviewsRequest {
                page_size: 50,
                ..Default::default()
            },
            &app.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reviews.total, 19);
    let post = reviews
        .reviews
        .iter()
        .find(|r| r.enterprise_name == "China Post EMS Jiajiang")
        .expect("China Post's ledger");
    assert_eq!(post.ledger_headcount, Some(52));
    assert!(post.registered_workers > 52, "{post:?}");
    assert_eq!(
        (
            first.registry.outlets_surveyed,
            first.registry.members_in_touch,
            first.registry.issues_resolved
        ),
        (19, 145, 18)
    );

    // The Q&A desk: the 25 instructors entered it, with lecturers of the pool; the demo questions
    // come back with their figures, and the FAQ answers a search.
    let mut desk = app.desk().await;
    let admin = app.admin_token();
    let experts = desk
        .list_experts(with_bearer(
            desk_pb::ListExpertsRequest {
                page_size: 100,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .experts;
    let instructors = experts.iter().filter(|e| !e.guide_id.is_empty()).count();
    assert_eq!(instructors, 25, "25 instructors on the Q&A desk");
    assert_eq!(experts.len(), first.experts);
    assert!(experts.len() > 25, "lecturers answer too");
    let figures = desk
        .get_desk_stats(with_bearer(desk_pb::GetDeskStatsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(figures.questions as usize, first.questions, "{figures:?}");
    assert_eq!(
        (figures.questions, figures.answered, figures.rated_helpful),
        (6, 5, 3)
    );
    assert_eq!(figures.faq_entries, 2);
    assert_eq!(figures.by_topic.len(), 6, "every topic asked about once");
    // Four of the five answers came within 48 hours; the sixth question is overdue.
    assert!(
        (figures.answered_within_deadline - 4.0 / 6.0).abs() < 1e-9,
        "{figures:?}"
    );
    assert!(figures.median_minutes_to_first_answer > 0.0);
    let pension = desk
        .search_faq(with_bearer(
            desk_pb::SearchFaqRequest {
                query: "pension".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(pension.len(), 1, "{pension:?}");

    // Activities: the series of 3 legal lectures counted from its sessions, and the activities
    // held with their attendance.
    let mut activities = ActivityServiceClient::new(app.channel(ServiceName::Education).await);
    let series = activities
        .list_lecture_series(with_bearer(
            edu_pb::ListLectureSeriesRequest {
                year: 2026,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .series;
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0].title, "法润新业态群体");
    assert_eq!(series[0].sessions_held, 3, "3 legal lectures this year");
    assert!(series[0].attendances > 0);
    let held = activities
        .get_activity_stats(with_bearer(
            edu_pb::GetActivityStatsRequest::default(),
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.activities as usize, first.activities);
    let kinds: Vec<ActivityKind> = held.by_kind.iter().map(|k| k.kind()).collect();
    for kind in [
        ActivityKind::FreeClinic,
        ActivityKind::BookGiveaway,
        ActivityKind::WeekendClass,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} held: {held:?}");
    }
    assert_eq!(held.attendances, 4 + 3 + 5);

    // Honours: the year's selection with its nominations, one awarded and on the worker's record.
    let mut honours = app.honours().await;
    let selections = honours
        .list_selections(with_bearer(st_pb::ListSelectionsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .selections;
    assert_eq!(selections.len(), 1, "{selections:?}");
    assert_eq!(selections[0].period, "2026");
    assert_eq!(
        (selections[0].nominations as usize, selections[0].awards),
        (first.nominations, 1)
    );
    let nominations = honours
        .list_nominations(with_bearer(
            st_pb::ListNominationsRequest {
                selection_id: selections[0].id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .nominations;
    let awarded: Vec<_> = nominations
        .iter()
        .filter(|n| n.status() == st_pb::NominationStatus::Awarded)
        .collect();
    assert_eq!(awarded.len(), 1, "{nominations:?}");
    assert_eq!(
        awarded[0].category(),
        st_pb::HonourCategory::JiajiangGoodPerson
    );
    let on_record = honours
        .list_worker_honours(with_bearer(
            st_pb::ListWorkerHonoursRequest {
                worker_id: awarded[0].worker_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .honours;
    assert_eq!(on_record.len(), 1);
    assert_eq!(on_record[0].points_awarded, 100);
}
