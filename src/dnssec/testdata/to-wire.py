#!/usr/bin/env python3
"""Writes each record of a zone file as uncompressed wire format
(owner, type, class, TTL, RDLENGTH, RDATA), one after the other, names in
their original case: `to-wire.py zone.signed > zone.wire`."""
import struct
import sys

import dns.zone

zone = dns.zone.from_text(open(sys.argv[1]).read(), origin="example.", relativize=False)
out = sys.stdout.buffer
for name, ttl, rdata in zone.iterate_rdatas():
    rd = rdata.to_wire(origin=None)
    out.write(name.to_wire())
    out.write(struct.pack("!HHIH", rdata.rdtype, rdata.rdclass, ttl, len(rd)))
    out.write(rd)
