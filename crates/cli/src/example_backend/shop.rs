//! The shop (examples/flows/shop.toml): orders and returns.

use axum::Json;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, Body, Param, Shared, create_once, fields, fingerprint, loose, required};

#[derive(Debug)]
pub(super) struct Shop {
    orders: Vec<Order>,
    returns: Vec<Return>,
    next_return: u32,
}

#[derive(Debug, Clone, Serialize)]
struct Order {
    number: &'static str,
    /// `preparing`, `shipped`, `out_for_delivery` or `delivered`.
    status: &'static str,
    /// The status as the bot tells it.
    status_text: &'static str,
    items: Vec<Item>,
    items_summary: &'static str,
    carrier: Option<&'static str>,
    tracking_url: Option<&'static str>,
    /// Whether a return can be opened: delivered, within 30 days.
    returnable: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Item {
    name: &'static str,
    quantity: u32,
}

#[derive(Debug, Clone, Serialize)]
struct Return {
    return_id: String,
    order: &'static str,
    status: &'static str,
    reason: String,
    label_url: String,
    drop_off_within_days: u32,
    name: String,
    wa_id: String,
}

impl Shop {
    pub(super) fn seeded() -> Self {
        let item = |name, quantity| Item { name, quantity };
        Self {
            orders: vec![
                Order {
                    number: "AB1234",
                    status: "shipped",
                    status_text: "Shipped on 3 March with Colissimo, expected on 6 March. Follow \
                                  your parcel here: https://oakandlinen.example/track/AB1234",
                    items: vec![
                        item("Linen duvet cover, sage, 240×220", 1),
                        item("Linen pillowcase, sage", 2),
                    ],
                    items_summary: "a linen duvet cover and 2 pillowcases",
                    carrier: Some("Colissimo"),
                    tracking_url: Some("https://oakandlinen.example/track/AB1234"),
                    returnable: false,
                },
                Order {
                    number: "CD5678",
                    status: "out_for_delivery",
                    status_text: "Out for delivery today with DPD, between 14:00 and 18:00. The \
                                  driver will text you 30 minutes before arriving.",
                    items: vec![item("Stoneware dinner plate, chalk", 6)],
                    items_summary: "6 stoneware dinner plates",
                    carrier: Some("DPD"),
                    tracking_url: Some("https://oakandlinen.example/track/CD5678"),
                    returnable: false,
                },
                Order {
                    number: "EF9012",
                    status: "preparing",
                    status_text: "Being prepared in our warehouse. It will leave within 2 \
                                  working days, and we'll email you its tracking link.",
                    items: vec![
                        item("Oak serving board, large", 1),
                        item("Wool throw, ochre", 1),
                    ],
                    items_summary: "an oak serving board and a wool throw",
                    carrier: None,
                    tracking_url: None,
                    returnable: false,
                },
                Order {
                    number: "GH3456",
                    status: "delivered",
                    status_text: "Delivered on 24 February, to your letterbox. You can return it \
                                  until 26 March.",
                    items: vec![item("Linen tea towel, striped", 3)],
                    items_summary: "3 striped linen tea towels",
                    carrier: Some("Colissimo"),
                    tracking_url: Some("https://oakandlinen.example/track/GH3456"),
                    returnable: true,
                },
            ],
            returns: Vec::new(),
            next_return: 5001,
        }
    }

    fn order(&self, number: &str) -> Result<&Order, ApiError> {
        let wanted = loose(number);
        self.orders
            .iter()
            .find(|o| o.number == wanted)
            .ok_or_else(|| ApiError::not_found(format!("No order `{number}`.")))
    }
}

/// `GET /orders/{number}`
pub(super) async fn order(
    backend: Shared,
    Param(number): Param<String>,
) -> Result<Json<Value>, ApiError> {
    let data = backend.data();
    Ok(Json(json!(data.shop.order(&number)?)))
}

#[derive(Debug, Deserialize)]
struct NewReturn {
    reason: Option<String>,
    name: Option<String>,
    wa_id: Option<String>,
}

/// `POST /orders/{number}/returns`: opens a return for a delivered order.
pub(super) async fn open_return(
    backend: Shared,
    Param(number): Param<String>,
    headers: HeaderMap,
    Body(body): Body<Value>,
) -> Response {
    let request = fingerprint(&format!("/orders/{}/returns", loose(&number)), &body);
    create_once(&backend, &headers, request, |data| {
        let shop = &mut data.shop;
        let order = shop.order(&number)?;
        let (order, returnable) = (order.number, order.returnable);
        let new: NewReturn = fields(&body)?;
        let reason = required("reason", new.reason.as_deref(), 500)?;
        let wa_id = required("wa_id", new.wa_id.as_deref(), 20)?;
        if !returnable {
            return Err(ApiError::conflict(
                "not_returnable",
                format!(
                    "Order {order} cannot be returned: returns open once an order is delivered, for \
                     30 days."
                ),
            ));
        }
        let return_id = format!("R-{}", shop.next_return);
        shop.next_return += 1;
        let opened = Return {
            label_url: format!("https://oakandlinen.example/returns/{return_id}/label.pdf"),
            return_id,
            order,
            status: "awaiting_parcel",
            reason,
            drop_off_within_days: 14,
            name: new.name.unwrap_or_default().trim().to_owned(),
            wa_id,
        };
        let answer = json!(opened);
        shop.returns.push(opened);
        Ok(answer)
    })
}
