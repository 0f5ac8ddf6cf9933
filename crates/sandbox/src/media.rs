//! Media as Meta keeps it (cloud-api.md §5.5, §9.1): uploaded to a business number, described by
//! id, downloaded from a URL that needs the bearer token and expires five minutes after it was
//! handed out, deleted on request, forgotten after 30 days. Customers' media live here too, so
//! that a receiver fetches them as it would from Meta.

use std::collections::HashMap;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// How long a download URL works.
pub const URL_TTL_MS: i64 = 5 * 60 * 1000;
/// How long an uploaded media id lives.
pub const UPLOAD_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
/// How long a customer's media stays downloadable.
pub const INBOUND_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// The largest upload any type allows (documents, 100 MB), with room for the multipart framing.
pub const UPLOAD_BODY_MAX: usize = 100 * 1024 * 1024 + 64 * 1024;
/// Where download URLs point, as Meta's `lookaside.fbsbx.com` ones do.
pub const DOWNLOAD_PATH: &str = "/whatsapp_business/attachments/";

const MB: u64 = 1024 * 1024;

/// The MIME types Meta takes, the message kind each is sent as and its size limit.
const TYPES: &[(&str, &str, u64)] = &[
    ("image/jpeg", "image", 5 * MB),
    ("image/png", "image", 5 * MB),
    ("image/webp", "sticker", 500 * 1024),
    ("audio/aac", "audio", 16 * MB),
    ("audio/amr", "audio", 16 * MB),
    ("audio/mpeg", "audio", 16 * MB),
    ("audio/mp4", "audio", 16 * MB),
    ("audio/ogg", "audio", 16 * MB),
    ("video/mp4", "video", 16 * MB),
    ("video/3gpp", "video", 16 * MB),
    ("text/plain", "document", 100 * MB),
    ("application/pdf", "document", 100 * MB),
    ("application/msword", "document", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "document",
        100 * MB,
    ),
    ("application/vnd.ms-excel", "document", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "document",
        100 * MB,
    ),
    ("application/vnd.ms-powerpoint", "document", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "document",
        100 * MB,
    ),
];

/// The message kind a MIME type is sent as, and its size limit.
pub fn kind_of(mime_type: &str) -> Option<(&'static str, u64)> {
    let essence = mime_type.split(';').next().unwrap_or_default().trim();
    TYPES
        .iter()
        .find(|(m, _, _)| m.eq_ignore_ascii_case(essence))
        .map(|&(_, kind, limit)| (kind, limit))
}

/// One stored file.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    /// The number it was uploaded to, or the customer's message was sent to.
    pub phone_number_id: String,
    pub mime_type: String,
    pub bytes: bytes::Bytes,
    /// Base64, as Meta gives it.
    pub sha256: String,
    pub filename: Option<String>,
    pub expires_ms: i64,
}

/// Why a download URL does not give the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The URL was not made by this sandbox, or was altered.
    Forged,
    /// More than five minutes have passed: get a new URL.
    Expired,
    /// Deleted, or past its lifetime.
    Gone,
}

/// All media, by id.
#[derive(Debug)]
pub struct MediaStore {
    items: HashMap<String, Item>,
    /// Signs download URLs, so that their expiry cannot be edited.
    key: [u8; 32],
    /// Download URLs handed out, by media id.
    urls_given: HashMap<String, u32>,
}

impl Default for MediaStore {
    fn default() -> Self {
        Self {
            items: HashMap::new(),
            key: rand::random(),
            urls_given: HashMap::new(),
        }
    }
}

