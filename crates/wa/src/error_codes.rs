//! Meta's error codes (cloud-api.md §4), each with the one decision a sender needs: retry soon,
//! retry much later, never, send a template instead, renew the token, or call a human.
//!
//! Classify by `error.code` only: rate limits come back as HTTP 400, not 429, and titles are to
//! be deprecated (cloud-api.md §3.4, §10.5). The same codes arrive synchronously on the Graph API
//! response, asynchronously on a `failed` status webhook, or both, so one table serves both paths.
//!
//! The Graph API has no idempotency key: resending after an error that might have been accepted
//! can message a customer twice. Hence the conservative default for unknown codes ([`class_of`]).

use serde::{Deserialize, Serialize};

/// What a sender does about an error. Each variant is one branch of the outbound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Transient: retry the same request with backoff, within seconds to minutes.
    RetrySoon,
    /// Will clear, but not for hours: one scheduled retry at the earliest, never a tight loop.
    RetryLater,
    /// Retrying the same request can never succeed: the request must change, or the recipient
    /// cannot be reached on WhatsApp (131026 is the trigger for an SMS/e-mail fallback).
    Permanent,
    /// The 24 h customer service window is closed: only an approved template can go out.
    NeedsTemplate,
    /// The access token is expired, invalid or lacks a permission: every send fails until an
    /// operator installs a new one.
    Reauthenticate,
    /// An account, billing or compliance problem a human must fix in WhatsApp Manager; never
    /// retried automatically, because retrying can deepen the enforcement.
    Policy,
}

impl ErrorClass {
    /// The stable name, as in JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetrySoon => "retry_soon",
            Self::RetryLater => "retry_later",
            Self::Permanent => "permanent",
            Self::NeedsTemplate => "needs_template",
            Self::Reauthenticate => "reauthenticate",
            Self::Policy => "policy",
        }
    }

    /// Whether the outbound queue may send the same request again on its own.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::RetrySoon | Self::RetryLater)
    }

    /// The generic advice for the class, for codes without their own entry.
    pub fn next_step(self) -> &'static str {
        match self {
            Self::RetrySoon => {
                "Retry automatically with growing waits (Meta suggests 4^n seconds); \
                 no action is needed unless it persists."
            }
            Self::RetryLater => {
                "Do not resend now: schedule at most one retry after the waiting time Meta \
                 gives (24 h for the per-user marketing limit)."
            }
            Self::Permanent => {
                "Do not resend the same message: correct it, or reach the customer another way."
            }
            Self::NeedsTemplate => {
                "The 24-hour customer service window is closed: send an approved template instead."
            }
            Self::Reauthenticate => {
                "Generate a new access token with the whatsapp_business_messaging and \
                 whatsapp_business_management permissions and update guichet's configuration."
            }
            Self::Policy => {
                "An administrator must resolve the account, billing or policy issue in WhatsApp \
                 Manager; guichet will not retry."
            }
        }
    }
}

/// One row of Meta's error-code table, in words an agent and an operator understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: i64,
    /// Meta's title, shortened. For display only: Meta will deprecate titles (cloud-api.md §3.4).
    pub title: &'static str,
    /// What happened, in a sentence an agent understands without knowing the API.
    pub meaning: &'static str,
    pub class: ErrorClass,
    /// The status the Graph API answers when the error comes synchronously (cloud-api.md §3.4).
    /// For codes Meta only reports by webhook, the 400 it uses for request errors.
    pub http_status: u16,
    /// What the business should do next.
    pub next_step: &'static str,
}

/// The entry for `code`. Codes 200–299 are one range in Meta's table and all map to the entry
/// for 200.
pub fn lookup(code: i64) -> Option<&'static ErrorCode> {
    let key = if (200..=299).contains(&code) {
        200
    } else {
        code
    };
    TABLE
        .binary_search_by_key(&key, |entry| entry.code)
        .ok()
        .and_then(|i| TABLE.get(i))
}

/// The class of `code`. An unknown code is [`ErrorClass::Permanent`]: the conservative choice,
/// because without an idempotency key a blind resend may deliver twice, while a message held
/// back is visible to an agent who can decide.
pub fn class_of(code: i64) -> ErrorClass {
    lookup(code).map_or(ErrorClass::Permanent, |entry| entry.class)
}

/// The body of a failed Graph API call (cloud-api.md §3.4):
/// `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphErrorResponse {
    pub error: GraphError,
}

