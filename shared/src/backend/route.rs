//! The backend routes, one function each: the method and path each serves, and whether it
//! calls Kombo.

use lambda_http::http::Method;

/// The backend routes, one per function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    ConnectionLink,
    CustomerIntegrations,
    DeleteIntegration,
    AssignCustomer,
    ConnectionCompletion,
    ReconnectionLink,
    SetupLink,
}

impl Route {
    pub fn method(self) -> Method {
        match self {
            Route::ConnectionLink
            | Route::ConnectionCompletion
            | Route::ReconnectionLink
            | Route::SetupLink => Method::POST,
            Route::CustomerIntegrations => Method::GET,
            Route::DeleteIntegration => Method::DELETE,
            Route::AssignCustomer => Method::PUT,
        }
    }

    /// The route's path, as declared in `template.yaml`.
    pub fn pattern(self) -> &'static str {
        match self {
            Route::ConnectionLink => "/customers/{origin_id}/connection-link",
            Route::CustomerIntegrations => "/customers/{origin_id}/integrations",
            Route::DeleteIntegration => "/integrations/{integration_id}",
            Route::AssignCustomer => "/integrations/{integration_id}/customer",
            Route::ConnectionCompletion => "/customers/{origin_id}/connection-completion",
            Route::ReconnectionLink => {
                "/customers/{origin_id}/integrations/{integration_id}/reconnection-link"
            }
            Route::SetupLink => "/customers/{origin_id}/integrations/{integration_id}/setup-link",
        }
    }

    /// Whether the route calls Kombo (and so needs the API key).
    pub fn calls_kombo(self) -> bool {
        !matches!(self, Route::CustomerIntegrations | Route::AssignCustomer)
    }
}
