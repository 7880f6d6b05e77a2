//! [`InMemoryExporter`]: keeps batches in memory, for tests.

use std::sync::{Arc, Mutex, PoisonError};

use super::{Export, Exporter};
use crate::span::SpanBatch;

/// Collects every exported batch; clones share the same store.
///
/// ```
/// use lambda_trace::export::InMemoryExporter;
///
/// let exporter = InMemoryExporter::default();
/// assert!(exporter.batches().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemoryExporter {
    batches: Arc<Mutex<Vec<SpanBatch>>>,
}

impl InMemoryExporter {
    /// Every batch exported so far, oldest first.
    pub fn batches(&self) -> Vec<SpanBatch> {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Removes and returns every batch exported so far.
    pub fn take(&self) -> Vec<SpanBatch> {
        std::mem::take(&mut *self.batches.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Exporter for InMemoryExporter {
    fn export(&self, batch: SpanBatch) -> Export {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(batch);
        Export::Done(Ok(()))
    }
}
