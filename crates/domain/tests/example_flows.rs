//! The example flows of `examples/flows/`: each parses, keeps to what a flow a business would copy
//! should have, and walks its main paths with the engine, with back-end answers shaped like the
//! example back-end's.

use domain::flow::{
    After, CallOutcome, Flow, Input, Method, Request, Session, Target, Turn, customer_vars,
    needs_guard,
};
use domain::guard::{Decision, FastGuard, GENERAL_REQUESTS, requests_of};
use serde_json::{Value, json};
use wa::send::{InteractiveAction, SendBody};

const TRAVEL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/flows/travel.toml"
));
const SHOP: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/flows/shop.toml"
));
const APPLIANCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/flows/appliance.toml"
));

const DOCS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/bots.md"));

fn parse(text: &str) -> Flow {
    Flow::parse(text).unwrap_or_else(|e| panic!("the example does not parse:\n{e}"))
}

fn customer() -> Value {
    customer_vars(Some("Ana"), Some("34600000001"))
}

/// What the bot said: texts as they are, interactive messages as `body [id=title | …]`.
fn said(turn: &Turn) -> Vec<String> {
    turn.say
        .iter()
        .map(|b| match b {
            SendBody::Text(t) => t.body.clone(),
            SendBody::Interactive(i) => {
                let choices: Vec<String> = match &i.action {
                    InteractiveAction::Buttons(b) => {
                        b.iter().map(|b| format!("{}={}", b.id, b.title)).collect()
                    }
                    InteractiveAction::List { sections, .. } => sections
                        .iter()
                        .flat_map(|s| &s.rows)
                        .map(|r| match &r.description {
                            Some(d) => format!("{}={} ({d})", r.id, r.title),
                            None => format!("{}={}", r.id, r.title),
                        })
                        .collect(),
                    other => vec![format!("{other:?}")],
                };
                format!("{} [{}]", i.body, choices.join(" | "))
            }
            other => format!("{other:?}"),
        })
        .collect()
}

fn joined(turn: &Turn) -> String {
    said(turn).join("\n")
}

fn request(turn: &Turn) -> &Request {
    match &turn.after {
        After::Call(r) => r,
        other => panic!("expected a call, got {other:?} after {:?}", said(turn)),
    }
}

fn in_scope(intent: &str) -> Decision {
    Decision::InScope {
        intent: intent.into(),
        score: 0.8,
    }
}

fn hello() -> Decision {
    Decision::OutOfScope {
        score: 0.05,
        nearest: None,
        general_request: false,
    }
}

/// A conversation: each step takes the last turn's session.
struct Chat<'f> {
    flow: &'f Flow,
    session: Option<Session>,
}

impl<'f> Chat<'f> {
    fn new(flow: &'f Flow) -> Self {
        Self {
            flow,
            session: None,
        }
    }

    fn keep(&mut self, turn: Turn) -> Turn {
        self.session = Some(turn.session.clone());
        turn
    }

    fn start(&mut self) -> Turn {
        let t = self.flow.turn(None, customer(), Input::Start);
        self.keep(t)
    }

    fn tap(&mut self, id: &str) -> Turn {
        let t = self
            .flow
            .turn(self.session.take(), customer(), Input::Reply { id });
        self.keep(t)
    }

    /// Free text the engine takes without the guard (an answer, a typed choice, a keyword).
    fn write(&mut self, text: &str) -> Turn {
        assert!(
            !needs_guard(self.flow, self.session.as_ref(), text),
            "{text:?} should not need the guard here"
        );
        let t = self.flow.turn(
            self.session.take(),
            customer(),
            Input::Text {
                text,
                decision: None,
            },
        );
        self.keep(t)
    }

    /// Free text the guard classified.
    fn classified(&mut self, text: &str, decision: &Decision) -> Turn {
        assert!(
            needs_guard(self.flow, self.session.as_ref(), text),
            "{text:?}"
        );
        let t = self.flow.turn(
            self.session.take(),
            customer(),
            Input::Text {
                text,
                decision: Some(decision),
            },
        );
        self.keep(t)
    }

