//! The registry's part of the demo county: the working committee with two industry committees and
//! the 5 new party organizations (one of each formation mode, and a second standalone one), the 19
//! outlets surveyed with their census visits, 25 instructors (5 assigned to the new organizations)
//! and 12 red commissioners, 2,200 more riders of whom 145 party members report in, join an
//! organization and keep in touch with 14 workers each (2,030 workers in all), 4 quarterly forums
//! with 20 enterprise issues (18 resolved), and the Spring Festival care visits and hardship files.
//! Every write goes through organization's use cases with a fixed request id, so re-running
//! changes nothing.

use chrono::NaiveDate;
use organization::{
    app::{care, enterprise, party, registry},
    domain::personal::Vault,
    store::{self, workers::NewWorker},
};
use redsupply_proto::organization::v1::{FormationMode, OrganizationKind};
use sqlx::PgPool;
use uuid::Uuid;

use super::{PLATFORMS, SEEDER, SeedError};

/// What the registry part seeded, as the source document counts it.
#[derive(Debug, Clone, Default)]
pub struct RegistryFigures {
    pub outlets_surveyed: usize,
    pub party_organizations: usize,
    pub instructors: usize,
    pub members_in_touch: usize,
    pub workers_in_touch: usize,
    pub forums: usize,
    pub issues_resolved: usize,
}

const RIDERS: usize = 2_200;
const MEMBERS: usize = 145;
const CONTACTS_PER_MEMBER: usize = 14;

/// Outlets: name, kind (1 express outlet, 2 delivery station, 3 internet company), brand.
const OUTLETS: [(&str, i16, &str); 19] = [
    ("SF Express Jiajiang Outlet", 1, "SF Express"),
    ("ZTO Express Yancheng Outlet", 1, "ZTO Express"),
    ("YTO Express Jiajiang Outlet", 1, "YTO Express"),
    ("STO Express Jiajiang Outlet", 1, "STO Express"),
    ("Yunda Express Jiajiang Outlet", 1, "Yunda Express"),
    ("JD Logistics Jiajiang Station", 1, "JD Logistics"),
    ("China Post EMS Jiajiang", 1, "EMS"),
    ("J&T Express Jiajiang Outlet", 1, "J&T Express"),
    ("Best Express Jiajiang Outlet", 1, "Best Express"),
    ("Deppon Jiajiang Outlet", 1, "Deppon"),
    ("Cainiao Station Qingyi", 1, "Cainiao"),
    ("Meituan Jiajiang Delivery Station", 2, "Meituan"),
    ("Meituan Dongfeng Delivery Station", 2, "Meituan"),
    ("Ele.me Jiajiang Delivery Station", 2, "Ele.me"),
    ("Ele.me Xinhua Delivery Station", 2, "Ele.me"),
    ("Dada Jiajiang Delivery Station", 2, "Dada"),
    ("Flash Delivery Jiajiang Station", 2, "Shansong"),
    ("Didi Chuxing Jiajiang Service Point", 3, "Didi"),
    ("Huolala Jiajiang Service Point", 3, "Huolala"),
];

/// The 5 new party organizations: name, formation mode, the outlets (indices) they cover.
const NEW_ORGANIZATIONS: [(&str, FormationMode, &[usize]); 5] = [
    (
        "SF Express Jiajiang Party Branch",
        FormationMode::Standalone,
        &[0],
    ),
    (
        "Yancheng Street Express Joint Party Branch",
        FormationMode::RegionalJoint,
        &[1, 2, 3, 4],
    ),
    (
        "Delivery Industry Joint Party Branch",
        FormationMode::IndustryJoint,
        &[11, 12, 13, 14, 15],
    ),
    (
        "Riders' Online Party Branch",
        FormationMode::OnlineBranch,
        &[],
    ),
    (
        "JD Logistics Jiajiang Party Branch",
        FormationMode::Standalone,
        &[5],
    ),
];

const FORUMS: [(&str, &str); 4] = [
    ("Q1 joint meeting with express enterprises", "2026-03-18"),
    ("Q2 talk with delivery platforms", "2026-06-16"),
    ("Q3 joint meeting on rider safety", "2026-09-15"),
    ("Q4 talk on winter care and insurance", "2026-11-12"),
];

const ISSUES: [&str; 5] = [
    "Loan extension for outlet expansion",
    "Tax relief for small delivery stations",
    "Parking for delivery e-bikes near the market",
    "Charging points for riders' batteries",
    "Work injury insurance for part-time riders",
];

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("seed dates are valid")
}

pub async fn seed_township(pool: &PgPool) -> Result<Uuid, SeedError> {
    let t = registry::upsert_township(
        pool,
        SEEDER,
        registry::TownshipChange {
            id: None,
            expected_version: 0,
            request_id: "seed-township-yancheng",
            name: "Yancheng Street",
            kind: redsupply_proto::organization::v1::TownshipKind::Street as i16,
        },
    )
    .await?;
    Ok(t.id)
}

