//! TSIG (RFC 8945) with hmac-sha256/384/512, on raw wire bytes.
//!
//! Implemented here rather than through hickory-proto's TSIG because that
//! needs the `__dnssec` feature (which changes hickory's public signatures,
//! see the hickory notes) and because zone transfers need the multi-message
//! rule of RFC 8945 5.3.1 (every message chained to the previous MAC,
//! unsigned messages in between folded into the next digest), which is
//! easiest to get right on the bytes as they came off the wire.

use std::path::Path;

use sha2::{Digest, Sha256, Sha384, Sha512};

/// TSIG RR type.
const TYPE_TSIG: u16 = 250;
/// Class ANY.
const CLASS_ANY: u16 = 255;
/// Allowed clock difference, seconds (RFC 8945 recommends 300).
pub const FUDGE: u16 = 300;
/// RFC 8945 5.3.1: at most 99 unsigned messages between signed ones.
const MAX_UNSIGNED: usize = 99;

/// A TSIG failure (a transfer or NOTIFY with it is refused).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TsigError {
    /// The message carries no TSIG where one is required.
    #[error("message not signed")]
    Unsigned,
    /// The MAC does not match.
    #[error("bad MAC")]
    BadMac,
    /// Signed with another key or algorithm.
    #[error("signed with an unknown key or algorithm")]
    BadKey,
    /// The signing time is outside the fudge.
    #[error("signing time outside the allowed window")]
    BadTime,
    /// The peer reported a TSIG error (BADSIG, BADKEY, BADTIME).
    #[error("peer reported TSIG error {0}")]
    PeerError(u16),
    /// The message cannot be walked.
    #[error("malformed message")]
    Malformed,
    /// Too many unsigned messages, or the last one unsigned.
    #[error("unsigned messages in the stream")]
    UnsignedRun,
}

/// A key-file problem, reported with the file's path.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct KeyFileError {
    /// The key file.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// HMAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// hmac-sha256.
    Sha256,
    /// hmac-sha384.
    Sha384,
    /// hmac-sha512.
    Sha512,
}

impl Algorithm {
    /// From the name used in key files and on the wire.
    pub fn from_name(s: &str) -> Option<Self> {
        match s.trim_end_matches('.').to_ascii_lowercase().as_str() {
            "hmac-sha256" => Some(Self::Sha256),
            "hmac-sha384" => Some(Self::Sha384),
            "hmac-sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "hmac-sha256",
            Self::Sha384 => "hmac-sha384",
            Self::Sha512 => "hmac-sha512",
        }
    }
}

/// A shared secret.
#[derive(Clone)]
pub struct TsigKey {
    /// Key name, lowercase wire form.
    name_wire: Vec<u8>,
    /// Key name as written.
    pub name: String,
    /// Algorithm.
    pub algorithm: Algorithm,
    secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn name_to_wire(name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() {
            if name.trim_end_matches('.').is_empty() {
                break;
            }
            return None;
        }
        if label.len() > 63 {
            return None;
        }
        out.push(label.len() as u8);
        out.extend(label.to_ascii_lowercase().bytes());
    }
    out.push(0);
    (out.len() <= 255).then_some(out)
}

impl TsigKey {
    /// A key from its parts.
    pub fn new(name: &str, algorithm: Algorithm, secret: Vec<u8>) -> Option<Self> {
        Some(Self {
            name_wire: name_to_wire(name)?,
            name: name.trim_end_matches('.').to_string(),
            algorithm,
            secret,
        })
    }

