//! The subject of every integration event, and the CloudEvents `source` of each producer: one
//! constant each, used by the service that publishes and by every service that consumes, so a
//! consumer's filter cannot drift from its producer's spelling. Each producer's stream holds
//! `redsupply.<service>.>`; the wildcards below select one family of it.

pub mod organization {
    pub const SOURCE: &str = "redsupply/organization";
    pub const WORKER_REGISTERED: &str = "redsupply.organization.worker.registered";
    pub const WORKER_UPDATED: &str = "redsupply.organization.worker.updated";
    pub const WORKER_REPORTED_IN: &str = "redsupply.organization.worker.reported_in";
    /// Every worker event: registered, updated, reported in.
    pub const WORKERS: &str = "redsupply.organization.worker.>";
    pub const TOWNSHIP_UPSERTED: &str = "redsupply.organization.township.upserted";
    pub const COMMUNITY_UPSERTED: &str = "redsupply.organization.community.upserted";
    /// Every community event.
    pub const COMMUNITIES: &str = "redsupply.organization.community.>";
    pub const GRID_UPSERTED: &str = "redsupply.organization.grid.upserted";
    pub const GRID_DELETED: &str = "redsupply.organization.grid.deleted";
    /// Every grid event: upserted, deleted.
    pub const GRIDS: &str = "redsupply.organization.grid.>";
    pub const ORGANIZATION_CHANGED: &str = "redsupply.organization.organization.changed";
    pub const JOIN_REQUEST_CHANGED: &str = "redsupply.organization.join_request.changed";
    pub const GUIDE_CHANGED: &str = "redsupply.organization.guide.changed";
    pub const CONTACTS_CHANGED: &str = "redsupply.organization.contacts.changed";
    pub const ENTERPRISE_CHANGED: &str = "redsupply.organization.enterprise.changed";
    pub const FORUM_RECORDED: &str = "redsupply.organization.forum.recorded";
    pub const FORUM_CHANGED: &str = "redsupply.organization.forum.changed";
    pub const ENTERPRISE_ISSUE_CHANGED: &str = "redsupply.organization.enterprise_issue.changed";
    pub const CARE_VISIT_RECORDED: &str = "redsupply.organization.care.visit_recorded";
    pub const CARE_VISIT_CHANGED: &str = "redsupply.organization.care.visit_changed";
    pub const HARDSHIP_FILE_CHANGED: &str = "redsupply.organization.care.hardship_file_changed";
    pub const MEMBERSHIP_CHANGED: &str = "redsupply.organization.membership.changed";
    pub const EXPERT_CHANGED: &str = "redsupply.organization.expert.changed";
    pub const QUESTION_ASKED: &str = "redsupply.organization.question.asked";
    pub const QUESTION_ANSWERED: &str = "redsupply.organization.question.answered";
    pub const QUESTION_FOLLOWED_UP: &str = "redsupply.organization.question.followed_up";
    pub const QUESTION_RATED: &str = "redsupply.organization.question.rated";
    pub const QUESTION_REASSIGNED: &str = "redsupply.organization.question.reassigned";
    pub const QUESTION_ESCALATED: &str = "redsupply.organization.question.escalated";
    /// Every question event of the Q&A desk.
    pub const QUESTIONS: &str = "redsupply.organization.question.>";
    pub const FAQ_CHANGED: &str = "redsupply.organization.faq.changed";
}

pub mod education {
    pub const SOURCE: &str = "redsupply/education";
    pub const LEARNING_SITE_CREATED: &str = "redsupply.education.learning_site.created";
    pub const ATTENDANCE_RECORDED: &str = "redsupply.education.attendance.recorded";
    pub const LECTURE_SERIES_CHANGED: &str = "redsupply.education.lecture_series.changed";
    pub const ACTIVITY_CHANGED: &str = "redsupply.education.activity.changed";
    pub const ACTIVITY_SIGN_UP_CHANGED: &str = "redsupply.education.activity.sign_up_changed";
    pub const ACTIVITY_ATTENDED: &str = "redsupply.education.activity.attended";
}

