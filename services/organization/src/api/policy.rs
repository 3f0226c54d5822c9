//! Who may call each organization RPC, and over what scope (see `kit::auth::policy`). A worker
//! reaches only their own record; community staff the workers, care files, enterprises and
//! contacts of their communities; grid officers read in the communities their token names; the
//! county's structure (townships, communities, party organizations) is changed by county admins.

use kit::auth::{
    Reach::{Assigned, Community, County, Open, Worker},
    policy::Policy,
    rule,
};
use redsupply_proto::{
    organization::v1::{
        care_service_server, enterprise_service_server, organization_service_server,
        party_service_server, question_desk_service_server,
    },
    roles::{COMMUNITY_ADMIN, COUNTY_ADMIN, EXPERT, GRID_OFFICER, PEOPLE, WORKER},
};

/// Community and county staff.
const STAFF: &[&str] = &[COMMUNITY_ADMIN, COUNTY_ADMIN];
const ANYONE: &[&str] = PEOPLE;
/// A worker for themselves, or community and county staff.
const SELF_OR_STAFF: &[&str] = &[WORKER, COMMUNITY_ADMIN, COUNTY_ADMIN];
/// Staff who read and record in the field: grid officers besides community and county staff.
const FIELD_STAFF: &[&str] = &[GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN];
const COUNTY: &[&str] = &[COUNTY_ADMIN];
/// Everyone who takes part in the desk: workers, its experts, community and county staff.
const DESK: &[&str] = &[WORKER, EXPERT, COMMUNITY_ADMIN, COUNTY_ADMIN];
/// Reference data of the desk (its experts, its FAQ): every role of a person.
const DESK_READERS: &[&str] = &[WORKER, EXPERT, GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN];

