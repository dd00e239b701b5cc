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
    let qtype = if have.is_some() {
        RecordType::IXFR
    } else {
        RecordType::AXFR
    };
    let id: u16 = rand::random();
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.add_query(Query::query(zone.clone(), qtype));
    if let Some(soa) = have.and_then(Soa::record) {
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
        let mut len = [0u8; 2];
        if let Err(e) = tcp.read_exact(&mut len).await {
            return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                XfrError::Truncated
            } else {
                XfrError::Io(e)
            });
        }
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        tcp.read_exact(&mut buf).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                XfrError::Truncated
            } else {
                XfrError::Io(e)
            }
        })?;
        let msg = Message::from_vec(&buf).map_err(|e| XfrError::Malformed(e.to_string()))?;
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
            } else if records.len() == 1 && r.record_type() == RecordType::SOA {
                // IXFR: a second SOA means an incremental answer, whose
                // new serial appears three times (start, last step, end).
                closing_needed = 3;
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

fn finish(v: &Option<StreamVerifier<'_>>) -> Result<(), XfrError> {
    if let Some(v) = v {
        v.finish()?;
    }
    Ok(())
}