/// Lenient on purpose: only `code` is needed to decide, and Meta adds and deprecates the other
/// fields (`error_subcode` is "not returned in v16.0+" yet appears in Meta's own sample).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphError {
    /// `"(#code) title"`; for display, never for logic.
    #[serde(default)]
    pub message: String,
    /// Usually `OAuthException`, whatever the error.
    #[serde(rename = "type", default)]
    pub kind: String,
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<GraphErrorData>,
    /// Quote it when asking Meta support about a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
}

/// `error.error_data`; `details` is what to build logic on next to `code` (cloud-api.md §3.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// Meta's most precise explanation (which parameter, which limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl GraphError {
    /// What to do about this error, decided on `code` alone.
    pub fn class(&self) -> ErrorClass {
        class_of(self.code)
    }
}

const fn row(
    code: i64,
    class: ErrorClass,
    http_status: u16,
    title: &'static str,
    meaning: &'static str,
    next_step: &'static str,
) -> ErrorCode {
    ErrorCode {
        code,
        title,
        meaning,
        class,
        http_status,
        next_step,
    }
}

/// Sorted by code (`lookup` searches it). Source: cloud-api.md §4 and its HTTP statuses in §3.4,
/// plus 131060 (§1.4), 2388019 (§5.6), 131030 and 131062 (what-users-ask.md).
#[rustfmt::skip]
static TABLE: &[ErrorCode] = {
    use ErrorClass::{NeedsTemplate, Permanent, Policy, Reauthenticate, RetryLater, RetrySoon};
    &[
        row(0, Reauthenticate, 401, "AuthException",
            "WhatsApp could not authenticate guichet: the access token expired or was revoked.",
            "Generate a new access token and update guichet's configuration."),
        row(2, RetrySoon, 503, "API Service",
            "WhatsApp's service is temporarily down or overloaded.",
            "Nothing to do: guichet retries; check metastatus.com if it lasts."),
        row(3, Reauthenticate, 500, "API Method",
            "The access token lacks a capability or permission this call needs.",
            "Check the token in Meta's access token debugger and grant the missing permission."),
        row(4, RetrySoon, 400, "API Too Many Calls",
            "guichet's Meta app made too many API calls in a short time.",
            "Nothing to do: guichet slows down and retries."),
        row(10, Reauthenticate, 403, "Permission Denied",
            "The access token's permission was never granted or has been removed.",
            "Grant whatsapp_business_messaging and whatsapp_business_management to the token's user again."),
        row(100, Permanent, 400, "Invalid parameter",
            "The request had an unsupported or misspelled parameter, or a value over its length limit.",
            "Correct the message (often a text too long); resending it unchanged will fail again."),
        row(190, Reauthenticate, 401, "Access token has expired",
            "The access token has expired.",
            "Generate a new access token (a system-user token can be set never to expire) and update guichet."),
        // 200–299 are one range in Meta's table; `lookup` maps all of them here.
        row(200, Reauthenticate, 403, "API Permission",
            "The access token's permission was never granted or has been removed.",
            "Grant whatsapp_business_messaging and whatsapp_business_management to the token's user again."),
        // A third-party list retries 368 and 131048; Meta's advice is to fix the account, and
        // retrying policy blocks only adds to the record (cloud-api.md §4).
        row(368, Policy, 403, "Temporarily blocked for policies violations",
            "The WhatsApp Business Account is restricted or disabled for violating a WhatsApp policy.",
            "An administrator must review the violation in WhatsApp Manager and appeal or fix it."),
        row(80007, RetrySoon, 400, "Rate limit issues",
            "The WhatsApp Business Account reached its API rate limit.",
            "Nothing to do: guichet slows down and retries."),
        row(130429, RetrySoon, 400, "Rate limit hit",
            "The business number reached its messages-per-second throughput.",
            "Nothing to do: guichet queues and retries; sustained bursts need a throughput upgrade."),
        // Not an account fault, but nothing a retry or a rewrite can change: Meta holds this user
        // back from marketing messages on purpose. Filed under Policy as a business decision.
        row(130472, Policy, 400, "User's number is part of an experiment",
            "WhatsApp did not deliver this marketing message because the customer is in a Meta marketing experiment.",
            "Do not resend; reach the customer another way if the message matters."),
        row(130497, Policy, 400, "Business account is restricted from messaging users in this country",
            "This business may not message customers in the recipient's country.",
            "Check the WhatsApp Business Messaging Policy for the countries allowed to your business category."),
        row(131000, RetrySoon, 500, "Something went wrong",
            "The message failed for an unknown reason on WhatsApp's side.",
            "Nothing to do: guichet retries; if it persists, contact Meta support with the fbtrace_id."),
        row(131005, Reauthenticate, 403, "Access denied",
            "The access token's permission was never granted or has been removed.",
            "Grant whatsapp_business_messaging and whatsapp_business_management to the token's user again."),
        row(131008, Permanent, 400, "Required parameter is missing",
            "The request lacked a required parameter.",
            "Correct the message; resending it unchanged will fail again."),
        row(131009, Permanent, 400, "Parameter value is not valid",
            "A value in the request is not valid, or a reaction targets a message that is too old, deleted or unknown.",
            "Correct the message (for a reaction: only messages of the last 30 days)."),
        row(131016, RetrySoon, 500, "Service unavailable",
            "A WhatsApp service is temporarily unavailable.",
            "Nothing to do: guichet retries; check metastatus.com if it lasts."),
        row(131021, Permanent, 400, "Recipient cannot be sender",
            "The message was addressed to the business number itself.",
            "Send to the customer's number, not the business number."),
        row(131026, Permanent, 400, "Message undeliverable",
            "WhatsApp could not deliver the message: the number may not use WhatsApp, may not have accepted the terms, or runs a very old app.",
            "Confirm the number with the customer and reach them another way (SMS, e-mail, phone)."),
        // Only happens with Meta's test numbers, which send to at most 5 registered recipients.
        row(131030, Permanent, 400, "Recipient phone number not in allowed list",
            "A test business number can only message the recipients registered in the App Dashboard.",
            "Add the number under WhatsApp > API Setup, or send from a production number."),
        row(131031, Policy, 403, "Business Account locked",
            "The business account is locked: a policy violation, or data such as the two-step PIN could not be verified.",
            "An administrator must check WhatsApp Manager and fix the account or the PIN."),
        row(131037, Policy, 400, "Display name approval needed",
            "The business number (a 555 number) has no approved display name yet.",
            "An administrator must get the display name approved in WhatsApp Manager."),
        row(131042, Policy, 400, "Business eligibility payment issue",
            "The message was not sent because of a problem with the payment method (credit line, spending limit, currency or time zone).",
            "An administrator must fix the payment settings in Meta Business Manager."),
        // Meta's table gives no retry for a registration error: registering is a human's step.
        row(131045, Policy, 500, "Incorrect certificate",
            "The business number is not correctly registered on the Cloud API.",
            "An administrator must register the number again."),
        row(131047, NeedsTemplate, 400, "Re-engagement message",
            "More than 24 hours passed since the customer's last message, so only templates can be sent.",
            "Send an approved template instead; free-form replies are possible again once the customer answers."),
        row(131048, Policy, 400, "Spam rate limit hit",
            "Sending is restricted because too many earlier messages were blocked or reported as spam.",
            "Pause the campaign, check the number's quality in WhatsApp Manager and improve the messages' relevance."),
        row(131049, RetryLater, 400, "Not delivered to maintain healthy ecosystem engagement",
            "WhatsApp held back this marketing message because the customer reached their limit of marketing messages.",
            "Wait 24 h before sending another marketing template to this customer; resending earlier only fails again."),
        // The customer's choice, not a fault: compliance means never retrying it.
        row(131050, Policy, 400, "User stopped marketing messages",
            "The customer has chosen to stop receiving marketing messages from this business.",
            "Do not send marketing templates to this customer until they opt in again."),
        row(131051, Permanent, 400, "Unsupported message type",
            "The message type is not supported (or the customer sent a type the API cannot show).",
            "Send a supported type; ask the customer to resend in another form."),
        row(131052, Permanent, 400, "Media download error",
            "The customer's media could not be downloaded (for example, larger than 100 MB).",
            "Ask the customer to send the file again or another way."),
        row(131053, Permanent, 400, "Media upload error",
            "The business's media could not be uploaded or fetched (unsupported type, size or URL).",
            "Check the file's type and size and that its URL is reachable, then send a corrected message."),
        row(131056, RetrySoon, 400, "Pair rate limit hit",
            "Too many messages were sent to this customer in a short time (about 1 every 6 seconds is allowed).",
            "Nothing to do: guichet waits and retries; messages to other customers are unaffected."),
        row(131057, RetrySoon, 500, "Account in maintenance mode",
            "The business account is briefly in maintenance, for example during a throughput upgrade.",
            "Nothing to do: guichet retries after a minute."),
        // Inbound only: nothing was sent, so there is nothing to retry.
        row(131060, Permanent, 400, "Message unavailable",
            "The customer's message cannot be shown, which happens on the first contact with a number shared with the WhatsApp Business app.",
            "Reply to the customer and ask them to resend if needed."),
        row(131062, Permanent, 400, "Business-scoped user ID not allowed",
            "Authentication templates cannot be sent to a business-scoped user ID, only to a phone number.",
            "Send the authentication template to the customer's phone number."),
        row(131063, Policy, 400, "Marketing messages disabled on Cloud API",
            "Marketing templates are disabled on the Cloud API for this business account.",
            "An administrator must enable marketing messages (Marketing Messages API) for the account."),
        row(131064, Policy, 400, "Messaging limit for template category violations",
            "The account hit a messaging limit because templates were sent in the wrong category.",
            "Wait for the enforcement period to end and review template categories with an administrator."),
        row(132000, Permanent, 400, "Template param count mismatch",
            "The template was sent with a different number of variables than it defines.",
            "Send the template with exactly the variables it defines."),
        row(132001, Permanent, 404, "Template does not exist",
            "The template does not exist in that language, or is not approved.",
            "Check the template's name and exact language code (en vs en_US) and that it is approved."),
        row(132005, Permanent, 400, "Template hydrated text too long",
            "The template with its variables filled in is longer than WhatsApp allows.",
            "Shorten the variable values."),
        row(132007, Permanent, 400, "Template format character policy violated",
            "The template's content breaks a WhatsApp policy.",
            "Edit the template or its variables to follow WhatsApp's policies."),
        row(132012, Permanent, 400, "Template parameter format mismatch",
            "A template variable has the wrong format (for example text where media is expected).",
            "Send each variable in the format the template defines."),
        row(132015, Permanent, 400, "Template is paused",
            "The template is paused because of low quality.",
            "Use another template, or edit this one and wait for it to be unpaused."),
        row(132016, Permanent, 400, "Template is disabled",
            "The template was paused too often and is now permanently disabled.",
            "Create a new template with different content."),
        row(132068, Permanent, 400, "Flow is blocked",
            "The Flow in this message is blocked.",
            "Fix the Flow in WhatsApp Manager or send without it."),
        row(132069, RetryLater, 400, "Flow is throttled",
            "The Flow is throttled and 10 messages with it were already sent in the last hour.",
            "Wait an hour before sending this Flow again, or send without it."),
        // 133xxx come from registration calls, which an operator drives.
        row(133000, Policy, 400, "Incomplete deregistration",
            "A previous attempt to deregister the business number did not complete.",
            "An administrator must deregister the number again, then register it."),
        row(133004, RetrySoon, 503, "Server temporarily unavailable",
            "WhatsApp's registration server is temporarily unavailable.",
            "Nothing to do: guichet retries; check metastatus.com if it lasts."),
        row(133005, Policy, 400, "Two-step verification PIN mismatch",
            "The two-step verification PIN given for the number is wrong.",
            "An administrator must enter the right PIN, or reset it in WhatsApp Manager."),
        row(133006, Policy, 400, "Phone number re-verification needed",
            "The business number must be verified again before it can be registered.",
            "An administrator must verify the number in WhatsApp Manager, then register it."),
        // §4 writes "133005–133009"; Meta lists no 133007, so it is not invented here.
        row(133008, RetryLater, 400, "Too many two-step verification PIN guesses",
            "Too many wrong PINs were tried for the business number.",
            "Wait for the time Meta gives in the error details before trying again."),
        row(133009, RetrySoon, 400, "Two-step verification PIN guessed too fast",
            "PINs were tried too quickly for the business number.",
            "Wait for the time Meta gives in the error details before trying again."),
        row(133010, Policy, 400, "Phone number not registered",
            "The business number is not registered on the WhatsApp Business Platform.",
            "An administrator must register the number before it can send."),
        row(133015, RetrySoon, 400, "Wait before registering this phone number",
            "The number was deleted recently and the deletion has not finished.",
            "Wait 5 minutes, then register the number again."),
        row(133016, RetryLater, 400, "Account register/deregister rate limit exceeded",
            "Too many registration or deregistration attempts were made for this number recently.",
            "Stop retrying and wait (hours) before the next registration attempt."),
        row(134011, Policy, 400, "WhatsApp Payments terms of service pending",
            "The WhatsApp Payments terms of service have not been accepted for this account.",
            "An administrator must accept the WhatsApp Payments terms."),
        row(135000, Permanent, 400, "Generic user error",
            "The request failed because of an unknown problem with its parameters.",
            "Check the message against the API reference; contact Meta support with the fbtrace_id if it looks right."),
        row(2388019, Policy, 400, "Template limit reached",
            "The business account has reached its maximum number of message templates.",
            "Delete unused templates, or verify the business to raise the limit."),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TABLE.windows(2).all(|w| w[0].code < w[1].code));
        let codes: HashSet<i64> = TABLE.iter().map(|e| e.code).collect();
        assert_eq!(codes.len(), TABLE.len());
    }

    #[test]
    fn every_entry_is_filled_in() {
        for entry in TABLE {
            assert!(!entry.title.trim().is_empty(), "{}", entry.code);
            assert!(!entry.meaning.trim().is_empty(), "{}", entry.code);
            assert!(!entry.next_step.trim().is_empty(), "{}", entry.code);
            assert!(matches!(entry.http_status, 400..=599), "{}", entry.code);
            assert_eq!(lookup(entry.code), Some(entry));
        }
    }

    #[test]
    fn every_code_of_section_4_is_known() {
        let section_4 = [
            0, 3, 4, 10, 100, 190, 368, 80007, 130429, 130472, 130497, 131000, 131005, 131008,
            131009, 131016, 131021, 131026, 131031, 131037, 131042, 131045, 131047, 131048, 131049,
            131050, 131051, 131052, 131053, 131056, 131057, 131060, 131063, 131064, 132000, 132001,
            132005, 132007, 132012, 132015, 132016, 132068, 132069, 133000, 133004, 133005, 133006,
            133008, 133009, 133010, 133015, 133016, 134011, 135000,
        ];
        let extra = [2, 131030, 131062, 2388019];
        for code in section_4.into_iter().chain(extra).chain(200..=299) {
            assert!(lookup(code).is_some(), "{code}");
        }
    }

    #[test]
    fn range_200_to_299_is_one_entry() {
        assert_eq!(lookup(250).map(|e| e.code), Some(200));
        assert_eq!(lookup(299).map(|e| e.code), Some(200));
        assert_eq!(lookup(300), None);
        assert_eq!(class_of(273), ErrorClass::Reauthenticate);
    }

    #[test]
    fn retry_soon() {
        for code in [130429, 131056, 4, 80007, 131000, 131016, 133004, 2, 131057] {
            assert_eq!(class_of(code), ErrorClass::RetrySoon, "{code}");
        }
    }

    #[test]
    fn retry_later() {
        assert_eq!(class_of(131049), ErrorClass::RetryLater);
        assert_eq!(class_of(132069), ErrorClass::RetryLater);
        assert_eq!(class_of(133016), ErrorClass::RetryLater);
    }

    #[test]
    fn permanent() {
        for code in [
            100, 131008, 131009, 131021, 131026, 131051, 131052, 131053, 132000, 132001, 132005,
            132007, 132012, 132015, 132016, 135000,
        ] {
            assert_eq!(class_of(code), ErrorClass::Permanent, "{code}");
        }
    }

    #[test]
    fn needs_template() {
        assert_eq!(class_of(131047), ErrorClass::NeedsTemplate);
        assert!(!ErrorClass::NeedsTemplate.is_retryable());
    }

    #[test]
    fn reauthenticate() {
        for code in [0, 190, 10, 200, 299, 3, 131005] {
            assert_eq!(class_of(code), ErrorClass::Reauthenticate, "{code}");
        }
    }

    #[test]
    fn policy_is_never_retried() {
        for code in [
            368, 130497, 131031, 131042, 131045, 131048, 131050, 131063, 131064, 130472, 133010,
            131037,
        ] {
            assert_eq!(class_of(code), ErrorClass::Policy, "{code}");
            assert!(!class_of(code).is_retryable(), "{code}");
        }
    }

    #[test]
    fn third_party_retry_list_is_not_followed_for_spam_and_policy_blocks() {
        // cloud-api.md §4: a third-party list retries 131048 and 368; Meta's advice does not.
        assert!(!class_of(131048).is_retryable());
        assert!(!class_of(368).is_retryable());
    }

    #[test]
    fn unknown_codes_are_permanent() {
        assert_eq!(class_of(999_999), ErrorClass::Permanent);
        assert_eq!(class_of(-1), ErrorClass::Permanent);
        assert_eq!(lookup(133007), None);
    }

    #[test]
    fn http_statuses_of_section_3_4() {
        let status = |code| lookup(code).map(|e| e.http_status);
        for code in [0, 190] {
            assert_eq!(status(code), Some(401), "{code}");
        }
        for code in [10, 200, 250, 299, 368, 131005, 131031] {
            assert_eq!(status(code), Some(403), "{code}");
        }
        assert_eq!(status(132001), Some(404));
        for code in [3, 131000, 131016, 131045, 131057] {
            assert_eq!(status(code), Some(500), "{code}");
        }
        for code in [2, 133004] {
            assert_eq!(status(code), Some(503), "{code}");
        }
        for code in [100, 131009, 131047, 131026] {
            assert_eq!(status(code), Some(400), "{code}");
        }
    }

    #[test]
    fn rate_limits_are_400_not_429() {
        for code in [4, 80007, 130429, 131056] {
            assert_eq!(lookup(code).map(|e| e.http_status), Some(400), "{code}");
        }
        assert!(TABLE.iter().all(|e| e.http_status != 429));
    }

    #[test]
    fn class_next_steps_are_filled_in() {
        for class in [
            ErrorClass::RetrySoon,
            ErrorClass::RetryLater,
            ErrorClass::Permanent,
            ErrorClass::NeedsTemplate,
            ErrorClass::Reauthenticate,
            ErrorClass::Policy,
        ] {
            assert!(!class.next_step().is_empty());
        }
        assert!(ErrorClass::RetrySoon.is_retryable());
        assert!(ErrorClass::RetryLater.is_retryable());
        assert!(!ErrorClass::Permanent.is_retryable());
        assert!(!ErrorClass::Reauthenticate.is_retryable());
    }

    #[test]
    fn class_serde_is_snake_case() {
        assert_eq!(
            serde_json::to_string(&ErrorClass::NeedsTemplate).unwrap(),
            r#""needs_template""#
        );
        let back: ErrorClass = serde_json::from_str(r#""retry_soon""#).unwrap();
        assert_eq!(back, ErrorClass::RetrySoon);
    }

    #[test]
    fn section_3_4_sample_parses() {
        let body = r#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,
          "error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},
          "error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#;
        let response: GraphErrorResponse = serde_json::from_str(body).unwrap();
        let error = &response.error;
        assert_eq!(error.code, 130429);
        assert_eq!(error.kind, "OAuthException");
        assert_eq!(error.message, "(#130429) Rate limit hit");
        assert_eq!(error.error_subcode, Some(2494055));
        assert_eq!(error.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
        let data = error.error_data.as_ref().unwrap();
        assert_eq!(data.messaging_product.as_deref(), Some("whatsapp"));
        assert_eq!(
            data.details.as_deref(),
            Some("Cloud API message throughput has been reached.")
        );
        assert_eq!(error.class(), ErrorClass::RetrySoon);

        let again: GraphErrorResponse =
            serde_json::from_str(&serde_json::to_string(&response).unwrap()).unwrap();
        assert_eq!(again, response);
    }

    #[test]
    fn graph_error_is_lenient() {
        let minimal: GraphErrorResponse =
            serde_json::from_str(r#"{"error":{"code":190}}"#).unwrap();
        assert_eq!(minimal.error.class(), ErrorClass::Reauthenticate);
        assert_eq!(minimal.error.message, "");
        assert_eq!(minimal.error.error_data, None);

        let extra: GraphErrorResponse = serde_json::from_str(
            r#"{"error":{"code":131047,"is_transient":false,"error_user_msg":"x","error_data":{"new":1}}}"#,
        )
        .unwrap();
        assert_eq!(extra.error.class(), ErrorClass::NeedsTemplate);
        assert_eq!(extra.error.error_data.unwrap().details, None);

        assert!(
            serde_json::from_str::<GraphErrorResponse>(r#"{"error":{"message":"x"}}"#).is_err()
        );
    }
}
