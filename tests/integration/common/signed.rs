//! A DNSSEC-signed loopback hierarchy for the validation tests: keys made
//! with `ldns-keygen`, zones signed with `ldns-signzone`, DS records from
//! `ldns-key2ds`, served by NSD on 127.0.53.{1,2,3,4}, all on one port.
//!
//! ```text
//! .                127.0.53.1  alg 8 (RSA), NSEC    (the trust anchor: ROOT DS), as the real root
//! tst.             127.0.53.2  alg 8 (RSA), NSEC
//!   nsec.tst.      127.0.53.3  alg 13, NSEC          secure, NXDOMAIN/NODATA, wildcard *.w
//!   nsec3.tst.                 alg 13, NSEC3 0 it.   the same names, NSEC3 proofs
//!   ed.tst.                    alg 15                secure (Ed25519)
//!   insec.tst.                 unsigned, no DS       insecure
//!   bogus.tst.                 alg 13, one byte of www's RRSIG flipped
//!   expired.tst.               signatures expired three days ago
//!   future.tst.                signatures valid in three days
//!   nokey.tst.                 DS names a key the zone does not publish
//!   ds4.tst.                   DS digest type 4 (SHA-384)
//!   digest.tst.                its only DS has digest type 200 (unknown): insecure
//!   optout.tst.                NSEC3 opt-out, unsigned delegation ins.optout.tst.
//!     ins.optout.tst. 127.0.53.4  unsigned
//!   iter.tst.                  NSEC3 with 200 iterations (above RFC 9276's 150)
//!   unsupp.tst.                DNSKEY/DS/RRSIG with algorithm 253 (PRIVATEDNS)
//!   keytrap.tst.               KEYTRAP_KEYS DNSKEYs sharing one key tag, KEYTRAP_SIGS
//!                              RRSIGs over them with that tag, none valid
//! ```
//! Keys and signed zones are made once per test process (a few seconds,
//! RSA key generation dominates); each test starts its own four NSD
//! processes on a fresh port from those files.
//!
//! The reference is a real Unbound ([`start_unbound_validator`]) with the
//! same trust anchor: a case Unbound does not answer as [`CASES`] says is
//! a fixture bug, not a dnsward bug.

use super::*;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::BASE64;
use sha2::{Digest, Sha256};

/// The first three octets of every address of the signed hierarchy.
pub const SIGNED_NET: [u8; 3] = [127, 0, 53];
/// DNSKEYs sharing one key tag in `keytrap.tst.` (the real one included).
pub const KEYTRAP_KEYS: usize = 24;
/// RRSIGs over keytrap.tst.'s DNSKEY RRset, all with that key tag, all bad.
pub const KEYTRAP_SIGS: usize = 24;
/// NSEC3 iterations of `iter.tst.`.
pub const ITER_ITERATIONS: u32 = 200;

/// Address `127.0.53.host`.
pub fn signed_ip(host: u8) -> Ipv4Addr {
    Ipv4Addr::new(SIGNED_NET[0], SIGNED_NET[1], SIGNED_NET[2], host)
}

/// Host octets of the root, tst., its children and ins.optout.tst.
pub const ROOT_HOST: u8 = 1;
pub const TLD_HOST: u8 = 2;
pub const CHILD_HOST: u8 = 3;
pub const GRANDCHILD_HOST: u8 = 4;

/// Zones signed by [`prepare`], each with the server host it lives on.
pub struct Prepared {
    /// The root's DS, presentation format: the trust anchor of the tests.
    pub root_ds: String,
    /// `(zone, host octet, zone file)`.
    pub zones: Vec<(String, u8, PathBuf)>,
    /// The root zone's delegation of tst. (NS, glue, DS), for tests that
    /// sign the root with keys of their own.
    pub root_body: String,
}

/// The prepared hierarchy, built on first use and shared by every test
/// of this process.
pub fn prepared() -> &'static Prepared {
    static P: OnceLock<Prepared> = OnceLock::new();
    P.get_or_init(|| prepare().unwrap_or_else(|e| panic!("signed fixture: {e}")))
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub const DAY: u64 = 86_400;

