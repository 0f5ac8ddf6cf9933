//! guichet's business rules. Pure functions and small state machines: no I/O, no async, and no
//! clock of their own — the time is always passed in, and rule time is Meta's time
//! (cloud-api.md §10.3, ARCHITECTURE.md "Rules that hold everywhere").

pub mod accounts;
pub mod category;
pub mod controller;
pub mod conversation;
pub mod delivery;
pub mod flow;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod guard;
pub mod identity;
pub mod policy;
pub mod pricing;
pub mod stats;
pub mod time;
pub mod window;

pub use category::Category;
pub use time::Timestamp;
