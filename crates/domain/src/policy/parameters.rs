//! Whether a template send fits its synced template: found in that language, approved, and
//! filled with the right number, names, types and text of parameters (cloud-api.md §3.2, §4
//! codes 132000, 132001, 132005, 132012, 132015, 132016).

use super::intent::{ButtonParams, ButtonSubType, Param, ParamValue, TemplateMessage};
use super::templates::{
    ParameterFormat, ParameterTextProblem, SyncedTemplate, TemplateButton, TemplateHeader,
    TemplateStatus, language_key, parameter_text_problem, placeholders,
};
use super::verdict::{Refusal, code};

/// Meta's limit on a template body once its placeholders are filled in. Not in the reference's
/// tables (§5.5 gives 4096 for text messages); 1024 is the body limit of Meta's template editor,
/// and 132005 ("hydrated text too long") is what Meta answers past it.
pub const TEMPLATE_BODY_MAX: usize = 1024;
/// A template's text header, filled in.
pub const TEMPLATE_HEADER_TEXT_MAX: usize = 60;

/// The synced template a send names, in the language it asks for (compared across spellings:
/// `en-US` finds `en_US`). Names are exact: Meta's are lowercase, digits and underscores.
pub(crate) fn find<'a>(
    message: &TemplateMessage,
    synced: &'a [SyncedTemplate],
) -> Result<&'a SyncedTemplate, Refusal> {
    let same_name: Vec<&SyncedTemplate> =
        synced.iter().filter(|t| t.name == message.name).collect();
    if same_name.is_empty() {
        return Err(Refusal::new(
            code::TEMPLATE_NOT_FOUND,
            format!("there is no template named `{}`", message.name),
            "check the name, or refresh templates from Meta if it was created recently",
        )
        .meta(132_001));
    }
    let wanted = language_key(&message.language);
    if let Some(t) = same_name
        .iter()
        .find(|t| language_key(&t.language) == wanted)
    {
        return Ok(t);
    }
    let languages: Vec<&str> = same_name.iter().map(|t| t.language.as_str()).collect();
    Err(Refusal::new(
        code::TEMPLATE_LANGUAGE_MISSING,
        format!(
            "template `{}` has no `{}` version; it exists in {}",
            message.name,
            message.language,
            languages.join(", ")
        ),
        format!(
            "send it with one of those language codes (Meta matches them exactly: `en` is not \
             `en_US`), or submit a `{}` translation",
            message.language
        ),
    )
    .meta(132_001))
}

/// Only approved templates leave (cloud-api.md §6.5).
pub(crate) fn check_status(t: &SyncedTemplate) -> Result<(), Refusal> {
    if t.status.is_sendable() {
        return Ok(());
    }
    let what = format!("template `{}` ({})", t.name, t.language);
    Err(match &t.status {
        TemplateStatus::Paused => Refusal::new(
            code::TEMPLATE_PAUSED,
            format!("{what} is paused by Meta for low quality"),
            "use another approved template, or wait until Meta unpauses this one",
        )
        .meta(132_015),
        TemplateStatus::Disabled => Refusal::new(
            code::TEMPLATE_DISABLED,
            format!("{what} is disabled by Meta after repeated pauses"),
            "create a new template with different content; a disabled one does not come back",
        )
        .meta(132_016),
        TemplateStatus::Pending | TemplateStatus::InAppeal => Refusal::new(
            code::TEMPLATE_NOT_APPROVED,
            format!("{what} is still under review ({})", t.status),
            "wait for Meta's review (up to 24 h) or use another approved template",
        )
        .meta(132_001),
        TemplateStatus::Rejected => Refusal::new(
            code::TEMPLATE_NOT_APPROVED,
            format!("{what} was rejected by Meta"),
            "edit it according to the rejection reason and submit it again, or use another \
             approved template",
        )
        .meta(132_001),
        other => Refusal::new(
            code::TEMPLATE_NOT_APPROVED,
            format!("{what} is {other}; only APPROVED templates can be sent"),
            "use another approved template, or restore this one in WhatsApp Manager",
        )
        .meta(132_001),
    })
}

/// Header, body and buttons, in that order; the first problem found.
pub(crate) fn check_parameters(t: &SyncedTemplate, m: &TemplateMessage) -> Result<(), Refusal> {
    check_header(t, &m.header)?;
    let body = placeholders(&t.body);
    check_slots(t, "body", &body, &m.body)?;
    check_buttons(t, &m.buttons)?;
    check_lengths(t, m)
}

