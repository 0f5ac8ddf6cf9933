//! The WhatsApp Cloud API wire protocol, as Meta documents it (see `docs/` and the comments that
//! cite Meta's pages): webhook payloads, send bodies and templates, the `X-Hub-Signature-256` check,
//! the error-code table and phone numbers. No I/O, no async: everything here is a pure function of its input.

pub mod error_codes;
pub mod format;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod phone;
pub mod send;
pub mod signature;
pub mod webhook;

mod de;
