//! NSEC3 denial proofs (RFC 5155 §8.3-8.7, RFC 9276).
