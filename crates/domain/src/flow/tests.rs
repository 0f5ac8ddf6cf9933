use serde_json::json;
use wa::send::{InteractiveAction, SendBody};

use super::*;
use crate::guard::Decision;

const SHOP: &str = r#"
[bot]
name = "Shop"
version = "1"
start = "menu"
greeting = "Hello {{customer.name}}!"
deflection = "I can only help with your orders."

[[intents]]
name = "track_order"
examples = ["where is my order", "track my parcel"]
goto = "ask_order"

[[intents]]
name = "opening_hours"
examples = ["when are you open"]
answer = "We are open 9 to 18, {{customer.name}}."

[[intents]]
name = "complaint"
examples = ["I want to complain"]
handoff = true

[steps.menu]
say = "What can I do for you?"
buttons = [
  { id = "track", title = "Track an order", goto = "ask_order" },
  { id = "slots", title = "Book a slot", goto = "load_slots" },
]

[steps.ask_order]
say = "Your order number?"
ask = { save = "order", pattern = "^[A-Z]{2}[0-9]{4}$", invalid = "Like AB1234." }
goto = "lookup"

[steps.lookup]
call = { method = "GET", path = "/orders/{{order}}", save = "info", on_ok = "status", on_not_found = "unknown" }

[steps.status]
say = "Order {{order}}: {{info.status}}."
goto = "bye"

[steps.unknown]
say = "I can't find {{order}}."
goto = "menu"

[steps.load_slots]
call = { method = "GET", path = "/slots", save = "slots", on_ok = "pick", on_error = "down" }

[steps.pick]
say = "Pick a slot"
list_from = { items = "slots.free", id = "{{id}}", title = "{{label}}", button = "Slots", save = "slot", goto = "book", empty = "none" }

[steps.book]
call = { method = "POST", path = "/bookings", body = { slot = "{{slot.id}}", who = "{{customer.name}}" }, save = "booking", on_ok = "booked" }

[steps.booked]
say = "Booked {{slot.label}} ({{booking.ref}})."
end = true

[steps.none]
say = "No slot is free."
handoff = true

[steps.down]
say = "Our agenda is down."
goto = "menu"

[steps.bye]
end = true
"#;

fn shop() -> Flow {
    Flow::parse(SHOP).unwrap()
}

fn customer() -> serde_json::Value {
    customer_vars(Some("Ana"), Some("33600000001"))
}

fn texts(turn: &Turn) -> Vec<String> {
    turn.say
        .iter()
        .map(|b| match b {
            SendBody::Text(t) => t.body.clone(),
            SendBody::Interactive(i) => format!("[{}]", i.body),
            other => format!("{other:?}"),
        })
        .collect()
}

fn in_scope(intent: &str) -> Decision {
    Decision::InScope {
        intent: intent.into(),
        score: 0.9,
    }
}

fn out_of_scope(general: bool) -> Decision {
    Decision::OutOfScope {
        score: 0.1,
        nearest: None,
        general_request: general,
    }
}

fn text<'a>(text: &'a str, decision: Option<&'a Decision>) -> Input<'a> {
    Input::Text { text, decision }
}

#[test]
fn the_example_parses_into_typed_steps() {
    let f = shop();
    assert_eq!(f.start, "menu");
    assert_eq!(f.intents.len(), 3);
    assert_eq!(
        f.intents[1].target,
        Target::Answer("We are open 9 to 18, {{customer.name}}.".into())
    );
    assert!(matches!(f.steps["lookup"].kind, StepKind::Call(ref c) if c.method == Method::Get));
    assert!(f.steps["pick"].kind.waits());
    assert_eq!(
        f.guard_intents()[0].examples,
        ["where is my order", "track my parcel"]
    );
}

#[test]
fn a_first_hello_greets_and_shows_the_menu() {
    let f = shop();
    let d = out_of_scope(false);
    let t = f.turn(None, customer(), text("hi", Some(&d)));
    assert_eq!(texts(&t), ["Hello Ana!", "[What can I do for you?]"]);
    assert_eq!(t.after, After::Wait);
    assert_eq!(t.session.at.as_deref(), Some("menu"));
    assert!(!t.deflected);
}

