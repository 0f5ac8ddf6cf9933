use axum::Router;
use axum::body::{self, Body};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::router;

/// A request to the back-end, as guichet would send it.
#[derive(Debug, Default)]
struct Call<'a> {
    method: Method,
    path: &'a str,
    body: Option<Value>,
    token: Option<&'a str>,
    key: Option<&'a str>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

async fn send(app: &Router, call: Call<'_>) -> Answer {
    let mut request = Request::builder().method(call.method).uri(call.path);
    if let Some(token) = call.token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(key) = call.key {
        request = request.header("idempotency-key", key);
    }
    let body = match call.body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {bytes:?}"));
    Answer {
        status,
        headers,
        json,
    }
}

async fn get(app: &Router, path: &str) -> Answer {
    send(
        app,
        Call {
            path,
            ..Call::default()
        },
    )
    .await
}

async fn post(app: &Router, path: &str, body: Value, key: Option<&str>) -> Answer {
    send(
        app,
        Call {
            method: Method::POST,
            path,
            body: Some(body),
            key,
            ..Call::default()
        },
    )
    .await
}

fn booking_body(departure: &str, travellers: impl Into<Value>) -> Value {
    let travellers = travellers.into();
    json!({ "departure_id": departure, "travellers": travellers, "name": "Ana", "wa_id": "34600000001" })
}

fn ticket_body(problem: &str) -> Value {
    json!({
        "machine_id": "washing-machine",
        "problem": problem,
        "error_code": "e 21",
        "serial": "AQ9-7420",
        "description": "It stops after ten minutes.",
        "name": "Ana",
        "wa_id": "34600000001",
    })
}

fn assert_error(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.json);
    assert_eq!(answer.json["error"], code, "{}", answer.json);
    assert!(
        answer.json["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        answer.json
    );
}

