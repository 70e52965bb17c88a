//! The facade's integration tests, in one binary to keep link time down.

mod parity;
mod parity_losses_models;
