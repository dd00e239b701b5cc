//! NSEC denial proofs (RFC 4035 §5.4, RFC 6840 §4.1, §4.3, §5.3).
