//! `redsupply seed`: the demo county of Jiajiang (seat near 29.74 N, 103.57 E) — 9 communities of
//! Yancheng street, one grid each (a 3 × 3 block of ~1.1 km squares around the seat), the 1 + 9 + 3
//! red supply stations, 9 learning sites with 32 lecturers and the 8 trainings held (3 of them
//! legal lectures) with their attendance, a few demo workers, and (in `registry`) the organization
//! tree, enterprises, guides, contact links, forums and care of the registry, (in `desk`) the
//! expert Q&A desk with a few questions, and (in `activities`) the activities held and the year's
//! honours selection with its nominations. Every write goes through the
//! services' own use cases (so grids reach governance as events) and is idempotent: running it
//! again changes nothing.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::AppSettings;

mod activities;
mod desk;
mod learning;
mod red_stations;
mod registry;

use learning::{seed_education, seed_learning_sites};
use red_stations::seed_stations;
pub use registry::RegistryFigures;

/// The caller recorded on seeded rows (their request ids make re-runs idempotent).
pub const SEEDER: &str = "seed";

pub const SEAT: (f64, f64) = (29.74, 103.57);
/// Side of a demo grid, in degrees (~1.1 km north–south).
const CELL: f64 = 0.01;

const COMMUNITIES: [&str; 9] = [
    "Yingchun",
    "Qingyi",
    "Dongfeng",
    "Xinhua",
    "Chengzhong",
    "Nanan",
    "Beicheng",
    "Jinhe",
    "Tianfu",
];