#[test]
fn a_general_request_is_deflected_with_a_human_and_the_menu_offered() {
    let f = shop();
    let d = out_of_scope(true);
    let t = f.turn(None, customer(), text("write me a poem", Some(&d)));
    assert!(t.deflected);
    assert_eq!(
        texts(&t),
        ["Hello Ana!", "[I can only help with your orders.]"]
    );
    let SendBody::Interactive(i) = &t.say[1] else {
        panic!()
    };
    let InteractiveAction::Buttons(b) = &i.action else {
        panic!()
    };
    assert_eq!(b[0].id, HUMAN_REPLY);
    assert_eq!(b[1].id, MENU_REPLY);
    // Later in the conversation, anything out of scope is deflected, whatever its neighbour.
    let again = f.turn(
        Some(t.session.clone()),
        customer(),
        text("tell me a joke", Some(&out_of_scope(false))),
    );
    assert!(again.deflected);
    assert_eq!(
        again.session.at, t.session.at,
        "the customer stays where they were"
    );
    // The deflection's buttons work.
    let human = f.turn(
        Some(again.session.clone()),
        customer(),
        Input::Reply { id: HUMAN_REPLY },
    );
    assert_eq!(human.after, After::Handoff { asked: true });
    let menu = f.turn(
        Some(again.session),
        customer(),
        Input::Reply { id: MENU_REPLY },
    );
    assert_eq!(menu.session.at.as_deref(), Some("menu"));
}

#[test]
fn an_order_is_asked_validated_looked_up_and_told() {
    let f = shop();
    let d = in_scope("track_order");
    let t = f.turn(None, customer(), text("where is my order?", Some(&d)));
    assert_eq!(texts(&t), ["Hello Ana!", "Your order number?"]);
    assert!(
        !needs_guard(&f, Some(&t.session), "ab 12"),
        "an answer is data, not a request"
    );
    let bad = f.turn(Some(t.session.clone()), customer(), text("ab 12", None));
    assert_eq!(texts(&bad), ["Like AB1234."]);
    assert_eq!(bad.session.at.as_deref(), Some("ask_order"));
    let t = f.turn(Some(bad.session), customer(), text(" AB1234 ", None));
    let After::Call(req) = &t.after else {
        panic!("{:?}", t.after)
    };
    assert_eq!(req.method, Method::Get);
    assert_eq!(req.path, "/orders/AB1234");
    assert_eq!(req.step, "lookup");
    let t = f.after_call(t.session, CallOutcome::Ok(json!({"status": "shipped"})));
    assert_eq!(texts(&t), ["Order AB1234: shipped."]);
    assert_eq!(t.after, After::Resolve);
}

#[test]
fn a_404_and_a_failure_take_their_branches() {
    let f = shop();
    let mut s = Session::new(customer());
    s.vars.insert("order".into(), json!("ZZ9999"));
    s.at = Some("lookup".into());
    let t = f.after_call(s.clone(), CallOutcome::NotFound);
    assert_eq!(
        texts(&t),
        ["I can't find ZZ9999.", "[What can I do for you?]"]
    );
    // No on_error: the bot says the system is down and hands over.
    let t = f.after_call(s, CallOutcome::Failed);
    assert_eq!(t.after, After::Handoff { asked: false });
    assert_eq!(texts(&t)[0], f.backend_down);
}

#[test]
fn a_list_is_built_from_the_back_ends_answer_and_the_choice_kept() {
    let f = shop();
    let mut s = Session::new(customer());
    s.at = Some("menu".into());
    let t = f.turn(Some(s), customer(), Input::Reply { id: "slots" });
    let After::Call(req) = &t.after else { panic!() };
    assert_eq!(req.path, "/slots");
    let free = json!({"free": [
        {"id": "s1", "label": "Mon 9:00"},
        {"id": "s2", "label": "Tuesday the 12th at half past ten in the morning"},
        {"id": "s1", "label": "duplicate id"},
    ]});
    let t = f.after_call(t.session, CallOutcome::Ok(free));
    let SendBody::Interactive(i) = &t.say[0] else {
        panic!()
    };
    let InteractiveAction::List { sections, .. } = &i.action else {
        panic!()
    };
    assert_eq!(sections[0].rows.len(), 2, "duplicate ids dropped");
    assert_eq!(
        sections[0].rows[1].title.chars().count(),
        24,
        "titles cut to WhatsApp's 24"
    );
    // Typing a row's title works like tapping it.
    assert!(!needs_guard(&f, Some(&t.session), "mon 9:00"));
    let t = f.turn(Some(t.session), customer(), text("Mon 9:00", None));
    let After::Call(req) = &t.after else { panic!() };
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.body, Some(json!({"slot": "s1", "who": "Ana"})));
    let t = f.after_call(t.session, CallOutcome::Ok(json!({"ref": "B-7"})));
    assert_eq!(texts(&t), ["Booked Mon 9:00 (B-7)."]);
    assert_eq!(t.after, After::Resolve);
}

