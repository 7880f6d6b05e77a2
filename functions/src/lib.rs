//! Shared helpers of the example functions.