pub mod stations {
    pub const SOURCE: &str = "redsupply/stations";
    pub const STATION_UPSERTED: &str = "redsupply.stations.station.upserted";
    pub const AMENITY_STATUS_CHANGED: &str = "redsupply.stations.station.amenity_status_changed";
    pub const POINTS_AWARDED: &str = "redsupply.stations.points.awarded";
    pub const POINTS_REVERSED: &str = "redsupply.stations.points.reversed";
    pub const POINTS_RELEASED: &str = "redsupply.stations.points.released";
    pub const REWARD_REDEEMED: &str = "redsupply.stations.reward.redeemed";
    pub const REWARD_CHANGED: &str = "redsupply.stations.reward.changed";
    pub const STOCK_SUPPLIED: &str = "redsupply.stations.stock.supplied";
    pub const REDEMPTION_CHANGED: &str = "redsupply.stations.redemption.changed";
    pub const SELECTION_CHANGED: &str = "redsupply.stations.selection.changed";
    pub const NOMINATION_CHANGED: &str = "redsupply.stations.nomination.changed";
}

pub mod governance {
    pub const SOURCE: &str = "redsupply/governance";
    pub const TIP_SUBMITTED: &str = "redsupply.governance.tip.submitted";
    pub const TIP_REJECTED: &str = "redsupply.governance.tip.rejected";
    pub const TIP_CONFIRMED: &str = "redsupply.governance.tip.confirmed";
    pub const CASE_ASSIGNED: &str = "redsupply.governance.case.assigned";
    pub const CASE_STATUS_CHANGED: &str = "redsupply.governance.case.status_changed";
    pub const CASE_REROUTED: &str = "redsupply.governance.case.rerouted";
    pub const CASE_ESCALATED: &str = "redsupply.governance.case.escalated";
    pub const VOLUNTEER_SERVICE_RECORDED: &str = "redsupply.governance.volunteer.service_recorded";
    pub const VOLUNTEER_SERVICE_CONFIRMED: &str =
        "redsupply.governance.volunteer.service_confirmed";
    pub const VOLUNTEER_ROLE_APPOINTED: &str = "redsupply.governance.volunteer.role_appointed";
    /// Every governance event (stations awards points for several of them).
    pub const ALL: &str = "redsupply.governance.>";
}

/// Every concrete event subject (no wildcards): what a metric may be labelled with.
pub const EVERY: &[&str] = &[
    organization::WORKER_REGISTERED,
    organization::WORKER_UPDATED,
    organization::WORKER_REPORTED_IN,
    organization::TOWNSHIP_UPSERTED,
    organization::COMMUNITY_UPSERTED,
    organization::GRID_UPSERTED,
    organization::GRID_DELETED,
    organization::ORGANIZATION_CHANGED,
    organization::JOIN_REQUEST_CHANGED,
    organization::GUIDE_CHANGED,
    organization::CONTACTS_CHANGED,
    organization::ENTERPRISE_CHANGED,
    organization::FORUM_RECORDED,
    organization::FORUM_CHANGED,
    organization::ENTERPRISE_ISSUE_CHANGED,
    organization::CARE_VISIT_RECORDED,
    organization::CARE_VISIT_CHANGED,
    organization::HARDSHIP_FILE_CHANGED,
    organization::MEMBERSHIP_CHANGED,
    organization::EXPERT_CHANGED,
    organization::QUESTION_ASKED,
    organization::QUESTION_ANSWERED,
    organization::QUESTION_FOLLOWED_UP,
    organization::QUESTION_RATED,
    organization::QUESTION_REASSIGNED,
    organization::QUESTION_ESCALATED,
    organization::FAQ_CHANGED,
    education::LEARNING_SITE_CREATED,
    education::ATTENDANCE_RECORDED,
    education::LECTURE_SERIES_CHANGED,
    education::ACTIVITY_CHANGED,
    education::ACTIVITY_SIGN_UP_CHANGED,
    education::ACTIVITY_ATTENDED,
    stations::STATION_UPSERTED,
    stations::AMENITY_STATUS_CHANGED,
    stations::POINTS_AWARDED,
    stations::POINTS_REVERSED,
    stations::POINTS_RELEASED,
    stations::REWARD_REDEEMED,
    stations::REWARD_CHANGED,
    stations::STOCK_SUPPLIED,
    stations::REDEMPTION_CHANGED,
    stations::SELECTION_CHANGED,
    stations::NOMINATION_CHANGED,
    governance::TIP_SUBMITTED,
    governance::TIP_REJECTED,
    governance::TIP_CONFIRMED,
    governance::CASE_ASSIGNED,
    governance::CASE_STATUS_CHANGED,
    governance::CASE_REROUTED,
    governance::CASE_ESCALATED,
    governance::VOLUNTEER_SERVICE_RECORDED,
    governance::VOLUNTEER_SERVICE_CONFIRMED,
    governance::VOLUNTEER_ROLE_APPOINTED,
];

