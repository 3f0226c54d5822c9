//! education's integration events: what it publishes (`publish`) and what it consumes of
//! organization's registry (`consume`).

pub mod consume;
pub mod publish;