#[tokio::test]
async fn health_answers_ok() {
    let app = router(None);
    let a = get(&app, "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json, json!({ "status": "ok" }));
}

#[tokio::test]
async fn trips_and_their_free_departures_are_listed() {
    let app = router(None);
    let a = get(&app, "/trips").await;
    assert_eq!(a.status, StatusCode::OK);
    let trips = a.json["trips"].as_array().unwrap();
    assert_eq!(trips.len(), 5);
    assert_eq!(trips[0]["id"], "lisbon");
    assert_eq!(trips[0]["nights"], 3);
    assert_eq!(trips[0]["price_eur"], 540);

    let a = get(&app, "/trips/lisbon/departures").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["trip"]["name"], "Lisbon city break");
    let ids: Vec<&str> = a.json["departures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["LIS-0605", "LIS-0619", "LIS-0911"],
        "the full one is left out"
    );
    for d in a.json["departures"].as_array().unwrap() {
        assert!(d["label"].as_str().unwrap().chars().count() <= 24);
    }

    let a = get(&app, "/trips/lapland/departures").await;
    assert_eq!(a.json["departures"], json!([]), "every departure is full");
    assert_error(
        &get(&app, "/trips/atlantis/departures").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn a_booking_holds_seats_and_can_be_looked_up() {
    let app = router(None);
    let a = post(
        &app,
        "/bookings",
        booking_body("LIS-0619", json!("2")),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
    let b = &a.json;
    assert_eq!(b["reference"], "BK-7302");
    assert_eq!(b["status"], "held");
    assert_eq!(b["trip_name"], "Lisbon city break");
    assert_eq!(b["departure_label"], "Fri 19 June 2026");
    assert_eq!(b["travellers"], 2);
    assert_eq!(b["total_eur"], 1180);
    assert_eq!(b["deposit_eur"], 354);
    assert_eq!(
        b["payment_url"],
        "https://atlas-voyages.example/pay/BK-7302"
    );

    // The departure's last two seats are gone: it is no longer offered.
    let a = get(&app, "/trips/lisbon/departures").await;
    assert!(!a.json.to_string().contains("LIS-0619"));
    assert_error(
        &post(&app, "/bookings", booking_body("LIS-0619", json!(1)), None).await,
        StatusCode::CONFLICT,
        "not_enough_seats",
    );

    // As customers type references.
    for typed in ["BK-7302", "bk7302", "bk%207302"] {
        let a = get(&app, &format!("/bookings/{typed}")).await;
        assert_eq!(a.status, StatusCode::OK, "{typed}");
        assert_eq!(a.json["reference"], "BK-7302");
    }
    let seeded = get(&app, "/bookings/BK-7301").await;
    assert_eq!(seeded.json["status"], "confirmed");
    assert_error(
        &get(&app, "/bookings/BK-0000").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn bad_booking_bodies_are_refused_with_what_is_wrong() {
    let app = router(None);
    for (body, says) in [
        (json!({ "travellers": 2, "wa_id": "1" }), "departure_id"),
        (booking_body("LIS-0605", json!(0)), "travellers"),
        (booking_body("LIS-0605", json!("ten")), "travellers"),
        (booking_body("LIS-0605", json!(true)), "travellers"),
        (booking_body("LIS-0605", json!(12)), "travellers"),
        (
            json!({ "departure_id": "LIS-0605", "travellers": 1, "wa_id": " " }),
            "wa_id",
        ),
        (json!(["LIS-0605"]), "object"),
    ] {
        let a = post(&app, "/bookings", body.clone(), None).await;
        assert_error(&a, StatusCode::BAD_REQUEST, "invalid_request");
        assert!(
            a.json["message"].as_str().unwrap().contains(says),
            "{body}: {}",
            a.json
        );
    }
    // Not JSON at all, or not said to be.
    let not_json = send(
        &app,
        Call {
            method: Method::POST,
            path: "/bookings",
            ..Call::default()
        },
    )
    .await;
    assert_error(&not_json, StatusCode::BAD_REQUEST, "invalid_request");
    let request = Request::post("/bookings")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"departure_id\":"))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    assert_error(
        &post(&app, "/bookings", booking_body("XXX-0101", json!(1)), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn the_same_idempotency_key_books_once() {
    let app = router(None);
    let body = booking_body("ICE-0614", json!(2));
    let first = post(&app, "/bookings", body.clone(), Some("conv-1:book:1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = post(&app, "/bookings", body.clone(), Some("conv-1:book:1")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json, first.json, "the same booking, not a second one");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let seats = |a: &Answer| {
        a.json["departures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == "ICE-0614")
            .map(|d| d["seats_left"].clone())
    };
    assert_eq!(
        seats(&get(&app, "/trips/iceland/departures").await),
        Some(json!(3))
    );

    // The same key for another request is a mistake of the caller's.
    let other = post(
        &app,
        "/bookings",
        booking_body("ICE-0614", json!(1)),
        Some("conv-1:book:1"),
    )
    .await;
    assert_error(
        &other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    // Without a key, or with another one, each request books.
    let a = post(&app, "/bookings", booking_body("ICE-0614", json!(1)), None).await;
    let b = post(
        &app,
        "/bookings",
        booking_body("ICE-0614", json!(1)),
        Some("conv-1:book:2"),
    )
    .await;
    assert_ne!(a.json["reference"], b.json["reference"]);
    assert_ne!(a.json["reference"], first.json["reference"]);
    assert_eq!(
        seats(&get(&app, "/trips/iceland/departures").await),
        Some(json!(1))
    );

    // A refused request is not remembered: corrected, it goes through with the same key.
    let refused = post(
        &app,
        "/bookings",
        booking_body("ICE-0614", json!(5)),
        Some("k-9"),
    )
    .await;
    assert_error(&refused, StatusCode::CONFLICT, "not_enough_seats");
    let corrected = post(
        &app,
        "/bookings",
        booking_body("ICE-0614", json!(1)),
        Some("k-9"),
    )
    .await;
    assert_eq!(corrected.status, StatusCode::CREATED, "{}", corrected.json);
    assert_eq!(
        seats(&get(&app, "/trips/iceland/departures").await),
        None,
        "now full"
    );

    let blank = post(&app, "/bookings", body, Some("two words")).await;
    assert_error(&blank, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn orders_tell_where_they_are() {
    let app = router(None);
    for (number, status) in [
        ("AB1234", "shipped"),
        ("CD5678", "out_for_delivery"),
        ("EF9012", "preparing"),
        ("GH3456", "delivered"),
    ] {
        let a = get(&app, &format!("/orders/{number}")).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.json["number"], number);
        assert_eq!(a.json["status"], status);
        assert!(a.json["status_text"].as_str().unwrap().len() > 20);
        assert!(a.json["items_summary"].is_string());
    }
    // As a customer types it, percent-encoded by guichet.
    let a = get(&app, "/orders/%23ab%201234").await;
    assert_eq!(a.json["number"], "AB1234");
    assert_error(
        &get(&app, "/orders/ZZ9999").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn returns_open_for_delivered_orders_only() {
    let app = router(None);
    let body = json!({ "reason": "Too small", "name": "Ana", "wa_id": "34600000001" });
    let a = post(&app, "/orders/gh3456/returns", body.clone(), Some("r-1")).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
    assert_eq!(a.json["return_id"], "R-5001");
    assert_eq!(a.json["order"], "GH3456");
    assert_eq!(
        a.json["label_url"],
        "https://oakandlinen.example/returns/R-5001/label.pdf"
    );
    assert_eq!(a.json["drop_off_within_days"], 14);
    let again = post(&app, "/orders/GH3456/returns", body.clone(), Some("r-1")).await;
    assert_eq!(
        again.json["return_id"], "R-5001",
        "the same key opens one return"
    );

    assert_error(
        &post(&app, "/orders/AB1234/returns", body.clone(), None).await,
        StatusCode::CONFLICT,
        "not_returnable",
    );
    assert_error(
        &post(&app, "/orders/ZZ9999/returns", body, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &post(
            &app,
            "/orders/GH3456/returns",
            json!({ "reason": "", "wa_id": "1" }),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
}

#[tokio::test]
async fn machines_and_first_advice() {
    let app = router(None);
    let a = get(&app, "/machines").await;
    let machines = a.json["machines"].as_array().unwrap();
    assert_eq!(machines.len(), 6);
    for m in machines {
        for field in ["id", "name", "noun", "range", "label_location"] {
            assert!(m[field].is_string(), "{m}: {field}");
        }
        assert!(m["name"].as_str().unwrap().chars().count() <= 24);
        assert!(m.get("plumbed").is_none(), "internal");
    }
    let a = get(&app, "/machines/washing-machine/problems/leak").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["code"], "leak");
    assert_eq!(a.json["label"], "Leak");
    assert!(
        a.json["advice"]
            .as_str()
            .unwrap()
            .contains("water tap behind your washing machine")
    );
    let a = get(&app, "/machines/fridge-freezer/problems/leak").await;
    assert!(a.json["advice"].as_str().unwrap().contains("drain hole"));
    for kind in ["no_start", "error_code", "other"] {
        let a = get(&app, &format!("/machines/oven/problems/{kind}")).await;
        assert_eq!(a.status, StatusCode::OK, "{kind}");
        assert_eq!(a.json["code"], kind);
    }
    assert_error(
        &get(&app, "/machines/toaster/problems/leak").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &get(&app, "/machines/oven/problems/haunted").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn tickets_are_opened_once_per_key_and_followed() {
    let app = router(None);
    let a = post(&app, "/tickets", ticket_body("error_code"), Some("t-1")).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
    let t = &a.json;
    assert_eq!(t["reference"], "T-20452");
    assert_eq!(t["machine_name"], "Washing machine");
    assert_eq!(t["problem_label"], "Error code");
    assert_eq!(t["error_code"], "E21");
    assert_eq!(t["serial"], "AQ9-7420");
    assert_eq!(t["status"], "open");
    assert!(
        t["next_step"]
            .as_str()
            .unwrap()
            .contains("within one working day")
    );
    let again = post(&app, "/tickets", ticket_body("error_code"), Some("t-1")).await;
    assert_eq!(again.json, a.json);
    let next = post(&app, "/tickets", ticket_body("leak"), None).await;
    assert_eq!(next.json["reference"], "T-20453");
    assert_eq!(
        next.json["error_code"],
        Value::Null,
        "a code means nothing for a leak"
    );

    let a = get(&app, "/tickets/t%2020452").await;
    assert_eq!(a.json["reference"], "T-20452");
    let seeded = get(&app, "/tickets/T-20451").await;
    assert_eq!(seeded.json["status"], "visit_booked");
    assert_error(
        &get(&app, "/tickets/T-99999").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let mut unknown = ticket_body("leak");
    unknown["machine_id"] = json!("toaster");
    assert_error(
        &post(&app, "/tickets", unknown, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for (field, value) in [
        ("problem", json!("haunted")),
        ("serial", json!("")),
        ("description", json!(null)),
    ] {
        let mut bad = ticket_body("leak");
        bad[field] = value;
        let a = post(&app, "/tickets", bad, None).await;
        assert_error(&a, StatusCode::BAD_REQUEST, "invalid_request");
        assert!(
            a.json["message"].as_str().unwrap().contains(field),
            "{}",
            a.json
        );
    }
}

#[tokio::test]
async fn with_a_token_every_request_needs_it() {
    let app = router(Some("s3cret-token".into()));
    for path in ["/health", "/trips", "/orders/AB1234", "/nowhere"] {
        let a = get(&app, path).await;
        assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorised");
        assert_eq!(a.headers[header::WWW_AUTHENTICATE], "Bearer", "{path}");
        let wrong = send(
            &app,
            Call {
                path,
                token: Some("s3cret-tokem"),
                ..Call::default()
            },
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let ok = send(
        &app,
        Call {
            path: "/orders/AB1234",
            token: Some("s3cret-token"),
            ..Call::default()
        },
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    let created = send(
        &app,
        Call {
            method: Method::POST,
            path: "/tickets",
            body: Some(ticket_body("other")),
            token: Some("s3cret-token"),
            key: None,
        },
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    // The scheme's case does not matter.
    let request = Request::get("/health")
        .header(header::AUTHORIZATION, "bearer s3cret-token")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let app = router(None);
    assert_error(
        &get(&app, "/nowhere").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let a = send(
        &app,
        Call {
            method: Method::DELETE,
            path: "/bookings/BK-7301",
            ..Call::default()
        },
    )
    .await;
    assert_error(&a, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

/// The example flows, run by the engine against this back-end: every call they make is one it
/// answers, and what it answers is what they read.
mod flows {
    use domain::flow::{After, CallOutcome, Flow, Input, Session, Turn, customer_vars};
    use domain::guard::Decision;
    use wa::send::{InteractiveAction, SendBody};

    use super::*;

    fn flow(text: &str) -> Flow {
        Flow::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn customer() -> Value {
        customer_vars(Some("Ana"), Some("34600000001"))
    }

    /// A conversation: what the bot said so far, and where it stands.
    struct Chat<'f> {
        app: Router,
        flow: &'f Flow,
        session: Option<Session>,
        said: Vec<String>,
        after: After,
        calls: usize,
    }

    impl<'f> Chat<'f> {
        /// A new conversation with `app`, the back-end it shares with earlier conversations.
        fn new(flow: &'f Flow, app: &Router) -> Self {
            Self {
                app: app.clone(),
                flow,
                session: None,
                said: Vec::new(),
                after: After::Wait,
                calls: 0,
            }
        }

        /// Plays an input, performs the calls it leads to, and returns what the bot said.
        async fn play(&mut self, input: Input<'_>) -> Vec<String> {
            let turn = self.flow.turn(self.session.take(), customer(), input);
            let mut said = Vec::new();
            let mut turn = self.take(turn, &mut said);
            while let After::Call(request) = &turn.after {
                self.calls += 1;
                let key = format!("conversation-1:{}:{}", request.step, self.calls);
                let answer = send(
                    &self.app,
                    Call {
                        method: Method::from_bytes(request.method.as_str().as_bytes()).unwrap(),
                        path: &request.path,
                        body: request.body.clone(),
                        token: Some("token"),
                        key: Some(&key),
                    },
                )
                .await;
                let outcome = match answer.status {
                    s if s.is_success() => CallOutcome::Ok(answer.json),
                    StatusCode::NOT_FOUND => CallOutcome::NotFound,
                    _ => CallOutcome::Failed,
                };
                let next = self.flow.after_call(turn.session, outcome);
                turn = self.take(next, &mut said);
            }
            self.session = Some(turn.session);
            self.after = turn.after;
            self.said.extend(said.iter().cloned());
            said
        }

        fn take(&self, turn: Turn, said: &mut Vec<String>) -> Turn {
            for body in &turn.say {
                said.push(match body {
                    SendBody::Text(t) => t.body.clone(),
                    SendBody::Interactive(i) => {
                        let choices: Vec<String> = match &i.action {
                            InteractiveAction::Buttons(b) => {
                                b.iter().map(|b| format!("{}={}", b.id, b.title)).collect()
                            }
                            InteractiveAction::List { sections, .. } => sections[0]
                                .rows
                                .iter()
                                .map(|r| format!("{}={}", r.id, r.title))
                                .collect(),
                            other => vec![format!("{other:?}")],
                        };
                        format!("{} [{}]", i.body, choices.join(" | "))
                    }
                    other => format!("{other:?}"),
                });
            }
            turn
        }

        async fn start(&mut self) -> String {
            self.play(Input::Start).await.join("\n")
        }

        async fn tap(&mut self, id: &str) -> String {
            self.play(Input::Reply { id }).await.join("\n")
        }

        async fn write(&mut self, text: &str) -> String {
            self.play(Input::Text {
                text,
                decision: None,
            })
            .await
            .join("\n")
        }

        async fn intent(&mut self, text: &str, intent: &str) -> String {
            let decision = Decision::InScope {
                intent: intent.into(),
                score: 0.9,
            };
            self.play(Input::Text {
                text,
                decision: Some(&decision),
            })
            .await
            .join("\n")
        }
    }

    /// No placeholder left unfilled: an empty `{{…}}` leaves a telltale `**`, double space or
    /// space before punctuation.
    fn filled(text: &str) -> bool {
        ["{{", "**", "  ", " ,", " ."]
            .iter()
            .all(|t| !text.contains(t))
    }

    #[tokio::test]
    async fn travel_books_seats_and_finds_the_booking() {
        let f = flow(include_str!("../../../../examples/flows/travel.toml"));
        let app = router(Some("token".into()));
        let mut c = Chat::new(&f, &app);
        let said = c.intent("I'd like to book a trip", "book_trip").await;
        assert!(said.contains("lisbon=Lisbon city break"), "{said}");
        let said = c.tap("sahara").await;
        assert!(said.contains("SAH-1010=Sat 10 Oct 2026"), "{said}");
        c.tap("SAH-1212").await;
        let said = c.write("3").await;
        assert!(
            said.contains("Departure: Sat 12 Dec 2026\nTravellers: 3\nPrice: 940 €"),
            "{said}"
        );
        let said = c.tap("confirm_book").await;
        assert!(said.contains("Reference: *BK-7302*"), "{said}");
        assert!(said.contains("3 traveller(s), 2820 € in total"), "{said}");
        assert!(said.contains("deposit of 846 €"), "{said}");
        assert!(
            said.contains("https://atlas-voyages.example/pay/BK-7302"),
            "{said}"
        );
        assert_eq!(c.after, After::Resolve);

        // Later, the customer asks about it.
        let mut c = Chat::new(&f, &app);
        c.intent("is my booking confirmed?", "my_booking").await;
        let said = c.write("bk 7301").await;
        assert!(said.contains("Booking *BK-7301*"), "{said}");
        assert!(
            said.contains("Confirmed: we have received your deposit"),
            "{said}"
        );
        let said = c.tap("booking_menu").await;
        assert!(said.contains("book=Book a trip"), "{said}");
        // A full trip takes the empty branch.
        c.tap("book").await;
        let said = c.tap("lapland").await;
        assert!(
            said.contains("every departure of Northern lights, Lapland is full"),
            "{said}"
        );
        for text in &c.said {
            assert!(filled(text), "{text}");
        }
    }

    #[tokio::test]
    async fn travel_says_when_a_reference_or_the_last_seats_are_gone() {
        let f = flow(include_str!("../../../../examples/flows/travel.toml"));
        let app = router(Some("token".into()));
        let mut c = Chat::new(&f, &app);
        c.start().await;
        c.tap("booking").await;
        let said = c.write("BK-0000").await;
        assert!(
            said.contains("I can't find a booking with the reference BK-0000"),
            "{said}"
        );
        c.tap("reference_menu").await;
        c.tap("book").await;
        c.tap("iceland").await;
        c.tap("ICE-0809").await;
        c.write("2").await;
        let said = c.tap("confirm_book").await;
        assert!(said.contains("I couldn't hold these seats"), "{said}");
        assert!(said.contains("failed_other=See departures"), "{said}");
    }

    #[tokio::test]
    async fn shop_tracks_orders_and_opens_returns() {
        let f = flow(include_str!("../../../../examples/flows/shop.toml"));
        let app = router(Some("token".into()));
        for (number, expected) in [
            ("AB1234", "Shipped on 3 March with Colissimo"),
            ("cd5678", "Out for delivery today with DPD"),
            ("#EF 9012", "Being prepared in our warehouse"),
        ] {
            let mut c = Chat::new(&f, &app);
            c.start().await;
            c.tap("track").await;
            let said = c.write(number).await;
            assert!(said.contains(expected), "{number}: {said}");
            assert!(said.contains("track_another=Another order"), "{said}");
        }
        let mut c = Chat::new(&f, &app);
        c.start().await;
        c.tap("track").await;
        let said = c.write("ZZ9999").await;
        assert!(
            said.contains("I can't find an order with the number ZZ9999"),
            "{said}"
        );

        c.tap("return").await;
        c.tap("return_start").await;
        c.write("GH3456").await;
        let said = c.write("Wrong colour for our kitchen").await;
        assert!(said.contains("Your return *R-5001* is open"), "{said}");
        assert!(
            said.contains("https://oakandlinen.example/returns/R-5001/label.pdf"),
            "{said}"
        );

        // A return for an order on its way is for a person.
        let mut c = Chat::new(&f, &app);
        c.start().await;
        c.tap("return").await;
        c.tap("return_start").await;
        c.write("CD5678").await;
        let said = c.write("Changed my mind").await;
        assert!(
            said.contains("I couldn't open a return for order CD5678"),
            "{said}"
        );
        assert_eq!(c.after, After::Handoff { asked: false });
    }

    #[tokio::test]
    async fn appliance_opens_a_ticket_and_follows_it() {
        let f = flow(include_str!("../../../../examples/flows/appliance.toml"));
        let app = router(Some("token".into()));
        let mut c = Chat::new(&f, &app);
        c.start().await;
        let said = c.tap("breakdown").await;
        assert!(said.contains("washing-machine=Washing machine"), "{said}");
        let said = c.tap("dishwasher").await;
        assert!(
            said.contains("What is wrong with your dishwasher?"),
            "{said}"
        );
        c.tap("error_code").await;
        let said = c.write("E24").await;
        assert!(
            said.contains("Please unplug your dishwasher for one minute"),
            "{said}"
        );
        assert!(
            said.contains("It is on a sticker on the edge of the door"),
            "{said}"
        );
        c.write("CL60-3318").await;
        let said = c
            .write("It stops mid-cycle and water stays at the bottom.")
            .await;
        assert!(said.contains("Your repair ticket is *T-20452*"), "{said}");
        assert!(said.contains("within one working day"), "{said}");
        assert_eq!(c.after, After::Resolve);

        let mut c = Chat::new(&f, &app);
        c.intent("when is the technician coming?", "follow_repair")
            .await;
        let said = c.write("t20452").await;
        assert!(
            said.contains("Ticket *T-20452*: Dishwasher, Error code"),
            "{said}"
        );
        let mut c = Chat::new(&f, &app);
        c.start().await;
        c.tap("follow").await;
        let said = c.write("T-20451").await;
        assert!(
            said.contains("A technician's visit is booked for Thursday 12 March"),
            "{said}"
        );
        for text in &c.said {
            assert!(filled(text), "{text}");
        }
    }
}
