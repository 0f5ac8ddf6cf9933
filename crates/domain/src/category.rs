//! Message categories (cloud-api.md §6.4): the category a template is approved in, and the one a
//! message is priced in. Non-template messages are `service`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a message is priced as, in the words of the `pricing.category` of Meta's status webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Marketing,
    Utility,
    Authentication,
    /// Authentication templates to some markets from a business elsewhere.
    AuthenticationInternational,
    /// Non-template messages (free-form, interactive, media…).
    Service,
    /// Marketing sent through the Marketing Messages API.
    MarketingLite,
    /// Messages inside a free entry point window.
    ReferralConversion,
    /// Traffic of general-purpose AI providers (2026); guichet never sends it, but Meta may
    /// bill it.
    GeneralPurposeAi,
}

impl Category {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "marketing",
            Self::Utility => "utility",
            Self::Authentication => "authentication",
            Self::AuthenticationInternational => "authentication_international",
            Self::Service => "service",
            Self::MarketingLite => "marketing_lite",
            Self::ReferralConversion => "referral_conversion",
            Self::GeneralPurposeAi => "general_purpose_ai",
        }
    }

    /// The category of a template approved as `MARKETING`, `UTILITY` or `AUTHENTICATION` (any
    /// case); `None` for anything else.
    pub fn of_template(category: &str) -> Option<Self> {
        match category.to_ascii_lowercase().as_str() {
            "marketing" => Some(Self::Marketing),
            "utility" => Some(Self::Utility),
            "authentication" => Some(Self::Authentication),
            _ => None,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = [
            Self::Marketing,
            Self::Utility,
            Self::Authentication,
            Self::AuthenticationInternational,
            Self::Service,
            Self::MarketingLite,
            Self::ReferralConversion,
            Self::GeneralPurposeAi,
        ];
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        all.into_iter()
            .find(|c| c.as_str() == wanted)
            .ok_or_else(|| format!("`{s}` is not a message category"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_template_categories_ignore_case() {
        for c in [
            "marketing",
            "utility",
            "authentication",
            "authentication_international",
            "service",
            "marketing_lite",
            "referral_conversion",
        ] {
            assert_eq!(c.parse::<Category>().unwrap().as_str(), c);
        }
        assert_eq!(
            "Authentication-International".parse(),
            Ok(Category::AuthenticationInternational)
        );
        assert_eq!(Category::of_template("UTILITY"), Some(Category::Utility));
        assert_eq!(Category::of_template("service"), None);
        assert!("promo".parse::<Category>().is_err());
    }
}