fn check_header(t: &SyncedTemplate, given: &[Param]) -> Result<(), Refusal> {
    let media_kind = match &t.header {
        None => {
            return if given.is_empty() {
                Ok(())
            } else {
                Err(count_mismatch(t, "header", &[], given.len()))
            };
        }
        Some(TemplateHeader::Text(text)) => {
            return check_slots(t, "header", &placeholders(text), given);
        }
        Some(TemplateHeader::Image) => "image",
        Some(TemplateHeader::Video) => "video",
        Some(TemplateHeader::Document) => "document",
        Some(TemplateHeader::Location) => "location",
    };
    match given {
        [one] if one.value.type_name() == media_kind => Ok(()),
        _ => Err(Refusal::new(
            code::TEMPLATE_PARAMETER_FORMAT,
            format!(
                "template `{}` has a {media_kind} header; the message gives {}",
                t.name,
                describe(given)
            ),
            format!("give exactly one `{media_kind}` header parameter (by media id or link)"),
        )
        .meta(132_012)),
    }
}

fn describe(given: &[Param]) -> String {
    if given.is_empty() {
        "no header parameter".to_owned()
    } else {
        let types: Vec<&str> = given.iter().map(|p| p.value.type_name()).collect();
        format!("`{}`", types.join("`, `"))
    }
}

/// The parameters of a text component (header or body) against its placeholders.
fn check_slots(
    t: &SyncedTemplate,
    component: &str,
    expected: &[&str],
    given: &[Param],
) -> Result<(), Refusal> {
    let named = t.parameter_format == ParameterFormat::Named;
    if let Some(p) = given.iter().find(|p| p.name.is_some() != named) {
        let (detail, step) = if named {
            (
                format!(
                    "template `{}` uses named parameters, but a {component} parameter has no \
                     `parameter_name`",
                    t.name
                ),
                format!("name each {component} parameter: {}", braces(expected)),
            )
        } else {
            (
                format!(
                    "template `{}` uses positional parameters, but {component} parameter `{}` \
                     is named",
                    t.name,
                    p.name.as_deref().unwrap_or_default()
                ),
                format!("drop `parameter_name` and give the {component} parameters in order"),
            )
        };
        return Err(Refusal::new(code::TEMPLATE_PARAMETER_FORMAT, detail, step).meta(132_012));
    }
    if given.len() != expected.len() {
        return Err(count_mismatch(t, component, expected, given.len()));
    }
    if named {
        for (i, p) in given.iter().enumerate() {
            let name = p.name.as_deref().unwrap_or_default();
            let duplicate = given[..i].iter().any(|q| q.name.as_deref() == Some(name));
            if duplicate || !expected.contains(&name) {
                return Err(Refusal::new(
                    code::TEMPLATE_PARAMETER_NAME,
                    format!(
                        "{component} parameter `{name}` {} template `{}`",
                        if duplicate {
                            "is given twice for"
                        } else {
                            "is not in"
                        },
                        t.name
                    ),
                    format!("give each of {} exactly once", braces(expected)),
                )
                .meta(132_000));
            }
        }
    }
    for (i, p) in given.iter().enumerate() {
        let label = slot_label(component, i, p);
        let Some(text) = p.value.shown_text() else {
            return Err(Refusal::new(
                code::TEMPLATE_PARAMETER_FORMAT,
                format!(
                    "{label} is of type `{}`; a text placeholder takes text, currency or date_time",
                    p.value.type_name()
                ),
                format!("give {label} as text"),
            )
            .meta(132_012));
        };
        check_text(&label, text)?;
    }
    Ok(())
}

fn slot_label(component: &str, i: usize, p: &Param) -> String {
    match &p.name {
        Some(name) => format!("{component} parameter `{name}`"),
        None => format!("{component} parameter {} ({{{{{}}}}})", i + 1, i + 1),
    }
}

