//! The facade's integration tests, in one binary to keep link time down.

mod end_to_end;
mod parity;
mod parity_losses_models;
mod parity_ops;
