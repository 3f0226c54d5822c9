//! Governance on the bus: the events it publishes ([`publish`]) and the durable consumers that
//! apply other services' events and its own submitted tips ([`consume`]).

pub mod consume;
pub mod publish;
