//! The UI's stylesheet, script and icon, embedded in the binary and served under a path that
//! names their version, so that browsers may keep them for a year and still never run a stale
//! script after an upgrade.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    bytes: &'static [u8],
    mime: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        bytes: include_bytes!("../../assets/app.css"),
        mime: "text/css; charset=utf-8",
    },
    Asset {
        name: "app.js",
        bytes: include_bytes!("../../assets/app.js"),
        mime: "text/javascript; charset=utf-8",
    },
    Asset {
        name: "icon.svg",
        bytes: include_bytes!("../../assets/icon.svg"),
        mime: "image/svg+xml",
    },
];

/// The first 12 hex digits of the SHA-256 of every asset: changes whenever one does.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in ASSETS {
        hash.update(asset.name.as_bytes());
        hash.update(asset.bytes);
    }
    hex(&hash.finalize()[..6])
});

static PATHS: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let path: &'static str =
                Box::leak(format!("/assets/{}/{}", *VERSION, a.name).into_boxed_str());
            (a.name, path)
        })
        .collect()
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The versioned path of an embedded asset.
pub fn path(name: &str) -> &'static str {
    PATHS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("/assets/missing", |(_, p)| p)
}

pub async fn serve(Path((version, name)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // An old version's path still answers (with today's bytes), but is not cached for long.
    let cache = if version == *VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_versioned_path() {
        for asset in ASSETS {
            let p = path(asset.name);
            assert!(p.starts_with("/assets/") && p.ends_with(asset.name), "{p}");
            assert!(p.contains(VERSION.as_str()));
        }
        assert_eq!(path("nope.js"), "/assets/missing");
    }
}
