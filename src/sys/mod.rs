//! Every `unsafe` call of the crate, each behind a safe function:
//! batched UDP system calls ([`batch`], Linux only) and memory advice and
//! the prefetch hint ([`memory`]).

#[cfg(target_os = "linux")]
pub mod batch;
pub mod memory;
