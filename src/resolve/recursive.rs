//! Iterative resolution from the root with hickory's recursor.
//!
//! Two adaptations around it: a [`PortMapProvider`] so authoritative
//! servers can listen on a non-53 port (labs, tests), and a translation of
//! the recursor's negative "errors" (NXDOMAIN, NODATA) back into answers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::NetError;
use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_resolver::config::ConnectionConfig;
use hickory_resolver::recursor::{QNameMinimization, Recursor, RecursorError, RecursorOptions};
use hickory_resolver::{ConnectionProvider, PoolContext};
use ipnet::IpNet;

use super::ResolveError;

/// Sends each authoritative query to a configured port instead of 53.
#[derive(Clone)]
pub struct PortMapProvider {
    inner: TokioRuntimeProvider,
    ports: Arc<HashMap<IpAddr, u16>>,
    default_port: u16,
}

impl PortMapProvider {
    /// `ports` overrides single servers; everyone else gets `default_port`.
    pub fn new(ports: HashMap<IpAddr, u16>, default_port: u16) -> Self {
        Self {
            inner: TokioRuntimeProvider::new(),
            ports: Arc::new(ports),
            default_port,
        }
    }
}

impl ConnectionProvider for PortMapProvider {
    type Conn = <TokioRuntimeProvider as ConnectionProvider>::Conn;
    type FutureConn = <TokioRuntimeProvider as ConnectionProvider>::FutureConn;
    type RuntimeProvider = TokioRuntimeProvider;

    fn new_connection(
        &self,
        ip: IpAddr,
        config: &ConnectionConfig,
        cx: &PoolContext,
    ) -> Result<Self::FutureConn, NetError> {
        let mut config = config.clone();
        config.port = self.ports.get(&ip).copied().unwrap_or(self.default_port);
        self.inner.new_connection(ip, &config, cx)
    }

    fn runtime_provider(&self) -> &Self::RuntimeProvider {
        &self.inner
    }
}

/// Settings the recursor needs from the configuration.
pub struct RecursiveSettings {
    /// Root server addresses.
    pub roots: Vec<IpAddr>,
    /// Per-root port overrides.
    pub ports: HashMap<IpAddr, u16>,
    /// Port for every other authoritative server.
    pub default_port: u16,
    /// Networks exempt from the recursor's private-address deny list.
    pub allow: Vec<IpNet>,
}

/// Why the recursor could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the recursor: {0}")]
pub struct RecursorInitError(String);

/// The recursive resolver.
pub struct Recursive {
    recursor: Recursor<PortMapProvider>,
}

impl Recursive {
    /// Build from settings.
    pub fn new(s: RecursiveSettings) -> Result<Self, RecursorInitError> {
        let options = RecursorOptions {
            allow_server: s.allow,
            // Strict minimisation gives false NXDOMAIN on broken empty
            // non-terminals (hickory-dns #3833); Relaxed is what ISPs need.
            qname_minimization: QNameMinimization::Relaxed,
            response_cache_size: 100_000,
            ..RecursorOptions::default()
        };
        let recursor = Recursor::with_options(
            &s.roots,
            options,
            PortMapProvider::new(s.ports, s.default_port),
        )
        .map_err(|e| RecursorInitError(e.to_string()))?;
        Ok(Self { recursor })
    }

    /// Resolve one question.
    pub async fn resolve(&self, query: &Query, dnssec_ok: bool) -> Result<Message, ResolveError> {
        let mut q = query.clone();
        let mut name = q.name().clone();
        name.set_fqdn(true);
        q.set_name(name);
        match self.recursor.resolve(q, Instant::now(), dnssec_ok).await {
            Ok(msg) => Ok(msg),
            Err(e) => negative_or_error(e),
        }
    }
}

/// NXDOMAIN and NODATA arrive as errors carrying the zone's SOA; turn them
/// into the answers they are. Anything else is a failure.
fn negative_or_error(e: RecursorError) -> Result<Message, ResolveError> {
    let nx = e.is_nx_domain();
    if nx || e.is_no_records_found() {
        let mut m = Message::response(0, OpCode::Query);
        m.metadata.response_code = if nx {
            ResponseCode::NXDomain
        } else {
            ResponseCode::NoError
        };
        if let Some(soa) = e.into_soa() {
            m.authorities.push(soa.into_record_of_rdata());
        }
        return Ok(m);
    }
    Err(match e {
        RecursorError::Timeout => ResolveError::Timeout(std::time::Duration::ZERO),
        RecursorError::Io(io) => ResolveError::Network(io.to_string()),
        RecursorError::Net(n) => classify_net(n),
        other => ResolveError::NoAuthority(other.to_string()),
    })
}

fn classify_net(n: NetError) -> ResolveError {
    let text = n.to_string();
    if text.contains("timed out") || text.contains("timeout") {
        ResolveError::Timeout(std::time::Duration::ZERO)
    } else if text.contains("io error") || text.contains("connection") {
        ResolveError::Network(text)
    } else {
        ResolveError::NoAuthority(text)
    }
}