    /// Parse BIND key-file syntax (`key "n" { algorithm hmac-sha256;
    /// secret "base64"; };`, as written by `tsig-keygen` and `keymgr -t`).
    pub fn parse(text: &str) -> Result<Self, String> {
        // Drop comments (`#`, `//`), then tokenise on braces, semicolons
        // and whitespace.
        let mut clean = String::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let line = line.split("//").next().unwrap_or("");
            clean.push_str(line);
            clean.push(' ');
        }
        let spaced = clean
            .replace('{', " { ")
            .replace('}', " } ")
            .replace(';', " ; ");
        let tokens: Vec<&str> = spaced.split_whitespace().collect();
        let unquote = |s: &str| s.trim_matches('"').to_string();
        let pos = tokens
            .iter()
            .position(|t| *t == "key")
            .ok_or("no `key \"name\" { ... };` statement")?;
        let name = tokens
            .get(pos + 1)
            .map(|t| unquote(t))
            .filter(|n| !n.is_empty() && n != "{")
            .ok_or("key without a name")?;
        let mut algorithm = None;
        let mut secret = None;
        let mut i = pos + 2;
        while i < tokens.len() {
            match tokens[i] {
                "algorithm" => {
                    let a = tokens.get(i + 1).map(|t| unquote(t)).unwrap_or_default();
                    algorithm = Some(Algorithm::from_name(&a).ok_or_else(|| {
                        format!("algorithm `{a}` not supported (hmac-sha256, hmac-sha384 or hmac-sha512)")
                    })?);
                    i += 1;
                }
                "secret" => {
                    let s = tokens.get(i + 1).map(|t| unquote(t)).unwrap_or_default();
                    let bytes = data_encoding::BASE64
                        .decode(s.as_bytes())
                        .map_err(|e| format!("secret is not base64: {e}"))?;
                    if bytes.is_empty() {
                        return Err("empty secret".into());
                    }
                    secret = Some(bytes);
                    i += 1;
                }
                _ => {}
            }
            i += 1;
        }
        let algorithm = algorithm.ok_or("key without `algorithm`")?;
        let secret = secret.ok_or("key without `secret`")?;
        Self::new(&name, algorithm, secret)
            .ok_or_else(|| format!("key name `{name}` is not a DNS name"))
    }

    /// Read and parse a key file.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let err = |reason: String| KeyFileError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::parse(&text).map_err(err)
    }

    fn mac(&self) -> Mac {
        Mac::new(self.algorithm, &self.secret)
    }

    fn alg_wire(&self) -> Vec<u8> {
        name_to_wire(self.algorithm.name()).unwrap_or_default()
    }

    /// The TSIG variables (RFC 8945 4.3.3) for a full digest.
    fn variables(&self, time: u64, error: u16, other: &[u8]) -> Vec<u8> {
        let mut v = self.name_wire.clone();
        v.extend(CLASS_ANY.to_be_bytes());
        v.extend(0u32.to_be_bytes());
        v.extend(self.alg_wire());
        v.extend(&time.to_be_bytes()[2..]);
        v.extend(FUDGE.to_be_bytes());
        v.extend(error.to_be_bytes());
        v.extend((other.len() as u16).to_be_bytes());
        v.extend(other);
        v
    }

    /// Append a TSIG record to `msg`. `request_mac` is set when signing a
    /// response. Returns the MAC (the next digest in a stream chains to it).
    pub fn sign(&self, msg: &mut Vec<u8>, request_mac: Option<&[u8]>, time: u64) -> Vec<u8> {
        let mut mac = self.mac();
        if let Some(r) = request_mac {
            mac.update(&(r.len() as u16).to_be_bytes());
            mac.update(r);
        }
        mac.update(msg);
        mac.update(&self.variables(time, 0, &[]));
        let tag = mac.finish();
        let id = [msg[0], msg[1]];
        let mut rdata = self.alg_wire();
        rdata.extend(&time.to_be_bytes()[2..]);
        rdata.extend(FUDGE.to_be_bytes());
        rdata.extend((tag.len() as u16).to_be_bytes());
        rdata.extend(&tag);
        rdata.extend(id);
        rdata.extend(0u16.to_be_bytes());
        rdata.extend(0u16.to_be_bytes());
        msg.extend(&self.name_wire);
        msg.extend(TYPE_TSIG.to_be_bytes());
        msg.extend(CLASS_ANY.to_be_bytes());
        msg.extend(0u32.to_be_bytes());
        msg.extend((rdata.len() as u16).to_be_bytes());
        msg.extend(rdata);
        let ar = u16::from_be_bytes([msg[10], msg[11]]).wrapping_add(1);
        msg[10..12].copy_from_slice(&ar.to_be_bytes());
        tag
    }

    /// Verify a signed request (a NOTIFY). Returns its MAC, for signing
    /// the response.
    pub fn verify_request(&self, msg: &[u8], now: u64) -> Result<Vec<u8>, TsigError> {
        let t = find_tsig(msg)?.ok_or(TsigError::Unsigned)?;
        self.check_identity(&t)?;
        let mut mac = self.mac();
        mac.update(&t.stripped);
        mac.update(&self.variables(t.time, t.error, &t.other));
        self.check_mac(mac, &t, now)?;
        Ok(t.mac)
    }

    fn check_identity(&self, t: &Found) -> Result<(), TsigError> {
        if t.key_wire != self.name_wire || Algorithm::from_wire(&t.alg_wire) != Some(self.algorithm)
        {
            return Err(TsigError::BadKey);
        }
        Ok(())
    }

    fn check_mac(&self, mac: Mac, t: &Found, now: u64) -> Result<(), TsigError> {
        if t.error != 0 {
            return Err(TsigError::PeerError(t.error));
        }
        let expected = mac.finish();
        if !constant_eq(&expected, &t.mac) {
            return Err(TsigError::BadMac);
        }
        if now.abs_diff(t.time) > u64::from(t.fudge) {
            return Err(TsigError::BadTime);
        }
        Ok(())
    }
}

