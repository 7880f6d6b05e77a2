//! The recorded state of one span while it is open: its record, whether it ended, and the
//! metadata budget. Shared by the span's handles (which write it) and the recorder (which takes
//! it out at the flush).

use super::limits::{json_len_within, nests_deeper_than};
use super::record::{MetadataEntry, SpanRecord};
use super::{MAX_METADATA_BYTES, MAX_METADATA_DEPTH, MAX_METADATA_ENTRIES};

pub(crate) struct State {
    pub(crate) record: SpanRecord,
    pub(crate) ended: bool,
    /// Bytes of `record.metadata`, as [`MAX_METADATA_BYTES`] counts them.
    metadata_bytes: usize,
    /// An entry was dropped (logged once per span).
    metadata_dropped: bool,
}

impl State {
    /// The record for export, closed at `now` (marked unfinished) if the span is still open.
    pub(crate) fn into_record(self, now: u64) -> SpanRecord {
        let mut record = self.record;
        if !self.ended {
            record.end_unix_nanos = now.max(record.start_unix_nanos);
            record.unfinished = true;
        }
        record
    }

    pub(crate) fn new(record: SpanRecord) -> Self {
        Self {
            record,
            ended: false,
            metadata_bytes: 0,
            metadata_dropped: false,
        }
    }

    /// Sets `namespace.key` to `value`, replacing an earlier value, within
    /// [`MAX_METADATA_ENTRIES`] and [`MAX_METADATA_BYTES`]; an entry that does not fit is dropped
    /// (an earlier value of its key stays).
    pub(crate) fn put_metadata(
        &mut self,
        namespace: &str,
        key: &str,
        mut value: serde_json::Value,
    ) {
        if nests_deeper_than(&value, MAX_METADATA_DEPTH) {
            value = serde_json::Value::String(crate::json::value_text(&value));
        }
        let entries = &mut self.record.metadata;
        let slot = entries
            .iter()
            .position(|e| e.namespace == namespace && e.key == key);
        let freed = slot.map_or(0, |i| metadata_len(&entries[i]));
        let fits = (slot.is_some() || entries.len() < MAX_METADATA_ENTRIES)
            .then(|| MAX_METADATA_BYTES.checked_sub(self.metadata_bytes - freed))
            .flatten()
            .and_then(|room| room.checked_sub(namespace.len() + key.len()))
            .and_then(|room| json_len_within(&value, room));
        let Some(value_len) = fits else {
            if !std::mem::replace(&mut self.metadata_dropped, true) {
                tracing::warn!(
                    target: "lambda_trace",
                    max_entries = MAX_METADATA_ENTRIES,
                    max_bytes = MAX_METADATA_BYTES,
                    "metadata limit of the span reached; entry dropped"
                );
            }
            return;
        };
        self.metadata_bytes = self.metadata_bytes - freed + namespace.len() + key.len() + value_len;
        match slot {
            Some(i) => entries[i].value = value,
            None => entries.push(MetadataEntry {
                namespace: namespace.to_string(),
                key: key.to_string(),
                value,
            }),
        }
    }
}

/// An entry's bytes as [`MAX_METADATA_BYTES`] counts them (it fitted, so its value is counted
/// in full).
fn metadata_len(e: &MetadataEntry) -> usize {
    let value = json_len_within(&e.value, MAX_METADATA_BYTES).unwrap_or(MAX_METADATA_BYTES);
    e.namespace.len() + e.key.len() + value
}
