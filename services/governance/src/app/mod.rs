//! Use cases: the only place a transaction opens. `api` calls them after validating a request into
//! a typed command; they apply the domain's rules and write rows, history, feed changes and events
//! together.

pub mod cases;

pub use cases::{CaseError, Cases, ConfirmResolution, RerouteCase, UpdateCase};
