//! Who a customer is.
//!
//! Since 2026 a WhatsApp user may be known only by a business-scoped user id (BSUID, e.g.
//! `US.13491208655302741918`) with the phone number hidden behind a username (cloud-api.md §9.4).
//! So a contact is keyed by its BSUID when Meta sends one, else by its `wa_id`; the phone number is
//! an attribute that may be absent, and a contact first seen by `wa_id` keeps its record when its
//! BSUID shows up later.

use serde::{Deserialize, Serialize};
use wa::phone::E164;

use crate::Timestamp;
use wa::webhook::{EchoMessage, InboundMessage, Profile};

/// A business-scoped user id. Meta documents the form `<ISO country>.<up to 128 alphanumerics>`
/// (and `<country>.ENT.<…>` for parent ids) but says it is subject to change, so the check is
/// only that it looks like an opaque id: 1–200 characters of letters, digits, `.`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bsuid(String);

impl Bsuid {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=200).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A WhatsApp id (`wa_id`, `from`, `to`): usually the phone number's digits, but Meta warns it may
/// differ from the number, so it is kept as an opaque id and only read as a phone number when it
/// is one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WaId(String);

impl WaId {
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let ok = (1..=64).contains(&raw.len()) && !raw.chars().any(char::is_control);
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The phone number this id spells, if it spells one.
    pub fn phone(&self) -> Option<E164> {
        wa::phone::from_wa_id(&self.0).ok()
    }
}

/// The key a contact is stored under, within one business portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContactKey {
    Bsuid(Bsuid),
    WaId(WaId),
}

/// Everything a webhook says about a customer. Built only from a webhook item, so that it always
/// names the customer by at least one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerIdentity {
    key: ContactKey,
    pub user_id: Option<Bsuid>,
    pub parent_user_id: Option<Bsuid>,
    pub wa_id: Option<WaId>,
    pub phone: Option<E164>,
    pub username: Option<String>,
    pub profile_name: Option<String>,
}

/// A webhook item that names no customer at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the item names no customer (no usable `from`/`wa_id` nor business-scoped `user_id`), so it \
     cannot be attached to a conversation; the raw webhook is kept"
)]
pub struct NoCustomer;

impl CustomerIdentity {
    fn build(
        user_id: Option<&str>,
        parent_user_id: Option<&str>,
        wa_id: Option<&str>,
        profiles: &[Profile],
    ) -> Result<Self, NoCustomer> {
        let profile = profiles.iter().find(|p| p.is_for(wa_id, user_id));
        let user_id = user_id.or_else(|| profile.and_then(|p| p.user_id.as_deref()));
        let parent = parent_user_id.or_else(|| profile.and_then(|p| p.parent_user_id.as_deref()));
        let wa_id = wa_id
            .or_else(|| profile.and_then(|p| p.wa_id.as_deref()))
            .and_then(WaId::parse);
        let user_id = user_id.and_then(Bsuid::parse);
        let key = match (&user_id, &wa_id) {
            (Some(b), _) => ContactKey::Bsuid(b.clone()),
            (None, Some(w)) => ContactKey::WaId(w.clone()),
            (None, None) => return Err(NoCustomer),
        };
        Ok(Self {
            key,
            user_id,
            parent_user_id: parent.and_then(Bsuid::parse),
            phone: wa_id.as_ref().and_then(WaId::phone),
            wa_id,
            username: profile.and_then(Profile::username).map(str::to_owned),
            profile_name: profile.and_then(Profile::name).map(str::to_owned),
        })
    }

    /// The sender of an inbound message, completed from the batch's `contacts` profiles.
    pub fn of_sender(message: &InboundMessage, profiles: &[Profile]) -> Result<Self, NoCustomer> {
        Self::build(
            message.from_user_id.as_deref(),
            message.from_parent_user_id.as_deref(),
            message.from.as_deref(),
            profiles,
        )
    }

    /// The recipient of a message the business sent from the WhatsApp Business app.
    pub fn of_echo_recipient(echo: &EchoMessage, profiles: &[Profile]) -> Result<Self, NoCustomer> {
        Self::build(
            echo.to_user_id.as_deref(),
            echo.to_parent_user_id.as_deref(),
            echo.to.as_deref(),
            profiles,
        )
    }