impl MediaStore {
    /// Stores a business upload; its id, or what is wrong with it.
    pub fn upload(
        &mut self,
        phone_number_id: &str,
        mime_type: &str,
        bytes: bytes::Bytes,
        filename: Option<String>,
        now_ms: i64,
    ) -> Result<String, String> {
        let (_, limit) = kind_of(mime_type).ok_or_else(|| {
            format!(
                "Param file must be a file with one of the following types: {}. Received file of \
                 type '{mime_type}'.",
                TYPES
                    .iter()
                    .map(|(m, _, _)| *m)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        if bytes.is_empty() {
            return Err("the file is empty".to_owned());
        }
        let size = bytes.len() as u64;
        if size > limit {
            return Err(format!(
                "the file is {size} bytes; {mime_type} files may be at most {limit} bytes"
            ));
        }
        Ok(self.insert(
            phone_number_id,
            mime_type,
            bytes,
            filename,
            now_ms + UPLOAD_TTL_MS,
        ))
    }

    /// Stores a file a customer sent; its id.
    pub fn inbound(
        &mut self,
        phone_number_id: &str,
        mime_type: &str,
        bytes: bytes::Bytes,
        filename: Option<String>,
        now_ms: i64,
    ) -> String {
        self.insert(
            phone_number_id,
            mime_type,
            bytes,
            filename,
            now_ms + INBOUND_TTL_MS,
        )
    }

    fn insert(
        &mut self,
        phone_number_id: &str,
        mime_type: &str,
        bytes: bytes::Bytes,
        filename: Option<String>,
        expires_ms: i64,
    ) -> String {
        let id = loop {
            // Meta's media ids are 15 to 16 digits.
            let id =
                rand::random_range(1_000_000_000_000_000_u64..10_000_000_000_000_000).to_string();
            if !self.items.contains_key(&id) {
                break id;
            }
        };
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
        self.items.insert(
            id.clone(),
            Item {
                id: id.clone(),
                phone_number_id: phone_number_id.to_owned(),
                mime_type: mime_type.to_owned(),
                bytes,
                sha256,
                filename,
                expires_ms,
            },
        );
        id
    }

    /// A download URL for `id`, counted: how many a receiver asked for shows whether it asked
    /// again after one expired.
    pub fn hand_out_url(&mut self, id: &str, now_ms: i64) -> String {
        *self.urls_given.entry(id.to_owned()).or_default() += 1;
        self.url_query(id, now_ms)
    }

    /// How many download URLs were handed out for `id`.
    pub fn urls_given(&self, id: &str) -> u32 {
        self.urls_given.get(id).copied().unwrap_or(0)
    }

    /// A file still there.
    pub fn get(&self, id: &str, now_ms: i64) -> Option<&Item> {
        self.items.get(id).filter(|i| i.expires_ms > now_ms)
    }

    /// Forgets a file; whether it was there.
    pub fn delete(&mut self, id: &str, now_ms: i64) -> bool {
        let live = self.get(id, now_ms).is_some();
        self.items.remove(id);
        live
    }

    /// The query string of a download URL for `id`, valid five minutes from `now_ms`.
    pub fn url_query(&self, id: &str, now_ms: i64) -> String {
        let expires = now_ms + URL_TTL_MS;
        format!("mid={id}&ext={expires}&hash={}", self.url_hash(id, expires))
    }

    fn url_hash(&self, id: &str, expires_ms: i64) -> String {
        let signed = wa::signature::sign(&self.key, format!("{id}:{expires_ms}").as_bytes());
        signed
            .trim_start_matches("sha256=")
            .chars()
            .take(32)
            .collect()
    }

    /// The file a download URL's `mid`, `ext` and `hash` give.
    pub fn download(
        &self,
        id: &str,
        expires_ms: i64,
        hash: &str,
        now_ms: i64,
    ) -> Result<&Item, Unavailable> {
        let expected = self.url_hash(id, expires_ms);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            hash.as_bytes(),
        )) {
            return Err(Unavailable::Forged);
        }
        if now_ms >= expires_ms {
            return Err(Unavailable::Expired);
        }
        self.get(id, now_ms).ok_or(Unavailable::Gone)
    }
}

/// A file a simulated customer sends: base64, at most Meta's largest inbound media (100 MB;
/// beyond it Meta drops the file with error 131052).
pub fn customer_file(base64_data: &str) -> Result<bytes::Bytes, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_data.trim())
        .map_err(|e| format!("`media.data_base64` is not base64: {e}"))?;
    if bytes.is_empty() {
        return Err("`media.data_base64` holds an empty file".to_owned());
    }
    if bytes.len() as u64 > 100 * MB {
        return Err(format!(
            "the file is {} bytes; Meta relays customers' files of at most {} bytes",
            bytes.len(),
            100 * MB
        ));
    }
    Ok(bytes.into())
}

/// A small file of each kind, for the media simulated customers send.
pub fn sample(kind: &str) -> Option<(&'static str, &'static [u8], Option<&'static str>)> {
    match kind {
        "image" => Some(("image/png", PNG_1X1, None)),
        "sticker" => Some(("image/webp", WEBP_1X1, None)),
        "document" => Some(("application/pdf", PDF, Some("facture.pdf"))),
        "audio" => Some(("audio/ogg", OGG, None)),
        "video" => Some(("video/mp4", MP4, None)),
        _ => None,
    }
}

