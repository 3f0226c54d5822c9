//! organization's SQL, one file per table family; the row types, and the shapes of what a write
//! carries, live here. Nothing here opens a transaction: a change and its event share the one the
//! use case (`app`) opened.

pub mod access_log;
pub mod care;
pub mod contacts;
pub mod desk;
pub mod desk_stats;
pub mod enterprises;
pub mod faq;
pub mod forums;
pub mod geography;
pub mod guides;
pub mod joining;
pub mod membership;
pub mod reports;
pub mod revisions;
pub mod sealed;
pub mod stats;
pub mod tree;
pub mod workers;
