//! Turns one stored webhook into conversations, messages, statuses and events, inside the
//! ingest transaction. Every item of the batch is handled; an item seen before changes nothing.

use domain::Timestamp;
use domain::controller::{Happening, Holder, holder_of};
use domain::conversation::{Activity, ConversationStatus};
use domain::delivery::{Delivery, Failure, Step};
use domain::identity::{
    ContactPlan, ContactProfile, CustomerIdentity, StoredContact, plan_contact,
};
use serde_json::json;
use store::{
    ContactFields, ContactRow, ConversationUpdate, DeliveryColumns, Direction, MessageDelivery,
    NewConsent, NewEvent, NewMedia, NewMessage, NewStatus, StatusRecorded, TemplateEvent,
    TemplateField, Tx,
};
use wa::webhook::{
    ChangeValue, Content, EchoMessage, EchoesValue, InboundMessage, MessagesValue, Status,
    UserPreferencesValue,
};

use crate::config::Settings;
use crate::metrics::Metrics;

/// What ingesting one webhook met that the operator may want to know (stored with the event).
#[derive(Debug, Default)]
pub(crate) struct Notes {
    lines: Vec<String>,
}

impl Notes {
    fn push(&mut self, line: String) {
        self.lines.push(line);
    }

    pub(crate) fn into_note(self) -> Option<String> {
        (!self.lines.is_empty()).then(|| self.lines.join("\n"))
    }
}

/// The context of one ingestion.
pub(crate) struct Ingest<'a> {
    pub tx: &'a mut dyn Tx,
    pub settings: &'a Settings,
    pub metrics: &'a Metrics,
    pub now_ms: i64,
    pub notes: Notes,
    /// Media queued for download by this ingestion.
    pub media_queued: usize,
}

type Result<T> = store::Result<T>;

