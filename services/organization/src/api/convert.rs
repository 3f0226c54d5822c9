//! Rows into protobuf: what the RPCs answer with. (A worker's record, whose numbers are opened
//! or masked by the caller's scope, is shown by `scope.rs`; care's texts, opened by the vault, by
//! `care.rs`.)

use chrono::NaiveDate;
use kit::time::to_timestamp;
use redsupply_proto::{common::v1::LatLng, organization::v1 as pb};
use uuid::Uuid;

use crate::{
    domain,
    events::publish,
    store::{
        access_log::AccessRow,
        contacts::{Coverage, LinkRow},
        enterprises::{CensusVisitRow, EnterpriseRow},
        forums::{ForumRow, IssueRow},
        geography::{CommunityRow, GridRow, TownshipRow},
        guides::GuideRow,
        joining::JoinRequestRow,
        membership::SpellRow,
        revisions::{CENSUS_VISIT, ENTERPRISE_ISSUE, FORUM, RevisionRow},
        stats::Stats,
        tree::OrganizationRow,
        workers::ReportInRow,
    },
};

pub(super) fn grid_to_pb(g: GridRow) -> pb::Grid {
    pb::Grid {
        id: g.id.to_string(),
        name: g.name,
        community_id: g.community_id.map(|u| u.to_string()).unwrap_or_default(),
        boundary: g
            .boundary
            .0
            .into_iter()
            .map(|(latitude, longitude)| LatLng {
                latitude,
                longitude,
            })
            .collect(),
        version: g.version,
        updated_at: Some(to_timestamp(g.updated_at)),
        deleted_at: g.deleted_at.map(to_timestamp),
    }
}

pub(super) fn community_to_pb(c: CommunityRow) -> pb::Community {
    pb::Community {
        id: c.id.to_string(),
        name: c.name,
        township: c.township,
        version: c.version,
        township_id: c.township_id.map(|u| u.to_string()).unwrap_or_default(),
    }
}

pub(super) fn township_to_pb(t: TownshipRow) -> pb::Township {
    pb::Township {
        id: t.id.to_string(),
        name: t.name,
        kind: i32::from(t.kind),
        version: t.version,
    }
}

pub(super) fn report_in_to_pb(r: ReportInRow) -> pb::ReportIn {
    pb::ReportIn {
        id: r.id.to_string(),
        worker_id: r.worker_id.to_string(),
        community_id: r.community_id.to_string(),
        reported_at: Some(to_timestamp(r.reported_at)),
        note: r.note,
    }
}

fn ids(v: &[Uuid]) -> Vec<String> {
    v.iter().map(|u| u.to_string()).collect()
}

fn opt(v: Option<Uuid>) -> String {
    v.map(|u| u.to_string()).unwrap_or_default()
}

pub(super) fn organization_to_pb(o: OrganizationRow) -> pb::Organization {
    pb::Organization {
        id: o.id.to_string(),
        name: o.name,
        kind: i32::from(o.kind),
        parent_id: opt(o.parent_id),
        formation_mode: i32::from(o.formation_mode),
        community_id: opt(o.community_id),
        enterprise_ids: ids(&o.enterprise_ids),
        founded_on: o.founded_on.map(|d| d.to_string()).unwrap_or_default(),
        version: o.version,
        updated_at: Some(to_timestamp(o.updated_at)),
        deleted_at: o.deleted_at.map(to_timestamp),
        member_count: i32::try_from(o.member_count).unwrap_or(i32::MAX),
    }
}

pub(super) fn join_request_to_pb(j: JoinRequestRow) -> pb::JoinRequest {
    pb::JoinRequest {
        id: j.id.to_string(),
        worker_id: j.worker_id.to_string(),
        organization_id: j.organization_id.to_string(),
        status: i32::from(j.status),
        note: j.note,
        requested_at: Some(to_timestamp(j.requested_at)),
        decided_by: j.decided_by.unwrap_or_default(),
        decided_at: j.decided_at.map(to_timestamp),
        reason: j.reason,
        version: j.version,
    }
}

