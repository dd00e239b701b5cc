//! The data an RRSIG signs (RFC 4034 §3.1.8.1, §6; RFC 4035 §5.3.2;
//! RFC 6840 §5.1): RRSIG RDATA without the signature, then every RR of the
//! set in canonical form and order, duplicates removed.
