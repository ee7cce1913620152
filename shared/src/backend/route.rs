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
}

impl Route {
    pub fn method(self) -> Method {
        match self {
            Route::ConnectionLink | Route::ConnectionCompletion => Method::POST,
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
        }
    }

    /// Whether the route calls Kombo (and so needs the API key).
    pub fn calls_kombo(self) -> bool {
        matches!(
            self,
            Route::ConnectionLink | Route::DeleteIntegration | Route::ConnectionCompletion
        )
    }
}
