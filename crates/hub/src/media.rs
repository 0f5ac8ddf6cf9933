//! Customers' media: every image, voice note, video, document and sticker a customer (or the
//! business's own phone, for coexistence echoes) sends is downloaded once, promptly — Meta's
//! download URLs last five minutes and its copy only a few days — and kept by guichet, so that an
//! agent can open it months later.
//!
//! - Ingest queues a media in the transaction that records its message, and wakes the
//!   [`Downloader`], which claims it, downloads it and stores it under guichet's own name
//!   (`download`, `files`).
//! - [`answer`] hands a stored media to the API (`GET /api/v1/media/{id}/content`) and to the
//!   agent UI (`GET /media/{id}`) with headers that keep customer-supplied bytes from ever running
//!   in guichet's origin (`kind` decides what may be inline, `filename` what it is called).
//! - [`attachments`] is the conversation view's read of a page of messages' media.

mod download;
mod filename;
mod files;
mod kind;
mod serve;

pub use download::Downloader;
pub use filename::{content_disposition, sanitise as sanitise_filename};
pub use kind::{Presentation, presentation};
pub use serve::{Attachment, MEDIA_CSP, NotServed, answer, attachments};
