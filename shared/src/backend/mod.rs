//! The backend API, for the user's own backend (IAM-authorized routes on the same HTTP
//! API; API Gateway checks the SigV4 signature before a function runs):
//!
//! - `POST /customers/{origin_id}/connection-link` → Kombo `POST /connect/create-link`;
//! - `GET /customers/{origin_id}/integrations[?include_deleted=true][&usable=true]` → the
//!   customer's rows (`usable=true`: only those a backend can use now);
//! - `DELETE /integrations/{integration_id}` → Kombo `DELETE /integrations/{id}`, then
//!   the tombstone (Kombo's `PLATFORM.INTEGRATION_NOT_FOUND` still tombstones; any other
//!   Kombo failure leaves the row untouched and answers 502 with Kombo's code and log URL);
//! - `PUT /integrations/{integration_id}/customer` `{"origin_id": "42"[, "force": true]}` →
//!   links an existing integration to a customer (an unassigned one, typically);
//! - `POST /customers/{origin_id}/connection-completion` `{"token": "..."}` → Kombo
//!   `GET /connect/integration-by-token/{token}`, then the webhook's own create
//!   ([`completion`]).
//!
//! [`route`] names each route; [`routes`] serves the first four, [`completion`] the last;
//! [`request`] reads what every route reads off its request; what the store's answers mean
//! for the caller is [`crate::decide::routes`].

mod completion;
mod request;
mod route;
mod routes;

pub use completion::Completer;
pub use request::check_caller;
pub use route::Route;
pub use routes::Backend;
