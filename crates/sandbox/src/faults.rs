//! Faults on demand, set through `PUT /_sandbox/faults`: what goes wrong with Meta in production,
//! made to happen when a test wants it.

use serde::{Deserialize, Serialize};

/// The faults in force. Every rate is a probability from 0 to 1, drawn per request or per POST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Graph API sends answered with an error instead of being accepted.
    pub graph_error_rate: f64,
    /// The error they get: 131000 (something went wrong, HTTP 500) by default; 2 (service
    /// unavailable, 503), 130429 (throughput, 400) or any code of Meta's table.
    pub graph_error_code: i64,
    /// Added to every Graph API answer.
    pub graph_latency_ms: u64,
    /// Sends accepted (the message goes out, its statuses follow) whose answer is cut off: the
    /// status line is sent, then the connection is closed before the body with the wamid.
    pub drop_after_accept_rate: f64,
    /// Webhook POSTs delivered a second time right after the first.
    pub webhook_duplicate_rate: f64,
    /// Updates waiting together are delivered in a shuffled order.
    pub webhook_reorder: bool,
    /// Updates in one POST, overriding the configured batch size when set.
    pub webhook_batch_max: Option<usize>,
    /// Every update is held this long (emulated) before delivery.
    pub webhook_delay_ms: u64,
    /// `GET /{media-id}` answered with an error (131000, HTTP 500) instead of the media's
    /// description.
    pub media_info_error_rate: f64,
    /// Media download URLs answered with HTTP 500 instead of the file (the CDN behind them
    /// fails on its own).
    pub media_download_error_rate: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            graph_error_rate: 0.0,
            graph_error_code: 131_000,
            graph_latency_ms: 0,
            drop_after_accept_rate: 0.0,
            webhook_duplicate_rate: 0.0,
            webhook_reorder: false,
            webhook_batch_max: None,
            webhook_delay_ms: 0,
            media_info_error_rate: 0.0,
            media_download_error_rate: 0.0,
        }
    }
}

impl Faults {
    /// What is out of range, if anything.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("graph_error_rate", self.graph_error_rate),
            ("drop_after_accept_rate", self.drop_after_accept_rate),
            ("webhook_duplicate_rate", self.webhook_duplicate_rate),
            ("media_info_error_rate", self.media_info_error_rate),
            ("media_download_error_rate", self.media_download_error_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("`{name}` must be between 0 and 1, not {rate}"));
            }
        }
        if wa::error_codes::lookup(self.graph_error_code).is_none() {
            return Err(format!(
                "`graph_error_code` {} is not in Meta's error table",
                self.graph_error_code
            ));
        }
        if self.webhook_batch_max == Some(0) {
            return Err("`webhook_batch_max` must be at least 1".to_owned());
        }
        if self.graph_latency_ms > 120_000 {
            return Err("`graph_latency_ms` is at most 120000".to_owned());
        }
        Ok(())
    }
}

/// A draw of probability `rate`.
pub fn happens(rate: f64) -> bool {
    rate > 0.0 && rand::random::<f64>() < rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_codes_and_batches_are_checked() {
        assert_eq!(Faults::default().check(), Ok(()));
        let bad_rate = Faults {
            graph_error_rate: 1.5,
            ..Faults::default()
        };
        assert!(bad_rate.check().unwrap_err().contains("graph_error_rate"));
        let bad_media = Faults {
            media_download_error_rate: -0.1,
            ..Faults::default()
        };
        assert!(
            bad_media
                .check()
                .unwrap_err()
                .contains("media_download_error_rate")
        );
        let bad_code = Faults {
            graph_error_code: 99_999_999,
            ..Faults::default()
        };
        assert!(bad_code.check().is_err());
        let bad_batch = Faults {
            webhook_batch_max: Some(0),
            ..Faults::default()
        };
        assert!(bad_batch.check().is_err());
    }

    #[test]
    fn certain_and_impossible_draws() {
        assert!((0..100).all(|_| happens(1.0)));
        assert!((0..100).all(|_| !happens(0.0)));
    }
}