pub async fn seed(
    pool: &PgPool,
    vault: &Vault,
    communities: &[Uuid],
) -> Result<RegistryFigures, SeedError> {
    let community = |i: usize| communities.get(i % communities.len().max(1)).copied();

    // Enterprises, each surveyed once in the spring census and again for the headcount in autumn.
    let mut outlets = Vec::with_capacity(OUTLETS.len());
    for (i, (name, kind, brand)) in OUTLETS.iter().enumerate() {
        let e = enterprise::upsert_enterprise(
            pool,
            SEEDER,
            enterprise::EnterpriseChange {
                id: None,
                expected_version: 0,
                request_id: &format!("seed-enterprise-{i}"),
                name,
                kind: *kind,
                brand,
                community_id: community(i),
                address: &format!(
                    "{} Road No. {}",
                    ["Yingbin", "Qingyi", "Dongfeng"][i % 3],
                    10 + i
                ),
            },
        )
        .await?;
        let headcount = 40 + (i as i32 * 17) % 90;
        enterprise::record_census_visit(
            pool,
            SEEDER,
            &format!("seed-census-{i}"),
            store::enterprises::CensusVisitRow {
                enterprise_id: e.id,
                visited_on: date("2026-04-10") + chrono::Days::new(i as u64),
                visitor: "Two-New Working Committee census team".into(),
                headcount: Some(headcount),
                party_members: Some(1 + (i as i32 % 6)),
                situation: Some("Riders work in two shifts; most are 25-40 years old".into()),
                needs: Some(
                    [
                        "a place to rest and heat meals",
                        "legal aid on contracts",
                        "battery charging",
                    ][i % 3]
                        .into(),
                ),
                responsible_officer: Some(format!("Outlet manager {}", i + 1)),
                notes: String::new(),
                ..Default::default()
            },
        )
        .await?;
        outlets.push(e.id);
    }

    // The tree: working committee → 2 industry committees → the 5 new organizations.
    let committee = org(
        pool,
        "seed-org-working-committee",
        "Jiajiang County Two-New Working Committee",
        OrganizationKind::WorkingCommittee,
        None,
        FormationMode::Unspecified,
        vec![],
    )
    .await?;
    let express = org(
        pool,
        "seed-org-express",
        "Express and Delivery Industry Party Committee",
        OrganizationKind::IndustryCommittee,
        Some(committee.id),
        FormationMode::Unspecified,
        vec![],
    )
    .await?;
    org(
        pool,
        "seed-org-market",
        "Market Supervision Small-Individual-Private Party Committee",
        OrganizationKind::IndustryCommittee,
        Some(committee.id),
        FormationMode::Unspecified,
        vec![],
    )
    .await?;
    let mut new_orgs = Vec::new();
    for (i, (name, mode, covers)) in NEW_ORGANIZATIONS.iter().enumerate() {
        let o = org(
            pool,
            &format!("seed-org-new-{i}"),
            name,
            OrganizationKind::PartyOrganization,
            Some(express.id),
            *mode,
            covers.iter().map(|&k| outlets[k]).collect(),
        )
        .await?;
        new_orgs.push(o.id);
    }

    // 25 instructors (the first 5 assigned to the new organizations) and 12 red commissioners.
    for i in 0..25 {
        let organization_ids = if i < 5 { vec![new_orgs[i]] } else { vec![] };
        party::upsert_guide(
            pool,
            SEEDER,
            party::GuideChange {
                id: None,
                expected_version: 0,
                request_id: &format!("seed-instructor-{i}"),
                name: &format!("Instructor {:02}", i + 1),
                kind: store::guides::INSTRUCTOR,
                department: "County Organization Department (evergreen cadres)",
                enterprise_ids: vec![outlets[i % outlets.len()]],
                organization_ids,
            },
        )
        .await?;
    }
    for i in 0..12 {
        // One commissioner, one enterprise; every third looks after two.
        let mut covers = vec![outlets[i]];
        if i % 3 == 0 {
            covers.push(outlets[(i + 12) % outlets.len()]);
        }
        party::upsert_guide(
            pool,
            SEEDER,
            party::GuideChange {
                id: None,
                expected_version: 0,
                request_id: &format!("seed-commissioner-{i}"),
                name: &format!("Red Commissioner {:02}", i + 1),
                kind: store::guides::RED_COMMISSIONER,
                department: [
                    "Market Supervision Bureau",
                    "Transport Bureau",
                    "Human Resources Bureau",
                ][i % 3],
                enterprise_ids: covers,
                organization_ids: vec![],
            },
        )
        .await?;
    }

    // The riders: the first 145 are party members, who report in, join and keep in touch.
    let mut riders = Vec::with_capacity(RIDERS);
    for i in 0..RIDERS {
        let w = registry::register_worker(
            pool,
            vault,
            SEEDER,
            &format!("seed-rider-{i}"),
            NewWorker {
                name: format!("Rider {:04}", i + 1),
                phone: format!("1370000{i:04}"),
                id_number: None,
                platform: PLATFORMS[i % PLATFORMS.len()].to_owned(),
                enterprise_id: Some(outlets[i % outlets.len()]),
                community_id: community(i),
                party_member: i < MEMBERS,
            },
        )
        .await?;
        riders.push(w.id);
    }
    let (members, others) = riders.split_at(MEMBERS);
    for (i, member) in members.iter().enumerate() {
        let c = community(i).expect("communities were seeded");
        registry::report_in(
            pool,
            SEEDER,
            &format!("seed-report-in-{i}"),
            *member,
            c,
            "reported in at the community party-mass service centre",
        )
        .await?;
        let request = party::request_to_join(
            pool,
            SEEDER,
            &format!("seed-join-{i}"),
            *member,
            new_orgs[i % new_orgs.len()],
            "",
        )
        .await?;
        if request.status == store::joining::PENDING {
            party::decide_join_request(pool, SEEDER, request.id, true, "").await?;
        }
        let start = i * CONTACTS_PER_MEMBER;
        party::link_contacts(pool, *member, &others[start..start + CONTACTS_PER_MEMBER]).await?;
    }

    // Four quarterly forums; 20 issues raised, 18 resolved within weeks.
    let mut raised = 0;
    let mut resolved = 0;
    for (f, (title, held_on)) in FORUMS.iter().enumerate() {
        let forum = enterprise::record_forum(
            pool,
            SEEDER,
            &format!("seed-forum-{f}"),
            title,
            date(held_on),
            &outlets[..8],
        )
        .await?;
        for k in 0..5 {
            let issue = enterprise::raise_enterprise_issue(
                pool,
                SEEDER,
                &format!("seed-issue-{f}-{k}"),
                store::forums::NewIssue {
                    forum_id: forum.id,
                    enterprise_id: Some(outlets[(f * 5 + k) % outlets.len()]),
                    title: ISSUES[k],
                    description: "",
                    raised_on: None,
                },
            )
            .await?;
            raised += 1;
            // The last forum's two newest issues are still being worked on.
            let open = f == FORUMS.len() - 1 && k >= 3;
            if !open {
                if issue.status == store::forums::OPEN {
                    enterprise::resolve_enterprise_issue(
                        pool,
                        issue.id,
                        0,
                        "Resolved with the departments concerned",
                        issue.raised_on + chrono::Days::new(14 + k as u64 * 3),
                    )
                    .await?;
                }
                resolved += 1;
            }
        }
    }
    debug_assert_eq!((raised, resolved), (20, 18));

    // Spring Festival visits to 60 riders; 6 hardship files, 4 of them closed.
    for i in 0..60 {
        care::record_visit(
            pool,
            vault,
            SEEDER,
            &format!("seed-care-{i}"),
            store::care::NewCareVisit {
                worker_id: others[i * 30],
                visited_on: date("2026-02-10"),
                occasion: "Spring Festival",
                visitor: "Yancheng Street working committee",
                notes: "Brought rice, oil and a winter jacket",
            },
        )
        .await?;
    }
    for i in 0..6 {
        let file = care::open_file(
            pool,
            vault,
            SEEDER,
            &format!("seed-hardship-{i}"),
            others[i * 301],
            "Injured in a traffic accident; family income lost for two months",
        )
        .await?;
        if file.help_entries == 0 {
            care::record_help(
                pool,
                vault,
                file.id,
                0,
                store::care::Help {
                    given_on: "2026-07-01".into(),
                    kind: "hardship grant".into(),
                    description: "Trade union hardship grant".into(),
                    amount_yuan: 2_000,
                },
            )
            .await?;
            if i < 4 {
                care::close_file(pool, vault, file.id, 0, "Back at work").await?;
            }
        }
    }

    Ok(RegistryFigures {
        outlets_surveyed: outlets.len(),
        party_organizations: new_orgs.len(),
        instructors: 25,
        members_in_touch: members.len(),
        workers_in_touch: members.len() * CONTACTS_PER_MEMBER,
        forums: FORUMS.len(),
        issues_resolved: resolved,
    })
}

async fn org(
    pool: &PgPool,
    request_id: &str,
    name: &str,
    kind: OrganizationKind,
    parent: Option<Uuid>,
    mode: FormationMode,
    covers: Vec<Uuid>,
) -> Result<store::tree::OrganizationRow, SeedError> {
    Ok(party::upsert_organization(
        pool,
        SEEDER,
        party::OrganizationChange {
            id: None,
            expected_version: 0,
            request_id,
            name,
            kind,
            parent_id: parent,
            formation_mode: mode,
            community_id: None,
            enterprise_ids: covers,
            founded_on: Some(date("2026-05-20")),
        },
    )
    .await?)
}
