//! Extended DNS Errors (RFC 8914): the option code, the info codes dnsward
//! sends and the option itself. The blocked answers, the stale answers and
//! the resolver's failures all attach one, so the codes live here rather
//! than with any of them.

use hickory_proto::rr::rdata::opt::EdnsOption;

/// RFC 8914 option code.
pub const EDE_OPTION: u16 = 15;
/// EDE 3: Stale Answer.
pub const EDE_STALE: u16 = 3;
/// EDE 15: Blocked.
pub const EDE_BLOCKED: u16 = 15;
/// EDE 18: Prohibited.
pub const EDE_PROHIBITED: u16 = 18;
/// EDE 22: No Reachable Authority.
pub const EDE_NO_REACHABLE_AUTHORITY: u16 = 22;
/// EDE 23: Network Error.
pub const EDE_NETWORK_ERROR: u16 = 23;

/// An EDE option: INFO-CODE then UTF-8 EXTRA-TEXT (hickory 0.26 has no
/// typed EDE, so it travels as an unknown option with the right code).
pub fn ede(info_code: u16, extra_text: &str) -> EdnsOption {
    let mut data = Vec::with_capacity(2 + extra_text.len());
    data.extend_from_slice(&info_code.to_be_bytes());
    data.extend_from_slice(extra_text.as_bytes());
    EdnsOption::Unknown(EDE_OPTION, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ede_bytes_are_code_then_text() {
        match ede(16, "x") {
            EdnsOption::Unknown(15, d) => assert_eq!(d, vec![0, 16, b'x']),
            o => panic!("{o:?}"),
        }
    }
}
