//! Initializers (in progress).
