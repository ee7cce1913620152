//! The models crate of the Kombo webhook functions: everything that decides and does lives
//! here; each function's `main.rs` only wires it up ([`aws`]).
//!
//! The house, top down (a module imports only those below it):
//! - front doors: [`webhook`] (signed events), [`backend`] (IAM routes), the scheduled runs
//!   [`reconcile`] and [`sweep`]; they never call each other;
//! - [`effects`]: the only code that sequences port calls (claims, the create, the state
//!   write, the failure and fleet paths);
//! - ports: [`ports`] (the traits) and their adapters [`dynamo`] (schema and expressions
//!   in one place each), [`sns`] (with [`render`]), [`kombo`];
//! - [`decide`]: every rule, as plain values, unit-tested;
//! - [`event`], [`error`], [`clock`], [`keys`].
//!
//! One request: [`request`] (size, body, signature) → [`event`] (typed payload) →
//! [`decide`] (what must happen, as data) → [`effects`] (through the ports) → [`http`] (the
//! answer, from [`error::Error`] on failure).

#![forbid(unsafe_code)]

pub mod aws;
pub mod backend;
pub mod clients;
pub mod clock;
pub mod config;
pub mod deadline;
pub mod decide;
pub mod dynamo;
pub mod effects;
pub mod error;
pub mod event;
pub mod http;
pub mod import;
pub mod keys;
pub mod kombo;
pub mod ports;
pub mod reconcile;
pub mod render;
pub mod request;
pub mod secrets;
pub mod signature;
pub mod sns;
pub mod sweep;
pub mod telemetry;
pub mod tls;
pub mod webhook;

pub use aws::{AwsApp, AwsBackend, AwsCompleter, AwsEffects, AwsReconciler, AwsSweeper};
pub use clients::{aws_config_loader, dynamodb_client, secretsmanager_client, sns_client};
pub use effects::{Effects, Outcome};
pub use error::Error;
pub use webhook::{App, Webhook};
