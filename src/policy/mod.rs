//! The policy stage: is a query name allowed, blocked, or not listed — and
//! by which list, line and legal order?
//!
//! Lists are compiled into immutable [`matcher::DomainSet`]s off the request
//! path and published together as one [`Policy`] through an `ArcSwap`
//! ([`store::PolicyStore`]); a query loads the current policy once and never
//! sees a half-built list. Compilation is guarded ([`compile_list`]): a
//! checksum mismatch, an unusable or mostly malformed file or a large
//! shrink is refused and the serving version stays.

pub mod chained;
mod compile;
mod decide;
pub mod digest;
mod explain;
pub mod feed;
pub mod groups;
mod incremental;
pub mod matcher;
pub mod parse;
pub mod rule;
pub mod store;
pub mod watch;

pub use compile::*;
pub use decide::*;
pub use explain::*;
pub use groups::{GroupRef, Groups, ListMask, DEFAULT_GROUP};
pub use incremental::*;

#[cfg(test)]
mod tests;