#[test]
fn an_empty_list_takes_the_empty_branch() {
    let f = shop();
    let mut s = Session::new(customer());
    s.at = Some("load_slots".into());
    let t = f.after_call(s, CallOutcome::Ok(json!({"free": []})));
    assert_eq!(texts(&t), ["No slot is free."]);
    assert_eq!(t.after, After::Handoff { asked: false });
    let mut s = Session::new(customer());
    s.at = Some("load_slots".into());
    let t = f.after_call(s, CallOutcome::Failed);
    assert_eq!(
        texts(&t),
        ["Our agenda is down.", "[What can I do for you?]"]
    );
}

#[test]
fn a_list_without_usable_rows_takes_the_empty_branch_and_rows_always_have_a_title() {
    let f = shop();
    let mut s = Session::new(customer());
    s.at = Some("load_slots".into());
    // Items without the field the id names: a list without rows would be refused by WhatsApp.
    let t = f.after_call(
        s.clone(),
        CallOutcome::Ok(json!({"free": [{"slot": "s1"}, {"slot": "s2"}]})),
    );
    assert_eq!(texts(&t), ["No slot is free."]);
    // An item without a title shows its id; an empty description is left out.
    let t = f.after_call(
        s.clone(),
        CallOutcome::Ok(
            json!({"free": [{"id": "s1", "label": "  "}, {"id": "s2", "label": "Tue"}]}),
        ),
    );
    let SendBody::Interactive(i) = &t.say[0] else {
        panic!()
    };
    let InteractiveAction::List { sections, .. } = &i.action else {
        panic!()
    };
    assert_eq!(sections[0].rows[0].title, "s1");
    assert_eq!(sections[0].rows[1].title, "Tue");
    let with_description = Flow::parse(&SHOP.replace(
        "title = \"{{label}}\",",
        "title = \"{{label}}\", description = \"{{note}}\",",
    ))
    .unwrap();
    let t = with_description.after_call(
        s.clone(),
        CallOutcome::Ok(json!({"free": [{"id": "s1", "label": "Mon"}]})),
    );
    let SendBody::Interactive(i) = &t.say[0] else {
        panic!()
    };
    let InteractiveAction::List { sections, .. } = &i.action else {
        panic!()
    };
    assert_eq!(sections[0].rows[0].description, None);
    // Duplicates do not take the place of later items: ten rows when there are ten ids.
    let mut free: Vec<serde_json::Value> = vec![json!({"id": "s0", "label": "dup"}); 5];
    free.extend((0..12).map(|n| json!({"id": format!("s{n}"), "label": format!("L{n}")})));
    let t = f.after_call(s, CallOutcome::Ok(json!({ "free": free })));
    let SendBody::Interactive(i) = &t.say[0] else {
        panic!()
    };
    let InteractiveAction::List { sections, .. } = &i.action else {
        panic!()
    };
    assert_eq!(sections[0].rows.len(), 10);
    assert_eq!(sections[0].rows[9].id, "s9");
}

#[test]
fn a_text_whose_placeholders_are_all_empty_is_not_sent() {
    let f = Flow::parse(&SHOP.replace(
        "say = \"Order {{order}}: {{info.status}}.\"",
        "say = \"{{info.status_text}}\"",
    ))
    .unwrap();
    let mut s = Session::new(customer());
    s.vars.insert("order".into(), json!("AB1234"));
    s.at = Some("lookup".into());
    let t = f.after_call(s.clone(), CallOutcome::Ok(json!({"status": "shipped"})));
    assert!(t.say.is_empty(), "{:?}", texts(&t));
    assert_eq!(t.after, After::Resolve);
    let t = f.after_call(s, CallOutcome::Ok(json!({"status_text": "Shipped today."})));
    assert_eq!(texts(&t), ["Shipped today."]);
}

#[test]
fn faq_answers_keep_the_customer_where_they_were_and_handoff_intents_hand_over() {
    let f = shop();
    let mut s = Session::new(customer());
    s.at = Some("menu".into());
    let d = in_scope("opening_hours");
    let t = f.turn(
        Some(s.clone()),
        customer(),
        text("are you open on sunday", Some(&d)),
    );
    assert_eq!(texts(&t), ["We are open 9 to 18, Ana."]);
    assert_eq!(t.session.at.as_deref(), Some("menu"));
    let d = in_scope("complaint");
    let t = f.turn(Some(s), customer(), text("I want to complain", Some(&d)));
    assert_eq!(t.after, After::Handoff { asked: true });
}

