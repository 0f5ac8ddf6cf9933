//! Changes that are not about one message: template lifecycle and marketing preferences.

use serde::Deserialize;

use super::{Metadata, Profile};
use crate::de;

/// `message_template_status_update` (cloud-api.md §6.5): APPROVED, REJECTED, PAUSED, …
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TemplateStatusUpdate {
    pub event: String,
    #[serde(deserialize_with = "de::id")]
    pub message_template_id: String,
    pub message_template_name: String,
    pub message_template_language: String,
    pub reason: Option<String>,
    pub message_template_category: Option<String>,
    pub rejection_info: Option<RejectionInfo>,
    pub other_info: Option<OtherInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RejectionInfo {
    pub reason: Option<String>,
    pub recommendation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OtherInfo {
    pub title: Option<String>,
    pub description: Option<String>,
}

/// `message_template_quality_update`: GREEN, YELLOW, RED, UNKNOWN.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TemplateQualityUpdate {
    pub previous_quality_score: Option<String>,
    pub new_quality_score: String,
    #[serde(deserialize_with = "de::id")]
    pub message_template_id: String,
    pub message_template_name: String,
    pub message_template_language: String,
}

/// `template_category_update`: Meta recategorised a template; the price of its next sends follows
/// the new category (cloud-api.md §6.4).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TemplateCategoryUpdate {
    #[serde(deserialize_with = "de::id")]
    pub message_template_id: String,
    pub message_template_name: String,
    pub message_template_language: String,
    pub previous_category: Option<String>,
    pub new_category: String,
    pub correct_category: Option<String>,
}

/// `user_preferences`: a customer stopped or resumed marketing messages (cloud-api.md §6.3).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserPreferencesValue {
    pub messaging_product: Option<String>,
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<Profile>,
    #[serde(default)]
    pub user_preferences: Vec<UserPreference>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserPreference {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    pub detail: Option<String>,
    /// `marketing_messages`.
    pub category: String,
    /// `stop`, `resume`, or `signup` (the customer opted in through a sign-up link).
    pub value: String,
    /// The sign-up link's id, for `signup`.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub signup_id: Option<String>,
    #[serde(deserialize_with = "de::timestamp")]
    pub timestamp: i64,
}