/// A command's stdout, or an error naming it and its stderr.
fn run(dir: &Path, prog: &str, args: &[String]) -> Result<String, String> {
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{prog}: {e} (apt-get install ldnsutils nsd)"))?;
    if !out.status.success() {
        return Err(format!(
            "{prog} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One key made by `ldns-keygen` (flags 257, used as a CSK): its base name.
pub struct Key(pub String);

pub fn keygen(dir: &Path, zone: &str, alg: &str) -> Result<Key, String> {
    let mut args = vec!["-a".to_string(), alg.to_string()];
    if alg.starts_with("RSA") {
        args.extend(["-b".into(), "2048".into()]);
    }
    args.extend(["-k".into(), zone.into()]);
    let base = run(dir, "ldns-keygen", &args)?.trim().to_string();
    Ok(Key(base))
}

pub fn ds_of(dir: &Path, key: &Key) -> Result<String, String> {
    ds_digest(dir, key, "-2")
}

/// The key's DS with ldns-key2ds's digest option (`-1`, `-2`, `-4`).
fn ds_digest(dir: &Path, key: &Key, digest: &str) -> Result<String, String> {
    let out = run(
        dir,
        "ldns-key2ds",
        &["-n".into(), digest.into(), format!("{}.key", key.0)],
    )?;
    Ok(out.trim().to_string())
}

/// `ds` (a DS line) with its digest type field replaced by `digest_type`.
fn with_digest_type(ds: &str, digest_type: u8) -> String {
    let mut f: Vec<String> = ds.split_whitespace().map(String::from).collect();
    if let Some(i) = f.iter().position(|x| x == "DS") {
        if let Some(t) = f.get_mut(i + 3) {
            *t = digest_type.to_string();
        }
    }
    f.join(" ")
}

/// SOA, NS and the name server's address of `zone`, then `body`.
pub fn zone_text(zone: &str, host: u8, body: &str) -> String {
    let ns = if zone == "." {
        "a.root.".to_string()
    } else {
        format!("ns.{zone}")
    };
    format!(
        "$ORIGIN {zone}\n$TTL 300\n@ SOA {ns} hostmaster.{ns} 1 3600 900 604800 300\n\
         @ NS {ns}\n{ns} A {}\n{body}\n",
        signed_ip(host)
    )
}

/// Names every signed leaf zone holds: www (A), `*.w` (wildcard A) and a
/// TXT-less www for NODATA.
const LEAF_BODY: &str = "www A 192.0.2.1\n*.w A 192.0.2.2\nmail A 192.0.2.3\n";

/// `ldns-signzone` over `text`; returns the signed zone's text.
pub fn sign(
    dir: &Path,
    zone: &str,
    text: &str,
    keys: &[&Key],
    opts: &[String],
) -> Result<String, String> {
    let stem = match zone {
        "." => "root".to_string(),
        z => z.trim_end_matches('.').replace('.', "_"),
    };
    let file = format!("{stem}.zone");
    std::fs::write(dir.join(&file), text).map_err(|e| format!("{file}: {e}"))?;
    let out = format!("{file}.signed");
    let mut args: Vec<String> = opts.to_vec();
    args.extend(["-o".into(), zone.into(), "-f".into(), out.clone(), file]);
    args.extend(keys.iter().map(|k| k.0.clone()));
    run(dir, "ldns-signzone", &args)?;
    std::fs::read_to_string(dir.join(&out)).map_err(|e| format!("{out}: {e}"))
}

pub fn window(inception: u64, expiration: u64) -> Vec<String> {
    vec![
        "-i".into(),
        inception.to_string(),
        "-e".into(),
        expiration.to_string(),
    ]
}

/// The usual validity: an hour ago to 90 days on (long enough for the
/// RFC 5011 test's faked 30-day jumps).
fn valid_now() -> Vec<String> {
    let t = now();
    window(t - 3600, t + 90 * DAY)
}

/// Flip one byte of the signature of `owner`'s RRSIG over `covered`.
fn tamper(signed: &str, owner: &str, covered: &str) -> Result<String, String> {
    let mut done = false;
    let lines: Vec<String> = signed
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if !done && f.len() > 12 && f[0] == owner && f[3] == "RRSIG" && f[4] == covered {
                if let Ok(mut sig) = BASE64.decode(f[12..].concat().as_bytes()) {
                    sig[10] ^= 0x01;
                    done = true;
                    return format!("{} {}", f[..12].join(" "), BASE64.encode(&sig));
                }
            }
            l.to_string()
        })
        .collect();
    if !done {
        return Err(format!("no RRSIG {covered} of {owner} to tamper"));
    }
    Ok(lines.join("\n") + "\n")
}

/// RFC 4034 Appendix B key tag of DNSKEY rdata.
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i % 2 == 0 {
            u32::from(*b) << 8
        } else {
            u32::from(*b)
        };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

/// A small deterministic generator: the fabricated keys and signatures are
/// the same in every run.
struct XorShift(u64);

impl XorShift {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 >> 24) as u8
            })
            .collect()
    }
}

