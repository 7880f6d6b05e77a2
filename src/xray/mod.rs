//! PLACEHOLDER: X-Ray segment documents, replaced by the X-Ray work.