    /// A customer named only by ids (a status recipient, a preference change).
    pub fn of_ids(
        wa_id: Option<&str>,
        user_id: Option<&str>,
        profiles: &[Profile],
    ) -> Result<Self, NoCustomer> {
        Self::build(user_id, None, wa_id, profiles)
    }

    /// The key to store the contact under: the BSUID when known, else the WhatsApp id.
    pub fn key(&self) -> &ContactKey {
        &self.key
    }
}

/// A stored contact, as far as matching it to an identity needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContact {
    pub id: i64,
    pub user_id: Option<String>,
    pub wa_id: Option<String>,
}

/// What to do with the contacts an identity matched (by BSUID and by WhatsApp id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactPlan {
    /// The identity is this contact: update it.
    Update(i64),
    /// The identity is `keep` (matched by BSUID); the WhatsApp id it now carries was held by
    /// `release` — the same person's record from before BSUIDs, or a recycled number. `release`
    /// keeps its history but gives up the id.
    UpdateTakingWaId { keep: i64, release: i64 },
    /// A new customer. If `release_wa_id_of` is set, that contact held the WhatsApp id under
    /// another BSUID: the number now belongs to someone else.
    Create { release_wa_id_of: Option<i64> },
}

/// Matches an identity to the contacts found by its BSUID and by its WhatsApp id. The BSUID is
/// the stronger key: Meta scopes it to one person in one portfolio, while a phone number can be
/// recycled.
pub fn plan_contact(
    identity: &CustomerIdentity,
    by_user_id: Option<&StoredContact>,
    by_wa_id: Option<&StoredContact>,
) -> ContactPlan {
    match (by_user_id, by_wa_id) {
        (Some(a), Some(b)) if a.id == b.id => ContactPlan::Update(a.id),
        (Some(a), Some(b)) => ContactPlan::UpdateTakingWaId {
            keep: a.id,
            release: b.id,
        },
        (Some(a), None) => ContactPlan::Update(a.id),
        (None, Some(b)) => match (&identity.user_id, &b.user_id) {
            // No BSUID in this webhook, or a record from before BSUIDs: same person.
            (None, _) | (Some(_), None) => ContactPlan::Update(b.id),
            (Some(new), Some(old)) if new.as_str() == old => ContactPlan::Update(b.id),
            (Some(_), Some(_)) => ContactPlan::Create {
                release_wa_id_of: Some(b.id),
            },
        },
        (None, None) => ContactPlan::Create {
            release_wa_id_of: None,
        },
    }
}

/// A contact's identity fields, and the Meta time of the newest webhook item they came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactProfile {
    pub user_id: Option<String>,
    pub parent_user_id: Option<String>,
    pub wa_id: Option<String>,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub profile_name: Option<String>,
    pub seen_at: Option<Timestamp>,
}

impl ContactProfile {
    /// What the contact becomes after an identity seen in an item of Meta time `at`.
    ///
    /// Webhooks arrive in any order, so the newest item wins whatever order they are ingested
    /// in: an item newer than what the contact was built from overrides what it says (and keeps
    /// what it leaves out — a status without a profile name does not erase the name); an older
    /// one only fills what is still unknown.
    #[must_use]
    pub fn merged_with(&self, identity: &CustomerIdentity, at: Timestamp) -> Self {
        let newer = self.seen_at.is_none_or(|seen| at >= seen);
        let pick = |new: Option<String>, old: &Option<String>| {
            if newer {
                new.or_else(|| old.clone())
            } else {
                old.clone().or(new)
            }
        };
        Self {
            user_id: pick(
                identity.user_id.as_ref().map(|b| b.as_str().to_owned()),
                &self.user_id,
            ),
            parent_user_id: pick(
                identity
                    .parent_user_id
                    .as_ref()
                    .map(|b| b.as_str().to_owned()),
                &self.parent_user_id,
            ),
            wa_id: pick(
                identity.wa_id.as_ref().map(|w| w.as_str().to_owned()),
                &self.wa_id,
            ),
            phone: pick(
                identity.phone.as_ref().map(|p| p.as_str().to_owned()),
                &self.phone,
            ),
            username: pick(identity.username.clone(), &self.username),
            profile_name: pick(identity.profile_name.clone(), &self.profile_name),
            seen_at: if newer { Some(at) } else { self.seen_at },
        }
    }