#[test]
fn a_customer_can_always_ask_for_a_human_even_mid_question() {
    let f = shop();
    let mut s = Session::new(customer());
    s.at = Some("ask_order".into());
    for asked in ["human please", "Je veux parler à un conseiller", "AGENT!"] {
        assert!(!needs_guard(&f, Some(&s), asked));
        let t = f.turn(Some(s.clone()), customer(), text(asked, None));
        assert_eq!(t.after, After::Handoff { asked: true }, "{asked}");
        assert_eq!(t.session.at, None);
    }
    // A long description that mentions a person is not a request for one.
    let long = "the delivery person left my parcel at the wrong door again today";
    assert!(needs_guard(&f, None, long));
}

#[test]
fn stale_buttons_still_lead_where_they_led() {
    let f = shop();
    let mut s = Session::new(customer());
    s.at = Some("ask_order".into());
    let t = f.turn(Some(s), customer(), Input::Reply { id: "track" });
    assert_eq!(t.session.at.as_deref(), Some("ask_order"));
    assert_eq!(texts(&t), ["Your order number?"]);
}

#[test]
fn path_placeholders_cannot_leave_their_segment() {
    let f = Flow::parse(&SHOP.replace("^[A-Z]{2}[0-9]{4}$", ".+")).unwrap();
    let mut s = Session::new(customer());
    s.at = Some("ask_order".into());
    let t = f.turn(Some(s), customer(), text("../admin?x=1", None));
    let After::Call(req) = &t.after else { panic!() };
    assert_eq!(req.path, "/orders/..%2Fadmin%3Fx%3D1");
}

fn problems(text: &str) -> Vec<String> {
    Flow::parse(text).unwrap_err().problems
}

#[test]
fn validation_names_every_problem_and_what_to_do() {
    let broken = SHOP
        .replace("goto = \"lookup\"", "goto = \"lokup\"")
        .replace("Track an order", "Track an order right now please")
        .replace("{{info.status}}", "{{inf.status}}")
        .replace("pattern = \"^[A-Z]{2}[0-9]{4}$\"", "pattern = \"([\"")
        .replace("method = \"POST\"", "method = \"DELETE\"");
    let p = problems(&broken);
    let joined = p.join("\n");
    for expected in [
        "step `ask_order`: goes to `lokup`, which is not a step",
        "step `menu` buttons choice 1 (`track`) title: is 31 characters; WhatsApp takes at most 20",
        "step `status` say: `{{inf.status}}` names `inf`, which no step saves",
        "step `ask_order` ask.pattern: is not a regular expression",
        "step `book` call.method: `DELETE`: use GET (to read) or POST (to create)",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in:\n{joined}"
        );
    }
    assert_eq!(p.len(), 5, "{joined}");
}

#[test]
fn unknown_keys_and_bad_toml_are_reported_with_their_place() {
    let p = problems(&SHOP.replace("greeting =", "greting ="));
    assert!(p[0].contains("unknown field `greting`"), "{p:?}");
    let p = problems("[bot\nname=");
    assert!(p[0].contains("line 1"), "{p:?}");
}