/// Whether `subject` is one of the contract's events.
pub fn is_event(subject: &str) -> bool {
    EVERY.contains(&subject)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// (producer, its source, its subjects)
    fn all() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
        use education as e;
        use governance as g;
        use organization as o;
        use stations as s;
        vec![
            (
                "organization",
                o::SOURCE,
                vec![
                    o::WORKER_REGISTERED,
                    o::WORKER_UPDATED,
                    o::WORKER_REPORTED_IN,
                    o::WORKERS,
                    o::TOWNSHIP_UPSERTED,
                    o::COMMUNITY_UPSERTED,
                    o::COMMUNITIES,
                    o::GRID_UPSERTED,
                    o::GRID_DELETED,
                    o::GRIDS,
                    o::ORGANIZATION_CHANGED,
                    o::JOIN_REQUEST_CHANGED,
                    o::GUIDE_CHANGED,
                    o::CONTACTS_CHANGED,
                    o::ENTERPRISE_CHANGED,
                    o::FORUM_RECORDED,
                    o::FORUM_CHANGED,
                    o::ENTERPRISE_ISSUE_CHANGED,
                    o::CARE_VISIT_RECORDED,
                    o::CARE_VISIT_CHANGED,
                    o::HARDSHIP_FILE_CHANGED,
                    o::MEMBERSHIP_CHANGED,
                    o::EXPERT_CHANGED,
                    o::QUESTION_ASKED,
                    o::QUESTION_ANSWERED,
                    o::QUESTION_FOLLOWED_UP,
                    o::QUESTION_RATED,
                    o::QUESTION_REASSIGNED,
                    o::QUESTION_ESCALATED,
                    o::QUESTIONS,
                    o::FAQ_CHANGED,
                ],
            ),
            (
                "education",
                e::SOURCE,
                vec![
                    e::LEARNING_SITE_CREATED,
                    e::ATTENDANCE_RECORDED,
                    e::LECTURE_SERIES_CHANGED,
                    e::ACTIVITY_CHANGED,
                    e::ACTIVITY_SIGN_UP_CHANGED,
                    e::ACTIVITY_ATTENDED,
                ],
            ),
            (
                "stations",
                s::SOURCE,
                vec![
                    s::STATION_UPSERTED,
                    s::AMENITY_STATUS_CHANGED,
                    s::POINTS_AWARDED,
                    s::POINTS_RELEASED,
                    s::POINTS_REVERSED,
                    s::REWARD_REDEEMED,
                    s::REWARD_CHANGED,
                    s::STOCK_SUPPLIED,
                    s::REDEMPTION_CHANGED,
                    s::SELECTION_CHANGED,
                    s::NOMINATION_CHANGED,
                ],
            ),
            (
                "governance",
                g::SOURCE,
                vec![
                    g::TIP_SUBMITTED,
                    g::TIP_REJECTED,
                    g::TIP_CONFIRMED,
                    g::CASE_ASSIGNED,
                    g::CASE_STATUS_CHANGED,
                    g::CASE_REROUTED,
                    g::CASE_ESCALATED,
                    g::VOLUNTEER_SERVICE_RECORDED,
                    g::VOLUNTEER_SERVICE_CONFIRMED,
                    g::VOLUNTEER_ROLE_APPOINTED,
                    g::ALL,
                ],
            ),
        ]
    }

    #[test]
    fn every_lists_each_concrete_subject_of_this_file() {
        let source = include_str!("subjects.rs");
        let code = source.split("#[cfg(test)]").next().unwrap();
        let mut named = 0;
        for quoted in code.split('"').skip(1).step_by(2) {
            if quoted.starts_with("redsupply.") && !quoted.contains('>') {
                named += 1;
                assert!(is_event(quoted), "{quoted} is missing from EVERY");
            }
        }
        assert_eq!(named, EVERY.len());
        assert!(!is_event("redsupply.governance.>"));
    }

    #[test]
    fn every_subject_lies_in_its_producers_stream_once() {
        let mut seen = BTreeSet::new();
        for (producer, source, subjects) in all() {
            assert_eq!(source, format!("redsupply/{producer}"));
            for subject in subjects {
                let prefix = format!("redsupply.{producer}.");
                assert!(subject.starts_with(&prefix), "{subject} outside {prefix}>");
                let tokens: Vec<_> = subject.split('.').collect();
                assert!(tokens.len() >= 3, "{subject}: a family and an event");
                assert!(
                    tokens.iter().all(|t| !t.is_empty()
                        && (*t == ">" || t.chars().all(|c| c.is_ascii_lowercase() || c == '_'))),
                    "{subject}: lower-case tokens, `>` only as a wildcard"
                );
                assert!(seen.insert(subject), "{subject} named twice");
            }
        }
    }
}
