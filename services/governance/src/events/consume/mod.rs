//! Governance's durable consumers, one file each: decode the event, hand it to `app` (or, for a
//! read model, to `store`).

pub mod dispatch;
pub mod grids;
pub mod workers;