/// DNSKEY rdata (flags 257, protocol 3, `alg`) with `key` as public key.
fn dnskey_rdata(alg: u8, key: &[u8]) -> Vec<u8> {
    let mut r = vec![1, 1, 3, alg];
    r.extend_from_slice(key);
    r
}

/// An RSA public key (exponent 65537, a 2048-bit odd modulus) whose
/// DNSKEY rdata has key tag `tag`: two modulus bytes are chosen for it.
fn colliding_rsa_key(rng: &mut XorShift, tag: u16) -> Vec<u8> {
    let mut key = vec![3, 1, 0, 1];
    let mut modulus = rng.bytes(256);
    modulus[0] |= 0x80;
    modulus[255] |= 0x01;
    key.extend_from_slice(&modulus);
    // rdata offset 100 is even: the word there adds (hi << 8) + lo.
    // Folding the carry can skip one tag value: then new random bytes.
    let at = 100 - 4;
    loop {
        for w in 0..=u16::MAX {
            key[at..at + 2].copy_from_slice(&w.to_be_bytes());
            if key_tag(&dnskey_rdata(8, &key)) == tag {
                return key;
            }
        }
        let fresh = rng.bytes(2);
        key[at + 2..at + 4].copy_from_slice(&fresh);
    }
}

/// RRSIG time in the YYYYMMDDHHmmSS presentation form.
fn sig_time(t: u64) -> String {
    let fmt =
        time::format_description::parse_borrowed::<2>("[year][month][day][hour][minute][second]");
    time::OffsetDateTime::from_unix_timestamp(t as i64)
        .ok()
        .zip(fmt.ok())
        .and_then(|(d, f)| d.format(&f).ok())
        .unwrap_or_else(|| "20300101000000".into())
}