pub const POLICIES: &[Policy] = &[
    Policy {
        service: organization_service_server::SERVICE_NAME,
        rules: &[
            rule("RegisterWorker", SELF_OR_STAFF, Worker),
            rule("GetWorker", ANYONE, Worker),
            rule("UpdateWorker", SELF_OR_STAFF, Worker),
            rule("DeleteWorker", STAFF, Worker),
            rule("RestoreWorker", STAFF, Worker),
            rule("SearchWorkers", FIELD_STAFF, Community),
            rule("ReportIn", SELF_OR_STAFF, Worker),
            rule("ListReportIns", ANYONE, Worker),
            rule("UpsertGrid", STAFF, Community),
            rule("DeleteGrid", STAFF, Community),
            rule("RestoreGrid", STAFF, Community),
            rule("GetGrid", ANYONE, Open),
            rule("ListGrids", ANYONE, Open),
            rule("UpsertCommunity", COUNTY, County),
            rule("ListCommunities", ANYONE, Open),
            rule("UpsertTownship", COUNTY, County),
            rule("ListTownships", ANYONE, Open),
            rule("GetOrganizationStats", FIELD_STAFF, Community),
            rule("ListPersonalDataAccess", COUNTY, County),
        ],
    },
    Policy {
        service: party_service_server::SERVICE_NAME,
        rules: &[
            rule("UpsertOrganization", COUNTY, County),
            rule("DeleteOrganization", COUNTY, County),
            rule("RestoreOrganization", COUNTY, County),
            rule("GetOrganization", ANYONE, Open),
            rule("ListOrganizations", ANYONE, Open),
            rule("RequestToJoin", SELF_OR_STAFF, Worker),
            rule("DecideJoinRequest", STAFF, Worker),
            rule("ListJoinRequests", SELF_OR_STAFF, Worker),
            // A member may leave on their own say; transfers and removals are staff's.
            rule("LeaveOrganization", SELF_OR_STAFF, Worker),
            rule("TransferMember", STAFF, Worker),
            rule("RemoveMember", STAFF, Worker),
            rule("ListMembershipHistory", SELF_OR_STAFF, Worker),
            // Instructors and red commissioners serve the county's organizations.
            rule("UpsertGuide", COUNTY, County),
            rule("DeleteGuide", COUNTY, County),
            rule("RestoreGuide", COUNTY, County),
            rule("ListGuides", ANYONE, Open),
            rule("LinkContacts", STAFF, Worker),
            rule("UnlinkContact", STAFF, Worker),
            rule("ListContacts", ANYONE, Worker),
            rule("GetContactCoverage", FIELD_STAFF, Community),
        ],
    },
    Policy {
        service: enterprise_service_server::SERVICE_NAME,
        rules: &[
            rule("UpsertEnterprise", STAFF, Community),
            rule("DeleteEnterprise", STAFF, Community),
            rule("RestoreEnterprise", STAFF, Community),
            rule("GetEnterprise", FIELD_STAFF, Community),
            rule("ListEnterprises", FIELD_STAFF, Community),
            rule("RecordCensusVisit", FIELD_STAFF, Community),
            rule("ListCensusVisits", FIELD_STAFF, Community),
            // Forums gather the county's enterprises; issues belong to their enterprise.
            rule("RecordForum", COUNTY, County),
            rule("ListForums", ANYONE, Open),
            rule("RaiseEnterpriseIssue", STAFF, Community),
            rule("ResolveEnterpriseIssue", STAFF, Community),
            rule("ListEnterpriseIssues", FIELD_STAFF, Community),
            // Corrections and withdrawals are the community's staff's (a field officer's entry is
            // put right by them); anyone who reads a record reads its revisions.
            rule("CorrectCensusVisit", STAFF, Community),
            rule("WithdrawCensusVisit", STAFF, Community),
            rule("CorrectEnterpriseIssue", STAFF, Community),
            rule("WithdrawEnterpriseIssue", STAFF, Community),
            rule("ListRevisions", FIELD_STAFF, Community),
            rule("ListLedgerReviews", FIELD_STAFF, Community),
            rule("CorrectForum", COUNTY, County),
            rule("WithdrawForum", COUNTY, County),
        ],
    },
    Policy {
        service: care_service_server::SERVICE_NAME,
        rules: &[
            rule("RecordCareVisit", STAFF, Worker),
            rule("ListCareVisits", STAFF, Worker),
            rule("OpenHardshipFile", STAFF, Worker),
            rule("GetHardshipFile", STAFF, Worker),
            rule("ListHardshipFiles", STAFF, Worker),
            rule("RecordHelp", STAFF, Worker),
            rule("CloseHardshipFile", STAFF, Worker),
            rule("CorrectCareVisit", STAFF, Worker),
            rule("WithdrawCareVisit", STAFF, Worker),
            rule("CorrectHardshipFile", STAFF, Worker),
            rule("WithdrawHardshipFile", STAFF, Worker),
            rule("ListCareRevisions", STAFF, Worker),
        ],
    },
    Policy {
        service: question_desk_service_server::SERVICE_NAME,
        rules: &[
            // The county enrols its instructors and lecturers.
            rule("EnrolExpert", COUNTY, County),
            rule("SetExpertAvailability", COUNTY, County),
            rule("ListExperts", DESK_READERS, Open),
            // A worker asks for themselves; community staff may file a question a worker phoned in.
            rule("AskQuestion", SELF_OR_STAFF, Worker),
            rule("GetQuestion", DESK, Worker),
            rule("ListQuestions", DESK, Worker),
            rule("AnswerQuestion", &[EXPERT, COUNTY_ADMIN], Assigned),
            rule("FollowUpQuestion", &[WORKER], Worker),
            rule("RateAnswer", &[WORKER], Worker),
            rule("ReassignQuestion", COUNTY, County),
            rule("PublishFaqEntry", STAFF, Community),
            rule("WithdrawFaqEntry", STAFF, Community),
            rule("SearchFaq", DESK_READERS, Open),
            rule("GetDeskStats", STAFF, Community),
        ],
    },
];