/// A 1×1 transparent PNG.
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];
/// A 1×1 lossless WebP.
const WEBP_1X1: &[u8] = &[
    0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c,
    0x0d, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe,
    0x07, 0x00,
];
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
/// The first bytes of an Ogg stream: enough for a receiver to store and type-check.
const OGG: &[u8] = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00sandbox-voice-note";
/// The first bytes of an MP4 (`ftyp` box).
const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom";

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(mime: &str, size: usize) -> (MediaStore, Result<String, String>) {
        let mut store = MediaStore::default();
        let r = store.upload("1", mime, bytes::Bytes::from(vec![7; size]), None, 0);
        (store, r)
    }

    #[test]
    fn types_and_sizes_are_metas() {
        assert_eq!(kind_of("image/jpeg"), Some(("image", 5 * MB)));
        assert_eq!(
            kind_of("IMAGE/PNG; charset=binary"),
            Some(("image", 5 * MB))
        );
        assert_eq!(kind_of("image/gif"), None);
        assert!(store_with("image/png", 5 * 1024 * 1024).1.is_ok());
        let too_big = store_with("image/png", 5 * 1024 * 1024 + 1).1.unwrap_err();
        assert!(too_big.contains("at most 5242880 bytes"), "{too_big}");
        assert!(
            store_with("image/gif", 10)
                .1
                .unwrap_err()
                .contains("image/gif")
        );
        assert!(store_with("application/pdf", 0).1.is_err());
    }

    fn upload_abc(store: &mut MediaStore) -> String {
        let abc = bytes::Bytes::from_static(b"abc");
        store.upload("1", "text/plain", abc, None, 0).unwrap()
    }

    #[test]
    fn uploads_have_a_base64_sha256_and_live_30_days() {
        let mut store = MediaStore::default();
        let id = upload_abc(&mut store);
        assert!(id.len() >= 15 && id.chars().all(|c| c.is_ascii_digit()));
        let item = store.get(&id, 0).unwrap();
        assert_eq!(item.sha256, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
        assert!(store.get(&id, UPLOAD_TTL_MS - 1).is_some());
        assert!(store.get(&id, UPLOAD_TTL_MS).is_none());
    }

    #[test]
    fn download_urls_expire_after_five_minutes_and_cannot_be_edited() {
        let mut store = MediaStore::default();
        let id = upload_abc(&mut store);
        let query = store.url_query(&id, 1_000);
        let hash = query.rsplit("hash=").next().unwrap();
        let expires = 1_000 + URL_TTL_MS;
        assert!(store.download(&id, expires, hash, expires - 1).is_ok());
        assert_eq!(
            store.download(&id, expires, hash, expires).unwrap_err(),
            Unavailable::Expired
        );
        assert_eq!(
            store
                .download(&id, expires + 60_000, hash, 2_000)
                .unwrap_err(),
            Unavailable::Forged
        );
        assert!(store.delete(&id, 2_000));
        assert_eq!(
            store.download(&id, expires, hash, 2_000).unwrap_err(),
            Unavailable::Gone
        );
        assert!(!store.delete(&id, 2_000));
    }

    #[test]
    fn every_url_handed_out_is_counted() {
        let mut store = MediaStore::default();
        let id = upload_abc(&mut store);
        assert_eq!(store.urls_given(&id), 0);
        let first = store.hand_out_url(&id, 0);
        let second = store.hand_out_url(&id, 1_000);
        assert_ne!(first, second, "a later URL expires later");
        assert_eq!(store.urls_given(&id), 2);
    }

    #[test]
    fn customers_files_are_base64_up_to_metas_limit() {
        assert_eq!(&customer_file("YWJj").unwrap()[..], b"abc");
        assert!(customer_file("").unwrap_err().contains("empty"));
        assert!(customer_file("***").unwrap_err().contains("not base64"));
    }

    #[test]
    fn samples_are_of_types_meta_takes() {
        for kind in ["image", "sticker", "document", "audio", "video"] {
            let (mime, _, _) = sample(kind).unwrap();
            assert_eq!(kind_of(mime).unwrap().0, kind);
        }
    }
}
