//! Stations and points SQL, one file per table family; the row types live here. A change and its
//! event share the transaction the use case opened.

macro_rules! station_columns {
    () => {
        "id, name, tier, host, latitude, longitude, address, amenities, community_id, always_open, opens_minute, closes_minute, version, retired_at, retired_reason, riding_speed_kmh"
    };
}

mod amenities;
mod deeds;
mod honours;
// Its column macros serve `take_backs` too.
#[macro_use]
mod ledger;
mod pending;
mod read_models;
mod redemptions;
mod stations;
mod supermarket;
mod take_backs;
mod visits;

pub use amenities::*;
pub use deeds::*;
pub use honours::*;
pub use ledger::*;
pub use pending::*;
pub use read_models::*;
pub use redemptions::*;
pub use stations::*;
pub use supermarket::*;
pub use take_backs::*;
pub use visits::*;
