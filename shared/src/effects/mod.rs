//! The effects engine: the only code that sequences port calls. It carries a decision out
//! ([`Effects::apply`], [`apply`]) for the webhooks, and its parts for the other front doors (the
//! Connect completion's [`Effects::create`], the reconcile run's repairs, the sweep's
//! notices): every effect under a claim that makes it exactly-once ([`claims`]), the create
//! and its "resolved" notice ([`create`]), the state write and its INVALID page or
//! "recovered" notice ([`state`]), a failure's count, page and fleet incident
//! ([`failures`]), an integration issue's page, notice or "resolved" ([`issues`]). What
//! each store answer means is decided in [`crate::decide`]. The engine's
//! parts are in [`engine`]; this module only names them.

mod apply;
mod claims;
mod create;
mod engine;
mod failures;
mod issues;
mod state;

pub use create::{Created, Notice};
pub(crate) use engine::{DDB, SNS};
pub use engine::{Effects, Outcome};
