//! AXFR (RFC 5936) and IXFR (RFC 1995) over TCP, TSIG-signed when a key
//! is given.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tsig::{StreamVerifier, TsigError, TsigKey};
use super::zone::Soa;

/// Upper bound on the records of one transfer, so a hostile or broken
/// primary cannot exhaust memory (a large national list is a few million).
const MAX_RECORDS: usize = 50_000_000;

/// Why a transfer failed; [`XfrError::reason`] is the metric label.
#[derive(Debug, thiserror::Error)]
pub enum XfrError {
    /// No TCP connection.
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// The time budget ran out.
    #[error("timed out")]
    Timeout,
    /// The stream ended before the closing SOA.
    #[error("stream ended before the closing SOA (truncated transfer)")]
    Truncated,
    /// I/O error mid-stream.
    #[error("read: {0}")]
    Io(std::io::Error),
    /// The primary answered with an error code.
    #[error("primary answered {0}")]
    Rcode(ResponseCode),
    /// A TSIG problem.
    #[error("TSIG: {0}")]
    Tsig(#[from] TsigError),
    /// A message that is not a transfer answer.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// More records than [`MAX_RECORDS`].
    #[error("more than {MAX_RECORDS} records")]
    TooLarge,
}

impl XfrError {
    /// Low-cardinality label for `dnsward_list_transfer_total{result}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::Timeout => "timeout",
            Self::Truncated | Self::Io(_) => "truncated",
            Self::Rcode(ResponseCode::Refused) => "refused",
            Self::Rcode(ResponseCode::NotImp) => "notimp",
            Self::Rcode(ResponseCode::NotAuth) => "notauth",
            Self::Rcode(_) => "rcode",
            Self::Tsig(_) => "tsig",
            Self::Malformed(_) => "malformed",
            Self::TooLarge => "too_large",
        }
    }
}

