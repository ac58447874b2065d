//! [`Resources`]: the entry point of the resources API rules, over a [`Store`].

use std::sync::Arc;

use hangar_protocol::error::ApiError;

use crate::model::ModelClient;
use crate::pricing::PriceTable;
use crate::store::{Store, StoreError};

/// How many times an update re-reads and re-applies itself after losing a compare-and-swap
/// race before it gives up with a conflict.
pub(crate) const CAS_ATTEMPTS: usize = 8;

/// The resources API rules. Cheap to clone; shared by every request.
#[derive(Clone)]
pub struct Resources {
    pub(crate) store: Arc<dyn Store>,
    /// When set, agent models must be routable to a configured provider.
    models: Option<Arc<dyn ModelClient>>,
    /// Model list prices (session budgets need one).
    pub(crate) prices: Arc<PriceTable>,
}

impl Resources {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Resources {
            store,
            models: None,
            prices: Arc::new(PriceTable::default()),
        }
    }

    /// Checks every agent model against `models` (`ModelClient::check_model`).
    pub fn with_models(mut self, models: Arc<dyn ModelClient>) -> Self {
        self.models = Some(models);
        self
    }

    /// Model list prices, for `usage.list_cost` and budgets.
    pub fn with_prices(mut self, prices: Arc<PriceTable>) -> Self {
        self.prices = prices;
        self
    }

    /// A 400 naming `field` when no configured provider serves `model`.
    pub(crate) fn check_routable(&self, field: &str, model: &str) -> Result<(), ApiError> {
        match &self.models {
            Some(models) => models
                .check_model(model)
                .map_err(|reason| ApiError::invalid(format!("{field}: {reason}"))),
            None => Ok(()),
        }
    }

    /// The underlying store (for start-up tasks such as API key bootstrap).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Store failures as API errors. Details of backend failures are logged, not sent.
pub(crate) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Stale => ApiError::conflict(
            "Concurrent modification detected. Please fetch the latest version and retry.",
        ),
        StoreError::Duplicate { field } => {
            ApiError::conflict(format!("an object with this {field} already exists"))
        }
        StoreError::Corrupt { .. } | StoreError::Backend(_) | StoreError::LeaseLost => {
            tracing::error!(error = %err, "store failure");
            ApiError::internal("internal storage error; the request was not completed")
        }
    }
}
