//! The DynamoDB adapters, one per port: the mappings table's rows ([`mappings`]), and the
//! records table's claim records ([`claims`]), failure records ([`failures`]), fleet records
//! ([`fleet`]) and the reconcile run's reads ([`reconcile`]). Every write is one
//! conditional request built one way ([`expr`]) from one schema ([`schema`]); what a refused
//! write's item means is decided in [`crate::decide`].

mod claims;
mod expr;
mod failures;
mod fleet;
mod mappings;
mod reconcile;
pub mod schema;
mod store;

pub use store::DynamoStore;