fn braces(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(|n| format!("{{{{{n}}}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn count_mismatch(t: &SyncedTemplate, component: &str, expected: &[&str], given: usize) -> Refusal {
    Refusal::new(
        code::TEMPLATE_PARAMETER_COUNT,
        format!(
            "template `{}` ({}) has {} {component} parameter(s), the message gives {given}",
            t.name,
            t.language,
            expected.len()
        ),
        format!(
            "give exactly these {component} parameters: {}",
            braces(expected)
        ),
    )
    .meta(132_000)
}

/// The rules Meta applies to each text parameter (see [`parameter_text_problem`]). The codes are
/// not in the reference's table (cloud-api.md §4): integrations report 132018 ("There was an
/// issue with the parameters in your template") for the whitespace rules, and an empty value is
/// a missing required parameter (131008).
fn check_text(label: &str, text: &str) -> Result<(), Refusal> {
    match parameter_text_problem(text) {
        None => Ok(()),
        Some(ParameterTextProblem::Empty) => Err(Refusal::new(
            code::TEMPLATE_PARAMETER_EMPTY,
            format!("{label} is empty"),
            "give it a value; Meta refuses empty parameters",
        )
        .meta(131_008)),
        Some(problem) => Err(Refusal::new(
            code::TEMPLATE_PARAMETER_TEXT,
            format!(
                "{label} contains {}",
                if problem == ParameterTextProblem::LineBreakOrTab {
                    "a line break or a tab"
                } else {
                    "more than 4 spaces in a row"
                }
            ),
            "replace line breaks and tabs with spaces and shorten runs of spaces; for text on \
             several lines, put the line breaks in the template itself",
        )
        .meta(132_018)),
    }
}

fn check_buttons(t: &SyncedTemplate, given: &[ButtonParams]) -> Result<(), Refusal> {
    for (i, b) in given.iter().enumerate() {
        let index = usize::from(b.index);
        let Some(button) = t.buttons.get(index) else {
            return Err(button_format(
                t,
                b.index,
                &format!("the template has {} button(s)", t.buttons.len()),
                "remove the component or fix its `index` (from 0)",
            ));
        };
        if given[..i].iter().any(|o| o.index == b.index) {
            return Err(button_format(
                t,
                b.index,
                "it is given twice",
                "give each button once",
            ));
        }
        let expected = match button {
            TemplateButton::QuickReply => Some(ButtonSubType::QuickReply),
            TemplateButton::Url { .. } | TemplateButton::Otp => Some(ButtonSubType::Url),
            TemplateButton::CopyCode => Some(ButtonSubType::CopyCode),
            TemplateButton::Flow => Some(ButtonSubType::Flow),
            TemplateButton::Catalog => Some(ButtonSubType::Catalog),
            TemplateButton::PhoneNumber | TemplateButton::Other => None,
        };
        if let Some(sub_type) = expected.filter(|s| *s != b.sub_type) {
            return Err(button_format(
                t,
                b.index,
                &format!(
                    "it is a `{}` button, the message sends `{}`",
                    sub_type.as_str(),
                    b.sub_type.as_str()
                ),
                "send the sub_type the template has",
            ));
        }
        check_button_params(t, b, button)?;
    }
    for (index, button) in t.buttons.iter().enumerate() {
        if needs_parameter(button) && !given.iter().any(|b| usize::from(b.index) == index) {
            return Err(Refusal::new(
                code::TEMPLATE_PARAMETER_COUNT,
                format!(
                    "button {index} of template `{}` needs a parameter, the message gives none",
                    t.name
                ),
                format!("add a button component with index {index} and its parameter"),
            )
            .meta(132_000));
        }
    }
    Ok(())
}

fn needs_parameter(button: &TemplateButton) -> bool {
    match button {
        TemplateButton::Url { url } => !placeholders(url).is_empty(),
        TemplateButton::Otp | TemplateButton::CopyCode => true,
        _ => false,
    }
}

fn check_button_params(
    t: &SyncedTemplate,
    b: &ButtonParams,
    button: &TemplateButton,
) -> Result<(), Refusal> {
    let label = format!("button {} parameter", b.index);
    let (wanted, at_most_one_optional) = match button {
        TemplateButton::Url { .. } | TemplateButton::Otp if needs_parameter(button) => {
            ("text", false)
        }
        TemplateButton::Url { .. } => {
            if b.params.is_empty() {
                return Ok(());
            }
            return Err(Refusal::new(
                code::TEMPLATE_PARAMETER_COUNT,
                format!(
                    "button {} of template `{}` has a fixed URL, the message gives it {} parameter(s)",
                    b.index,
                    t.name,
                    b.params.len()
                ),
                "remove the parameters of that button",
            )
            .meta(132_000));
        }
        TemplateButton::CopyCode => ("coupon_code", false),
        TemplateButton::QuickReply => ("payload", true),
        _ => return Ok(()),
    };
    let count_ok = if at_most_one_optional {
        b.params.len() <= 1
    } else {
        b.params.len() == 1
    };
    if !count_ok {
        return Err(Refusal::new(
            code::TEMPLATE_PARAMETER_COUNT,
            format!(
                "button {} of template `{}` takes one `{wanted}` parameter, the message gives {}",
                b.index,
                t.name,
                b.params.len()
            ),
            format!("give one `{wanted}` parameter"),
        )
        .meta(132_000));
    }
    for p in &b.params {
        let text = match (&p.value, wanted) {
            (ParamValue::Text(s), "text")
            | (ParamValue::CouponCode(s), "coupon_code")
            | (ParamValue::Payload(s), "payload") => s,
            (other, _) => {
                return Err(button_format(
                    t,
                    b.index,
                    &format!(
                        "its parameter is `{}`, it takes `{wanted}`",
                        other.type_name()
                    ),
                    "give the parameter type the button takes",
                ));
            }
        };
        // A payload is never shown to the customer, so the text rules are not applied to it.
        if wanted != "payload" {
            check_text(&label, text)?;
        }
    }
    Ok(())
}

fn button_format(t: &SyncedTemplate, index: u8, why: &str, step: &str) -> Refusal {
    Refusal::new(
        code::TEMPLATE_PARAMETER_FORMAT,
        format!("button {index} of template `{}`: {why}", t.name),
        step,
    )
    .meta(132_012)
}

/// Meta checks the filled-in text too (132005).
fn check_lengths(t: &SyncedTemplate, m: &TemplateMessage) -> Result<(), Refusal> {
    let mut parts = vec![("body", t.body.as_str(), &m.body, TEMPLATE_BODY_MAX)];
    if let Some(TemplateHeader::Text(text)) = &t.header {
        parts.push(("header", text.as_str(), &m.header, TEMPLATE_HEADER_TEXT_MAX));
    }
    for (component, text, given, max) in parts {
        let n = filled_length(text, t.parameter_format, given);
        if n > max {
            return Err(Refusal::new(
                code::TEMPLATE_TEXT_TOO_LONG,
                format!(
                    "the {component} of template `{}` would have {n} characters once filled in; \
                     at most {max} are allowed",
                    t.name
                ),
                format!(
                    "shorten the {component} parameters by {} characters",
                    n - max
                ),
            )
            .meta(132_005));
        }
    }
    Ok(())
}

/// The number of characters of `text` with its placeholders replaced by the parameters' text.
/// Parameters have been checked against the placeholders before; an unmatched placeholder
/// counts as empty.
pub(crate) fn filled_length(text: &str, format: ParameterFormat, given: &[Param]) -> usize {
    let order = placeholders(text);
    let value = |name: &str| -> usize {
        let param = match format {
            ParameterFormat::Named => given.iter().find(|p| p.name.as_deref() == Some(name)),
            ParameterFormat::Positional => {
                let position = name
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .or_else(|| order.iter().position(|o| *o == name));
                position.and_then(|i| given.get(i))
            }
        };
        param
            .and_then(|p| p.value.shown_text())
            .map_or(0, |s| s.chars().count())
    };
    let mut n = 0;
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        n += rest[..start].chars().count();
        n += if name.is_empty() {
            start_to_end_len(&after[..end])
        } else {
            value(name)
        };
        rest = &after[end + 2..];
    }
    n + rest.chars().count()
}

/// `{{ }}` stays as written: braces plus what is between them.
fn start_to_end_len(inner: &str) -> usize {
    4 + inner.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_length_replaces_each_placeholder() {
        let given = vec![Param::text("Jessica"), Param::text("SK-1")];
        assert_eq!(
            filled_length(
                "Hi {{1}}, order {{2}}.",
                ParameterFormat::Positional,
                &given
            ),
            "Hi Jessica, order SK-1.".len()
        );
        let named = vec![Param::named("name", "Ana")];
        assert_eq!(
            filled_length("Hi {{name}} {{name}}", ParameterFormat::Named, &named),
            "Hi Ana Ana".len()
        );
        assert_eq!(
            filled_length("odd {{ }} {{x", ParameterFormat::Positional, &[]),
            "odd {{ }} {{x".len()
        );
    }
}
