//! The demo county's education: a learning site per community, 32 lecturers of 7 departments, 7
//! courses and the 8 trainings held this year with their attendance, the 3 legal lectures of them
//! in the departments' series "法润新业态群体", all through education's own use cases with fixed
//! request ids.

use chrono::{DateTime, Duration, Utc};
use redsupply_proto::education::v1::{CourseFormat, CourseTheme};
use sqlx::PgPool;
use uuid::Uuid;

use super::{COMMUNITIES, SEEDER, SeedError};

pub(super) async fn seed_learning_sites(
    pool: &PgPool,
    communities: &[Uuid],
) -> Result<Vec<Uuid>, SeedError> {
    let mut sites = Vec::new();
    for (i, (name, community)) in COMMUNITIES.iter().zip(communities).enumerate() {
        let site = education::app::sites::create_site(
            pool,
            SEEDER,
            &format!("seed-site-{i}"),
            &education::store::NewSite {
                name: &format!("{name} Xiao Ge Xue Ba"),
                community_id: Some(*community),
                address: &format!("{name} Community Party-Mass Service Centre"),
                capacity: 30,
            },
        )
        .await?;
        sites.push(site.id);
    }
    Ok(sites)
}

const DEPARTMENTS: [(&str, &[&str]); 7] = [
    ("party_school", &["political_theory", "party_history"]),
    ("market_supervision", &["food_safety", "consumer_rights"]),
    ("police", &["traffic_safety", "anti_fraud"]),
    (
        "human_resources_social_security",
        &["labour_law", "social_insurance"],
    ),
    ("justice_bureau", &["legal_aid", "mediation"]),
    ("womens_federation", &["womens_rights", "family"]),
    ("trade_union", &["labour_arbitration", "work_safety"]),
];

/// Courses of the demo county: title, format, theme.
const COURSES: [(&str, CourseFormat, CourseTheme); 7] = [
    (
        "Party history in ten minutes",
        CourseFormat::MicroClass,
        CourseTheme::PoliticalTheory,
    ),
    (
        "New employment policies explained",
        CourseFormat::RestBreakTalk,
        CourseTheme::Policy,
    ),
    (
        "Riding safely in the rain",
        CourseFormat::MicroClass,
        CourseTheme::TrafficSafety,
    ),
    (
        "Work injury protection",
        CourseFormat::RestBreakTalk,
        CourseTheme::WorkSafety,
    ),
    (
        "Legal aid for delivery workers",
        CourseFormat::ThematicLecture,
        CourseTheme::LegalAid,
    ),
    (
        "Labour arbitration: claiming unpaid wages",
        CourseFormat::ThematicLecture,
        CourseTheme::LabourArbitration,
    ),
    (
        "Women's rights at work",
        CourseFormat::ThematicLecture,
        CourseTheme::WomensRights,
    ),
];

/// The 8 trainings held (3 of them legal lectures): course index of each.
const HELD: [usize; 8] = [0, 1, 2, 3, 4, 5, 6, 0];

/// The courses of the themed lecture series (legal aid, labour arbitration, women's rights).
const SERIES_COURSES: [usize; 3] = [4, 5, 6];

/// The departments' themed lecture series of 2026, which the 3 legal lectures belong to.
pub(super) const LEGAL_SERIES: &str = "法润新业态群体";

/// 32 lecturers, 7 courses, the 8 trainings already held with their attendance.
pub(super) async fn seed_education(
    pool: &PgPool,
    sites: &[Uuid],
    workers: &[Uuid],
) -> Result<usize, SeedError> {
    let mut lecturers = Vec::new();
    for i in 0..32 {
        let (department, tags) = DEPARTMENTS[i % DEPARTMENTS.len()];
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        let l = education::app::catalog::add_lecturer(
            pool,
            SEEDER,
            &format!("seed-lecturer-{i}"),
            &format!("Guest Lecturer {:02}", i + 1),
            department,
            &tags,
        )
        .await?;
        lecturers.push(l.id);
    }
    let mut courses = Vec::new();
    for (i, (title, format, theme)) in COURSES.iter().enumerate() {
        let c = education::app::catalog::add_course(
            pool,
            SEEDER,
            &format!("seed-course-{i}"),
            &education::store::NewCourse {
                title,
                format: *format as i16,
                theme: *theme as i16,
                duration_minutes: education::domain::default_duration_minutes(*format),
                description: "",
            },
        )
        .await?;
        courses.push(c.id);
    }
    let departments: Vec<String> = [
        "justice_bureau",
        "human_resources_social_security",
        "womens_federation",
    ]
    .iter()
    .map(|d| (*d).to_owned())
    .collect();
    let series = education::app::activities::create_series(
        pool,
        SEEDER,
        "seed-series-0",
        &education::store::NewSeries {
            title: LEGAL_SERIES,
            theme: CourseTheme::LegalAid as i16,
            departments: &departments,
            year: 2026,
        },
    )
    .await?;
    let first = DateTime::parse_from_rfc3339("2026-03-07T14:00:00+08:00")
        .expect("a valid date")
        .with_timezone(&Utc);
    for (i, course) in HELD.iter().enumerate() {
        let starts_at = first + Duration::weeks(i as i64);
        let session = education::app::sessions::schedule(
            pool,
            SEEDER,
            &format!("seed-session-{i}"),
            &education::app::sessions::Booking {
                course_id: courses[*course],
                site_id: sites[i % sites.len()],
                lecturer_id: lecturers[i],
                starts_at,
                ends_at: None,
                capacity: 0,
                series_id: SERIES_COURSES.contains(course).then_some(series.id),
            },
        )
        .await
        .map_err(|e| SeedError::Other(e.to_string()))?;
        // Four of the six demo workers at each training, in turn.
        let attended: Vec<Uuid> = workers
            .iter()
            .enumerate()
            .filter(|(k, _)| (k + i) % 6 < 4)
            .map(|(_, w)| *w)
            .collect();
        education::app::sessions::record_past_attendance(
            pool,
            &session,
            &attended,
            starts_at + Duration::minutes(1),
        )
        .await?;
    }
    Ok(HELD.len())
}
