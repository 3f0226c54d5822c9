//! organization's rules, without I/O, each with its unit tests: grid boundaries, personal
//! numbers and their sealing at rest ([`personal`]), the organization tree, dates, the Q&A desk
//! ([`desk`]); and the limits the use cases keep.

pub mod boundary;
pub mod calendar;
pub mod desk;
pub mod numbers;
pub mod personal;
pub mod tree;

/// Most workers one party member should keep in touch with, unless a request says otherwise.
/// (145 members cover 2,000+ workers in the county: about 14 each.)
pub const DEFAULT_CONTACT_LOAD: i32 = 20;
/// The highest contact load a coverage request may ask about.
pub const MAX_CONTACT_LOAD: i32 = 10_000;
/// Most workers linked in one LinkContacts call.
pub const MAX_LINKS_PER_CALL: usize = 200;
/// Most entries of help one hardship file holds (the file is sealed and rewritten whole with
/// each entry).
pub const MAX_HELP_ENTRIES: usize = 200;
