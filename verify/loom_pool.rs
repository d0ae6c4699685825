//! loom models of the shared pool (placeholder; being written).
