//! The appliance maker (examples/flows/appliance.toml): its range, first advice per kind of
//! problem, repair tickets.

use axum::Json;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, Body, Param, Shared, create_once, fields, fingerprint, loose, required};

#[derive(Debug)]
pub(super) struct Appliance {
    machines: Vec<Machine>,
    tickets: Vec<Ticket>,
    next_ticket: u32,
}

#[derive(Debug, Clone, Serialize)]
struct Machine {
    id: &'static str,
    /// For a list row's title.
    name: &'static str,
    /// For the middle of a sentence ("your washing machine").
    noun: &'static str,
    range: &'static str,
    /// Where the model and serial number are, after "It is on a sticker".
    label_location: &'static str,
    /// Whether it is plumbed in, which changes the advice for a leak.
    #[serde(skip)]
    plumbed: bool,
}

/// The kinds of problem the flow asks about.
const PROBLEMS: [(&str, &str); 4] = [
    ("leak", "Leak"),
    ("no_start", "Won't start"),
    ("error_code", "Error code"),
    ("other", "Other problem"),
];

#[derive(Debug, Clone, Serialize)]
struct Ticket {
    reference: String,
    status: &'static str,
    status_text: String,
    next_step: String,
    priority: &'static str,
    machine_id: &'static str,
    machine_name: &'static str,
    problem: &'static str,
    problem_label: &'static str,
    error_code: Option<String>,
    serial: String,
    description: String,
    name: String,
    wa_id: String,
}

const NEXT_STEP: &str = "A technician will call you on WhatsApp within one working day to \
                         arrange a visit. Please have your receipt or invoice at hand.";

impl Appliance {
    pub(super) fn seeded() -> Self {
        let machine = |id, name, noun, range, label_location, plumbed| Machine {
            id,
            name,
            noun,
            range,
            label_location,
            plumbed,
        };
        Self {
            machines: vec![
                machine(
                    "washing-machine",
                    "Washing machine",
                    "washing machine",
                    "Aqua 7 and Aqua 9 front loaders",
                    "inside the door, on the rim of the opening",
                    true,
                ),
                machine(
                    "dishwasher",
                    "Dishwasher",
                    "dishwasher",
                    "Clara 45 cm and 60 cm dishwashers",
                    "on the edge of the door, on the right",
                    true,
                ),
                machine(
                    "fridge-freezer",
                    "Fridge-freezer",
                    "fridge-freezer",
                    "Polar combis and larder fridges",
                    "inside, on the left wall, above the salad drawer",
                    false,
                ),
                machine(
                    "oven",
                    "Oven",
                    "oven",
                    "Flamme built-in ovens",
                    "on the frame, when you open the door",
                    false,
                ),
                machine(
                    "tumble-dryer",
                    "Tumble dryer",
                    "tumble dryer",
                    "Breeze heat-pump dryers",
                    "inside the door, behind the lint filter",
                    false,
                ),
                machine(
                    "induction-hob",
                    "Induction hob",
                    "induction hob",
                    "Flamme induction hobs",
                    "under the hob, and on its warranty card",
                    false,
                ),
            ],
            tickets: vec![Ticket {
                reference: "T-20451".into(),
                status: "visit_booked",
                status_text: "A technician's visit is booked for Thursday 12 March, between \
                              8:00 and 12:00. The technician will message you here 30 minutes \
                              before arriving."
                    .into(),
                next_step: NEXT_STEP.into(),
                priority: "normal",
                machine_id: "dishwasher",
                machine_name: "Dishwasher",
                problem: "error_code",
                problem_label: "Error code",
                error_code: Some("E24".into()),
                serial: "CL60-3318".into(),
                description: "Stops mid-cycle with E24 and water left at the bottom.".into(),
                name: "Marc Lefèvre".into(),
                wa_id: "33698765432".into(),
            }],
            next_ticket: 20452,
        }
    }

    fn machine(&self, id: &str) -> Result<&Machine, ApiError> {
        self.machines
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| ApiError::not_found(format!("No appliance `{id}`.")))
    }
}

