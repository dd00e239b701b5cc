//! Stage 5, the shape of a reply: the skeleton every answer starts from
//! (header flags, question and EDNS mirrored), the encode with truncation
//! to the client's size, and a cached answer rendered from its template.

use super::*;

impl Handler {
    /// Count one response by its rcode.
    pub(super) fn count_rcode(&self, rcode: ResponseCode) {
        self.metrics.count_response(u16::from(rcode));
    }

    /// A response skeleton: header flags, question and OPT mirrored.
    pub(super) fn skeleton(&self, request: &Message) -> Message {
        let mut resp = Message::response(request.metadata.id, OpCode::Query);
        resp.metadata.recursion_desired = request.metadata.recursion_desired;
        resp.metadata.recursion_available = true;
        resp.metadata.checking_disabled = request.metadata.checking_disabled;
        resp.queries = request.queries.clone();
        if let Some(req_edns) = &request.edns {
            let mut e = Edns::new();
            e.set_max_payload(self.max_udp_payload);
            e.set_dnssec_ok(req_edns.flags().dnssec_ok);
            resp.edns = Some(e);
        }
        resp
    }

    /// Stage 5 for an answer that is exactly a cache entry's: rendered from
    /// the entry's wire template, as a cache hit is on the fast path,
    /// instead of encoding the same records a second time (on a cold
    /// query the answer was just encoded into the template; the second
    /// encode was a tenth of the instructions of the query, callgrind).
    /// None when `resp` is not plainly the entry (an EDE or other option
    /// was added, flags differ), the packet is not a plain query, or the
    /// answer does not fit the client: then [`Handler::encode`].
    pub(super) fn render_cached(
        &self,
        packet: Packet<'_>,
        resp: &Message,
        entry: &CachedAnswer,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        let template = entry.wire.as_ref()?;
        let plain = resp.metadata.response_code == entry.response_code
            && u16::from(resp.metadata.response_code) == u16::from(template.rcode())
            && !resp.metadata.truncation
            && !resp.metadata.authoritative
            && resp.additionals.is_empty()
            && resp
                .edns
                .as_ref()
                .is_none_or(|e| e.options().options.is_empty() && e.version() == 0);
        if !plain {
            return None;
        }
        let q = packet.quick?;
        if q.edns.is_some() != resp.edns.is_some() {
            return None;
        }
        let limit = match transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp => usize::from(
                q.edns
                    .map_or(512, |(p, _)| p.clamp(512, self.max_udp_payload)),
            ),
        };
        let out = template.render(
            &q,
            entry.age(Instant::now()),
            self.max_udp_payload,
            limit,
            resp.metadata.authentic_data,
        )?;
        self.count_rcode(resp.metadata.response_code);
        Some(out)
    }

    /// Stage 5: encode, truncating over UDP when the answer does not fit.
    pub(super) fn encode(&self, resp: Message, request: &Message, transport: Transport) -> Vec<u8> {
        self.count_rcode(resp.metadata.response_code);
        let limit = match transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp => usize::from(
                request
                    .edns
                    .as_ref()
                    .map(|e| e.max_payload().clamp(512, self.max_udp_payload))
                    .unwrap_or(512),
            ),
        };
        match resp.to_vec() {
            Ok(bytes) if bytes.len() <= limit => bytes,
            Ok(_) => {
                // Empty sections and TC=1: the client retries over TCP
                // (RFC 7766); a partial RRset would be worse than none.
                let mut t = resp.truncate();
                if let Some(e) = t.edns.as_mut() {
                    e.options_mut().options.clear();
                }
                t.to_vec()
                    .unwrap_or_else(|_| header_only(&resp, ResponseCode::ServFail))
            }
            Err(_) => header_only(&resp, ResponseCode::ServFail),
        }
    }
}

/// A header-only reply with `rcode`, for an answer that cannot be encoded.
fn header_only(resp: &Message, rcode: ResponseCode) -> Vec<u8> {
    let mut m = Message::response(resp.metadata.id, OpCode::Query);
    m.metadata.response_code = rcode;
    m.metadata.recursion_available = true;
    m.metadata.recursion_desired = resp.metadata.recursion_desired;
    m.to_vec().unwrap_or_default()
}
