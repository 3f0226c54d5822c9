//! Who may call each education RPC, and over what scope (see `kit::auth::policy`). The county's
//! lecturers and courses are a county catalog; sites, sessions and attendance belong to the
//! community of the learning site; a worker reaches only their own check-ins and record.

use kit::auth::{
    Reach::{Community, County, Open, Worker},
    policy::Policy,
    rule,
};
use redsupply_proto::{
    education::v1::{activity_service_server, education_service_server},
    roles::{COMMUNITY_ADMIN, COUNTY_ADMIN, GRID_OFFICER, PEOPLE, WORKER},
};

const STAFF: &[&str] = &[COMMUNITY_ADMIN, COUNTY_ADMIN];
const ANYONE: &[&str] = PEOPLE;
const SELF_OR_STAFF: &[&str] = &[WORKER, COMMUNITY_ADMIN, COUNTY_ADMIN];
const COUNTY: &[&str] = &[COUNTY_ADMIN];

pub const POLICIES: &[Policy] = &[
    Policy {
        service: education_service_server::SERVICE_NAME,
        rules: &[
            rule("CreateLearningSite", STAFF, Community),
            rule("ListLearningSites", ANYONE, Open),
            rule("AddLecturer", COUNTY, County),
            rule("SetLecturerAvailability", COUNTY, County),
            rule("ListLecturers", ANYONE, Open),
            rule("CreateCourse", COUNTY, County),
            rule("ListCourses", ANYONE, Open),
            rule("ScheduleSession", STAFF, Community),
            rule("GetSession", ANYONE, Open),
            rule("ListSessions", ANYONE, Open),
            rule("IssueCheckInCodes", STAFF, Community),
            rule("ListAttendance", STAFF, Community),
            rule("CheckIn", SELF_OR_STAFF, Worker),
            rule("GetLearningRecord", SELF_OR_STAFF, Worker),
            rule(
                "GetEducationStats",
                &[GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN],
                Community,
            ),
        ],
    },
    Policy {
        service: activity_service_server::SERVICE_NAME,
        rules: &[
            // Themed lecture series are the departments', opened by the county.
            rule("CreateLectureSeries", COUNTY, County),
            rule("ListLectureSeries", ANYONE, Open),
            // Community staff announce their community's activities; county staff any.
            rule("CreateActivity", STAFF, Community),
            // The activity's staff correct or cancel it.
            rule("UpdateActivity", STAFF, Community),
            rule("CancelActivity", STAFF, Community),
            rule("GetActivity", ANYONE, Open),
            rule("ListActivities", ANYONE, Open),
            rule("SignUpForActivity", SELF_OR_STAFF, Worker),
            rule("CancelActivitySignUp", SELF_OR_STAFF, Worker),
            rule("IssueActivityCheckInCodes", STAFF, Community),
            rule("CheckInToActivity", SELF_OR_STAFF, Worker),
            rule("ListActivityAttendance", STAFF, Community),
            rule(
                "GetActivityStats",
                &[GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN],
                Community,
            ),
        ],
    },
];