impl Algorithm {
    fn from_wire(wire: &[u8]) -> Option<Self> {
        let mut s = String::new();
        let mut i = 0;
        while let Some(&len) = wire.get(i) {
            if len == 0 {
                break;
            }
            let label = wire.get(i + 1..i + 1 + len as usize)?;
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(std::str::from_utf8(label).ok()?);
            i += 1 + len as usize;
        }
        Self::from_name(&s)
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies the responses of one transfer, message by message (RFC 8945
/// 5.3.1).
pub struct StreamVerifier<'a> {
    key: &'a TsigKey,
    prior: Vec<u8>,
    first: bool,
    pending: Option<Mac>,
    unsigned: usize,
}

impl<'a> StreamVerifier<'a> {
    /// For the responses to a request signed with `request_mac`.
    pub fn new(key: &'a TsigKey, request_mac: Vec<u8>) -> Self {
        Self {
            key,
            prior: request_mac,
            first: true,
            pending: None,
            unsigned: 0,
        }
    }

    /// Check one response message.
    pub fn message(&mut self, msg: &[u8], now: u64) -> Result<(), TsigError> {
        let found = find_tsig(msg)?;
        let mut mac = match self.pending.take() {
            Some(m) => m,
            None => {
                let mut m = self.key.mac();
                m.update(&(self.prior.len() as u16).to_be_bytes());
                m.update(&self.prior);
                m
            }
        };
        let Some(t) = found else {
            if self.first {
                return Err(TsigError::Unsigned);
            }
            self.unsigned += 1;
            if self.unsigned > MAX_UNSIGNED {
                return Err(TsigError::UnsignedRun);
            }
            mac.update(msg);
            self.pending = Some(mac);
            return Ok(());
        };
        self.key.check_identity(&t)?;
        mac.update(&t.stripped);
        if self.first {
            mac.update(&self.key.variables(t.time, t.error, &t.other));
        } else {
            mac.update(&t.time.to_be_bytes()[2..]);
            mac.update(&t.fudge.to_be_bytes());
        }
        self.key.check_mac(mac, &t, now)?;
        self.prior = t.mac;
        self.first = false;
        self.unsigned = 0;
        Ok(())
    }

    /// The stream ended: its last message must have been signed.
    pub fn finish(&self) -> Result<(), TsigError> {
        if self.pending.is_some() || self.first {
            return Err(TsigError::UnsignedRun);
        }
        Ok(())
    }
}

/// A TSIG record found at the end of a message.
struct Found {
    /// The message without it, ARCOUNT lowered and the original ID back.
    stripped: Vec<u8>,
    key_wire: Vec<u8>,
    alg_wire: Vec<u8>,
    time: u64,
    fudge: u16,
    mac: Vec<u8>,
    error: u16,
    other: Vec<u8>,
}

/// Read a (possibly compressed) name at `pos`: lowercase wire form and
/// the position after it in the message.
fn read_name(msg: &[u8], mut pos: usize) -> Result<(Vec<u8>, usize), TsigError> {
    let mut out = Vec::new();
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = *msg.get(pos).ok_or(TsigError::Malformed)?;
        match len {
            0 => {
                out.push(0);
                return Ok((out, end.unwrap_or(pos + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let lo = *msg.get(pos + 1).ok_or(TsigError::Malformed)?;
                end.get_or_insert(pos + 2);
                hops += 1;
                if hops > 64 {
                    return Err(TsigError::Malformed);
                }
                pos = (usize::from(l & 0x3f) << 8) | usize::from(lo);
            }
            l if l <= 63 => {
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(l))
                    .ok_or(TsigError::Malformed)?;
                out.push(l);
                out.extend(label.iter().map(u8::to_ascii_lowercase));
                if out.len() > 255 {
                    return Err(TsigError::Malformed);
                }
                pos += 1 + usize::from(l);
            }
            _ => return Err(TsigError::Malformed),
        }
    }
}

fn be16(msg: &[u8], pos: usize) -> Result<u16, TsigError> {
    msg.get(pos..pos + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(TsigError::Malformed)
}

/// Find the TSIG record (the last additional record), if any.
fn find_tsig(msg: &[u8]) -> Result<Option<Found>, TsigError> {
    if msg.len() < 12 {
        return Err(TsigError::Malformed);
    }
    let qd = be16(msg, 4)?;
    let rr = u32::from(be16(msg, 6)?) + u32::from(be16(msg, 8)?) + u32::from(be16(msg, 10)?);
    let ar = be16(msg, 10)?;
    if ar == 0 {
        return Ok(None);
    }
    let mut pos = 12;
    for _ in 0..qd {
        pos = read_name(msg, pos)?.1 + 4;
    }
    for _ in 0..rr - 1 {
        pos = read_name(msg, pos)?.1;
        let rdlen = be16(msg, pos + 8)?;
        pos += 10 + usize::from(rdlen);
    }
    let start = pos;
    let (key_wire, p) = read_name(msg, pos)?;
    if be16(msg, p)? != TYPE_TSIG {
        return Ok(None);
    }
    let rdlen = usize::from(be16(msg, p + 8)?);
    let rd = p + 10;
    if rd + rdlen != msg.len() {
        return Err(TsigError::Malformed);
    }
    let (alg_wire, mut q) = read_name(msg, rd)?;
    let t = msg.get(q..q + 6).ok_or(TsigError::Malformed)?;
    let time = t.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    let fudge = be16(msg, q + 6)?;
    let mac_len = usize::from(be16(msg, q + 8)?);
    q += 10;
    let mac = msg
        .get(q..q + mac_len)
        .ok_or(TsigError::Malformed)?
        .to_vec();
    q += mac_len;
    let orig_id = be16(msg, q)?;
    let error = be16(msg, q + 2)?;
    let other_len = usize::from(be16(msg, q + 4)?);
    let other = msg
        .get(q + 6..q + 6 + other_len)
        .ok_or(TsigError::Malformed)?
        .to_vec();
    let mut stripped = msg[..start].to_vec();
    stripped[0..2].copy_from_slice(&orig_id.to_be_bytes());
    stripped[10..12].copy_from_slice(&(ar - 1).to_be_bytes());
    Ok(Some(Found {
        stripped,
        key_wire,
        alg_wire,
        time,
        fudge,
        mac,
        error,
        other,
    }))
}

/// Streaming HMAC (RFC 2104) over the SHA-2 family.
enum Hash {
    S256(Sha256),
    S384(Sha384),
    S512(Sha512),
}

impl Hash {
    fn new(a: Algorithm) -> Self {
        match a {
            Algorithm::Sha256 => Self::S256(Sha256::new()),
            Algorithm::Sha384 => Self::S384(Sha384::new()),
            Algorithm::Sha512 => Self::S512(Sha512::new()),
        }
    }

    fn update(&mut self, d: &[u8]) {
        match self {
            Self::S256(h) => h.update(d),
            Self::S384(h) => h.update(d),
            Self::S512(h) => h.update(d),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Self::S256(h) => h.finalize().to_vec(),
            Self::S384(h) => h.finalize().to_vec(),
            Self::S512(h) => h.finalize().to_vec(),
        }
    }
}

struct Mac {
    alg: Algorithm,
    inner: Hash,
    opad: Vec<u8>,
}

impl Mac {
    fn new(alg: Algorithm, key: &[u8]) -> Self {
        let block = match alg {
            Algorithm::Sha256 => 64,
            _ => 128,
        };
        let mut k = if key.len() > block {
            let mut h = Hash::new(alg);
            h.update(key);
            h.finish()
        } else {
            key.to_vec()
        };
        k.resize(block, 0);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let mut inner = Hash::new(alg);
        inner.update(&ipad);
        Self { alg, inner, opad }
    }

    fn update(&mut self, d: &[u8]) {
        self.inner.update(d);
    }

    fn finish(self) -> Vec<u8> {
        let digest = self.inner.finish();
        let mut outer = Hash::new(self.alg);
        outer.update(&self.opad);
        outer.update(&digest);
        outer.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        for (alg, want) in [
            (Algorithm::Sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            (Algorithm::Sha384, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"),
            (Algorithm::Sha512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
        ] {
            let mut m = Mac::new(alg, b"Jefe");
            m.update(b"what do ya want ");
            m.update(b"for nothing?");
            assert_eq!(hex(&m.finish()), want);
        }
    }

    #[test]
    fn parses_bind_key_files() {
        let k = TsigKey::parse(
            "# made by tsig-keygen\nkey \"court-xfr\" {\n\talgorithm hmac-sha384;\n\tsecret \"c2VjcmV0\";\n};\n",
        )
        .expect("key");
        assert_eq!(k.name, "court-xfr");
        assert_eq!(k.algorithm, Algorithm::Sha384);
        let bad = TsigKey::parse("key \"k\" { algorithm hmac-md5; secret \"c2VjcmV0\"; };");
        assert!(bad.unwrap_err().contains("hmac-md5"));
        assert!(TsigKey::parse("key \"k\" { algorithm hmac-sha256; };").is_err());
        assert!(TsigKey::parse("key \"k\" { algorithm hmac-sha256; secret \"%%\"; };").is_err());
    }

    fn query() -> Vec<u8> {
        // id 0x1234, one question `a.` A IN.
        let mut m = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend([1, b'a', 0, 0, 1, 0, 1]);
        m
    }

    #[test]
    fn signed_request_verifies_and_tampering_fails() {
        let key = TsigKey::new("k.", Algorithm::Sha256, b"secret".to_vec()).expect("key");
        let mut m = query();
        let mac = key.sign(&mut m, None, 1000);
        assert_eq!(key.verify_request(&m, 1000), Ok(mac.clone()));
        assert_eq!(key.verify_request(&m, 2000), Err(TsigError::BadTime));
        let other = TsigKey::new("k.", Algorithm::Sha256, b"other".to_vec()).expect("key");
        assert_eq!(other.verify_request(&m, 1000), Err(TsigError::BadMac));
        let renamed = TsigKey::new("j.", Algorithm::Sha256, b"secret".to_vec()).expect("key");
        assert_eq!(renamed.verify_request(&m, 1000), Err(TsigError::BadKey));
        assert_eq!(key.verify_request(&query(), 1000), Err(TsigError::Unsigned));
        // A changed question byte breaks the MAC.
        m[13] = b'b';
        assert_eq!(key.verify_request(&m, 1000), Err(TsigError::BadMac));
    }

    #[test]
    fn stream_chains_macs_and_folds_unsigned_messages() {
        let key = TsigKey::new("k.", Algorithm::Sha512, b"secret".to_vec()).expect("key");
        let mut req = query();
        let req_mac = key.sign(&mut req, None, 1000);
        // Server side: first response signed with the request MAC, then one
        // unsigned message, then a signed one chaining over both.
        let mut r1 = query();
        r1[2] |= 0x80;
        let m1 = key.sign(&mut r1, Some(&req_mac), 1000);
        let mut r2 = query();
        r2[2] |= 0x80;
        let mut r3 = query();
        r3[2] |= 0x80;
        let mut mac = key.mac();
        mac.update(&(m1.len() as u16).to_be_bytes());
        mac.update(&m1);
        mac.update(&r2);
        mac.update(&r3);
        mac.update(&1000u64.to_be_bytes()[2..]);
        mac.update(&FUDGE.to_be_bytes());
        let tag = mac.finish();
        let mut rdata = key.alg_wire();
        rdata.extend(&1000u64.to_be_bytes()[2..]);
        rdata.extend(FUDGE.to_be_bytes());
        rdata.extend((tag.len() as u16).to_be_bytes());
        rdata.extend(&tag);
        rdata.extend([0x12, 0x34, 0, 0, 0, 0]);
        let mut r3s = r3.clone();
        r3s.extend(&key.name_wire);
        r3s.extend([0, 250, 0, 255, 0, 0, 0, 0]);
        r3s.extend((rdata.len() as u16).to_be_bytes());
        r3s.extend(rdata);
        r3s[11] = 1;
        let mut v = StreamVerifier::new(&key, req_mac.clone());
        v.message(&r1, 1000).expect("first");
        v.message(&r2, 1000).expect("unsigned middle");
        assert!(v.finish().is_err(), "ending unsigned is refused");
        v.message(&r3s, 1000).expect("chained");
        v.finish().expect("complete");
        // The same stream against a different request MAC fails at once.
        let mut w = StreamVerifier::new(&key, vec![0; 64]);
        assert_eq!(w.message(&r1, 1000), Err(TsigError::BadMac));
        // An unsigned first message is refused.
        let mut u = StreamVerifier::new(&key, req_mac);
        assert_eq!(u.message(&r2, 1000), Err(TsigError::Unsigned));
    }
}
