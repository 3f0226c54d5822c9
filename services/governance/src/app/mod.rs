//! Use cases: the only place a transaction opens. `api` calls them after validating a request into
//! a typed command, the consumers after decoding an event; they apply the domain's rules and write
//! rows, history, feed changes and events together. [`intake`] takes tips in, [`dispatch`] makes
//! them cases, [`cases`] changes them, [`escalation`] sweeps the overdue, [`grids`] follows
//! organization's grids, [`feed`] streams the changes, [`volunteers`] runs the volunteer team.

mod changes;

pub mod cases;
pub mod dispatch;
pub mod escalation;
pub mod feed;
pub mod grids;
pub mod intake;
pub mod volunteers;

pub use cases::{CaseError, Cases, ConfirmResolution, RerouteCase, UpdateCase};
