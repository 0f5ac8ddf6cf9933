//! The travel agency (examples/flows/travel.toml): trips, their departures, bookings.

use axum::Json;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, Body, Param, Shared, create_once, fields, fingerprint, loose, required};

#[derive(Debug)]
pub(super) struct Travel {
    trips: Vec<Trip>,
    departures: Vec<Departure>,
    bookings: Vec<Booking>,
    next_reference: u32,
}

#[derive(Debug, Clone, Serialize)]
struct Trip {
    id: &'static str,
    name: &'static str,
    summary: &'static str,
    nights: u32,
    /// The lowest price per person, for the list.
    price_eur: u32,
}

#[derive(Debug, Clone, Serialize)]
struct Departure {
    id: &'static str,
    trip_id: &'static str,
    date: &'static str,
    /// Short enough for a list row's title (24 characters).
    label: &'static str,
    seats_left: u32,
    price_eur: u32,
}

#[derive(Debug, Clone, Serialize)]
struct Booking {
    reference: String,
    status: &'static str,
    status_text: String,
    trip_id: &'static str,
    trip_name: &'static str,
    departure_id: &'static str,
    departure_label: &'static str,
    date: &'static str,
    travellers: u32,
    total_eur: u32,
    deposit_eur: u32,
    payment_url: String,
    name: String,
    wa_id: String,
}

/// A 30% deposit, rounded up to the euro.
fn deposit(total: u32) -> u32 {
    (total * 30).div_ceil(100)
}

impl Travel {
    pub(super) fn seeded() -> Self {
        let trip = |id, name, summary, nights, price_eur| Trip {
            id,
            name,
            summary,
            nights,
            price_eur,
        };
        let departure = |id, trip_id, date, label, seats_left, price_eur| Departure {
            id,
            trip_id,
            date,
            label,
            seats_left,
            price_eur,
        };
        let mut travel = Self {
            trips: vec![
                trip(
                    "lisbon",
                    "Lisbon city break",
                    "Three nights in a hotel in Alfama, a guided tram tour, a day in Sintra and \
                     a fado evening. Return flights from Paris included.",
                    3,
                    540,
                ),
                trip(
                    "amalfi",
                    "Amalfi coast by boat",
                    "Six nights between Sorrento, Positano and Capri, by boat from village to \
                     village, with a cooking class in Amalfi. Flights to Naples included.",
                    6,
                    1290,
                ),
                trip(
                    "sahara",
                    "Marrakech & the Sahara",
                    "Two nights in a riad in Marrakech, then the Atlas mountains and a night in a \
                     desert camp at Merzouga, by 4×4 with a local guide.",
                    5,
                    890,
                ),
                trip(
                    "iceland",
                    "Iceland ring road",
                    "A week around the island in a small group: waterfalls, glaciers, black \
                     beaches and hot springs, with a guide and a minibus.",
                    7,
                    1890,
                ),
                trip(
                    "lapland",
                    "Northern lights, Lapland",
                    "Four nights in a glass igloo near Saariselkä, husky and reindeer sleigh \
                     rides, and aurora hunting every evening.",
                    4,
                    1450,
                ),
            ],
            departures: vec![
                departure(
                    "LIS-0515",
                    "lisbon",
                    "2026-05-15",
                    "Fri 15 May 2026",
                    0,
                    540,
                ),
                departure(
                    "LIS-0605",
                    "lisbon",
                    "2026-06-05",
                    "Fri 5 June 2026",
                    6,
                    540,
                ),
                departure(
                    "LIS-0619",
                    "lisbon",
                    "2026-06-19",
                    "Fri 19 June 2026",
                    2,
                    590,
                ),
                departure(
                    "LIS-0911",
                    "lisbon",
                    "2026-09-11",
                    "Fri 11 Sept 2026",
                    12,
                    560,
                ),
                departure(
                    "AMA-0523",
                    "amalfi",
                    "2026-05-23",
                    "Sat 23 May 2026",
                    8,
                    1290,
                ),
                departure(
                    "AMA-0620",
                    "amalfi",
                    "2026-06-20",
                    "Sat 20 June 2026",
                    0,
                    1390,
                ),
                departure(
                    "AMA-0926",
                    "amalfi",
                    "2026-09-26",
                    "Sat 26 Sept 2026",
                    4,
                    1350,
                ),
                departure(
                    "SAH-1010",
                    "sahara",
                    "2026-10-10",
                    "Sat 10 Oct 2026",
                    10,
                    890,
                ),
                departure(
                    "SAH-1212",
                    "sahara",
                    "2026-12-12",
                    "Sat 12 Dec 2026",
                    3,
                    940,
                ),
                departure(
                    "ICE-0614",
                    "iceland",
                    "2026-06-14",
                    "Sun 14 June 2026",
                    5,
                    1890,
                ),
                departure(
                    "ICE-0809",
                    "iceland",
                    "2026-08-09",
                    "Sun 9 Aug 2026",
                    1,
                    2090,
                ),
                departure(
                    "LAP-0109",
                    "lapland",
                    "2027-01-09",
                    "Sat 9 Jan 2027",
                    0,
                    1450,
                ),
            ],
            bookings: Vec::new(),
            next_reference: 7302,
        };
        travel.bookings.push(Booking {
            reference: "BK-7301".into(),
            status: "confirmed",
            status_text: "Confirmed: we have received your deposit. The balance of 756 € is due \
                          by 6 May 2026, and your tickets arrive by email 10 days before \
                          departure."
                .into(),
            trip_id: "lisbon",
            trip_name: "Lisbon city break",
            departure_id: "LIS-0605",
            departure_label: "Fri 5 June 2026",
            date: "2026-06-05",
            travellers: 2,
            total_eur: 1080,
            deposit_eur: deposit(1080),
            payment_url: "https://atlas-voyages.example/pay/BK-7301".into(),
            name: "Inès Moreau".into(),
            wa_id: "33612345678".into(),
        });
        travel
    }

