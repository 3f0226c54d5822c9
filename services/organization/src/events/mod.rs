//! organization's integration events: what it publishes (`publish`, built from `store` rows and
//! written to the outbox in the change's transaction) and what it consumes of governance
//! (`consume`).

pub mod consume;
pub mod publish;