/// Demo workers: name, phone, platform, party member.
const WORKERS: [(&str, &str, &str, bool); 6] = [
    ("Li Wei", "13800000001", "Meituan", true),
    ("Wang Fang", "13800000002", "Ele.me", false),
    ("Zhang Qiang", "13800000003", "SF Express", true),
    ("Liu Yang", "13800000004", "JD Logistics", false),
    ("Chen Jie", "13800000005", "Didi", false),
    ("Zhao Min", "13800000006", "ZTO Express", true),
];

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("organization: {0}")]
    Registry(#[from] organization::app::registry::RegistryError),
    #[error("organization: {0}")]
    Change(#[from] organization::change::ChangeError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
}

/// What the seed created (or found), for the caller to print.
#[derive(Debug)]
pub struct Seeded {
    pub communities: Vec<Uuid>,
    pub grids: Vec<Uuid>,
    pub stations: usize,
    pub learning_sites: usize,
    pub trainings: usize,
    pub workers: Vec<Uuid>,
    pub volunteers: usize,
    pub tips: usize,
    pub problems_solved: usize,
    pub registry: RegistryFigures,
    /// Experts on the Q&A desk, and the demo questions asked there.
    pub experts: usize,
    pub questions: usize,
    /// Activities held (free clinic, World Book Day, weekend class) and honours nominations.
    pub activities: usize,
    pub nominations: usize,
}

/// The south-west corner of community `i`'s grid: row-major 3 × 3, centred on the seat.
pub fn grid_corner(i: usize) -> (f64, f64) {
    let (row, col) = ((i / 3) as f64, (i % 3) as f64);
    (
        SEAT.0 - 1.5 * CELL + row * CELL,
        SEAT.1 - 1.5 * CELL + col * CELL,
    )
}

pub async fn demo_county(settings: &AppSettings) -> Result<Seeded, SeedError> {
    let org = organization::pool(&settings.common)?;
    let vault = settings
        .organization
        .vault()
        .map_err(|e| SeedError::Other(e.to_string()))?;
    let edu = education::pool(&settings.common)?;
    let sta = stations::pool(&settings.common)?;
    let township = registry::seed_township(&org).await?;
    let (communities, grids) = seed_registry(&org, township, &settings.common.county).await?;
    let stations = seed_stations(&sta, &communities).await?;
    let sites = seed_learning_sites(&edu, &communities).await?;
    let workers = seed_workers(&org, &vault, &communities).await?;
    let trainings = seed_education(&edu, &sites, &workers).await?;
    let gov = governance::pool(&settings.common)?;
    let (volunteers, tips, problems_solved) =
        seed_governance(&org, &vault, &gov, &communities).await?;
    let registry = registry::seed(&org, &vault, &communities).await?;
    let (experts, questions) = desk::seed_desk(&org, &edu, &workers).await?;
    let activities = activities::seed_activities(&edu, &sites, &communities, &workers).await?;
    let nominations = activities::seed_honours(settings, &org, &sta, &workers).await?;
    Ok(Seeded {
        activities,
        nominations,
        registry,
        experts,
        questions,
        volunteers,
        tips,
        problems_solved,
        communities,
        grids,
        stations,
        learning_sites: sites.len(),
        trainings,
        workers,
    })
}

async fn seed_registry(
    pool: &PgPool,
    township: Uuid,
    county: &kit::settings::CountySettings,
) -> Result<(Vec<Uuid>, Vec<Uuid>), SeedError> {
    let mut communities = Vec::new();
    let mut grids = Vec::new();
    for (i, name) in COMMUNITIES.iter().enumerate() {
        let community = organization::app::registry::upsert_community(
            pool,
            SEEDER,
            organization::app::registry::CommunityChange {
                id: None,
                expected_version: 0,
                request_id: Some(&format!("seed-community-{i}")),
                name: &format!("{name} Community"),
                township: "",
                township_id: Some(township),
            },
        )
        .await?;
        let (lat, lng) = grid_corner(i);
        let ring = [
            (lat, lng),
            (lat, lng + CELL),
            (lat + CELL, lng + CELL),
            (lat + CELL, lng),
        ];
        let grid = organization::app::registry::upsert_grid(
            pool,
            SEEDER,
            county,
            organization::app::registry::GridChange {
                id: None,
                expected_version: 0,
                request_id: Some(&format!("seed-grid-{i}")),
                name: &format!("{name} Grid 1"),
                community_id: Some(community.id),
                boundary: &ring,
            },
        )
        .await?;
        communities.push(community.id);
        grids.push(grid.id);
    }
    Ok((communities, grids))
}

async fn seed_workers(
    pool: &PgPool,
    vault: &organization::domain::personal::Vault,
    communities: &[Uuid],
) -> Result<Vec<Uuid>, SeedError> {
    let mut ids = Vec::new();
    for (i, (name, phone, platform, party_member)) in WORKERS.iter().enumerate() {
        let w = organization::app::registry::register_worker(
            pool,
            vault,
            SEEDER,
            &format!("seed-worker-{i}"),
            organization::store::workers::NewWorker {
                name: (*name).to_owned(),
                phone: (*phone).to_owned(),
                id_number: None,
                platform: (*platform).to_owned(),
                enterprise_id: None,
                community_id: communities.get(i % communities.len().max(1)).copied(),
                party_member: *party_member,
            },
        )
        .await?;
        ids.push(w.id);
    }
    Ok(ids)
}

pub(crate) const PLATFORMS: [&str; 5] = ["Meituan", "Ele.me", "SF Express", "JD Logistics", "Didi"];

/// A small deterministic generator: the demo county is the same on every machine.
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The "Hu Wan Jia" team this year: 300 volunteers, 52 of them appointed to the five roles, the
/// 210 tips they reported and the 331 problems they helped solve (on the spot, during 120 services).
async fn seed_governance(
    org: &PgPool,
    vault: &organization::domain::personal::Vault,
    gov: &PgPool,
    communities: &[Uuid],
) -> Result<(usize, usize, usize), SeedError> {
    let mut volunteers = Vec::with_capacity(300);
    for i in 0..300 {
        let w = organization::app::registry::register_worker(
            org,
            vault,
            SEEDER,
            &format!("seed-volunteer-{i}"),
            organization::store::workers::NewWorker {
                name: format!("Volunteer {:03}", i + 1),
                phone: format!("1390000{i:04}"),
                id_number: None,
                platform: PLATFORMS[i % PLATFORMS.len()].to_owned(),
                enterprise_id: None,
                community_id: communities.get(i % communities.len().max(1)).copied(),
                party_member: i % 7 == 0,
            },
        )
        .await?;
        governance::app::volunteers::join(gov, w.id).await?;
        volunteers.push(w.id);
    }
    for (i, v) in volunteers.iter().take(52).enumerate() {
        governance::app::volunteers::appoint(gov, *v, (i % 5 + 1) as i16, SEEDER).await?;
    }
    let mut rng = Lcg(2026);
    for i in 0..210 {
        let reporter = volunteers[(i * 7) % volunteers.len()];
        governance::app::intake::store_one(
            gov,
            &governance::store::NewTip {
                request_id: format!("seed-tip-{i}"),
                reporter_id: reporter,
                submitted_by: SEEDER.to_owned(),
                category: (i % 8 + 1) as i16,
                description: format!("Demo tip {} reported on a delivery route", i + 1),
                latitude: SEAT.0 - 1.5 * CELL + rng.unit() * 3.0 * CELL,
                longitude: SEAT.1 - 1.5 * CELL + rng.unit() * 3.0 * CELL,
                photo_urls: vec![],
                observed_at: Utc::now(),
            },
        )
        .await?;
    }
    let year_start = DateTime::parse_from_rfc3339("2026-01-05T09:00:00+08:00")
        .expect("a valid date")
        .with_timezone(&Utc);
    let mut solved = 0;
    for i in 0..120 {
        // 91 services solved 3 problems each, 29 solved 2: 331 in all.
        let problems = if i < 91 { 3 } else { 2 };
        let start = year_start + Duration::days(i as i64 * 2);
        governance::app::volunteers::record_past_service(
            gov,
            volunteers[i % 52],
            &format!("seed-service-{i}"),
            (i % 5 + 1) as i16,
            start,
            start + Duration::hours(2),
            problems,
        )
        .await?;
        solved += problems as usize;
    }
    Ok((volunteers.len(), 210, solved))
}