    fn answer(&mut self, outcome: CallOutcome) -> Turn {
        let session = self.session.take().expect("a call is pending");
        let t = self.flow.after_call(session, outcome);
        self.keep(t)
    }

    fn at(&self) -> Option<&str> {
        self.session.as_ref().and_then(|s| s.at.as_deref())
    }
}

// ---- What every example keeps to --------------------------------------------------------------

/// Common words of each language that English does not have, to tell its phrasings.
const FRENCH: &[&str] = &[
    "je", "j", "ma", "mon", "où", "quand", "combien", "quels", "quelles", "puis", "faut", "ça",
    "avez", "est", "sont", "vous", "il", "du", "des", "une", "les", "à",
];
const SPANISH: &[&str] = &[
    "quiero", "mi", "el", "está", "hay", "cómo", "dónde", "cuándo", "cuánto", "cuál", "qué",
    "necesito", "tienen", "puedo", "huele", "abren", "perdí", "hacen", "los", "con", "una", "es",
];

fn words_of(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_example_parses_and_has_what_a_business_would_copy() {
    for (name, text) in [("travel", TRAVEL), ("shop", SHOP), ("appliance", APPLIANCE)] {
        let f = parse(text);
        assert!(
            (6..=12).contains(&f.intents.len()),
            "{name}: {} intents",
            f.intents.len()
        );
        for i in &f.intents {
            assert!(
                i.examples.len() >= 5,
                "{name}: intent {} has few examples",
                i.name
            );
        }
        assert!(
            f.intents
                .iter()
                .any(|i| matches!(i.target, Target::Answer(_))),
            "{name}: no FAQ answer"
        );
        assert!(
            f.intents.iter().any(|i| i.target == Target::Handoff),
            "{name}: no handoff intent"
        );
        assert!(f.greeting.is_some(), "{name}");
        // The flows are written in English; customers write in several languages.
        for i in &f.intents {
            for (language, words) in [("French", FRENCH), ("Spanish", SPANISH)] {
                assert!(
                    i.examples
                        .iter()
                        .any(|e| words_of(e).iter().any(|w| words.contains(&w.as_str()))),
                    "{name}: intent {} has no {language} example",
                    i.name
                );
            }
        }
    }
}

/// A customer's phrasing, and the intent it should be recognised as (`None`: out of scope).
type Phrase = (&'static str, Option<&'static str>);

/// The lexical tier of the scope guard, with the flows' intents and guichet's generic requests,
/// sends phrasings that are not in the examples to the right intent, and keeps a general
/// assistant's requests out.
#[test]
fn the_fast_guard_recognises_new_phrasings() {
    let cases: [(&str, &[Phrase]); 3] = [
        (
            TRAVEL,
            &[
                ("I would like to book the Lisbon trip", Some("book_trip")),
                ("can I see my reservation BK-7301", Some("my_booking")),
                ("I need to cancel my trip", Some("change_or_cancel")),
                ("can I pay the deposit by bank transfer", Some("payment")),
                (
                    "do I need a visa to go to Morocco",
                    Some("travel_documents"),
                ),
                ("how many bags can I take", Some("luggage")),
                ("quiero reservar el viaje a Islandia", Some("book_trip")),
                ("write me a poem about the sea", None),
                ("what is the capital of australia", None),
            ],
        ),
        (
            SHOP,
            &[
                ("where is my parcel", Some("track_order")),
                ("my order still hasn't arrived", Some("track_order")),
                ("how do I return an item", Some("return_item")),
                ("how much does delivery cost", Some("delivery")),
                ("can I pay with Apple Pay", Some("payment")),
                ("the mug arrived broken", Some("damaged_or_wrong_item")),
                ("je veux annuler la commande", Some("change_or_cancel")),
                ("tell me a joke", None),
                ("write a python function that sorts a list", None),
            ],
        ),
        (
            APPLIANCE,
            &[
                ("my washing machine doesn't work", Some("report_breakdown")),
                (
                    "there is smoke coming out of the dryer",
                    Some("burning_smell"),
                ),
                ("water everywhere in the kitchen", Some("flooding")),
                ("when will the technician come", Some("follow_repair")),
                ("is my dishwasher under warranty", Some("warranty")),
                ("I need a new filter for my dishwasher", Some("spare_parts")),
                ("mi lavadora no enciende", Some("report_breakdown")),
                ("what is the derivative of x squared", None),
                ("recommend a good movie to watch tonight", None),
            ],
        ),
    ];
    let general = requests_of(GENERAL_REQUESTS);
    let mut wrong = Vec::new();
    for (text, phrases) in cases {
        let f = parse(text);
        let guard = FastGuard::new(&f.guard_intents(), &general);
        for (phrase, expected) in phrases {
            let d = guard.classify(phrase);
            if d.intent() != *expected {
                wrong.push(format!("{}: {phrase:?} → {d:?}, not {expected:?}", f.name));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The first block of `lang` after `heading` in docs/bots.md.
fn docs_block(heading: &str, lang: &str) -> &'static str {
    let section = &DOCS[DOCS.find(heading).expect(heading)..];
    let start = section.find(&format!("```{lang}\n")).expect(lang) + lang.len() + 4;
    let end = section[start..].find("```").expect("closed");
    &section[start..start + end]
}

/// The documentation's first flow is valid and does what the text says, and the problems it
/// shows are the check's own words.
#[test]
fn the_first_flow_of_the_docs_works_as_described() {
    let text = docs_block("## A first flow", "toml");
    let f = parse(text);
    let mut c = Chat::new(&f);
    let t = c.classified("where's my parcel?", &in_scope("track_order"));
    assert_eq!(
        said(&t)[1],
        "Please send me your order number, like AB1234."
    );
    let t = c.write("AB1234");
    assert_eq!(request(&t).path, "/orders/AB1234");
    let t = c.answer(CallOutcome::Ok(
        json!({ "number": "AB1234", "status_text": "shipped today." }),
    ));
    assert_eq!(said(&t), ["Order AB1234: shipped today."]);

    let broken = text
        .replace("goto = \"lookup\"", "goto = \"lokup\"")
        .replace("Track my order", "Track my order right now please")
        .replace("{{info.status_text}}", "{{inf.status}}");
    let problems = Flow::parse(&broken).unwrap_err().problems;
    for line in docs_block("## What the check refuses", "text").lines() {
        assert!(
            problems.iter().any(|p| p == line),
            "{line:?} not in {problems:#?}"
        );
    }
}

// ---- The travel agency ------------------------------------------------------------------------

fn trips() -> Value {
    json!({ "trips": [
        { "id": "lisbon", "name": "Lisbon city break", "summary": "Three nights in Alfama.", "nights": 3, "price_eur": 540 },
        { "id": "lapland", "name": "Northern lights, Lapland", "summary": "Four nights in a glass igloo.", "nights": 4, "price_eur": 1450 },
    ]})
}

fn departures() -> Value {
    json!({
        "trip": trips()["trips"][0],
        "departures": [
            { "id": "LIS-0605", "trip_id": "lisbon", "date": "2026-06-05", "label": "Fri 5 June 2026", "seats_left": 6, "price_eur": 540 },
            { "id": "LIS-0619", "trip_id": "lisbon", "date": "2026-06-19", "label": "Fri 19 June 2026", "seats_left": 2, "price_eur": 590 },
        ],
    })
}

#[test]
fn travel_books_a_departure_from_the_back_ends_lists() {
    let f = parse(TRAVEL);
    let mut c = Chat::new(&f);
    // A first "hello" greets and shows the menu.
    let t = c.classified("hello!", &hello());
    let s = said(&t);
    assert!(
        s[0].starts_with("Hello and welcome to Atlas Voyages!"),
        "{s:?}"
    );
    assert!(
        s[1].contains("book=Book a trip | booking=My booking | advisor=Talk to an advisor"),
        "{s:?}"
    );

    let t = c.tap("book");
    let r = request(&t);
    assert_eq!(
        (r.method, r.path.as_str(), &r.body),
        (Method::Get, "/trips", &None)
    );

    let t = c.answer(CallOutcome::Ok(trips()));
    let s = joined(&t);
    assert!(s.contains("Here are the trips we have on sale."), "{s}");
    assert!(
        s.contains("lisbon=Lisbon city break (3 nights · from 540 € per person)"),
        "{s}"
    );

    // Typing a row's title counts as tapping it.
    let t = c.write("lisbon city break");
    let r = request(&t);
    assert_eq!(
        (r.method, r.path.as_str()),
        (Method::Get, "/trips/lisbon/departures")
    );

    let t = c.answer(CallOutcome::Ok(departures()));
    let s = joined(&t);
    assert!(
        s.starts_with("*Lisbon city break*\nThree nights in Alfama."),
        "{s}"
    );
    assert!(
        s.contains("LIS-0619=Fri 19 June 2026 (2 seats left · 590 € per person)"),
        "{s}"
    );

    let t = c.tap("LIS-0619");
    assert_eq!(
        said(&t),
        ["How many people are travelling, including you? Please send a number from 1 to 9."]
    );
    // The answer to a question is data: not classified, checked against its pattern.
    let t = c.write("two of us");
    assert!(
        joined(&t).starts_with("Please send a number from 1 to 9"),
        "{}",
        joined(&t)
    );
    assert_eq!(c.at(), Some("ask_travellers"));
    let t = c.write("2");
    let s = joined(&t);
    assert!(
        s.contains("*Lisbon city break*\nDeparture: Fri 19 June 2026\nTravellers: 2\nPrice: 590 € per person"),
        "{s}"
    );

    let t = c.tap("confirm_book");
    assert_eq!(said(&t), ["One moment, I'm holding your seats…"]);
    let r = request(&t);
    assert_eq!(
        (r.method, r.path.as_str(), r.step.as_str()),
        (Method::Post, "/bookings", "book")
    );
    assert_eq!(
        r.body,
        Some(
            json!({ "departure_id": "LIS-0619", "travellers": "2", "name": "Ana", "wa_id": "34600000001" })
        )
    );

    let t = c.answer(CallOutcome::Ok(json!({
        "reference": "BK-7302", "status": "held", "trip_name": "Lisbon city break",
        "departure_label": "Fri 19 June 2026", "travellers": 2, "total_eur": 1180, "deposit_eur": 354,
        "payment_url": "https://atlas-voyages.example/pay/BK-7302",
    })));
    let s = joined(&t);
    assert!(s.contains("Reference: *BK-7302*\nLisbon city break, Fri 19 June 2026\n2 traveller(s), 1180 € in total"), "{s}");
    assert!(
        s.contains("deposit of 354 € within 48 hours: https://atlas-voyages.example/pay/BK-7302"),
        "{s}"
    );
    assert_eq!(t.after, After::Resolve);
}

#[test]
fn travel_handles_full_trips_failures_and_unknown_references() {
    let f = parse(TRAVEL);
    let mut c = Chat::new(&f);
    c.start();
    c.tap("book");
    c.answer(CallOutcome::Ok(trips()));
    c.tap("lapland");
    // Every departure full: the empty branch.
    let t = c.answer(CallOutcome::Ok(
        json!({ "trip": trips()["trips"][1], "departures": [] }),
    ));
    let s = joined(&t);
    assert!(
        s.contains("every departure of Northern lights, Lapland is full"),
        "{s}"
    );
    assert!(s.contains("full_other=See other trips"), "{s}");

    // The booking system down: its own step, with a way on.
    let t = c.tap("full_other");
    assert_eq!(request(&t).path, "/trips");
    let t = c.answer(CallOutcome::Failed);
    assert!(
        joined(&t).contains("I can't reach our booking system just now"),
        "{}",
        joined(&t)
    );
    assert_eq!(t.after, After::Wait);

    // A booking looked up by reference, as typed.
    let t = c.classified("is my booking confirmed?", &in_scope("my_booking"));
    assert!(joined(&t).contains("Please send me your booking reference"));
    let t = c.write("bk 7301");
    assert_eq!(request(&t).path, "/bookings/bk%207301");
    let t = c.answer(CallOutcome::NotFound);
    let s = joined(&t);
    assert!(
        s.contains("I can't find a booking with the reference bk 7301"),
        "{s}"
    );
    assert!(s.contains("reference_retry=Try again"), "{s}");
    c.tap("reference_retry");
    c.write("BK-7301");
    let t = c.answer(CallOutcome::Ok(json!({
        "reference": "BK-7301", "trip_name": "Lisbon city break", "departure_label": "Fri 5 June 2026",
        "travellers": 2, "total_eur": 1080, "status_text": "Confirmed: we have received your deposit.",
    })));
    let s = joined(&t);
    assert!(
        s.contains("Booking *BK-7301*\nLisbon city break, Fri 5 June 2026"),
        "{s}"
    );
    assert!(
        s.contains("Confirmed: we have received your deposit."),
        "{s}"
    );

    // Changes go to an advisor, with an explanation.
    let t = c.tap("booking_change");
    assert!(joined(&t).starts_with("Changes and cancellations depend on your trip's conditions"));
    assert_eq!(t.after, After::Handoff { asked: false });
}

#[test]
fn travel_faq_keyword_and_deflection() {
    let f = parse(TRAVEL);
    let mut c = Chat::new(&f);
    c.start();
    // An FAQ answer leaves the customer where they were.
    let t = c.classified("how much luggage can I take?", &in_scope("luggage"));
    assert!(joined(&t).starts_with("Every flight we sell includes one cabin bag"));
    assert_eq!(c.at(), Some("menu"));
    // "per person" is a question about prices, not a request for a human.
    assert!(needs_guard(
        &f,
        c.session.as_ref(),
        "how much is it per person?"
    ));
    let t = c.classified(
        "what's the weather like in tokyo",
        &Decision::OutOfScope {
            score: 0.1,
            nearest: None,
            general_request: true,
        },
    );
    assert!(t.deflected);
    assert!(joined(&t).contains("guichet:human=Talk to an advisor | guichet:menu=Main menu"));
    let t = c.write("can I talk to an advisor please");
    assert_eq!(t.after, After::Handoff { asked: true });
    assert!(joined(&t).contains("travel advisors"), "{}", joined(&t));
}

// ---- The shop ---------------------------------------------------------------------------------

fn shipped() -> Value {
    json!({
        "number": "AB1234", "status": "shipped",
        "status_text": "Shipped on 3 March with Colissimo, expected on 6 March.",
        "items": [{ "name": "Linen duvet cover", "quantity": 1 }],
        "items_summary": "a linen duvet cover and 2 pillowcases",
        "carrier": "Colissimo", "tracking_url": "https://oakandlinen.example/track/AB1234", "returnable": false,
    })
}

#[test]
fn shop_tracks_an_order_asked_with_a_pattern() {
    let f = parse(SHOP);
    let mut c = Chat::new(&f);
    let t = c.classified("where is my order?", &in_scope("track_order"));
    assert_eq!(
        said(&t)[1],
        "Please send me your order number. It is in your confirmation email and looks like AB1234."
    );
    let t = c.write("AB 12");
    assert!(joined(&t).starts_with("That doesn't look like an order number"));
    assert_eq!(c.at(), Some("ask_order"));
    let t = c.write("ab 1234");
    let r = request(&t);
    assert_eq!(
        (r.method, r.path.as_str(), &r.body),
        (Method::Get, "/orders/ab%201234", &None)
    );
    let t = c.answer(CallOutcome::Ok(shipped()));
    let s = said(&t);
    assert_eq!(
        s[0],
        "Order *AB1234*: a linen duvet cover and 2 pillowcases\n\nShipped on 3 March with Colissimo, expected on 6 March."
    );
    assert!(
        s[1].contains(
            "track_another=Another order | status_return=Return an item | status_done=No, thank you"
        ),
        "{s:?}"
    );

    // The delivery FAQ, asked there, answers and leaves the buttons where they were.
    let t = c.classified("how long does shipping take", &in_scope("delivery"));
    assert!(joined(&t).starts_with("We ship from our warehouse within 2 working days."));
    assert_eq!(c.at(), Some("after_status"));
    let t = c.tap("status_done");
    assert_eq!(t.after, After::Resolve);
}

#[test]
fn shop_takes_the_404_branch_and_hands_over_when_the_system_is_down() {
    let f = parse(SHOP);
    let mut c = Chat::new(&f);
    c.start();
    // Typing a button's title counts as tapping it.
    c.write("Track my order");
    assert_eq!(c.at(), Some("ask_order"));
    c.write("ZZ9999");
    let t = c.answer(CallOutcome::NotFound);
    let s = joined(&t);
    assert!(
        s.starts_with("I can't find an order with the number ZZ9999."),
        "{s}"
    );
    assert!(s.contains("order_retry=Try again"), "{s}");
    c.tap("order_retry");
    c.write("CD5678");
    // No `on_error`: `backend_down`, then a person.
    let t = c.answer(CallOutcome::Failed);
    assert_eq!(said(&t)[0], f.backend_down);
    assert!(said(&t)[1].starts_with("I'm passing you to our customer care team"));
    assert_eq!(t.after, After::Handoff { asked: false });
}

#[test]
fn shop_opens_a_return() {
    let f = parse(SHOP);
    let mut c = Chat::new(&f);
    let t = c.classified("I want to return an item", &in_scope("return_item"));
    assert!(joined(&t).contains("You can return any item within 30 days of delivery"));
    c.tap("return_start");
    c.write("#GH3456");
    let t = c.write("Too small for our table");
    let r = request(&t);
    assert_eq!(
        (r.method, r.path.as_str()),
        (Method::Post, "/orders/%23GH3456/returns")
    );
    assert_eq!(
        r.body,
        Some(json!({ "reason": "Too small for our table", "name": "Ana", "wa_id": "34600000001" }))
    );
    let t = c.answer(CallOutcome::Ok(json!({
        "return_id": "R-5001", "order": "GH3456", "status": "awaiting_parcel",
        "label_url": "https://oakandlinen.example/returns/R-5001/label.pdf", "drop_off_within_days": 14,
    })));
    let s = said(&t);
    assert!(s[0].starts_with("Your return *R-5001* is open. Here is your prepaid label: https://oakandlinen.example/returns/R-5001/label.pdf"), "{s:?}");
    assert!(s[1].contains("more_done=No, thank you"), "{s:?}");

    // Refused (not delivered yet): explained, and a person follows.
    let mut c = Chat::new(&f);
    c.start();
    c.tap("return");
    c.tap("return_start");
    c.write("CD5678");
    c.write("Changed my mind");
    let t = c.answer(CallOutcome::Failed);
    assert!(joined(&t).starts_with("I couldn't open a return for order CD5678 here."));
    assert_eq!(t.after, After::Handoff { asked: false });

    // A human keyword works even in the middle of a question.
    let mut c = Chat::new(&f);
    c.start();
    c.tap("track");
    let t = c.write("customer service please");
    assert_eq!(t.after, After::Handoff { asked: true });
}

// ---- The appliance maker ----------------------------------------------------------------------

fn machines() -> Value {
    json!({ "machines": [
        { "id": "washing-machine", "name": "Washing machine", "noun": "washing machine",
          "range": "Aqua 7 and Aqua 9 front loaders", "label_location": "inside the door, on the rim of the opening" },
        { "id": "oven", "name": "Oven", "noun": "oven", "range": "Flamme built-in ovens",
          "label_location": "on the frame, when you open the door" },
    ]})
}

fn ticket(problem: &str, label: &str) -> Value {
    json!({
        "reference": "T-20452", "status": "open", "machine_name": "Washing machine",
        "problem": problem, "problem_label": label,
        "next_step": "A technician will call you on WhatsApp within one working day to arrange a visit.",
    })
}

#[test]
fn appliance_triages_a_leak_and_opens_a_ticket() {
    let f = parse(APPLIANCE);
    let mut c = Chat::new(&f);
    let t = c.start();
    assert!(said(&t)[0].starts_with("Hello, this is Norvik after-sales."));
    let t = c.tap("breakdown");
    assert_eq!(request(&t).path, "/machines");
    let t = c.answer(CallOutcome::Ok(machines()));
    let s = joined(&t);
    assert!(s.starts_with("Which appliance is it? [washing-machine=Washing machine (Aqua 7 and Aqua 9 front loaders)"), "{s}");
    let t = c.tap("washing-machine");
    let s = joined(&t);
    assert!(
        s.starts_with("What is wrong with your washing machine? [leak=It leaks"),
        "{s}"
    );
    assert!(
        s.contains("error_code=It shows an error code") && s.contains("other=Something else"),
        "{s}"
    );

    let t = c.tap("leak");
    assert!(joined(&t).contains("water_everywhere=Water everywhere | small_leak=A small puddle"));
    let t = c.tap("small_leak");
    let r = request(&t);
    assert_eq!(
        (r.method, r.path.as_str()),
        (Method::Get, "/machines/washing-machine/problems/leak")
    );
    let t = c.answer(CallOutcome::Ok(json!({
        "code": "leak", "label": "Leak", "machine_id": "washing-machine",
        "advice": "While you wait for the repair, please turn off the water tap behind your washing machine.",
    })));
    let s = said(&t);
    assert_eq!(
        s[0],
        "While you wait for the repair, please turn off the water tap behind your washing machine."
    );
    assert!(
        s[1].ends_with("It is on a sticker inside the door, on the rim of the opening."),
        "{s:?}"
    );

    let t = c.write("just a moment");
    assert!(joined(&t).starts_with("Please send the number as printed on the sticker"));
    c.write("AQ9-7420");
    let t = c.write("Water under the door after every wash, since Monday. I cleaned the seal.");
    assert_eq!(said(&t), ["Thank you, I'm opening your repair ticket…"]);
    let r = request(&t);
    assert_eq!(
        (r.method, r.path.as_str(), r.step.as_str()),
        (Method::Post, "/tickets", "open_ticket")
    );
    assert_eq!(
        r.body,
        Some(json!({
            "machine_id": "washing-machine", "problem": "leak", "error_code": null, "serial": "AQ9-7420",
            "description": "Water under the door after every wash, since Monday. I cleaned the seal.",
            "name": "Ana", "wa_id": "34600000001",
        }))
    );
    let t = c.answer(CallOutcome::Ok(ticket("leak", "Leak")));
    let s = joined(&t);
    assert!(s.starts_with("Your repair ticket is *T-20452*.\n\nA technician will call you on WhatsApp within one working day"), "{s}");
    assert_eq!(t.after, After::Resolve);
}

#[test]
fn appliance_sends_an_error_code_with_the_ticket() {
    let f = parse(APPLIANCE);
    let mut c = Chat::new(&f);
    c.classified("my oven shows error F05", &in_scope("report_breakdown"));
    c.answer(CallOutcome::Ok(machines()));
    c.tap("oven");
    let t = c.tap("error_code");
    assert_eq!(
        said(&t),
        ["Which code does the display show? For example E21 or F05."]
    );
    let t = c.write("F 05");
    assert_eq!(request(&t).path, "/machines/oven/problems/error_code");
    c.answer(CallOutcome::Ok(
        json!({ "code": "error_code", "label": "Error code", "advice": "Unplug it for a minute." }),
    ));
    c.write("FL-600 2231");
    let t = c.write("F05 after ten minutes of preheating.");
    let body = request(&t).body.clone().unwrap();
    assert_eq!(body["problem"], "error_code");
    assert_eq!(body["error_code"], "F 05");
    assert_eq!(body["machine_id"], "oven");
    // The ticket cannot be opened: a technician takes over with what was said.
    let t = c.answer(CallOutcome::Failed);
    assert!(joined(&t).starts_with("I'm sorry, I couldn't open the ticket in our system."));
    assert_eq!(t.after, After::Handoff { asked: false });
}

#[test]
fn appliance_hands_urgent_cases_over_at_once_with_safety_advice() {
    let f = parse(APPLIANCE);
    // From the list of problems.
    for (path, first) in [
        (
            &["leak", "water_everywhere"][..],
            "⚠️ Please turn off the water tap",
        ),
        (&["burning"][..], "⚠️ Please unplug the appliance"),
    ] {
        let mut c = Chat::new(&f);
        c.start();
        c.tap("breakdown");
        c.answer(CallOutcome::Ok(machines()));
        c.tap("washing-machine");
        let mut t = None;
        for id in path {
            t = Some(c.tap(id));
        }
        let t = t.unwrap();
        assert!(joined(&t).starts_with(first), "{}", joined(&t));
        assert!(joined(&t).contains("A technician is joining this conversation now"));
        assert_eq!(t.after, After::Handoff { asked: false });
    }
    // From what the customer writes first.
    let mut c = Chat::new(&f);
    let t = c.classified(
        "ça sent le brûlé dans la cuisine",
        &in_scope("burning_smell"),
    );
    assert!(said(&t)[1].starts_with("⚠️ Please unplug the appliance"));
    assert_eq!(t.after, After::Handoff { asked: false });
    // "urgent" at any time, even in the middle of a question.
    let mut c = Chat::new(&f);
    c.start();
    c.tap("follow");
    let t = c.write("URGENT!!");
    assert_eq!(t.after, After::Handoff { asked: true });
    // "technician" alone is a question for the bot, not a request for one.
    assert!(needs_guard(&f, None, "when is the technician coming?"));
}

#[test]
fn appliance_follows_a_ticket() {
    let f = parse(APPLIANCE);
    let mut c = Chat::new(&f);
    c.classified("where is my repair", &in_scope("follow_repair"));
    let t = c.write("t-20451");
    assert_eq!(request(&t).path, "/tickets/t-20451");
    let t = c.answer(CallOutcome::Ok(json!({
        "reference": "T-20451", "machine_name": "Dishwasher", "problem_label": "Error code",
        "status_text": "A technician's visit is booked for Thursday 12 March, between 8:00 and 12:00.",
    })));
    let s = said(&t);
    assert_eq!(
        s[0],
        "Ticket *T-20451*: Dishwasher, Error code\n\nA technician's visit is booked for Thursday 12 March, between 8:00 and 12:00."
    );
    assert!(s[1].contains("more_done=No, thank you"));
    c.tap("more_menu");
    c.tap("follow");
    c.write("T 99999");
    let t = c.answer(CallOutcome::NotFound);
    assert!(joined(&t).starts_with("I can't find a ticket with the number T 99999."));
}
