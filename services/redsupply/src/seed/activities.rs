//! The demo county's community activities and honours: a free clinic (义诊) of the health
//! commission, a red-book giveaway on World Book Day and a weekend class, held with the demo
//! workers' attendance; and the 2026 selection of 最美骑手, 最美快递员 and 夹江好人 with three
//! nominations, one shortlisted and one awarded. Each through its service's use cases with fixed
//! request ids, so a second run changes nothing.

use chrono::{DateTime, Duration, Utc};
use redsupply_proto::{education::v1::ActivityKind, stations::v1::HonourCategory};
use sqlx::PgPool;
use uuid::Uuid;

use super::{SEEDER, SeedError};
use crate::AppSettings;

fn at(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(local)
        .expect("a valid time")
        .with_timezone(&Utc)
}

/// Activity kind, title, starts (county time), hours, the site index (or none: an address), the
/// organizing department (or none: the site's community), capacity, and how many demo workers came.
type Held = (
    ActivityKind,
    &'static str,
    &'static str,
    i64,
    Option<usize>,
    &'static str,
    i32,
    usize,
);

const HELD: [Held; 3] = [
    (
        ActivityKind::BookGiveaway,
        "World Book Day: red books for riders",
        "2026-04-23T10:00:00+08:00",
        2,
        Some(1),
        "",
        30,
        4,
    ),
    (
        ActivityKind::WeekendClass,
        "Weekend class: first aid on the road",
        "2026-05-16T14:00:00+08:00",
        2,
        Some(0),
        "",
        30,
        3,
    ),
    (
        ActivityKind::FreeClinic,
        "Free clinic for delivery riders and couriers",
        "2026-06-06T09:00:00+08:00",
        3,
        None,
        "health_commission",
        100,
        5,
    ),
];

/// The activities held, with their attendance; returns how many.
pub(super) async fn seed_activities(
    pool: &PgPool,
    sites: &[Uuid],
    communities: &[Uuid],
    workers: &[Uuid],
) -> Result<usize, SeedError> {
    for (i, (kind, title, starts, hours, site, department, capacity, came)) in
        HELD.iter().enumerate()
    {
        let starts_at = at(starts);
        // A site's activity is its community's (sites and communities share their order).
        let organizer = site
            .filter(|_| department.is_empty())
            .and_then(|s| communities.get(s).copied());
        let site = site.and_then(|s| sites.get(s).copied());
        let activity = education::app::activities::create_activity(
            pool,
            SEEDER,
            &format!("seed-activity-{i}"),
            education::store::NewActivity {
                kind: *kind as i16,
                title,
                description: "",
                organizer_community_id: organizer,
                organizer_department: department,
                site_id: site,
                station_id: None,
                address: if site.is_none() {
                    "Yingchun Community Square, Jiajiang"
                } else {
                    ""
                },
                community_id: organizer,
                starts_at,
                ends_at: starts_at + Duration::hours(*hours),
                capacity: *capacity,
                series_id: None,
            },
        )
        .await
        .map_err(|e| SeedError::Other(e.to_string()))?;
        let attended: Vec<Uuid> = workers.iter().take(*came).copied().collect();
        education::app::activities::record_past_attendance(
            pool,
            activity.id,
            &attended,
            starts_at + Duration::minutes(5),
        )
        .await
        .map_err(|e| SeedError::Other(e.to_string()))?;
    }
    Ok(HELD.len())
}

/// Nominee (demo worker index), category, reason, and how far the county's review went.
const NOMINEES: [(usize, HonourCategory, &str, Review); 3] = [
    (
        0,
        HonourCategory::BestRider,
        "Reported 14 hazards on his routes this year, every one confirmed; volunteers on Hu Wan Jia patrols",
        Review::Shortlisted,
    ),
    (
        2,
        HonourCategory::BestCourier,
        "Put forward by the SF Express outlet: no complaint in a year, trains new couriers",
        Review::None,
    ),
    (
        5,
        HonourCategory::JiajiangGoodPerson,
        "Carried an injured pedestrian to hospital and stayed until the family came",
        Review::Awarded,
    ),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Review {
    None,
    Shortlisted,
    Awarded,
}

/// The 2026 selection with its nominations; returns how many nominations.
pub(super) async fn seed_honours(
    settings: &AppSettings,
    org: &PgPool,
    sta: &PgPool,
    workers: &[Uuid],
) -> Result<usize, SeedError> {
    use stations::{
        app::honours::{self, HonoursError},
        domain::honours::{Decision, Period},
    };
    let other = |e: HonoursError| SeedError::Other(e.to_string());
    let clock = settings
        .stations
        .clock()
        .map_err(|e| SeedError::Other(e.to_string()))?;
    let rules = stations::app::awards::Rules {
        points: settings.stations.points.clone(),
        clock,
    };
    let selection = honours::open_selection(
        sta,
        &clock,
        &honours::OpenSelection {
            request_id: "seed-selection-2026",
            title: "2026年度最美骑手、最美快递员、夹江好人评选",
            period: Period::parse("2026").expect("a period"),
            categories: vec![1, 2, 3],
            places: 3,
            award_points: 100,
            by: SEEDER,
        },
    )
    .await
    .map_err(other)?;
    let mut made = 0;
    for (i, (worker, category, reason, review)) in NOMINEES.iter().enumerate() {
        let Some(&worker) = workers.get(*worker) else {
            continue;
        };
        registry_told_stations(org, sta, worker).await?;
        let (nomination, _) = honours::nominate(
            sta,
            &honours::Nominate {
                request_id: &format!("seed-nomination-{i}"),
                selection: selection.id,
                category: *category as i16,
                worker,
                enterprise: None,
                reason,
                by: SEEDER,
                scope: None,
            },
        )
        .await
        .map_err(other)?;
        made += 1;
        let steps: &[(Decision, &str)] = match review {
            Review::None => &[],
            Review::Shortlisted => &[(Decision::Shortlist, "The committees' first round")],
            Review::Awarded => &[
                (Decision::Shortlist, "The committees' first round"),
                (
                    Decision::Award,
                    "Chosen by the working committee, the market supervision committee and the union",
                ),
            ],
        };
        // A second run finds the nomination past its steps (in a selection perhaps closed since).
        let past = match nomination.status {
            1 => 0,
            2 => 1,
            _ => 2,
        };
        for (decision, why) in steps.iter().skip(past) {
            let done = honours::review(
                sta,
                &rules,
                &honours::Review {
                    nomination: nomination.id,
                    decision: *decision,
                    reason: why,
                    expected_version: 0,
                    by: SEEDER,
                },
            )
            .await;
            done.map_err(other)?;
        }
    }
    Ok(made)
}

/// Stations learns the registry's workers from its events once the services run; the seed runs
/// before them, so it applies the worker's registration to stations' read model as its consumer
/// would (the event, arriving later, is then not newer and changes nothing).
async fn registry_told_stations(org: &PgPool, sta: &PgPool, worker: Uuid) -> Result<(), SeedError> {
    let (community, platform, enterprise, version): (Option<Uuid>, String, Option<Uuid>, i64) =
        sqlx::query_as(
            "SELECT community_id, platform, enterprise_id, version FROM workers WHERE id = $1",
        )
        .bind(worker)
        .fetch_one(org)
        .await?;
    let state = kit::bus::registry::WorkerState {
        id: worker,
        community,
        platform,
        enterprise,
        deleted: false,
        version,
    };
    let mut conn = sta.acquire().await?;
    stations::store::apply_worker(&mut conn, &state).await?;
    Ok(())
}