/// The first advice for a kind of problem on an appliance.
fn advice(machine: &Machine, problem: &str) -> String {
    let noun = machine.noun;
    match problem {
        "leak" if machine.plumbed => format!(
            "While you wait for the repair, please turn off the water tap behind your {noun}, and \
             don't run it again until a technician has seen it."
        ),
        "leak" if machine.id == "fridge-freezer" => "The small drain hole at the back of the \
             fridge may be blocked by ice or food: you can clear it gently with a cotton bud. \
             Put a towel under the door for now."
            .to_owned(),
        "leak" => format!(
            "Please don't use your {noun} until a technician has seen it, and wipe up the water \
             so that no one slips."
        ),
        "no_start" => format!(
            "First, please check that your {noun} is plugged in, that no fuse or circuit breaker \
             has tripped, and that the door is firmly closed. Then unplug it for one minute and \
             try again: if it still doesn't start, we'll send a technician."
        ),
        "error_code" => format!(
            "Please unplug your {noun} for one minute, then plug it in again: some codes clear \
             by themselves. If the code comes back, a technician will look at it."
        ),
        _ => "Thank you. A technician will look at it with the details you give me.".to_owned(),
    }
}

/// `GET /machines`
pub(super) async fn machines(backend: Shared) -> Json<Value> {
    let data = backend.data();
    Json(json!({ "machines": data.appliance.machines }))
}

/// `GET /machines/{machine}/problems/{kind}`
pub(super) async fn problem(
    backend: Shared,
    Param((machine, kind)): Param<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let data = backend.data();
    let machine = data.appliance.machine(&machine)?;
    let (code, label) = PROBLEMS
        .into_iter()
        .find(|(code, _)| *code == kind)
        .ok_or_else(|| ApiError::not_found(format!("No kind of problem `{kind}`.")))?;
    Ok(Json(json!({
        "code": code,
        "label": label,
        "machine_id": machine.id,
        "advice": advice(machine, code),
    })))
}

#[derive(Debug, Deserialize)]
struct NewTicket {
    machine_id: Option<String>,
    problem: Option<String>,
    /// `null` (or absent) unless the customer gave one.
    error_code: Option<String>,
    serial: Option<String>,
    description: Option<String>,
    name: Option<String>,
    wa_id: Option<String>,
}

/// `POST /tickets`: opens a repair ticket.
pub(super) async fn open_ticket(
    backend: Shared,
    headers: HeaderMap,
    Body(body): Body<Value>,
) -> Response {
    let request = fingerprint("/tickets", &body);
    create_once(&backend, &headers, request, |data| {
        let new: NewTicket = fields(&body)?;
        let (problem, problem_label) = PROBLEMS
            .into_iter()
            .find(|(code, _)| Some(*code) == new.problem.as_deref())
            .ok_or_else(|| {
                let known: Vec<&str> = PROBLEMS.iter().map(|(code, _)| *code).collect();
                ApiError::invalid(format!("`problem` must be one of {}.", known.join(", ")))
            })?;
        let serial = required("serial", new.serial.as_deref(), 60)?;
        let description = required("description", new.description.as_deref(), 2000)?;
        let wa_id = required("wa_id", new.wa_id.as_deref(), 20)?;
        // A code given earlier in the conversation means nothing for another kind of problem.
        let error_code = new
            .error_code
            .filter(|_| problem == "error_code")
            .map(|c| loose(&c))
            .filter(|c| !c.is_empty());
        let appliance = &mut data.appliance;
        let machine_id = required("machine_id", new.machine_id.as_deref(), 40)?;
        let machine = appliance.machine(&machine_id)?;
        let (machine_id, machine_name) = (machine.id, machine.name);
        let reference = format!("T-{}", appliance.next_ticket);
        appliance.next_ticket += 1;
        let ticket = Ticket {
            reference,
            status: "open",
            status_text: "Open: a technician will call you within one working day to arrange a \
                          visit."
                .into(),
            next_step: NEXT_STEP.into(),
            priority: "normal",
            machine_id,
            machine_name,
            problem,
            problem_label,
            error_code,
            serial,
            description,
            name: new.name.unwrap_or_default().trim().to_owned(),
            wa_id,
        };
        let answer = json!(ticket);
        appliance.tickets.push(ticket);
        Ok(answer)
    })
}

/// `GET /tickets/{reference}`
pub(super) async fn ticket(
    backend: Shared,
    Param(reference): Param<String>,
) -> Result<Json<Value>, ApiError> {
    let data = backend.data();
    let wanted = loose(&reference);
    data.appliance
        .tickets
        .iter()
        .find(|t| loose(&t.reference) == wanted)
        .map(|t| Json(json!(t)))
        .ok_or_else(|| ApiError::not_found(format!("No ticket `{reference}`.")))
}
