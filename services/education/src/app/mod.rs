//! education's use cases: the only place a transaction opens, for the API, the consumers and the
//! demo seed alike.

pub mod activities;
pub mod catalog;
pub mod registry;
pub mod sessions;
pub mod sites;