    /// After a `user_changed_number` system message of Meta time `at`: the contact is now
    /// reached at `new`, unless something newer is already known.
    #[must_use]
    pub fn with_new_number(&self, new: &CustomerIdentity, at: Timestamp) -> Self {
        if self.seen_at.is_some_and(|seen| at < seen) {
            return self.clone();
        }
        let mut next = self.merged_with(new, at);
        next.wa_id = new.wa_id.as_ref().map(|w| w.as_str().to_owned());
        next.phone = new.phone.as_ref().map(|p| p.as_str().to_owned());
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(wa_id: &str, user_id: Option<&str>, name: &str) -> Profile {
        serde_json::from_value(serde_json::json!({
            "wa_id": wa_id, "user_id": user_id, "profile": {"name": name, "username": "@shee"}
        }))
        .expect("profile")
    }

    #[test]
    fn the_bsuid_is_the_key_when_present_and_the_phone_an_attribute() {
        let p = [profile(
            "16505551234",
            Some("US.13491208655302741918"),
            "Sheena",
        )];
        let id = CustomerIdentity::of_ids(Some("16505551234"), None, &p).expect("identity");
        assert_eq!(
            id.key(),
            &ContactKey::Bsuid(Bsuid::parse("US.13491208655302741918").expect("bsuid"))
        );
        assert_eq!(id.phone.as_ref().map(E164::as_str), Some("+16505551234"));
        assert_eq!(id.profile_name.as_deref(), Some("Sheena"));
        assert_eq!(id.username.as_deref(), Some("@shee"));
    }

    #[test]
    fn without_a_bsuid_the_wa_id_is_the_key() {
        let id = CustomerIdentity::of_ids(Some("16505551234"), None, &[]).expect("identity");
        assert_eq!(
            id.key(),
            &ContactKey::WaId(WaId::parse("16505551234").expect("wa_id"))
        );
    }

    #[test]
    fn a_username_user_has_no_phone() {
        let id = CustomerIdentity::of_ids(None, Some("US.999"), &[]).expect("identity");
        assert_eq!(id.phone, None);
        assert_eq!(id.wa_id, None);
        assert!(matches!(id.key(), ContactKey::Bsuid(_)));
    }

    #[test]
    fn a_wa_id_that_is_not_a_number_is_kept_as_an_id_without_phone() {
        let id =
            CustomerIdentity::of_ids(Some("<WHATSAPP_USER_PHONE_NUMBER>"), Some("<BSUID>"), &[])
                .expect("identity");
        assert_eq!(id.user_id, None, "not an id Meta would send");
        assert_eq!(id.phone, None);
        assert!(matches!(id.key(), ContactKey::WaId(_)));
    }

    #[test]
    fn an_item_without_any_id_names_no_customer() {
        assert_eq!(CustomerIdentity::of_ids(None, None, &[]), Err(NoCustomer));
        assert_eq!(
            CustomerIdentity::of_ids(Some(""), Some(" "), &[]),
            Err(NoCustomer)
        );
    }

    fn stored(id: i64, user_id: Option<&str>, wa_id: Option<&str>) -> StoredContact {
        StoredContact {
            id,
            user_id: user_id.map(Into::into),
            wa_id: wa_id.map(Into::into),
        }
    }

    #[test]
    fn contact_plans() {
        let both = CustomerIdentity::of_ids(Some("111"), Some("US.1"), &[]).expect("identity");
        let wa_only = CustomerIdentity::of_ids(Some("111"), None, &[]).expect("identity");
        let a = stored(1, Some("US.1"), Some("111"));
        assert_eq!(
            plan_contact(&both, Some(&a), Some(&a)),
            ContactPlan::Update(1)
        );
        assert_eq!(
            plan_contact(&both, None, None),
            ContactPlan::Create {
                release_wa_id_of: None
            }
        );
        // A record from before BSUIDs adopts the BSUID.
        let legacy = stored(2, None, Some("111"));
        assert_eq!(
            plan_contact(&both, None, Some(&legacy)),
            ContactPlan::Update(2)
        );
        assert_eq!(
            plan_contact(&wa_only, None, Some(&legacy)),
            ContactPlan::Update(2)
        );
        // The number now belongs to another BSUID: a new contact, the old one releases the id.
        let other = stored(3, Some("US.9"), Some("111"));
        assert_eq!(
            plan_contact(&both, None, Some(&other)),
            ContactPlan::Create {
                release_wa_id_of: Some(3)
            }
        );
        // Found twice: the BSUID's record wins and takes the WhatsApp id.
        let by_bsuid = stored(4, Some("US.1"), None);
        assert_eq!(
            plan_contact(&both, Some(&by_bsuid), Some(&legacy)),
            ContactPlan::UpdateTakingWaId {
                keep: 4,
                release: 2
            }
        );
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    fn named(name: &str) -> CustomerIdentity {
        let p = [profile("111", None, name)];
        CustomerIdentity::of_ids(Some("111"), None, &p).expect("identity")
    }

    #[test]
    fn merging_keeps_what_a_webhook_leaves_out() {
        let before = ContactProfile {
            wa_id: Some("111".into()),
            profile_name: Some("Ana".into()),
            username: Some("@ana".into()),
            seen_at: Some(ts(10)),
            ..ContactProfile::default()
        };
        let id = CustomerIdentity::of_ids(Some("111"), Some("US.1"), &[]).expect("identity");
        let after = before.merged_with(&id, ts(20));
        assert_eq!(after.user_id.as_deref(), Some("US.1"));
        assert_eq!(after.profile_name.as_deref(), Some("Ana"));
        assert_eq!(after.username.as_deref(), Some("@ana"));
        assert_eq!(after.seen_at, Some(ts(20)));
        assert_eq!(
            after.merged_with(&id, ts(20)),
            after,
            "merging twice changes nothing"
        );
    }

    #[test]
    fn the_newest_item_wins_whatever_order_they_are_ingested_in() {
        let start = ContactProfile::default();
        let (old, new) = (named("Ana"), named("Ana B."));
        let in_order = start.merged_with(&old, ts(1)).merged_with(&new, ts(2));
        let reversed = start.merged_with(&new, ts(2)).merged_with(&old, ts(1));
        assert_eq!(in_order, reversed);
        assert_eq!(in_order.profile_name.as_deref(), Some("Ana B."));
        // An older item still fills what is unknown.
        let bsuid = CustomerIdentity::of_ids(Some("111"), Some("US.5"), &[]).expect("identity");
        assert_eq!(
            reversed.merged_with(&bsuid, ts(0)).user_id.as_deref(),
            Some("US.5")
        );
    }

    #[test]
    fn a_number_change_applies_unless_something_newer_is_known() {
        let before = ContactProfile::default().merged_with(&named("Ana"), ts(10));
        let new = CustomerIdentity::of_ids(Some("972912345678"), None, &[]).expect("identity");
        let moved = before.with_new_number(&new, ts(20));
        assert_eq!(moved.wa_id.as_deref(), Some("972912345678"));
        assert_eq!(moved.phone.as_deref(), Some("+972912345678"));
        // An older message from the old number, ingested later, does not move it back.
        let old = CustomerIdentity::of_ids(Some("111"), None, &[]).expect("identity");
        assert_eq!(
            moved.merged_with(&old, ts(15)).wa_id.as_deref(),
            Some("972912345678")
        );
        let newer = before.merged_with(&named("Ana"), ts(30));
        assert_eq!(
            newer.with_new_number(&new, ts(20)).wa_id.as_deref(),
            Some("111")
        );
    }

    #[test]
    fn bsuid_and_wa_id_validation() {
        assert!(Bsuid::parse("US.ENT.11815799212886844830").is_some());
        assert!(Bsuid::parse("").is_none());
        assert!(Bsuid::parse("US 1").is_none());
        assert!(Bsuid::parse(&"A".repeat(201)).is_none());
        assert!(WaId::parse("  16505551234 ").is_some_and(|w| w.as_str() == "16505551234"));
        assert!(WaId::parse("a\nb").is_none());
    }
}