impl Ingest<'_> {
    /// Ingests a parsed notification, every entry and change of it.
    pub(crate) async fn notification(&mut self, n: &wa::webhook::Notification) -> Result<()> {
        for entry in &n.entry {
            for change in &entry.changes {
                match &change.value {
                    ChangeValue::Messages(v) => self.messages(v).await?,
                    ChangeValue::MessageEchoes(v) => self.echoes(v).await?,
                    ChangeValue::UserPreferences(v) => self.preferences(v).await?,
                    ChangeValue::Other(_) => self.metrics.item("other", "kept_raw"),
                    template => {
                        if let Some(e) = template_event(entry, template, self.now_ms) {
                            self.template(e).await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn messages(&mut self, v: &MessagesValue) -> Result<()> {
        let number = v.metadata.phone_number_id.as_str();
        for m in &v.messages {
            self.inbound_message(number, v, m).await?;
        }
        for s in &v.statuses {
            self.status(number, s).await?;
        }
        for e in &v.errors {
            self.metrics.item("error", "new");
            let payload = json!({
                "phone_number_id": number,
                "code": e.code,
                "class": wa::error_codes::class_of(e.code).as_str(),
                "title": e.title,
                "details": e.details(),
            });
            self.event("platform.error", None, None, payload).await?;
        }
        Ok(())
    }

    async fn inbound_message(
        &mut self,
        number: &str,
        v: &MessagesValue,
        m: &InboundMessage,
    ) -> Result<()> {
        if self.tx.message_exists(&m.id).await? {
            self.metrics.item("message", "duplicate");
            return Ok(());
        }
        let identity = match CustomerIdentity::of_sender(m, &v.contacts) {
            Ok(identity) => identity,
            Err(e) => {
                self.metrics.item("message", "invalid");
                self.notes.push(format!("message {}: {e}", m.id));
                return Ok(());
            }
        };
        let contact_id = self
            .contact(number, &identity, Timestamp::from_unix(m.timestamp))
            .await?;
        let conversation = self
            .tx
            .conversation_for(number, contact_id, self.now_ms)
            .await?;
        let at = Timestamp::from_unix(m.timestamp);
        let new = NewMessage {
            conversation_id: conversation.id,
            wamid: Some(m.id.clone()),
            direction: Direction::Inbound,
            kind: m.kind.clone(),
            meta_at: m.timestamp,
            received_at_ms: self.now_ms,
            preview: preview(&m.content),
            content: content_json(&m.content),
            raw: Some(m.raw.get().to_owned()),
            context_wamid: m.context.as_ref().and_then(|c| c.id.clone()),
            referral: m
                .referral
                .as_ref()
                .and_then(|r| serde_json::to_string(r).ok()),
            errors: (!m.errors.is_empty())
                .then(|| serde_json::to_string(&m.errors).unwrap_or_default()),
            delivery: None,
            category: None,
            business_initiated: false,
            biz_opaque: None,
        };
        let Some(message_id) = self.tx.insert_message(&new).await? else {
            self.metrics.item("message", "duplicate");
            return Ok(());
        };
        self.metrics.item("message", "new");
        self.queue_media(message_id, number, &m.kind, &m.content)
            .await?;
        let activity = Activity {
            last_message_at: Some(Timestamp::from_unix(conversation.last_message_at)),
            last_inbound_at: conversation.last_inbound_at.map(Timestamp::from_unix),
        }
        .with_message(at, true);
        let status = ConversationStatus::parse(&conversation.status)
            .unwrap_or(ConversationStatus::Open)
            .on_customer_message();
        let referral_at = m.referral.as_ref().map(|_| m.timestamp);
        self.tx
            .update_conversation(
                conversation.id,
                &ConversationUpdate {
                    status: status.as_str().to_owned(),
                    last_message_at: activity.last_message_at.map_or(0, Timestamp::unix),
                    last_inbound_at: activity.last_inbound_at.map(Timestamp::unix),
                    last_referral_at: max_opt(conversation.last_referral_at, referral_at),
                    new_unread: 1,
                    new_messages: 1,
                    updated_at_ms: self.now_ms,
                },
            )
            .await?;
        if let Content::System(system) = &m.content {
            self.system_message(contact_id, system, at).await?;
        }
        self.controller(number, &conversation, message_id).await?;
        self.keyword(number, contact_id, &m.content, m.timestamp)
            .await?;
        let payload = json!({
            "conversation_id": conversation.id,
            "message_id": message_id,
            "wamid": m.id,
            "kind": m.kind,
            "direction": "inbound",
            "reopened": conversation.status != status.as_str(),
            "referral": m.referral.is_some(),
        });
        self.event(
            "message.received",
            Some(conversation.id),
            Some(message_id),
            payload,
        )
        .await
    }

    /// The controller's rules for a customer's message: a resolved (or brand-new) conversation
    /// of a bot number goes to the bot (or to the queue for a human), and a bot-held one gets a
    /// job for the bot loop — in this transaction, so that no message a bot holds goes
    /// unanswered.
    async fn controller(
        &mut self,
        number: &str,
        before: &store::ConversationRow,
        message_id: i64,
    ) -> Result<()> {
        if self.settings.bots.flow(number).is_none() {
            return Ok(());
        }
        let Some(row) = self.tx.holder(before.id).await? else {
            return Ok(());
        };
        // Nobody holds a conversation that had no message yet: it starts like a resolved one.
        let from = if before.message_count == 0 {
            Holder::Resolved
        } else {
            holder_of(&before.status, &row.handler)
        };
        let t = crate::bots::controller::apply_from(
            &mut *self.tx,
            self.settings,
            before.id,
            number,
            from,
            Happening::CustomerMessage,
            None,
            self.now_ms,
        )
        .await?;
        if t.map_or(from, |t| t.to) == Holder::Bot {
            self.tx
                .queue_bot_job(before.id, message_id, self.now_ms)
                .await?;
        }
        Ok(())
    }

    /// A message's file is downloaded later, but queued now, in the transaction that records
    /// the message: none is ever recorded with its media forgotten. Meta's webhook gives only an
    /// id (cloud-api.md §1.4, §9.1); a media without one cannot be fetched and is noted.
    async fn queue_media(
        &mut self,
        message_id: i64,
        number: &str,
        kind: &str,
        content: &Content,
    ) -> Result<()> {
        let Some(media) = content.media() else {
            return Ok(());
        };
        let Some(meta_media_id) = media.id.clone() else {
            self.notes.push(format!(
                "message {message_id}: its {kind} has no media id to fetch"
            ));
            return Ok(());
        };
        let queued = self
            .tx
            .queue_media(&NewMedia {
                message_id,
                meta_media_id,
                phone_number_id: number.to_owned(),
                kind: kind.to_owned(),
                declared_mime: media.mime_type.clone(),
                declared_sha256: media.sha256.clone(),
                filename: media.filename.clone(),
                created_at_ms: self.now_ms,
            })
            .await?;
        if queued.is_some() {
            self.media_queued += 1;
        }
        Ok(())
    }

    /// A customer changed number: the contact follows (cloud-api.md §1.5).
    async fn system_message(
        &mut self,
        contact_id: i64,
        system: &wa::webhook::System,
        at: Timestamp,
    ) -> Result<()> {
        if system.kind.as_deref() != Some("user_changed_number") {
            return Ok(());
        }
        let Some(new_wa_id) = system.wa_id.as_deref() else {
            return Ok(());
        };
        let Ok(identity) =
            CustomerIdentity::of_ids(Some(new_wa_id), system.user_id.as_deref(), &[])
        else {
            return Ok(());
        };
        let Some(existing) = self.tx.contact_by_id(contact_id).await? else {
            return Ok(());
        };
        let holder = self
            .tx
            .contact_matches(&existing.portfolio, None, Some(new_wa_id))
            .await?
            .by_wa_id;
        if let Some(holder) = holder
            && holder.id != contact_id
        {
            self.release_wa_id(&holder).await?;
        }
        let before = profile_of(&existing);
        let profile = before.with_new_number(&identity, at);
        if profile == before {
            return Ok(());
        }
        self.tx
            .update_contact(
                contact_id,
                &fields(&existing.portfolio, &profile),
                self.now_ms,
            )
            .await?;
        self.event(
            "contact.number_changed",
            None,
            None,
            json!({ "contact_id": contact_id }),
        )
        .await
    }

    async fn echoes(&mut self, v: &EchoesValue) -> Result<()> {
        let number = v.metadata.phone_number_id.as_str();
        for echo in &v.message_echoes {
            self.echo(number, v, echo).await?;
        }
        Ok(())
    }

    /// The business answered from the WhatsApp Business app: the message joins the thread
    /// (and, later, pauses the bot). It does not open a customer-service window.
    async fn echo(&mut self, number: &str, v: &EchoesValue, echo: &EchoMessage) -> Result<()> {
        if self.tx.message_exists(&echo.id).await? {
            self.metrics.item("echo", "duplicate");
            return Ok(());
        }
        let identity = match CustomerIdentity::of_echo_recipient(echo, &v.contacts) {
            Ok(identity) => identity,
            Err(e) => {
                self.metrics.item("echo", "invalid");
                self.notes.push(format!("echo {}: {e}", echo.id));
                return Ok(());
            }
        };
        let contact_id = self
            .contact(number, &identity, Timestamp::from_unix(echo.timestamp))
            .await?;
        let conversation = self
            .tx
            .conversation_for(number, contact_id, self.now_ms)
            .await?;
        let new = NewMessage {
            conversation_id: conversation.id,
            wamid: Some(echo.id.clone()),
            direction: Direction::Echo,
            kind: echo.kind.clone(),
            meta_at: echo.timestamp,
            received_at_ms: self.now_ms,
            preview: preview(&echo.content),
            content: content_json(&echo.content),
            raw: Some(echo.raw.get().to_owned()),
            context_wamid: echo.context.as_ref().and_then(|c| c.id.clone()),
            referral: None,
            errors: None,
            delivery: Some(Delivery::default().status().as_str().to_owned()),
            category: None,
            business_initiated: false,
            biz_opaque: None,
        };
        let Some(message_id) = self.tx.insert_message(&new).await? else {
            self.metrics.item("echo", "duplicate");
            return Ok(());
        };
        self.metrics.item("echo", "new");
        self.queue_media(message_id, number, &echo.kind, &echo.content)
            .await?;
        // Statuses may have arrived before the echo itself.
        self.replay_statuses(&echo.id).await?;
        // Someone answered from the business's phone: the bot pauses (coexistence).
        crate::bots::controller::apply(
            &mut *self.tx,
            self.settings,
            conversation.id,
            Happening::PhoneReply,
            None,
            self.now_ms,
        )
        .await?;
        let activity = Activity {
            last_message_at: Some(Timestamp::from_unix(conversation.last_message_at)),
            last_inbound_at: conversation.last_inbound_at.map(Timestamp::from_unix),
        }
        .with_message(Timestamp::from_unix(echo.timestamp), false);
        self.tx
            .update_conversation(
                conversation.id,
                &ConversationUpdate {
                    status: conversation.status.clone(),
                    last_message_at: activity.last_message_at.map_or(0, Timestamp::unix),
                    last_inbound_at: conversation.last_inbound_at,
                    last_referral_at: conversation.last_referral_at,
                    new_unread: 0,
                    new_messages: 1,
                    updated_at_ms: self.now_ms,
                },
            )
            .await?;
        let payload = json!({
            "conversation_id": conversation.id,
            "message_id": message_id,
            "wamid": echo.id,
            "kind": echo.kind,
            "direction": "echo",
        });
        self.event(
            "message.echoed",
            Some(conversation.id),
            Some(message_id),
            payload,
        )
        .await
    }

    async fn status(&mut self, number: &str, s: &Status) -> Result<()> {
        let failure = s.errors.first();
        let pricing = s.pricing.as_ref();
        let new = NewStatus {
            wamid: s.id.clone(),
            status: s.status.as_str().to_owned(),
            meta_at: s.timestamp,
            phone_number_id: number.to_owned(),
            recipient_id: s.recipient_id.clone(),
            recipient_user_id: s.recipient_user_id.clone(),
            error_code: failure.map(|e| e.code),
            errors: (!s.errors.is_empty())
                .then(|| serde_json::to_string(&s.errors).unwrap_or_default()),
            pricing_model: pricing.and_then(|p| p.pricing_model.clone()),
            pricing_type: pricing.and_then(|p| p.kind.clone()),
            pricing_category: pricing.and_then(|p| p.category.clone()),
            billable: pricing.and_then(|p| p.billable),
            conversation: s
                .conversation
                .as_ref()
                .and_then(|c| serde_json::to_string(c).ok()),
            biz_opaque: s.biz_opaque_callback_data.clone(),
            received_at_ms: self.now_ms,
        };
        let message = match self.tx.record_status(&new).await? {
            StatusRecorded::Duplicate => {
                self.metrics.item("status", "duplicate");
                return Ok(());
            }
            StatusRecorded::New(message) => message,
        };
        self.metrics.item("status", "new");
        let Some(step) = Step::from_status(&s.status) else {
            self.notes.push(format!(
                "status `{}` of {} kept, not interpreted",
                s.status.as_str(),
                s.id
            ));
            return Ok(());
        };
        // Without the message yet, the status waits in `message_statuses` and is replayed when
        // the message is recorded — or now, if it names a message guichet sent whose answer
        // never came (or has not been recorded yet).
        let Some(message) = message else {
            return self.status_of_unanswered_send(s).await;
        };
        if let Some(p) = pricing {
            self.bill(message.message_id, p, s.timestamp).await?;
        }
        let failure = failure.map(|e| Failure {
            code: e.code,
            details: e.details().map(str::to_owned),
        });
        self.merge_status(&message, &s.id, step, s.timestamp, failure)
            .await
    }

    /// Applies one status to the message it is about (read and locked in this transaction).
    async fn merge_status(
        &mut self,
        found: &MessageDelivery,
        wamid: &str,
        step: Step,
        at: i64,
        failure: Option<Failure>,
    ) -> Result<()> {
        let mut delivery = delivery_of(&found.columns);
        let applied = delivery.apply(step, Timestamp::from_unix(at), failure);
        if applied.changed {
            self.tx
                .set_delivery(found.message_id, &columns_of(&delivery))
                .await?;
        }
        if let Some(status) = applied.advanced_to {
            let mut payload = json!({
                "conversation_id": found.conversation_id,
                "message_id": found.message_id,
                "wamid": wamid,
                "status": status.as_str(),
            });
            if let Some(f) = &delivery.failure {
                let class = wa::error_codes::class_of(f.code);
                payload["error"] =
                    json!({"code": f.code, "class": class.as_str(), "details": f.details});
            }
            self.event(
                "message.status",
                Some(found.conversation_id),
                Some(found.message_id),
                payload,
            )
            .await?;
        }
        Ok(())
    }

    /// A status whose wamid guichet does not know, with guichet's `biz_opaque_callback_data`:
    /// the message it sent without hearing back (or not yet). It gets the wamid and is settled
    /// as sent; then every status stored for the wamid applies.
    async fn status_of_unanswered_send(&mut self, s: &Status) -> Result<()> {
        let Some(message_id) = s
            .biz_opaque_callback_data
            .as_deref()
            .and_then(crate::outbound::message_id_of_opaque)
        else {
            return Ok(());
        };
        let Some(wamid) = self.tx.attach_wamid(message_id, &s.id, self.now_ms).await? else {
            return Ok(());
        };
        if wamid != s.id {
            // Resent after no answer, and the first attempt arrived too.
            self.notes.push(format!(
                "message {message_id} was sent twice: {wamid} and {}",
                s.id
            ));
            return self
                .event(
                    "message.sent_twice",
                    None,
                    Some(message_id),
                    json!({"message_id": message_id, "wamids": [wamid, s.id]}),
                )
                .await;
        }
        if let Some(p) = &s.pricing {
            self.bill(message_id, p, s.timestamp).await?;
        }
        self.replay_statuses(&s.id).await
    }

    /// Meta's `pricing` of an outbound message: its bill, kept once beside the prediction.
    async fn bill(&mut self, message_id: i64, p: &wa::webhook::Pricing, at: i64) -> Result<()> {
        self.tx
            .bill_cost(&store::CostBill {
                message_id,
                model: p.pricing_model.clone(),
                category: p.category.clone(),
                pricing_type: p.kind.clone(),
                billable: p.billable,
                billed_micros: None,
                billed_at: at,
            })
            .await?;
        Ok(())
    }

    /// A customer's STOP / START style keyword: a consent event (cloud-api.md §6.3).
    async fn keyword(
        &mut self,
        number: &str,
        contact_id: i64,
        content: &Content,
        at: i64,
    ) -> Result<()> {
        let text = match content {
            Content::Text(t) => t.body.as_str(),
            Content::Button(b) => b.text.as_deref().unwrap_or_default(),
            _ => return Ok(()),
        };
        let value = match self.settings.keywords.classify(text) {
            Some(domain::policy::KeywordKind::OptOut) => "opt_out",
            Some(domain::policy::KeywordKind::OptIn) => "opt_in",
            None => return Ok(()),
        };
        self.tx
            .insert_consent(&NewConsent {
                contact_id,
                phone_number_id: Some(number.to_owned()),
                category: "marketing".into(),
                value: value.into(),
                source: "keyword".into(),
                detail: Some(text.chars().take(64).collect()),
                meta_at: at,
                received_at_ms: self.now_ms,
            })
            .await?;
        Ok(())
    }

    /// Statuses stored before their message (Meta does not order webhooks): apply them now.
    async fn replay_statuses(&mut self, wamid: &str) -> Result<()> {
        let statuses = self.tx.statuses_of(wamid).await?;
        if statuses.is_empty() {
            return Ok(());
        }
        for s in statuses {
            let Some(found) = self.tx.delivery(wamid).await? else {
                return Ok(());
            };
            let Some(step) = Step::from_status(&wa::webhook::StatusKind::parse(&s.status)) else {
                continue;
            };
            let failure = s.error_code.map(|code| Failure {
                code,
                details: first_error_details(s.errors.as_deref()),
            });
            self.merge_status(&found, wamid, step, s.meta_at, failure)
                .await?;
        }
        Ok(())
    }

    async fn template(&mut self, e: TemplateEvent) -> Result<()> {
        if !self.tx.apply_template_event(&e).await? {
            self.metrics.item("template", "duplicate");
            return Ok(());
        }
        self.metrics.item("template", "new");
        let payload = json!({
            "waba_id": e.waba_id,
            "template_id": e.meta_id,
            "name": e.name,
            "language": e.language,
            "field": e.field.as_str(),
            "value": e.value,
        });
        self.event("template.updated", None, None, payload).await
    }

    async fn preferences(&mut self, v: &UserPreferencesValue) -> Result<()> {
        let number = v.metadata.as_ref().map(|m| m.phone_number_id.clone());
        for p in &v.user_preferences {
            let Ok(identity) =
                CustomerIdentity::of_ids(p.wa_id.as_deref(), p.user_id.as_deref(), &v.contacts)
            else {
                self.metrics.item("preference", "invalid");
                self.notes
                    .push("a user preference names no customer".to_owned());
                continue;
            };
            let number_id = number.as_deref().unwrap_or_default();
            let contact_id = self
                .contact(number_id, &identity, Timestamp::from_unix(p.timestamp))
                .await?;
            let consent = NewConsent {
                contact_id,
                phone_number_id: number.clone(),
                category: p.category.clone(),
                value: p.value.clone(),
                source: "user_preferences".into(),
                detail: p.detail.clone(),
                meta_at: p.timestamp,
                received_at_ms: self.now_ms,
            };
            if !self.tx.insert_consent(&consent).await? {
                self.metrics.item("preference", "duplicate");
                continue;
            }
            self.metrics.item("preference", "new");
            if p.category == "marketing_messages" {
                self.tx
                    .set_marketing(contact_id, &p.value, p.timestamp)
                    .await?;
            }
            let payload =
                json!({"contact_id": contact_id, "category": p.category, "value": p.value});
            self.event("consent.changed", None, None, payload).await?;
        }
        Ok(())
    }

    /// Finds or creates the contact an identity names, in the number's portfolio.
    async fn contact(
        &mut self,
        number: &str,
        identity: &CustomerIdentity,
        at: Timestamp,
    ) -> Result<i64> {
        let portfolio = self.settings.portfolio_of(number).to_owned();
        let user_id = identity.user_id.as_ref().map(|b| b.as_str());
        let wa_id = identity.wa_id.as_ref().map(|w| w.as_str());
        let matches = self.tx.contact_matches(&portfolio, user_id, wa_id).await?;
        let (by_user, by_wa) = (matches.by_user_id, matches.by_wa_id);
        let plan = plan_contact(
            identity,
            by_user.as_ref().map(stored).as_ref(),
            by_wa.as_ref().map(stored).as_ref(),
        );
        let found = |id: i64| {
            [&by_user, &by_wa]
                .into_iter()
                .flatten()
                .find(|c| c.id == id)
                .cloned()
        };
        match plan {
            ContactPlan::Update(id) => {
                let Some(existing) = found(id) else {
                    return Ok(id);
                };
                self.update_if_changed(&existing, identity, at).await?;
                Ok(id)
            }
            ContactPlan::UpdateTakingWaId { keep, release } => {
                if let Some(old) = found(release) {
                    self.release_wa_id(&old).await?;
                }
                if let Some(existing) = found(keep) {
                    self.update_if_changed(&existing, identity, at).await?;
                }
                Ok(keep)
            }
            ContactPlan::Create { release_wa_id_of } => {
                if let Some(old) = release_wa_id_of.and_then(found) {
                    self.release_wa_id(&old).await?;
                }
                let profile = ContactProfile::default().merged_with(identity, at);
                self.tx
                    .insert_contact(&fields(&portfolio, &profile), self.now_ms)
                    .await
            }
        }
    }

    async fn update_if_changed(
        &mut self,
        existing: &ContactRow,
        identity: &CustomerIdentity,
        at: Timestamp,
    ) -> Result<()> {
        let before = profile_of(existing);
        let after = before.merged_with(identity, at);
        if after != before {
            self.tx
                .update_contact(
                    existing.id,
                    &fields(&existing.portfolio, &after),
                    self.now_ms,
                )
                .await?;
        }
        Ok(())
    }

    async fn release_wa_id(&mut self, contact: &ContactRow) -> Result<()> {
        let mut profile = profile_of(contact);
        profile.wa_id = None;
        profile.phone = None;
        self.tx
            .update_contact(
                contact.id,
                &fields(&contact.portfolio, &profile),
                self.now_ms,
            )
            .await
    }

    async fn event(
        &mut self,
        kind: &str,
        conversation_id: Option<i64>,
        message_id: Option<i64>,
        payload: serde_json::Value,
    ) -> Result<()> {
        self.tx
            .insert_event(&NewEvent {
                kind: kind.to_owned(),
                conversation_id,
                message_id,
                payload: payload.to_string(),
                created_at_ms: self.now_ms,
            })
            .await?;
        Ok(())
    }
}

/// The details of the first error of a stored `errors` array.
fn first_error_details(errors: Option<&str>) -> Option<String> {
    let errors: Vec<wa::webhook::WebhookError> = serde_json::from_str(errors?).ok()?;
    errors.first().and_then(|e| e.details().map(str::to_owned))
}

/// The keys of what ingesting this notification reads and writes back: the wamids of its
/// messages and statuses, and the ids of its customers.
pub(crate) fn lock_keys(
    n: &wa::webhook::Notification,
    settings: &Settings,
    keys: &mut Vec<String>,
) {
    let mut customer = |number: &str, user_id: Option<&str>, wa_id: Option<&str>| {
        let portfolio = settings.portfolio_of(number);
        keys.extend(user_id.map(|u| format!("contact:{portfolio}:u:{u}")));
        keys.extend(wa_id.map(|w| format!("contact:{portfolio}:w:{w}")));
    };
    let mut wamids = Vec::new();
    for change in n.entry.iter().flat_map(|e| &e.changes) {
        match &change.value {
            ChangeValue::Messages(v) => {
                let number = &v.metadata.phone_number_id;
                for p in &v.contacts {
                    customer(number, p.user_id.as_deref(), p.wa_id.as_deref());
                }
                for m in &v.messages {
                    customer(number, m.from_user_id.as_deref(), m.from.as_deref());
                    wamids.push(m.id.clone());
                }
                wamids.extend(v.statuses.iter().map(|s| s.id.clone()));
            }
            ChangeValue::MessageEchoes(v) => {
                let number = &v.metadata.phone_number_id;
                for e in &v.message_echoes {
                    customer(number, e.to_user_id.as_deref(), e.to.as_deref());
                    wamids.push(e.id.clone());
                }
            }
            ChangeValue::UserPreferences(v) => {
                let number = v
                    .metadata
                    .as_ref()
                    .map(|m| m.phone_number_id.as_str())
                    .unwrap_or_default();
                for p in &v.user_preferences {
                    customer(number, p.user_id.as_deref(), p.wa_id.as_deref());
                }
            }
            _ => {}
        }
    }
    keys.extend(wamids.into_iter().map(|w| format!("wamid:{w}")));
}

/// A template webhook as a record; `entry.time` orders them (cloud-api.md §6.5).
fn template_event(
    entry: &wa::webhook::Entry,
    value: &ChangeValue,
    now_ms: i64,
) -> Option<TemplateEvent> {
    let base = |id: &str, name: &str, language: &str, field, value: &str| TemplateEvent {
        waba_id: entry.id.clone(),
        meta_id: id.to_owned(),
        name: name.to_owned(),
        language: language.to_owned(),
        field,
        value: value.to_owned(),
        category: None,
        reason: None,
        detail: None,
        meta_at: entry.time.unwrap_or(0),
        received_at_ms: now_ms,
    };
    Some(match value {
        ChangeValue::TemplateStatus(t) => TemplateEvent {
            category: t.message_template_category.clone(),
            reason: t.reason.clone().filter(|r| r != "NONE"),
            detail: t.rejection_info.as_ref().map(|r| {
                json!({"reason": r.reason, "recommendation": r.recommendation}).to_string()
            }),
            ..base(
                &t.message_template_id,
                &t.message_template_name,
                &t.message_template_language,
                TemplateField::Status,
                &t.event,
            )
        },
        ChangeValue::TemplateQuality(t) => TemplateEvent {
            detail: t.previous_quality_score.clone(),
            ..base(
                &t.message_template_id,
                &t.message_template_name,
                &t.message_template_language,
                TemplateField::Quality,
                &t.new_quality_score,
            )
        },
        ChangeValue::TemplateCategory(t) => TemplateEvent {
            category: t.previous_category.clone(),
            detail: t.correct_category.clone(),
            ..base(
                &t.message_template_id,
                &t.message_template_name,
                &t.message_template_language,
                TemplateField::Category,
                &t.new_category,
            )
        },
        _ => return None,
    })
}

fn stored(c: &ContactRow) -> StoredContact {
    StoredContact {
        id: c.id,
        user_id: c.user_id.clone(),
        wa_id: c.wa_id.clone(),
    }
}

fn profile_of(c: &ContactRow) -> ContactProfile {
    ContactProfile {
        user_id: c.user_id.clone(),
        parent_user_id: c.parent_user_id.clone(),
        wa_id: c.wa_id.clone(),
        phone: c.phone.clone(),
        username: c.username.clone(),
        profile_name: c.profile_name.clone(),
        seen_at: c.seen_at.map(Timestamp::from_unix),
    }
}

fn fields(portfolio: &str, p: &ContactProfile) -> ContactFields {
    ContactFields {
        portfolio: portfolio.to_owned(),
        user_id: p.user_id.clone(),
        parent_user_id: p.parent_user_id.clone(),
        wa_id: p.wa_id.clone(),
        phone: p.phone.clone(),
        username: p.username.clone(),
        profile_name: p.profile_name.clone(),
        seen_at: p.seen_at.map(Timestamp::unix),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.max(b)
}

/// What lists and search show of a message: its text, at most 500 characters.
fn preview(content: &Content) -> Option<String> {
    content.preview().map(|p| p.chars().take(500).collect())
}

fn content_json(content: &Content) -> String {
    serde_json::to_string(content).unwrap_or_else(|_| "{}".to_owned())
}

fn delivery_of(c: &DeliveryColumns) -> Delivery {
    let ts = |v: Option<i64>| v.map(Timestamp::from_unix);
    Delivery {
        sent_at: ts(c.sent_at),
        delivered_at: ts(c.delivered_at),
        read_at: ts(c.read_at),
        played_at: ts(c.played_at),
        failed_at: ts(c.failed_at),
        failure: c.error_code.map(|code| Failure {
            code,
            details: c.error_details.clone(),
        }),
    }
}

fn columns_of(d: &Delivery) -> DeliveryColumns {
    let ts = |v: Option<Timestamp>| v.map(Timestamp::unix);
    DeliveryColumns {
        delivery: Some(d.status().as_str().to_owned()),
        sent_at: ts(d.sent_at),
        delivered_at: ts(d.delivered_at),
        read_at: ts(d.read_at),
        played_at: ts(d.played_at),
        failed_at: ts(d.failed_at),
        error_code: d.failure.as_ref().map(|f| f.code),
        error_class: d
            .failure
            .as_ref()
            .map(|f| wa::error_codes::class_of(f.code).as_str().to_owned()),
        error_details: d.failure.as_ref().and_then(|f| f.details.clone()),
    }
}
