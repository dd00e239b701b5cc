//! Root server addresses: the IANA hints compiled in, or a hints file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// IANA root server addresses (named.root, 2024 edition: b.root moved to
/// 170.247.170.2 / 2801:1b8:10::b in 2023).
pub const IANA_ROOTS: &[IpAddr] = &[
    IpAddr::V4(Ipv4Addr::new(198, 41, 0, 4)),
    IpAddr::V4(Ipv4Addr::new(170, 247, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(192, 33, 4, 12)),
    IpAddr::V4(Ipv4Addr::new(199, 7, 91, 13)),
    IpAddr::V4(Ipv4Addr::new(192, 203, 230, 10)),
    IpAddr::V4(Ipv4Addr::new(192, 5, 5, 241)),
    IpAddr::V4(Ipv4Addr::new(192, 112, 36, 4)),
    IpAddr::V4(Ipv4Addr::new(198, 97, 190, 53)),
    IpAddr::V4(Ipv4Addr::new(192, 36, 148, 17)),
    IpAddr::V4(Ipv4Addr::new(192, 58, 128, 30)),
    IpAddr::V4(Ipv4Addr::new(193, 0, 14, 129)),
    IpAddr::V4(Ipv4Addr::new(199, 7, 83, 42)),
    IpAddr::V4(Ipv4Addr::new(202, 12, 27, 33)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x503, 0xba3e, 0, 0, 0, 0x2, 0x30)),
    IpAddr::V6(Ipv6Addr::new(0x2801, 0x1b8, 0x10, 0, 0, 0, 0, 0xb)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x2, 0, 0, 0, 0, 0xc)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x2d, 0, 0, 0, 0, 0xd)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0xa8, 0, 0, 0, 0, 0xe)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x2f, 0, 0, 0, 0, 0xf)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x12, 0, 0, 0, 0, 0xd0d)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x1, 0, 0, 0, 0, 0x53)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x7fe, 0, 0, 0, 0, 0, 0x53)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x503, 0xc27, 0, 0, 0, 0x2, 0x30)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x7fd, 0, 0, 0, 0, 0, 0x1)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x500, 0x9f, 0, 0, 0, 0, 0x42)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdc3, 0, 0, 0, 0, 0, 0x35)),
];

/// Why a hints file was unusable.
#[derive(Debug, thiserror::Error)]
pub enum HintsError {
    /// Unreadable file.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A record's address did not parse.
    #[error("{path}:{line}: `{value}` is not an address")]
    BadAddress {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The text.
        value: String,
    },
    /// No A/AAAA record found.
    #[error("{path}: no A or AAAA record")]
    Empty {
        /// The file.
        path: String,
    },
}

/// Read the A/AAAA records of a named.root-style hints file.
pub fn read_hints(path: &Path) -> Result<Vec<IpAddr>, HintsError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| HintsError::Read {
        path: p.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or_default();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let Some(pos) = fields
            .iter()
            .position(|f| f.eq_ignore_ascii_case("A") || f.eq_ignore_ascii_case("AAAA"))
        {
            let value = fields.get(pos + 1).copied().unwrap_or_default();
            let ip = value
                .parse::<IpAddr>()
                .map_err(|_| HintsError::BadAddress {
                    path: p.clone(),
                    line: i + 1,
                    value: value.to_string(),
                })?;
            out.push(ip);
        }
    }
    if out.is_empty() {
        return Err(HintsError::Empty { path: p });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_file_addresses_are_read() {
        let path = std::env::temp_dir().join(format!("dnsward-hints-{}", std::process::id()));
        std::fs::write(
            &path,
            ";comment\n.  3600000 NS A.ROOT-SERVERS.NET.\nA.ROOT-SERVERS.NET. 3600000 A 198.41.0.4\nA.ROOT-SERVERS.NET. 3600000 AAAA 2001:503:ba3e::2:30\n",
        )
        .expect("write");
        let v = read_hints(&path).expect("hints");
        assert_eq!(v.len(), 2);
        std::fs::write(&path, "x A notanip\n").expect("write");
        assert!(read_hints(&path).unwrap_err().to_string().contains(":1:"));
        let _ = std::fs::remove_file(path);
        assert_eq!(IANA_ROOTS.len(), 26);
    }
}
