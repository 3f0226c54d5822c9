//! Use cases of stations, the only place a transaction opens: the station registry, amenity
//! reports, visits and stock ([`stations`]), points awarded ([`awards`]) and taken back
//! ([`take_back`], and for many merged tips at once [`merges`]), pending points released
//! ([`release`]), redemptions in the supermarkets ([`supermarket`]), honours chosen in selections
//! ([`honours`]), the in-memory station index ([`index`]) and coverage answers over it
//! ([`coverage`]).

pub mod awards;
pub mod coverage;
pub mod honours;
pub mod index;
pub mod merges;
pub mod release;
pub mod stations;
pub mod supermarket;
pub mod take_back;
