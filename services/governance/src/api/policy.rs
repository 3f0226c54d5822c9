//! Who may call each governance RPC, and over what scope (see `kit::auth::policy`). A worker
//! reaches only their own tips and the cases of their tips; grid officers and grid platforms the
//! cases of their grids; community staff the cases in their communities' grids; county admins the
//! county queue and everything else.

use kit::auth::{
    Reach::{County, Grid, Worker},
    policy::Policy,
    rule,
};
use redsupply_proto::{
    governance::v1::{
        governance_service_server, grid_gateway_service_server, volunteer_service_server,
    },
    roles::{COMMUNITY_ADMIN, COUNTY_ADMIN, GRID_OFFICER, GRID_SYSTEM, PEOPLE, WORKER},
};

/// People who file tips: workers for themselves, staff for a worker (no points).
const REPORTERS: &[&str] = PEOPLE;
/// Human staff: county, community and grid offices.
const STAFF: &[&str] = &[GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN];
/// A case: its reporters, staff and the grid platforms that mirror cases.
const CASE_VIEWERS: &[&str] = &[
    WORKER,
    GRID_OFFICER,
    COMMUNITY_ADMIN,
    COUNTY_ADMIN,
    GRID_SYSTEM,
];
/// Case lists and histories: staff and grid platforms.
const CASE_READERS: &[&str] = &[GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN, GRID_SYSTEM];
const SELF_OR_COUNTY: &[&str] = &[WORKER, COUNTY_ADMIN];
const WATCHERS: &[&str] = &[GRID_SYSTEM, GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN];

pub const POLICIES: &[Policy] = &[
    Policy {
        service: governance_service_server::SERVICE_NAME,
        rules: &[
            rule("SubmitTip", REPORTERS, Grid),
            // A tip holds its reporter's words and whereabouts: not for grid platforms.
            rule("GetTip", REPORTERS, Grid),
            rule("ListTips", REPORTERS, Grid),
            rule("GetCase", CASE_VIEWERS, Grid),
            rule("ListCases", CASE_READERS, Grid),
            rule("ListCaseHistory", CASE_READERS, Grid),
            rule("RejectTip", STAFF, Grid),
            rule("RerouteCase", STAFF, Grid),
            rule("GetGovernanceStats", STAFF, Grid),
            // The reporter's own answer: no one answers in their name.
            rule("ConfirmResolution", &[WORKER], Worker),
        ],
    },
    Policy {
        service: grid_gateway_service_server::SERVICE_NAME,
        rules: &[
            rule("WatchCases", WATCHERS, Grid),
            rule(
                "UpdateCase",
                &[GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN, GRID_SYSTEM],
                Grid,
            ),
        ],
    },
    Policy {
        service: volunteer_service_server::SERVICE_NAME,
        rules: &[
            // The "Hu Wan Jia" team is the county's: a worker acts for themself, county staff for
            // anyone (governance holds no worker-to-community map to scope other staff by).
            rule("JoinVolunteerTeam", SELF_OR_COUNTY, Worker),
            rule("StartVolunteerService", SELF_OR_COUNTY, Worker),
            rule("EndVolunteerService", SELF_OR_COUNTY, Worker),
            // A worker who leads a squad (VOLUNTEER_ROLE_TEAM_LEADER) confirms others' shifts,
            // never their own; county staff any shift (checked in `app::volunteers`).
            rule("ConfirmVolunteerService", SELF_OR_COUNTY, Worker),
            rule("AppointVolunteerRole", &[COUNTY_ADMIN], County),
            rule("ListVolunteers", &[COUNTY_ADMIN], County),
        ],
    },
];