/// What a primary answered.
#[derive(Debug)]
pub enum Answer {
    /// The zone is at this serial already (an IXFR answered by one SOA).
    UpToDate(u32),
    /// An IXFR answered by one newer SOA and nothing else: the primary has
    /// this serial and will only send it by AXFR.
    Newer(u32),
    /// The whole zone, first and last record the SOA.
    Full(Vec<Record>),
    /// An incremental IXFR answer.
    Incremental(Vec<Record>),
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Ask `primary` for `zone`: IXFR from `have` when given, else AXFR.
pub async fn transfer(
    primary: SocketAddr,
    zone: &Name,
    have: Option<&Soa>,
    key: Option<&TsigKey>,
    timeout: Duration,
) -> Result<Answer, XfrError> {
    let deadline = Instant::now() + timeout;
    tokio::time::timeout(timeout, run(primary, zone, have, key, deadline))
        .await
        .map_err(|_| XfrError::Timeout)?
}

async fn run(
    primary: SocketAddr,
    zone: &Name,
    have: Option<&Soa>,
    key: Option<&TsigKey>,
    _deadline: Instant,
) -> Result<Answer, XfrError> {
    // An IXFR names the serving version by its SOA in the authority
    // section; without one (a seed whose SOA cannot be rebuilt) it is not
    // an IXFR at all (NSD answers FORMERR), so ask for the whole zone.
    let have_soa = have.and_then(|h| h.record().map(|r| (h, r)));
    let qtype = if have_soa.is_some() {
        RecordType::IXFR
    } else {
        RecordType::AXFR
    };
    let have = have_soa.as_ref().map(|(h, _)| *h);
    let id: u16 = rand::random();
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.add_query(Query::query(zone.clone(), qtype));
    if let Some((_, soa)) = have_soa {
        q.add_authority(soa);
    }
    let mut bytes = q
        .to_vec()
        .map_err(|e| XfrError::Malformed(format!("encode: {e}")))?;
    let request_mac = key.map(|k| k.sign(&mut bytes, None, unix_secs()));
    let mut verifier = key.zip(request_mac).map(|(k, m)| StreamVerifier::new(k, m));

    let mut tcp = TcpStream::connect(primary)
        .await
        .map_err(XfrError::Connect)?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend(&bytes);
    tcp.write_all(&framed).await.map_err(XfrError::Io)?;

    let mut records: Vec<Record> = Vec::new();
    let mut first_serial = None;
    let mut closing_needed = 2;
    let mut seen_first_serial = 0;
    loop {
        let buf = if records.len() == 1 && qtype == RecordType::IXFR {
            // One newer SOA so far: either the start of a diff or of an
            // AXFR-style answer, or (RFC 1995 section 4) all the primary
            // will say, meaning "newer, ask by AXFR". A primary that has
            // said all it will sends nothing more.
            match tokio::time::timeout(SINGLE_SOA_GRACE, read_message(&mut tcp)).await {
                Ok(Ok(b)) => b,
                Ok(Err(XfrError::Truncated)) | Err(_) => {
                    finish(&verifier)?;
                    return Ok(Answer::Newer(first_serial.unwrap_or_default()));
                }
                Ok(Err(e)) => return Err(e),
            }
        } else {
            read_message(&mut tcp).await?
        };
        let msg = match Message::from_vec(&buf) {
            Ok(m) => m,
            Err(e) => return Err(unparsed(&buf, id, key.is_some(), &e.to_string())),
        };
        if msg.metadata.id != id || msg.metadata.message_type != MessageType::Response {
            return Err(XfrError::Malformed("not an answer to our request".into()));
        }
        if msg.metadata.response_code != ResponseCode::NoError {
            // An error answer may be unsigned (BADKEY...). NOTAUTH to a
            // signed request is the primary rejecting our TSIG.
            if key.is_some() && msg.metadata.response_code == ResponseCode::NotAuth {
                return Err(XfrError::Tsig(TsigError::PeerError(9)));
            }
            return Err(XfrError::Rcode(msg.metadata.response_code));
        }
        if let Some(v) = verifier.as_mut() {
            v.message(&buf, unix_secs())?;
        }
        for r in msg.answers {
            if records.is_empty() {
                let RData::SOA(s) = &r.data else {
                    return Err(XfrError::Malformed("first record is not the SOA".into()));
                };
                if !r
                    .name
                    .to_ascii()
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(zone.to_ascii().trim_end_matches('.'))
                {
                    return Err(XfrError::Malformed(format!("SOA of {} not {zone}", r.name)));
                }
                first_serial = Some(s.serial);
            } else if records.len() == 1 {
                // IXFR: a second SOA with another serial (the client's)
                // means an incremental answer, whose new serial appears
                // three times (start, last step, end). The same serial
                // twice is a whole zone holding nothing but its SOA.
                if let (RData::SOA(s), Some(f)) = (&r.data, first_serial) {
                    if s.serial != f {
                        closing_needed = 3;
                    }
                }
            }
            if let (RData::SOA(s), Some(f)) = (&r.data, first_serial) {
                if s.serial == f {
                    seen_first_serial += 1;
                }
            }
            records.push(r);
            if records.len() > MAX_RECORDS {
                return Err(XfrError::TooLarge);
            }
        }
        let Some(serial) = first_serial else {
            continue;
        };
        // An IXFR answered by one SOA: up to date (or the primary is
        // behind us; the caller compares serials).
        if qtype == RecordType::IXFR && records.len() == 1 {
            if let Some(h) = have {
                if !super::zone::serial_gt(serial, h.serial()) {
                    finish(&verifier)?;
                    return Ok(Answer::UpToDate(serial));
                }
            }
        }
        let closed = seen_first_serial >= closing_needed
            && records
                .last()
                .is_some_and(|r| matches!(&r.data, RData::SOA(s) if s.serial == serial));
        if closed {
            finish(&verifier)?;
            return Ok(if closing_needed == 3 {
                Answer::Incremental(records)
            } else {
                Answer::Full(records)
            });
        }
    }
}

/// How long a lone newer SOA may stand before it is taken as the whole
/// answer ("newer; ask by AXFR").
const SINGLE_SOA_GRACE: Duration = Duration::from_secs(2);

/// One length-prefixed DNS message from the stream.
async fn read_message(tcp: &mut TcpStream) -> Result<Vec<u8>, XfrError> {
    let eof = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            XfrError::Truncated
        } else {
            XfrError::Io(e)
        }
    };
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len).await.map_err(eof)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    tcp.read_exact(&mut buf).await.map_err(eof)?;
    Ok(buf)
}

/// A message hickory cannot parse. Error answers are often only a header
/// whose counts still claim the question (NSD's FORMERR): its rcode is
/// then the answer; anything else is malformed.
fn unparsed(buf: &[u8], id: u16, signed: bool, why: &str) -> XfrError {
    if buf.len() >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id && buf[2] & 0x80 != 0 {
        let rcode = ResponseCode::from_low(buf[3] & 0x0f);
        if rcode == ResponseCode::NotAuth && signed {
            return XfrError::Tsig(TsigError::PeerError(9));
        }
        if rcode != ResponseCode::NoError {
            return XfrError::Rcode(rcode);
        }
    }
    XfrError::Malformed(format!("{why} ({} bytes)", buf.len()))
}

fn finish(v: &Option<StreamVerifier<'_>>) -> Result<(), XfrError> {
    if let Some(v) = v {
        v.finish()?;
    }
    Ok(())
}
