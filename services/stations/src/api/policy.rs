//! Who may call each stations RPC, and over what scope (see `kit::auth::policy`). Stations, the
//! catalog and the leaderboard are open to every human role; a station, its usage and a
//! community's stock belong to that community's staff; a ledger to its worker and the staff of
//! the worker's community; honours are chosen by the county, nominated by staff in scope.

use kit::auth::{
    Reach::{Community, County, Open, Worker},
    policy::Policy,
    rule,
};
use redsupply_proto::{
    roles::{COMMUNITY_ADMIN, COUNTY_ADMIN, GRID_OFFICER, PEOPLE, WORKER},
    stations::v1::{honours_service_server, points_service_server, stations_service_server},
};

const STAFF: &[&str] = &[COMMUNITY_ADMIN, COUNTY_ADMIN];
const ANYONE: &[&str] = PEOPLE;
const SELF_OR_STAFF: &[&str] = &[WORKER, COMMUNITY_ADMIN, COUNTY_ADMIN];

pub const POLICIES: &[Policy] = &[
    Policy {
        service: stations_service_server::SERVICE_NAME,
        rules: &[
            rule("FindNearestStations", ANYONE, Open),
            rule("GetStation", ANYONE, Open),
            rule("ListStations", ANYONE, Open),
            // County planning: seconds of CPU per new input. Workers get nearest-station search.
            rule(
                "GetCoverage",
                &[GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN],
                Open,
            ),
            rule("UpsertStation", STAFF, Community),
            rule("RetireStation", STAFF, Community),
            rule("RestoreStation", STAFF, Community),
            rule("ListStationHistory", STAFF, Community),
            // Anyone may report a broken amenity; setting other states is staff's, in scope.
            rule("ReportAmenityStatus", ANYONE, Community),
            rule("RecordVisit", SELF_OR_STAFF, Worker),
            rule(
                "GetStationUsage",
                &[GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN],
                Community,
            ),
        ],
    },
    Policy {
        service: points_service_server::SERVICE_NAME,
        rules: &[
            rule("GetBalance", SELF_OR_STAFF, Worker),
            rule("ListLedgerEntries", SELF_OR_STAFF, Worker),
            // The county's default catalog is county staff's; a community's own rewards its staff's.
            rule("UpsertReward", STAFF, Community),
            rule("ListRewards", ANYONE, Open),
            rule("SupplyStock", STAFF, Community),
            rule("ListStockLots", STAFF, Community),
            // The clerk of the worker's community hands the goods over; never county-wide.
            rule("Redeem", &[WORKER, COMMUNITY_ADMIN], Worker),
            // The clerk's list of a community, or a worker's own.
            rule("ListRedemptions", SELF_OR_STAFF, Community),
            rule("HandOverRedemption", STAFF, Community),
            // The clerk, or the worker for their own pending redemption.
            rule("CancelRedemption", SELF_OR_STAFF, Community),
            rule("GetLeaderboard", ANYONE, Open),
        ],
    },
    Policy {
        service: honours_service_server::SERVICE_NAME,
        rules: &[
            // The county runs the selections (its working committee, the market supervision
            // committee and the union); everyone may see which are open.
            rule("OpenSelection", &[COUNTY_ADMIN], County),
            rule("CloseSelection", &[COUNTY_ADMIN], County),
            rule("ListSelections", ANYONE, Open),
            // Staff of the worker's community nominate (for it or on behalf of the worker's
            // enterprise; the worker's community is the target); nominations and their records
            // are staff's, in scope.
            rule("Nominate", STAFF, Community),
            rule("GetNomination", STAFF, Community),
            rule("ListNominations", STAFF, Community),
            rule("ReviewNomination", &[COUNTY_ADMIN], County),
            // Awards are on the worker's record: theirs, and their community's staff's.
            rule("ListWorkerHonours", SELF_OR_STAFF, Worker),
        ],
    },
];