    fn trip(&self, id: &str) -> Option<&Trip> {
        self.trips.iter().find(|t| t.id == id)
    }
}

/// `GET /trips`
pub(super) async fn trips(backend: Shared) -> Json<Value> {
    let data = backend.data();
    Json(json!({ "trips": data.travel.trips }))
}

/// `GET /trips/{trip}/departures`: those with seats left, by date.
pub(super) async fn departures(
    backend: Shared,
    Param(trip): Param<String>,
) -> Result<Json<Value>, ApiError> {
    let data = backend.data();
    let travel = &data.travel;
    let trip = travel
        .trip(&trip)
        .ok_or_else(|| ApiError::not_found(format!("No trip `{trip}`.")))?;
    let mut free: Vec<&Departure> = travel
        .departures
        .iter()
        .filter(|d| d.trip_id == trip.id && d.seats_left > 0)
        .collect();
    free.sort_by_key(|d| d.date);
    Ok(Json(json!({ "trip": trip, "departures": free })))
}

#[derive(Debug, Deserialize)]
struct NewBooking {
    departure_id: Option<String>,
    travellers: Option<Value>,
    name: Option<String>,
    wa_id: Option<String>,
}

/// A count given as a number, or as the text a customer typed (flows keep answers as text).
fn count(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `POST /bookings`: holds seats on a departure.
pub(super) async fn book(backend: Shared, headers: HeaderMap, Body(body): Body<Value>) -> Response {
    let request = fingerprint("/bookings", &body);
    create_once(&backend, &headers, request, |data| {
        let new: NewBooking = fields(&body)?;
        let departure_id = required("departure_id", new.departure_id.as_deref(), 40)?;
        let travellers = count(new.travellers.as_ref())
            .filter(|n| (1..=9).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| ApiError::invalid("`travellers` must be a number from 1 to 9."))?;
        let wa_id = required("wa_id", new.wa_id.as_deref(), 20)?;
        let name = new.name.unwrap_or_default().trim().to_owned();
        let travel = &mut data.travel;
        let departure = travel
            .departures
            .iter_mut()
            .find(|d| d.id.eq_ignore_ascii_case(&departure_id))
            .ok_or_else(|| ApiError::not_found(format!("No departure `{departure_id}`.")))?;
        if departure.seats_left < travellers {
            return Err(ApiError::conflict(
                "not_enough_seats",
                format!(
                    "Only {} seat(s) left on {}.",
                    departure.seats_left, departure.id
                ),
            ));
        }
        departure.seats_left -= travellers;
        let departure = departure.clone();
        let trip_name = travel.trip(departure.trip_id).map_or("", |t| t.name);
        let reference = format!("BK-{}", travel.next_reference);
        travel.next_reference += 1;
        let total = departure.price_eur * travellers;
        let booking = Booking {
            payment_url: format!("https://atlas-voyages.example/pay/{reference}"),
            reference,
            status: "held",
            status_text: "Seats held for 48 hours: pay the deposit with the link we sent to \
                          confirm the booking."
                .into(),
            trip_id: departure.trip_id,
            trip_name,
            departure_id: departure.id,
            departure_label: departure.label,
            date: departure.date,
            travellers,
            total_eur: total,
            deposit_eur: deposit(total),
            name,
            wa_id,
        };
        let answer = json!(booking);
        travel.bookings.push(booking);
        Ok(answer)
    })
}

/// `GET /bookings/{reference}`
pub(super) async fn booking(
    backend: Shared,
    Param(reference): Param<String>,
) -> Result<Json<Value>, ApiError> {
    let data = backend.data();
    let wanted = loose(&reference);
    data.travel
        .bookings
        .iter()
        .find(|b| loose(&b.reference) == wanted)
        .map(|b| Json(json!(b)))
        .ok_or_else(|| ApiError::not_found(format!("No booking `{reference}`.")))
}
