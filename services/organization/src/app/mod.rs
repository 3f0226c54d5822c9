//! organization's use cases, one file per aggregate family named like the proto services: the only
//! place a transaction opens, for the API and the demo seed alike. Each change and its event share
//! the transaction.

pub mod care;
pub mod enterprise;
pub mod party;
pub mod registry;
pub mod republish;
