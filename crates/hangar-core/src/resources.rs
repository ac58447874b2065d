//! [`Resources`]: the entry point of the resources API rules, over a [`Store`].

use std::sync::Arc;

use hangar_protocol::error::ApiError;

use crate::store::{Store, StoreError};

/// How many times an update re-reads and re-applies itself after losing a compare-and-swap
/// race before it gives up with a conflict.
pub(crate) const CAS_ATTEMPTS: usize = 8;

/// The resources API rules. Cheap to clone; shared by every request.
#[derive(Clone)]
pub struct Resources {
    pub(crate) store: Arc<dyn Store>,
}

impl Resources {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Resources { store }
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
        StoreError::Corrupt { .. } | StoreError::Backend(_) => {
            tracing::error!(error = %err, "store failure");
            ApiError::internal("internal storage error; the request was not completed")
        }
    }
}
