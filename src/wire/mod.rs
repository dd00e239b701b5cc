//! The ground floor: DNS wire vocabulary every stage shares and that
//! depends on no stage. A query read without decoding and the answers
//! pre-encoded for it ([`template`]), and the CNAME/DNAME chain an answer
//! holds ([`chain`]), the wire checks before decoding ([`check`]), the
//! Extended DNS Error codes ([`ede`]) and the reasons a query is refused
//! before resolution ([`Reject`]).

pub mod chain;
pub mod check;
pub mod ede;
pub mod name;
pub mod quick;
mod reject;
pub mod template;

pub use reject::Reject;