/// DS (digest type 2) of `owner`'s DNSKEY `rdata`.
fn ds_sha256(owner: &str, rdata: &[u8]) -> String {
    let name = Name::from_ascii(owner).expect("owner");
    let mut wire = Vec::new();
    for label in name.iter() {
        wire.push(label.len() as u8);
        wire.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    wire.push(0);
    wire.extend_from_slice(rdata);
    let digest = Sha256::digest(&wire);
    format!(
        "{owner} 3600 IN DS {} {} 2 {}",
        key_tag(rdata),
        rdata[3],
        data_encoding::HEXUPPER.encode(&digest)
    )
}

/// A fake RRSIG line (random signature bytes) over `covered` at `owner`.
fn fake_rrsig(
    rng: &mut XorShift,
    owner: &str,
    covered: &str,
    alg: u8,
    tag: u16,
    signer: &str,
    len: usize,
) -> String {
    let labels = owner.trim_end_matches('.').split('.').count();
    let t = now();
    format!(
        "{owner} 300 IN RRSIG {covered} {alg} {labels} 300 {} {} {tag} {signer} {}\n",
        sig_time(t + 90 * DAY),
        sig_time(t - 3600),
        BASE64.encode(&rng.bytes(len))
    )
}

/// A child zone signed by one new key; returns (signed text, DS line).
fn signed_child(
    dir: &Path,
    zone: &str,
    alg: &str,
    body: &str,
    opts: &[String],
) -> Result<(String, String), String> {
    let key = keygen(dir, zone, alg)?;
    let mut o = valid_now();
    o.extend_from_slice(opts);
    let text = sign(dir, zone, &zone_text(zone, CHILD_HOST, body), &[&key], &o)?;
    Ok((text, ds_of(dir, &key)?))
}

fn prepare() -> Result<Prepared, String> {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dnssec-fixture");
    // Fixture directories of test processes that are gone.
    if let Ok(rd) = std::fs::read_dir(&base) {
        for e in rd.flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if !Path::new("/proc").join(&pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = base.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let d = dir.as_path();
    let t = now();
    let mut zones = Vec::new();
    let mut delegations = String::new();
    let add = |zones: &mut Vec<(String, u8, PathBuf)>,
               zone: &str,
               host: u8,
               text: String|
     -> Result<(), String> {
        let p = dir.join(format!("{}.served", zone.trim_end_matches('.')));
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        zones.push((zone.to_string(), host, p));
        Ok(())
    };
    let mut delegate = |zone: &str, host: u8, ds: Option<&str>| {
        delegations.push_str(&format!(
            "{zone} NS ns.{zone}\nns.{zone} A {}\n",
            signed_ip(host)
        ));
        if let Some(ds) = ds {
            delegations.push_str(ds);
            delegations.push('\n');
        }
    };

    let nsec3 = |iterations: u32, optout: bool| {
        let mut o = vec!["-n".into(), "-t".into(), iterations.to_string()];
        if optout {
            o.push("-p".into());
        }
        o
    };
    for (zone, alg, opts) in [
        ("nsec.tst.", "ECDSAP256SHA256", vec![]),
        ("nsec3.tst.", "ECDSAP256SHA256", nsec3(0, false)),
        ("ed.tst.", "ED25519", vec![]),
        (
            "iter.tst.",
            "ECDSAP256SHA256",
            nsec3(ITER_ITERATIONS, false),
        ),
    ] {
        let (text, ds) = signed_child(d, zone, alg, LEAF_BODY, &opts)?;
        add(&mut zones, zone, CHILD_HOST, text)?;
        delegate(zone, CHILD_HOST, Some(&ds));
    }

    // Insecure: unsigned, and tst. has no DS for it.
    add(
        &mut zones,
        "insec.tst.",
        CHILD_HOST,
        zone_text("insec.tst.", CHILD_HOST, LEAF_BODY),
    )?;
    delegate("insec.tst.", CHILD_HOST, None);

    // Bogus: a valid chain, one flipped byte in www's signature.
    let (text, ds) = signed_child(d, "bogus.tst.", "ECDSAP256SHA256", LEAF_BODY, &[])?;
    add(
        &mut zones,
        "bogus.tst.",
        CHILD_HOST,
        tamper(&text, "www.bogus.tst.", "A")?,
    )?;
    delegate("bogus.tst.", CHILD_HOST, Some(&ds));

    // Expired and not yet valid: every RRSIG outside its window.
    for (zone, from, until) in [
        // Outside validators' clock-skew allowance (Unbound: up to a day).
        ("expired.tst.", t - 60 * DAY, t - 3 * DAY),
        ("future.tst.", t + 3 * DAY, t + 60 * DAY),
    ] {
        let key = keygen(d, zone, "ECDSAP256SHA256")?;
        let text = sign(
            d,
            zone,
            &zone_text(zone, CHILD_HOST, LEAF_BODY),
            &[&key],
            &window(from, until),
        )?;
        add(&mut zones, zone, CHILD_HOST, text)?;
        delegate(zone, CHILD_HOST, Some(&ds_of(d, &key)?));
    }

    // DS digest type 4 (SHA-384): secure. Digest type 200 (unassigned)
    // as the only DS: no digest the validator knows, so insecure (RFC 4035
    // 5.2, RFC 6840 5.2), not bogus.
    for (zone, digest) in [("ds4.tst.", Some("-4")), ("digest.tst.", None)] {
        let key = keygen(d, zone, "ECDSAP256SHA256")?;
        let text = sign(
            d,
            zone,
            &zone_text(zone, CHILD_HOST, LEAF_BODY),
            &[&key],
            &valid_now(),
        )?;
        add(&mut zones, zone, CHILD_HOST, text)?;
        let ds = match digest {
            Some(opt) => ds_digest(d, &key, opt)?,
            None => with_digest_type(&ds_of(d, &key)?, 200),
        };
        delegate(zone, CHILD_HOST, Some(&ds));
    }

    // Missing DNSKEY: the DS names a key that is never published.
    let unpublished = keygen(d, "nokey.tst.", "ECDSAP256SHA256")?;
    let signing = keygen(d, "nokey.tst.", "ECDSAP256SHA256")?;
    let text = sign(
        d,
        "nokey.tst.",
        &zone_text("nokey.tst.", CHILD_HOST, LEAF_BODY),
        &[&signing],
        &valid_now(),
    )?;
    add(&mut zones, "nokey.tst.", CHILD_HOST, text)?;
    delegate("nokey.tst.", CHILD_HOST, Some(&ds_of(d, &unpublished)?));

    // NSEC3 opt-out with an unsigned delegation (served on .4).
    let body = format!(
        "{LEAF_BODY}ins NS ns.ins\nns.ins A {}\n",
        signed_ip(GRANDCHILD_HOST)
    );
    let (text, ds) = signed_child(d, "optout.tst.", "ECDSAP256SHA256", &body, &nsec3(0, true))?;
    add(&mut zones, "optout.tst.", CHILD_HOST, text)?;
    delegate("optout.tst.", CHILD_HOST, Some(&ds));
    add(
        &mut zones,
        "ins.optout.tst.",
        GRANDCHILD_HOST,
        zone_text("ins.optout.tst.", GRANDCHILD_HOST, LEAF_BODY),
    )?;

    // Unsupported algorithm: key, DS and signatures with algorithm 253
    // (PRIVATEDNS; the key starts with the algorithm's domain name).
    let mut rng = XorShift(0x5eed_d45e_c000_0001);
    let mut private = b"\x07private\x07example\x00".to_vec();
    private.extend(rng.bytes(64));
    let rdata = dnskey_rdata(253, &private);
    let tag = key_tag(&rdata);
    let mut text = zone_text("unsupp.tst.", CHILD_HOST, LEAF_BODY);
    text.push_str(&format!("@ DNSKEY 257 3 253 {}\n", BASE64.encode(&private)));
    for (owner, covered) in [
        ("unsupp.tst.", "DNSKEY"),
        ("unsupp.tst.", "SOA"),
        ("www.unsupp.tst.", "A"),
    ] {
        text.push_str(&fake_rrsig(
            &mut rng,
            owner,
            covered,
            253,
            tag,
            "unsupp.tst.",
            64,
        ));
    }
    add(&mut zones, "unsupp.tst.", CHILD_HOST, text)?;
    delegate(
        "unsupp.tst.",
        CHILD_HOST,
        Some(&ds_sha256("unsupp.tst.", &rdata)),
    );

    // KeyTrap (CVE-2023-50387): the real key signs the zone; KEYTRAP_KEYS-1
    // fabricated keys share its tag; the DNSKEY RRset's real RRSIG is
    // replaced by KEYTRAP_SIGS fabricated ones with that tag, so a
    // validator without limits tries every key against every signature.
    let real = keygen(d, "keytrap.tst.", "RSASHA256")?;
    let real_line =
        std::fs::read_to_string(d.join(format!("{}.key", real.0))).map_err(|e| format!("{e}"))?;
    let real_tag: u16 = real
        .0
        .rsplit('+')
        .next()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("key tag of {}", real.0))?;
    let mut body = String::from(LEAF_BODY);
    body.push_str(real_line.split(';').next().unwrap_or_default());
    body.push('\n');
    for _ in 1..KEYTRAP_KEYS {
        let key = colliding_rsa_key(&mut rng, real_tag);
        body.push_str(&format!(
            "keytrap.tst. 300 IN DNSKEY 257 3 8 {}\n",
            BASE64.encode(&key)
        ));
    }
    let signed = sign(
        d,
        "keytrap.tst.",
        &zone_text("keytrap.tst.", CHILD_HOST, &body),
        &[&real],
        &valid_now(),
    )?;
    let mut text: String = signed
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            !(f.len() > 4 && f[0] == "keytrap.tst." && f[3] == "RRSIG" && f[4] == "DNSKEY")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    for _ in 0..KEYTRAP_SIGS {
        text.push_str(&fake_rrsig(
            &mut rng,
            "keytrap.tst.",
            "DNSKEY",
            8,
            real_tag,
            "keytrap.tst.",
            256,
        ));
    }
    add(&mut zones, "keytrap.tst.", CHILD_HOST, text)?;
    delegate("keytrap.tst.", CHILD_HOST, Some(&ds_of(d, &real)?));

    // tst. (RSA) delegating all of the above, then the root.
    let tld_key = keygen(d, "tst.", "RSASHA256")?;
    let tld_body = format!("www A 192.0.2.20\n{delegations}");
    let text = sign(
        d,
        "tst.",
        &zone_text("tst.", TLD_HOST, &tld_body),
        &[&tld_key],
        &valid_now(),
    )?;
    add(&mut zones, "tst.", TLD_HOST, text)?;

    let root_key = keygen(d, ".", "RSASHA256")?;
    let root_body = format!(
        "tst. NS ns.tst.\nns.tst. A {}\n{}\n",
        signed_ip(TLD_HOST),
        ds_of(d, &tld_key)?
    );
    let text = sign(
        d,
        ".",
        &zone_text(".", ROOT_HOST, &root_body),
        &[&root_key],
        &valid_now(),
    )?;
    add(&mut zones, ".", ROOT_HOST, text)?;
    let root_ds = ds_of(d, &root_key)?;
    Ok(Prepared {
        root_ds,
        zones,
        root_body,
    })
}