pub(super) fn spell_to_pb(m: SpellRow) -> pb::MembershipSpell {
    pb::MembershipSpell {
        id: m.id.to_string(),
        worker_id: m.worker_id.to_string(),
        worker_name: m.worker_name,
        organization_id: m.organization_id.to_string(),
        organization_name: m.organization_name,
        joined_at: Some(to_timestamp(m.joined_at)),
        start: i32::from(m.start_how),
        join_request_id: opt(m.join_request_id),
        started_by: m.started_by,
        left_at: m.left_at.map(to_timestamp),
        end: m.end_how.map_or(0, i32::from),
        reason: m.reason,
        ended_by: m.ended_by,
        transferred_to: opt(m.transferred_to),
    }
}

pub(super) fn guide_to_pb(g: GuideRow) -> pb::Guide {
    pb::Guide {
        id: g.id.to_string(),
        name: g.name,
        kind: i32::from(g.kind),
        department: g.department,
        enterprise_ids: ids(&g.enterprise_ids),
        organization_ids: ids(&g.organization_ids),
        version: g.version,
        deleted_at: g.deleted_at.map(to_timestamp),
    }
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

pub(super) fn enterprise_to_pb(e: EnterpriseRow) -> pb::Enterprise {
    pb::Enterprise {
        ledger: Some(publish::ledger(&e)),
        id: e.id.to_string(),
        name: e.name,
        kind: i32::from(e.kind),
        brand: e.brand,
        community_id: e.community_id.map(|u| u.to_string()).unwrap_or_default(),
        address: e.address,
        version: e.version,
        updated_at: Some(to_timestamp(e.updated_at)),
        deleted_at: e.deleted_at.map(to_timestamp),
    }
}

pub(super) fn visit_to_pb(v: CensusVisitRow) -> pb::CensusVisit {
    pb::CensusVisit {
        id: v.id.to_string(),
        enterprise_id: v.enterprise_id.to_string(),
        visited_on: v.visited_on.to_string(),
        visitor: v.visitor,
        headcount: v.headcount,
        party_members: v.party_members,
        situation: v.situation,
        needs: v.needs,
        responsible_officer: v.responsible_officer,
        notes: v.notes,
        version: v.version,
        withdrawn_at: v.withdrawn_at.map(to_timestamp),
        withdrawn_reason: v.withdrawn_reason,
    }
}

pub(super) fn forum_to_pb(f: ForumRow) -> pb::Forum {
    pb::Forum {
        id: f.id.to_string(),
        title: f.title,
        held_on: f.held_on.to_string(),
        quarter: domain::calendar::quarter(f.held_on),
        enterprise_ids: f.enterprise_ids.iter().map(|u| u.to_string()).collect(),
        issues_raised: i32::try_from(f.issues_raised).unwrap_or(i32::MAX),
        issues_resolved: i32::try_from(f.issues_resolved).unwrap_or(i32::MAX),
        version: f.version,
        withdrawn_at: f.withdrawn_at.map(to_timestamp),
        withdrawn_reason: f.withdrawn_reason,
    }
}

pub(super) fn issue_to_pb(i: IssueRow) -> pb::EnterpriseIssue {
    pb::EnterpriseIssue {
        id: i.id.to_string(),
        forum_id: i.forum_id.to_string(),
        enterprise_id: i.enterprise_id.map(|u| u.to_string()).unwrap_or_default(),
        title: i.title,
        description: i.description,
        raised_on: i.raised_on.to_string(),
        status: i32::from(i.status),
        resolution: i.resolution,
        resolved_on: date(i.resolved_on),
        version: i.version,
        withdrawn_at: i.withdrawn_at.map(to_timestamp),
        withdrawn_reason: i.withdrawn_reason,
    }
}

pub(super) fn access_to_pb(a: AccessRow) -> pb::PersonalDataAccess {
    pb::PersonalDataAccess {
        accessor: a.accessor,
        accessor_roles: a.accessor_roles,
        worker_id: a.worker_id.to_string(),
        call: a.call,
        accessed_at: Some(to_timestamp(a.accessed_at)),
    }
}

/// A count as the contract carries it (saturating).
pub(super) fn n(x: i64) -> i32 {
    i32::try_from(x).unwrap_or(i32::MAX)
}

pub(super) fn stats_to_pb(s: Stats) -> pb::GetOrganizationStatsResponse {
    pb::GetOrganizationStatsResponse {
        period: None,
        townships: n(s.townships),
        communities: n(s.communities),
        grids: n(s.grids),
        workers: n(s.workers),
        party_members: n(s.party_members),
        workers_reported_in: n(s.workers_reported_in),
        party_organizations: n(s.party_organizations),
        industry_committees: n(s.industry_committees),
        organizations_by_formation_mode: s
            .by_formation_mode
            .iter()
            .map(|(mode, count)| {
                let name = pb::FormationMode::try_from(i32::from(*mode))
                    .unwrap_or_default()
                    .as_str_name()
                    .to_owned();
                (name, n(*count))
            })
            .collect(),
        enterprises: n(s.enterprises),
        enterprises_surveyed: n(s.enterprises_surveyed),
        instructors: n(s.instructors),
        instructors_assigned_to_organizations: n(s.instructors_assigned_to_organizations),
        red_commissioners: n(s.red_commissioners),
        members_in_touch: n(s.members_in_touch),
        workers_in_touch: n(s.workers_in_touch),
        forums: n(s.forums),
        enterprise_issues: n(s.enterprise_issues),
        enterprise_issues_resolved: n(s.enterprise_issues_resolved),
        care_visits: n(s.care_visits),
        hardship_files: n(s.hardship_files),
        join_requests_approved: n(s.join_requests_approved),
    }
}

pub(super) fn link_to_pb(l: LinkRow) -> pb::ContactLink {
    pb::ContactLink {
        member_id: l.member_id.to_string(),
        worker_id: l.worker_id.to_string(),
        linked_at: Some(to_timestamp(l.linked_at)),
    }
}

/// Coverage at `load_limit` (the limit the answer names).
pub(super) fn coverage_to_pb(c: Coverage, load_limit: i32) -> pb::GetContactCoverageResponse {
    pb::GetContactCoverageResponse {
        workers: n(c.workers),
        workers_with_contact: n(c.workers_with_contact),
        members_in_touch: n(c.members_in_touch),
        load_limit,
        members_over_load_total: n(c.over_load_total),
        members_over_load: c
            .over_load
            .into_iter()
            .map(|(m, name, w)| pb::MemberLoad {
                member_id: m.to_string(),
                workers: n(w),
                member_name: name,
            })
            .collect(),
    }
}

pub(super) fn revision_to_pb(r: RevisionRow) -> pb::Revision {
    use pb::revision::Before;
    use prost::Message;
    // Written by this service from the message it names: a row that does not decode is shown
    // without its before.
    let before = match r.kind {
        CENSUS_VISIT => pb::CensusVisit::decode(r.before.as_slice())
            .ok()
            .map(Before::CensusVisit),
        ENTERPRISE_ISSUE => pb::EnterpriseIssue::decode(r.before.as_slice())
            .ok()
            .map(Before::Issue),
        FORUM => pb::Forum::decode(r.before.as_slice())
            .ok()
            .map(Before::Forum),
        _ => None,
    };
    pb::Revision {
        record_id: r.record_id.to_string(),
        version: r.version,
        action: i32::from(r.action),
        fields: r.fields,
        reason: r.reason,
        changed_by: r.changed_by,
        changed_at: Some(to_timestamp(r.changed_at)),
        before,
    }
}
