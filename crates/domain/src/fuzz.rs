//! The properties the fuzz targets check (feature `fuzzing`), shared with the test that replays
//! their corpus on every test run. Each function panics when a property fails, which is what a
//! fuzzer looks for; none may panic on its own.

use crate::Category;
use crate::policy::{Keywords, is_opt_in, is_opt_out, normalise};
use crate::pricing::{RateCard, YearMonth};

/// Any bytes as a rate-card file a business imports: reading never panics, and a card that is
/// accepted has at least one market, one currency, and no negative rate.
pub fn rate_card(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Some(month) = YearMonth::new(2026, 10) else {
        return;
    };
    let Ok(card) = RateCard::from_csv(&text, month) else {
        return;
    };
    let markets: Vec<_> = card.markets().cloned().collect();
    assert!(!markets.is_empty(), "a card without markets was accepted");
    for market in &markets {
        let rates = card.rates(market).expect("a listed market has rates");
        for category in [
            Category::Marketing,
            Category::Utility,
            Category::Authentication,
            Category::AuthenticationInternational,
            Category::Service,
        ] {
            if let Some(rate) = rates.get(category) {
                assert!(
                    !rate.is_negative(),
                    "negative {category} rate for {market:?}"
                );
                assert_eq!(
                    rate.currency(),
                    card.currency(),
                    "a rate in another currency"
                );
            }
        }
    }
}

/// Any bytes as a customer's message: keyword matching never panics, normalising is
/// idempotent, and a message means the same once normalised; nothing is both STOP and START.
pub fn keywords(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let keywords = Keywords::default();
    let once = normalise(&text);
    assert_eq!(normalise(&once), once, "normalise is not idempotent");
    let out = is_opt_out(&text, &keywords);
    let back_in = is_opt_in(&text, &keywords);
    assert!(!(out && back_in), "both opt-out and opt-in");
    assert_eq!(
        is_opt_out(&once, &keywords),
        out,
        "normalising changed the meaning"
    );
}