#[test]
fn structural_mistakes_are_refused() {
    let cases: &[(&str, &str)] = &[
        (
            "[steps.a]\nsay = \"x\"\nbuttons = [{ id = \"x\", title = \"X\", goto = \"a\" }]\nend = true\n",
            "does several things",
        ),
        ("[steps.a]\n", "does nothing"),
        (
            "[steps.a]\nask = { save = \"v\" }\nsay = \"?\"\n",
            "needs `goto`",
        ),
        (
            "[steps.a]\nsay = \"x\"\nbuttons = [{ id = \"guichet:x\", title = \"X\", goto = \"a\" }]\n",
            "guichet's own",
        ),
        (
            "[steps.a]\nsay = \"x\"\nbuttons = [{ id = \"1\", title = \"1\", goto = \"a\" },{ id = \"2\", title = \"2\", goto = \"a\" },{ id = \"3\", title = \"3\", goto = \"a\" },{ id = \"4\", title = \"4\", goto = \"a\" }]\n",
            "has 4 choices; WhatsApp shows 1 to 3",
        ),
        (
            "[steps.a]\nsay = \"x\"\ngoto = \"b\"\n[steps.b]\nsay = \"y\"\ngoto = \"a\"\n",
            "loops without waiting",
        ),
        (
            "[steps.a]\ncall = { method = \"GET\", path = \"/s\", save = \"r\", on_ok = \"b\" }\n[steps.b]\nsay = \"Pick\"\nlist_from = { items = \"r.x\", id = \"{{id}}\", title = \"{{t}}\", button = \"B\", save = \"v\", goto = \"c\", empty = \"a\" }\n[steps.c]\nend = true\n",
            "loops without waiting for the customer (a → b → a)",
        ),
        (
            "[steps.a]\ncall = { method = \"POST\", path = \"/x\", body = { who = { names = [\"{{custmer.name}}\"] } }, on_ok = \"b\" }\n[steps.b]\nend = true\n",
            "step `a` call.body.who.names.0: `{{custmer.name}}` names `custmer`, which no step saves",
        ),
        (
            "[steps.a]\nend = true\n[steps.orphan]\nend = true\n",
            "`orphan`: is never reached",
        ),
        (
            "[steps.a]\ncall = { method = \"GET\", path = \"http://evil/\", on_ok = \"a\" }\n",
            "must start with `/`",
        ),
    ];
    for (steps, expected) in cases {
        let text = format!("[bot]\nname = \"x\"\nversion = \"1\"\nstart = \"a\"\n{steps}");
        let joined = problems(&text).join("\n");
        assert!(
            joined.contains(expected),
            "{steps}: expected {expected:?} in:\n{joined}"
        );
    }
    let intents = "[bot]\nname = \"x\"\nversion = \"1\"\nstart = \"a\"\n[[intents]]\nname = \"i\"\nexamples = []\ngoto = \"a\"\nanswer = \"y\"\n[steps.a]\nend = true\n";
    let joined = problems(intents).join("\n");
    assert!(joined.contains("has no examples"), "{joined}");
    assert!(joined.contains("needs exactly one of"), "{joined}");
    let long = format!(
        "[bot]\nname = \"x\"\nversion = \"1\"\nstart = \"a\"\nhandoff_message = \"{}\"\n[steps.a]\nend = true\n",
        "x".repeat(4097)
    );
    let joined = problems(&long).join("\n");
    assert!(
        joined.contains("[bot] handoff_message: is 4097 characters; WhatsApp takes at most 4096"),
        "{joined}"
    );
}

#[test]
fn normalising_ignores_case_accents_and_punctuation() {
    assert_eq!(
        normalise("  Parler à un CONSEILLER !! "),
        "parler a un conseiller"
    );
    assert_eq!(normalise("Mon 9:00"), "mon 9 00");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the customer types or taps, the bot answers within WhatsApp's limits and
        /// never leaves the flow's steps.
        #[test]
        fn any_input_keeps_the_bot_on_its_steps(
            inputs in proptest::collection::vec((any::<bool>(), "\\PC{0,40}", 0usize..6), 1..12),
        ) {
            let f = shop();
            let ids = ["track", "slots", HUMAN_REPLY, MENU_REPLY, "zzz", "s1"];
            let decisions = [in_scope("track_order"), in_scope("opening_hours"), out_of_scope(true), out_of_scope(false)];
            let mut session: Option<Session> = None;
            for (tap, typed, pick) in inputs {
                let input = if tap {
                    Input::Reply { id: ids[pick % ids.len()] }
                } else {
                    Input::Text { text: &typed, decision: Some(&decisions[pick % decisions.len()]) }
                };
                let mut turn = f.turn(session.take(), customer(), input);
                while let After::Call(_) = turn.after {
                    turn = f.after_call(turn.session, CallOutcome::Ok(json!({"status": "x", "free": [{"id": "s1", "label": "L"}], "ref": "r"})));
                }
                for body in &turn.say {
                    if let SendBody::Interactive(i) = body {
                        prop_assert!(i.body.chars().count() <= 1024);
                        if let InteractiveAction::Buttons(b) = &i.action {
                            prop_assert!(!b.is_empty() && b.len() <= 3);
                        }
                    }
                }
                if let Some(at) = &turn.session.at {
                    prop_assert!(f.steps.contains_key(at));
                    prop_assert!(f.steps[at].kind.waits());
                }
                session = match turn.after {
                    After::Wait => Some(turn.session),
                    _ => None,
                };
            }
        }
    }
}
