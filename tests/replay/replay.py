#!/usr/bin/env python3
"""Replay one Deckard-format resolver scenario (.rpl) against a real resolver.

Written from the scenario format description (Deckard's
doc/scenario_guide.rst); no Deckard code is used.

Runs inside a private network namespace (``unshare -n``; the caller sets it
up, see run.sh): lo is brought up and every IPv4/IPv6 address is routed to
it (``ip route add local 0.0.0.0/0 dev lo``), so one wildcard socket per
family and protocol on port 53 receives whatever server the resolver asks,
learns the destination address (IP_PKTINFO), and answers from the
scenario's RANGE entries for that address and the current step. The
resolver under test listens on 127.0.53.53:5300 (port 53 belongs to the
simulated servers), with a config rendered from the scenario's CONFIG
block, and sees time pass through libfaketime (TIME_PASSES).

Lenient mode: only CHECK_ANSWER steps decide. An upstream query no entry
answers gets SERVFAIL (or nothing, with --unmatched drop) and is listed in
the log and in the failure reason; it does not fail the scenario by itself.

The last line on stdout is ``RESULT <json>`` with ``status`` (pass, fail,
skip, error) and a one-line ``reason``; the exit code is 0 for pass, 1 for
fail, 2 for skip, 3 for error.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tokenizer

SELF_ADDR = "127.0.53.53"
SELF_PORT = 5300
# Linux constants the socket module does not export everywhere.
IP_PKTINFO = 8
IP_FREEBIND = 15
IPV6_TRANSPARENT = 75
FAKETIME_LIBS = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
]
HEADER_FLAGS = {
    "QR": dns.flags.QR,
    "AA": dns.flags.AA,
    "TC": dns.flags.TC,
    "RD": dns.flags.RD,
    "RA": dns.flags.RA,
    "AD": dns.flags.AD,
    "CD": dns.flags.CD,
}
FLAG_MASK = 0
for _bit in HEADER_FLAGS.values():
    FLAG_MASK |= _bit
DEFAULT_TTL = 3600
# MATCH "all" as the format defines it.
MATCH_ALL = ["opcode", "qtype", "qname", "flags", "rcode", "answer", "authority", "additional"]


class ScenarioError(Exception):
    """The scenario file cannot be understood; names the file and line."""


# ---------------------------------------------------------------- parsing


def strip_comment(line: str, chars: str = ";") -> str:
    """Cut a comment that starts outside double quotes."""
    quoted = False
    escaped = False
    for i, c in enumerate(line):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c in chars and not quoted:
            return line[:i]
    return line


def paren_depth(line: str) -> int:
    """Net count of '(' minus ')' outside quotes."""
    depth = 0
    quoted = False
    escaped = False
    for c in line:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
    return depth


@dataclass
class Record:
    """One resource record of an entry section."""

    name: dns.name.Name
    ttl: int
    rdclass: int
    rdtype: int
    rdata: dns.rdata.Rdata | None  # None in the QUESTION section

    def key(self):
        """Comparison key: owner case-insensitive, TTL ignored, rdata canonical."""
        data = self.rdata.to_digestable(dns.name.root) if self.rdata is not None else b""
        return (self.name.to_text().lower(), self.rdclass, self.rdtype, data)

    def text(self) -> str:
        if self.rdata is None:
            return f"{self.name} {dns.rdataclass.to_text(self.rdclass)} {dns.rdatatype.to_text(self.rdtype)}"
        return (
            f"{self.name} {dns.rdatatype.to_text(self.rdtype)} "
            f"{self.rdata.to_text(origin=None, relativize=False)}"
        )


@dataclass
class Entry:
    """An ENTRY block: a query to send, an answer to expect, or an answer template."""

    line: int
    match: list[str] = field(default_factory=list)
    adjust: list[str] = field(default_factory=list)
    reply: list[str] = field(default_factory=list)
    sections: dict[str, list[Record]] = field(
        default_factory=lambda: {"QUESTION": [], "ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}
    )
    raw: bytes | None = None

    @property
    def flags(self) -> int:
        bits = 0
        for t in self.reply:
            bits |= HEADER_FLAGS.get(t, 0)
        return bits

    @property
    def dnssec_ok(self) -> bool:
        return "DO" in self.reply

    @property
    def rcode(self) -> int:
        for t in self.reply:
            if t not in HEADER_FLAGS and t != "DO":
                try:
                    return dns.rcode.from_text(t)
                except dns.rcode.UnknownRcode:
                    continue
        return dns.rcode.NOERROR

    @property
    def opcode(self) -> int:
        for t in self.reply:
            if t in ("QUERY", "IQUERY", "STATUS", "NOTIFY", "UPDATE"):
                return dns.opcode.from_text(t)
        return dns.opcode.QUERY

    @property
    def question(self) -> Record | None:
        q = self.sections["QUESTION"]
        return q[0] if q else None


@dataclass
class Range:
    """RANGE_BEGIN a b: what the servers at `addresses` answer during steps a..b."""

    line: int
    start: int
    end: int
    addresses: set[str] = field(default_factory=set)
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Step:
    """STEP id TYPE: one action of the test sequence."""

    line: int
    id: int
    kind: str
    elapse: int = 0
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Scenario:
    path: Path
    config: dict[str, list[str]]
    title: str = ""
    ranges: list[Range] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def conf(self, key: str, default: str | None = None) -> str | None:
        v = self.config.get(key)
        return v[-1] if v else default

    def conf_on(self, key: str, default: bool) -> bool:
        v = self.conf(key)
        if v is None:
            return default
        return v.strip().lower() in ("on", "yes", "true", "1")


def parse_rr(text: str, section: str, where: str) -> Record:
    """Parse `owner [ttl] [class] type rdata` (or `owner [class] type` in QUESTION)."""
    tok = dns.tokenizer.Tokenizer(text)
    try:
        owner = dns.name.from_text(tok.get_string(), dns.name.root)
        ttl = DEFAULT_TTL
        rdclass = dns.rdataclass.IN
        t = tok.get_string()
        if t.isdigit():
            ttl = int(t)
            t = tok.get_string()
        try:
            rdclass = dns.rdataclass.from_text(t)
            t = tok.get_string()
        except dns.rdataclass.UnknownRdataclass:
            pass
        rdtype = dns.rdatatype.from_text(t)
        if section == "QUESTION":
            return Record(owner, 0, rdclass, rdtype, None)
        rdata = dns.rdata.from_text(rdclass, rdtype, tok, dns.name.root, relativize=False)
        return Record(owner, ttl, rdclass, rdtype, rdata)
    except (dns.exception.DNSException, ValueError) as e:
        raise ScenarioError(f"{where}: cannot parse record `{text.strip()}`: {e}") from e


def parse(path: Path) -> Scenario:
    """Read a scenario file into ranges and steps."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    config: dict[str, list[str]] = {}
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        if raw.strip().startswith("CONFIG_END"):
            break
        text = strip_comment(raw, ";#").strip()
        if ":" not in text:
            continue
        key, value = text.split(":", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        config.setdefault(key.strip(), []).append(value)
    else:
        raise ScenarioError(f"{path}: no CONFIG_END")

    sc = Scenario(path=path, config=config)
    cur_range: Range | None = None
    cur_step: Step | None = None
    entry: Entry | None = None
    section = "QUESTION"
    pending = ""
    pending_line = 0
    want_raw = False
    for n in range(i, len(lines)):
        lineno = n + 1
        where = f"{path.name}:{lineno}"
        text = strip_comment(lines[n]).rstrip()
        if pending:
            pending += " " + text
            if paren_depth(pending) > 0:
                continue
            text, pending = pending, ""
            where = f"{path.name}:{pending_line}"
        if not text.strip():
            continue
        words = text.split()
        kw = words[0]
        if entry is not None and want_raw:
            entry.raw = bytes.fromhex("".join(words))
            want_raw = False
            continue
        if kw == "SCENARIO_BEGIN":
            sc.title = " ".join(words[1:])
        elif kw == "SCENARIO_END":
            break
        elif kw == "RANGE_BEGIN":
            cur_step = None
            cur_range = Range(line=lineno, start=int(words[1]), end=int(words[2]))
            cur_range.addresses.update(words[3:])
            sc.ranges.append(cur_range)
        elif kw == "RANGE_END":
            cur_range = None
        elif kw == "ADDRESS" and entry is None and cur_range is not None:
            cur_range.addresses.update(words[1:])
        elif kw == "STEP":
            cur_range = None
            kind = words[2] if len(words) > 2 else ""
            step = Step(line=lineno, id=int(words[1]), kind=kind)
            if kind == "TIME_PASSES":
                if len(words) < 5 or words[3] != "ELAPSE":
                    raise ScenarioError(f"{where}: TIME_PASSES without ELAPSE seconds")
                step.elapse = int(words[4])
            sc.steps.append(step)
            cur_step = step
        elif kw == "ENTRY_BEGIN":
            entry = Entry(line=lineno)
            section = "QUESTION"
        elif kw == "ENTRY_END":
            if entry is None:
                raise ScenarioError(f"{where}: ENTRY_END without ENTRY_BEGIN")
            if cur_range is not None:
                cur_range.entries.append(entry)
            elif cur_step is not None:
                cur_step.entries.append(entry)
            entry = None
        elif entry is not None:
            if kw == "MATCH":
                entry.match.extend(words[1:])
            elif kw == "ADJUST":
                entry.adjust.extend(words[1:])
            elif kw in ("REPLY", "FLAGS"):  # FLAGS: the older spelling in query entries
                entry.reply.extend(w.upper() for w in words[1:])
            elif kw == "SECTION":
                section = words[1].upper() if len(words) > 1 else ""
                if section not in entry.sections:
                    raise ScenarioError(f"{where}: unknown section `{section}`")
            elif kw == "RAW":
                want_raw = True
            elif kw in ("MANDATORY", "TSIG", "EDNS"):
                pass
            else:
                if paren_depth(text) > 0:
                    pending = text
                    pending_line = lineno
                    continue
                entry.sections[section].append(parse_rr(text, section, where))
    return sc


# ------------------------------------------------------------ classification


def needs_validation(sc: Scenario) -> str | None:
    """Why a scenario needs a validating resolver, or None.

    A trust anchor in CONFIG means the expected answers assume DNSSEC
    validation (AD bits, SERVFAIL for bogus data); so does a check that
    wants AD set. A `val-override-date` alone does not: without a trust
    anchor a validator finds everything insecure and answers as an
    iterator does.
    """
    if sc.config.get("trust-anchor"):
        return "needs validation (trust-anchor)"
    for step in sc.steps:
        if step.kind != "CHECK_ANSWER" or not step.entries:
            continue
        e = step.entries[0]
        if e.flags & dns.flags.AD and any(m.lower() in ("flags", "all") for m in e.match):
            return f"needs validation (step {step.id} expects AD)"
    return None


# ---------------------------------------------------------------- matching


def msg_records(section: list[dns.rrset.RRset]) -> list[Record]:
    out = []
    for rrset in section:
        for rd in rrset:
            out.append(Record(rrset.name, rrset.ttl, rrset.rdclass, rrset.rdtype, rd))
    return out


def compare_section(name: str, want: list[Record], got: list[Record]) -> str | None:
    """Multiset comparison; a one-line difference or None."""
    remaining = [r.key() for r in got]
    missing = []
    for r in want:
        k = r.key()
        if k in remaining:
            remaining.remove(k)
        else:
            missing.append(r.text())
    if not missing and not remaining:
        return None
    extra = [r.text() for r in got if r.key() in remaining]
    parts = []
    if missing:
        parts.append("missing " + "; ".join(missing[:3]) + (" ..." if len(missing) > 3 else ""))
    if extra:
        parts.append("extra " + "; ".join(extra[:3]) + (" ..." if len(extra) > 3 else ""))
    return f"{name}: " + ", ".join(parts)


def flags_text(bits: int) -> str:
    return " ".join(k for k, v in HEADER_FLAGS.items() if bits & v) or "-"


def mismatches(entry: Entry, msg: dns.message.Message, stop_first: bool = False) -> list[str]:
    """Differences between `msg` and `entry` for every element of entry.match."""
    elements: list[str] = []
    for m in entry.match or []:
        m = m.lower()
        if m == "all":
            elements.extend(MATCH_ALL)
        elif m == "question":
            elements.extend(["qtype", "qname"])
        else:
            elements.append(m)
    out: list[str] = []
    want_q = entry.question
    got_q = msg.question[0] if msg.question else None
    for m in elements:
        problem = None
        if m == "opcode":
            if msg.opcode() != entry.opcode:
                problem = f"opcode {dns.opcode.to_text(msg.opcode())}"
        elif m in ("qtype", "qname", "qcase", "subdomain"):
            if want_q is None:
                continue
            if got_q is None:
                problem = "no question"
            elif m == "qtype" and got_q.rdtype != want_q.rdtype:
                problem = f"qtype {dns.rdatatype.to_text(got_q.rdtype)}"
            elif m == "qname" and got_q.name != want_q.name:
                problem = f"qname {got_q.name}"
            elif m == "qcase" and got_q.name.to_text() != want_q.name.to_text():
                problem = f"qname case {got_q.name}"
            elif m == "subdomain" and not got_q.name.is_subdomain(want_q.name):
                problem = f"qname {got_q.name} not under {want_q.name}"
        elif m == "flags":
            got = msg.flags & FLAG_MASK
            if got != entry.flags:
                problem = f"flags {flags_text(got)}, want {flags_text(entry.flags)}"
        elif m == "rcode":
            if msg.rcode() != entry.rcode:
                problem = f"rcode {dns.rcode.to_text(msg.rcode())}, want {dns.rcode.to_text(entry.rcode)}"
        elif m in ("answer", "authority", "additional"):
            got_sec = {"answer": msg.answer, "authority": msg.authority, "additional": msg.additional}[m]
            problem = compare_section(m, entry.sections[m.upper()], msg_records(got_sec))
        elif m in ("edns", "nsid", "tcp", "udp", "ttl"):
            continue  # not checked in lenient mode
        if problem:
            out.append(problem)
            if stop_first:
                break
    return out


# ------------------------------------------------------------ mock servers


def build_message(entry: Entry, query: dns.message.Message | None) -> dns.message.Message:
    """A message from an entry: REPLY flags/rcode, sections, ADJUST copy_id/copy_query."""
    msg = dns.message.Message(id=random.randint(0, 0xFFFF))
    msg.flags = entry.flags
    msg.set_opcode(entry.opcode)
    qname_from_query = None
    if query is not None and "copy_id" in entry.adjust:
        msg.id = query.id
        if query.question:
            qname_from_query = query.question[0].name
    if query is not None and "copy_query" in entry.adjust:
        msg.question = [dns.rrset.RRset(q.name, q.rdclass, q.rdtype) for q in query.question]
    else:
        for i, q in enumerate(entry.sections["QUESTION"]):
            name = qname_from_query if (i == 0 and qname_from_query is not None) else q.name
            msg.question.append(dns.rrset.RRset(name, q.rdclass, q.rdtype))
    for sec, target in (("ANSWER", msg.answer), ("AUTHORITY", msg.authority), ("ADDITIONAL", msg.additional)):
        for r in entry.sections[sec]:
            covers = r.rdata.covers() if r.rdata is not None else dns.rdatatype.NONE
            for rrset in target:
                if rrset.match(r.name, r.rdclass, r.rdtype, covers):
                    rrset.add(r.rdata, r.ttl)
                    break
            else:
                rrset = dns.rrset.RRset(r.name, r.rdclass, r.rdtype, covers)
                rrset.add(r.rdata, r.ttl)
                target.append(rrset)
    if query is None or query.edns >= 0:
        msg.use_edns(0, dns.flags.DO if entry.dnssec_ok else 0, 4096)
    msg.set_rcode(entry.rcode)
    return msg


class World:
    """The simulated servers: which entry answers a query, given the current step."""

    def __init__(self, sc: Scenario, unmatched: str, log):
        self.sc = sc
        self.unmatched_mode = unmatched
        self.log = log
        self.lock = threading.Lock()
        self.step_id = 0
        self.unmatched: list[str] = []
        self.upstream_count = 0
        # One-shot STEP REPLY entries still unused, in step order.
        self.one_shot: list[tuple[int, Entry]] = [
            (s.id, e) for s in sc.steps if s.kind == "REPLY" for e in s.entries
        ]

    def answer(self, wire: bytes, dst: str, proto: str, limit: int | None) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException as e:
            self.log(f"upstream {proto} @{dst}: unparsable query ({e})")
            return None
        q = query.question[0] if query.question else None
        qtext = f"{q.name} {dns.rdatatype.to_text(q.rdtype)}" if q is not None else "<no question>"
        qdesc = f"{qtext} [{flags_text(query.flags & FLAG_MASK)}{' DO' if query.ednsflags & dns.flags.DO else ''}]"
        with self.lock:
            self.upstream_count += 1
            step = self.step_id
            chosen: Entry | None = None
            origin = ""
            for rng in self.sc.ranges:
                if not (rng.start <= step <= rng.end):
                    continue
                if rng.addresses and dst not in rng.addresses:
                    continue
                for e in rng.entries:
                    if not mismatches(e, query, stop_first=True):
                        chosen = e
                        origin = f"range@{rng.line} entry@{e.line}"
                        break
                if chosen:
                    break
            if chosen is None:
                for idx, (sid, e) in enumerate(self.one_shot):
                    if sid >= step and not mismatches(e, query, stop_first=True):
                        chosen = e
                        origin = f"step {sid} reply@{e.line}"
                        del self.one_shot[idx]
                        break
            if chosen is None:
                self.unmatched.append(f"{qtext} @{dst}")
        if chosen is None:
            self.log(f"step {step} upstream {proto} @{dst} {qdesc}: UNMATCHED -> {self.unmatched_mode}")
            if self.unmatched_mode == "drop":
                return None
            resp = dns.message.make_response(query)
            resp.set_rcode(dns.rcode.SERVFAIL)
            return resp.to_wire()
        if "do_not_answer" in chosen.adjust:
            self.log(f"step {step} upstream {proto} @{dst} {qdesc}: {origin} (do_not_answer)")
            return None
        if chosen.raw is not None:
            data = bytearray(chosen.raw)
            if "raw_id" in chosen.adjust and len(data) >= 2:
                data[0:2] = struct.pack("!H", query.id)
            self.log(f"step {step} upstream {proto} @{dst} {qdesc}: {origin} (raw)")
            return bytes(data)
        resp = build_message(chosen, query)
        self.log(f"step {step} upstream {proto} @{dst} {qdesc}: {origin} rcode {dns.rcode.to_text(resp.rcode())}")
        try:
            return resp.to_wire(max_size=limit or 65535)
        except dns.exception.TooBig:
            # What a real server does with an answer larger than the
            # client's buffer: TC=1, and the client retries over TCP.
            resp.answer, resp.authority, resp.additional = [], [], []
            resp.flags |= dns.flags.TC
            return resp.to_wire()


def udp_limit(wire: bytes) -> int:
    try:
        q = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return 512
    return max(512, q.payload) if q.edns >= 0 else 512


def serve_udp(sock: socket.socket, family: int, world: World):
    while True:
        try:
            data, anc, _flags, peer = sock.recvmsg(65535, socket.CMSG_SPACE(64))
        except OSError:
            return
        dst = None
        pktinfo = None
        for level, kind, cdata in anc:
            if family == socket.AF_INET and level == socket.SOL_IP and kind == IP_PKTINFO:
                dst = socket.inet_ntop(socket.AF_INET, cdata[8:12])
                pktinfo = (socket.SOL_IP, IP_PKTINFO, struct.pack("I4s4s", 0, cdata[8:12], b"\0" * 4))
            elif family == socket.AF_INET6 and level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                dst = socket.inet_ntop(socket.AF_INET6, cdata[:16])
                pktinfo = (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, cdata[:16] + b"\0" * 4)
        if dst is None:
            continue
        try:
            out = world.answer(data, dst, "udp", udp_limit(data))
        except Exception as e:  # a replayer bug must not kill the server thread
            world.log(f"internal error answering: {e!r}")
            out = None
        if out is not None:
            try:
                sock.sendmsg([out], [pktinfo], 0, peer)
            except OSError as e:
                world.log(f"send to {peer}: {e}")


def recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def serve_tcp_conn(conn: socket.socket, world: World):
    with conn:
        conn.settimeout(10)
        dst = conn.getsockname()[0]
        try:
            while True:
                head = recv_exact(conn, 2)
                if head is None:
                    return
                data = recv_exact(conn, struct.unpack("!H", head)[0])
                if data is None:
                    return
                out = world.answer(data, dst, "tcp", None)
                if out is not None:
                    conn.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            return


def serve_tcp(sock: socket.socket, world: World):
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=serve_tcp_conn, args=(conn, world), daemon=True).start()


def setup_network():
    """Inside the namespace: lo up, every address local to it."""
    for cmd in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo"],
        ["ip", "-6", "route", "add", "local", "::/0", "dev", "lo"],
    ):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()} (run inside `unshare -n` as root)")


def start_servers(world: World):
    u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u4.setsockopt(socket.SOL_IP, IP_PKTINFO, 1)
    u4.bind(("0.0.0.0", 53))
    u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    u6.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    u6.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    u6.bind(("::", 53))
    t4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t4.bind(("0.0.0.0", 53))
    t4.listen(64)
    t6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    t6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    t6.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    t6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t6.bind(("::", 53))
    t6.listen(64)
    for target, args in (
        (serve_udp, (u4, socket.AF_INET, world)),
        (serve_udp, (u6, socket.AF_INET6, world)),
        (serve_tcp, (t4, world)),
        (serve_tcp, (t6, world)),
    ):
        threading.Thread(target=target, args=args, daemon=True).start()


# ------------------------------------------------------------ the resolver


def is_loopback(addr: str) -> bool:
    return addr.startswith("127.") or addr == "::1"


def parse_features(sc: Scenario) -> tuple[dict[str, str], list[str]]:
    """`features: k = v` lines (Knot Resolver options): a dict, plus the raw feature-list lines."""
    feats: dict[str, str] = {}
    for line in sc.config.get("features", []):
        for part in line.split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                feats[k.strip()] = v.strip()
    return feats, list(sc.config.get("feature-list", []))


def toml_list(items) -> str:
    return "[" + ", ".join(json.dumps(str(i)) for i in items) + "]"


# Knot Resolver policy actions and the RPZ rule that does the same. DROP
# is not among them: Knot Resolver answers it with SERVFAIL, where
# rpz-drop sends nothing.
POLICY_RPZ = {
    "DENY": ".",  # NXDOMAIN
    "TC": "rpz-tcp-only.",
    "PASS": "rpz-passthru.",
}
POLICY_RULE = re.compile(r"policy:add\(policy\.(suffix|pattern)\(policy\.([A-Z_]+)\s*,(.*)\)\)\s*$")
TODNAME = re.compile(r"todname\('([^']+)'\)")


def policy_rpz(feature_list: list[str]) -> tuple[list[str], list[str]]:
    """`feature-list: policy=policy:add(...)` lines (Knot Resolver's policy
    module) as RPZ rules for a dnsward list, and the lines that have no
    RPZ form. `suffix(ACTION, {todname('x')})` covers x and below, as does
    `pattern(ACTION, todname('x'))` (a label-sequence match); patterns
    written as regular expressions, `all`, `suffix_common`, DROP and
    FORWARD are left out."""
    rules: list[str] = []
    left: list[str] = []
    for line in feature_list:
        value = line.split("=", 1)[1].strip() if "=" in line else line
        m = POLICY_RULE.match(value)
        names = TODNAME.findall(m.group(3)) if m else []
        if not m or m.group(2) not in POLICY_RPZ or not names:
            left.append(f"feature-list: {value}")
            continue
        target = POLICY_RPZ[m.group(2)]
        for name in names:
            name = name.rstrip(".")
            rules += [f"{name} CNAME {target}", f"*.{name} CNAME {target}"]
    return rules, left


def render_dnssec(sc: Scenario, workdir: Path, ignored: list[str]) -> list[str]:
    """The [dnssec] table: the scenario's `trust-anchor:` lines (and
    `trust-anchor-file:`) as dnssec.trust_anchors, `domain-insecure:` as
    negative trust anchors. Without an anchor validation is off: the
    built-in root anchors would find every scenario's unsigned root bogus,
    and a validator without an anchor for a name answers as an iterator."""
    anchors = [a.strip() for a in sc.config.get("trust-anchor", []) if a.strip()]
    for f in sc.config.get("trust-anchor-file", []):
        try:
            text = Path(f).read_text()
        except OSError:
            ignored.append(f"trust-anchor-file {f}: unreadable")
            continue
        anchors += [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith((";", "#"))]
    insecure = [d.strip() for d in sc.config.get("domain-insecure", []) if d.strip()]
    if not anchors:
        return ["[dnssec]", "validation = false", ""]
    return [
        "[dnssec]",
        "validation = true",
        f"trust_anchors = {toml_list(anchors)}",
        f"negative_trust_anchors = {toml_list(insecure)}",
        "",
    ]


def render_dnsward(sc: Scenario, workdir: Path) -> tuple[str, list[str]]:
    """dnsward's TOML for a scenario, and the CONFIG settings it cannot express."""
    ignored: list[str] = []
    local_ok = not sc.conf_on("do-not-query-localhost", True)
    allow: set[str] = set()
    for rng in sc.ranges:
        for a in rng.addresses:
            if local_ok or not is_loopback(a):
                allow.add(a)
    if any(not r.addresses for r in sc.ranges) or any(s.kind == "REPLY" for s in sc.steps):
        # Address-less answers serve whatever server the resolver picks:
        # allow the addresses the scenario's own records name.
        holders = [e for r in sc.ranges if not r.addresses for e in r.entries]
        holders += [e for s in sc.steps if s.kind == "REPLY" for e in s.entries]
        for e in holders:
            for recs in e.sections.values():
                for r in recs:
                    if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and r.rdata is not None:
                        a = r.rdata.address
                        if local_ok or not is_loopback(a):
                            allow.add(a)
    lines = [
        "[server]",
        f'listen = ["{SELF_ADDR}:{SELF_PORT}"]',
        "shutdown_delay_ms = 0",
        "drain_secs = 1",
        "",
        "[resolver]",
    ]
    fwd = sc.conf("forward-addr")
    stub = sc.conf("stub-addr")
    if fwd:
        lines += ['mode = "forward"', f"upstreams = {toml_list([fwd])}"]
    else:
        if not stub:
            ignored.append("no stub-addr: built-in root hints")
        else:
            lines.append(f"root_servers = {toml_list([stub])}")
            allow.add(stub)
    lines.append(f"authority_allow = {toml_list(sorted(allow))}")
    # Deckard's default is on; Unbound's `qname-minimisation: yes` (not
    # strict) is dnsward's "relaxed".
    qmin = "relaxed" if sc.conf_on("query-minimization", True) else "off"
    lines.append(f'qname_minimisation = "{qmin}"')
    feats, feature_list = parse_features(sc)
    lines += ["", "[cache]"]
    # Background refreshes would add upstream queries the scenarios do not
    # script; on only where a scenario asks for it (Unbound's default).
    lines.append(f"prefetch = {'true' if sc.conf_on('prefetch', False) else 'false'}")
    if "min_ttl" in feats:
        lines.append(f"min_ttl_secs = {int(feats.pop('min_ttl'))}")
    if "max_ttl" in feats:
        lines.append(f"max_ttl_secs = {int(feats.pop('max_ttl'))}")
    lines += ["", "[metrics]", 'listen = ""', "", "[reload]", "watch = false", ""]
    lines += render_dnssec(sc, workdir, ignored)
    rules, left = policy_rpz(feature_list)
    if rules:
        zone = ["$ORIGIN policy.replay.", "$TTL 300", "@ SOA localhost. root.localhost. 1 3600 600 86400 300", "@ NS localhost."]
        (workdir / "policy.rpz").write_text("\n".join(zone + rules) + "\n")
        lines += ["[[lists]]", 'name = "scenario-policy"', f'path = "{workdir / "policy.rpz"}"', 'format = "rpz"', ""]
    ignored += left
    for k in feats:
        ignored.append(f"features: {k}")
    return "\n".join(lines), ignored


def render_unbound(sc: Scenario, workdir: Path) -> tuple[str, list[str]]:
    """unbound.conf for a scenario (reference runs): the stub address as
    the root in a hints file (so Unbound primes as it would in service),
    the scenario's qmin/glue/localhost settings, full responses."""
    ignored: list[str] = []
    qmin = "yes" if sc.conf_on("query-minimization", True) else "no"
    lines = [
        "server:",
        f"  interface: {SELF_ADDR}@{SELF_PORT}",
        "  interface-automatic: no",
        "  access-control: 127.0.0.0/8 allow",
        '  username: ""',
        '  chroot: ""',
        f'  directory: "{workdir}"',
        '  pidfile: ""',
        "  use-syslog: no",
        "  verbosity: 1",
        "  do-daemonize: no",
        "  num-threads: 1",
        "  outgoing-range: 64",
        f"  qname-minimisation: {qmin}",
        f"  do-not-query-localhost: {'yes' if sc.conf_on('do-not-query-localhost', True) else 'no'}",
        f"  harden-glue: {'yes' if sc.conf_on('harden-glue', True) else 'no'}",
        f"  do-ip6: {'yes' if sc.conf_on('do-ip6', True) else 'no'}",
        f"  do-ip4: {'yes' if sc.conf_on('do-ip4', True) else 'no'}",
        # Ask one server at a time, as the scenarios' query patterns assume.
        '  target-fetch-policy: "0 0 0 0 0"',
        "  minimal-responses: no",
        "  edns-buffer-size: 4096",
        "  trust-anchor-signaling: no",
        # Scenario names under test./private reverse zones are served by
        # the scenario, not by Unbound's built-in local zones.
        '  local-zone: "test." nodefault',
        "  unblock-lan-zones: yes",
        "  insecure-lan-zones: yes",
    ]
    feats, _ = parse_features(sc)
    if "min_ttl" in feats:
        lines.append(f"  cache-min-ttl: {feats['min_ttl']}")
    if "max_ttl" in feats:
        lines.append(f"  cache-max-ttl: {feats['max_ttl']}")
    fwd = sc.conf("forward-addr")
    stub = sc.conf("stub-addr")
    if fwd:
        lines += ["forward-zone:", '  name: "."', f"  forward-addr: {fwd}"]
    elif stub:
        root_name = sc.conf("stub-name", "k.root-servers.net").rstrip(".") + "."
        rtype = "AAAA" if ":" in stub else "A"
        (workdir / "hints.zone").write_text(f". 3600000 NS {root_name}\n{root_name} 3600000 {rtype} {stub}\n")
        lines.insert(1, f'  root-hints: "{workdir / "hints.zone"}"')
    lines += ["remote-control:", "  control-enable: no"]
    return "\n".join(lines) + "\n", ignored


def start_offset(sc: Scenario) -> int:
    """Seconds from now to the scenario's clock (`val-override-timestamp`,
    POSIX seconds, or `val-override-date`, YYYYMMDDHHMMSS UTC); 0 without
    either. Signatures in recorded scenarios are valid only around then."""
    stamp = sc.conf("val-override-timestamp")
    if stamp is None:
        date = sc.conf("val-override-date")
        if date is None:
            return 0
        try:
            stamp = str(calendar.timegm(time.strptime(date.strip(), "%Y%m%d%H%M%S")))
        except ValueError as e:
            raise ScenarioError(f"{sc.path.name}: val-override-date `{date}`: {e}") from e
    try:
        return int(stamp) - int(time.time())
    except ValueError as e:
        raise ScenarioError(f"{sc.path.name}: val-override-timestamp `{stamp}` is not a number") from e


class Resolver:
    """The binary under test, run with faked time."""

    def __init__(self, kind: str, binary: str, sc: Scenario, workdir: Path, log_level: str):
        self.kind = kind
        self.workdir = workdir
        self.timefile = workdir / "faketime"
        self.offset = 0
        self.advance(start_offset(sc))
        if kind == "dnsward":
            conf, self.ignored = render_dnsward(sc, workdir)
            path = workdir / "dnsward.toml"
            path.write_text(conf)
            cmd = [binary, "run", "--config", str(path)]
        else:
            conf, self.ignored = render_unbound(sc, workdir)
            path = workdir / "unbound.conf"
            path.write_text(conf)
            cmd = [binary, "-d", "-c", str(path)]
        self.config_text = conf
        env = dict(os.environ)
        env["DNSWARD_LOG"] = log_level
        lib = next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)
        if lib is None:
            raise RuntimeError("libfaketime not found (apt-get install faketime)")
        env["LD_PRELOAD"] = lib
        env["FAKETIME_TIMESTAMP_FILE"] = str(self.timefile)
        # Re-read the offset on every clock call: TIME_PASSES takes effect at once.
        env["FAKETIME_NO_CACHE"] = "1"
        env.pop("FAKETIME", None)
        self.logfile = open(workdir / f"{kind}.log", "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.logfile, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} at start: {self.log_tail()}")
            try:
                with socket.create_connection((SELF_ADDR, SELF_PORT), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.kind} did not listen on {SELF_ADDR}:{SELF_PORT} within {timeout:.0f} s")

    def advance(self, seconds: int):
        self.offset += seconds
        tmp = self.timefile.with_suffix(".new")
        tmp.write_text(f"{self.offset:+d}\n")
        os.replace(tmp, self.timefile)

    def log_tail(self, n: int = 3) -> str:
        self.logfile.flush()
        try:
            lines = (self.workdir / f"{self.kind}.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()


# ------------------------------------------------------------ the client


def send_query(wire: bytes, tcp: bool, timeout: float) -> bytes | None:
    if tcp:
        try:
            with socket.create_connection((SELF_ADDR, SELF_PORT), timeout=timeout) as s:
                s.sendall(struct.pack("!H", len(wire)) + wire)
                head = recv_exact(s, 2)
                if head is None:
                    return None
                return recv_exact(s, struct.unpack("!H", head)[0])
        except OSError:
            return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.bind(("127.0.0.1", 0))
        s.sendto(wire, (SELF_ADDR, SELF_PORT))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(65535)
            except (socket.timeout, OSError):
                return None
            if len(data) >= 2 and data[:2] == wire[:2]:
                return data


def query_text(entry: Entry) -> str:
    q = entry.question
    return f"{q.name} {dns.rdatatype.to_text(q.rdtype)}" if q is not None else "<raw>"


def run(sc: Scenario, args) -> dict:
    logpath = Path(args.workdir) / "replay.log"
    logf = open(logpath, "w")
    t0 = time.monotonic()

    def log(msg: str):
        logf.write(f"{time.monotonic() - t0:7.3f} {msg}\n")
        logf.flush()

    world = World(sc, args.unmatched, log)
    setup_network()
    start_servers(world)
    resolver = Resolver(args.resolver, args.binary, sc, Path(args.workdir), args.log_level)
    log("config:\n" + resolver.config_text)
    result = {"status": "pass", "reason": "", "ignored": resolver.ignored}
    checks = 0
    try:
        resolver.wait_ready()
        last: dns.message.Message | None = None
        last_q = ""
        for idx, step in enumerate(sc.steps):
            with world.lock:
                world.step_id = step.id
            if step.kind == "QUERY":
                if not step.entries:
                    raise ScenarioError(f"{sc.path.name}:{step.line}: QUERY without ENTRY")
                e = step.entries[0]
                last, last_q = None, query_text(e)
                if e.raw is not None:
                    log(f"step {step.id} raw query ({len(e.raw)} bytes)")
                    # No answer is expected: send and move on.
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        s.sendto(e.raw, (SELF_ADDR, SELF_PORT))
                    continue
                msg = build_message(e, None)
                msg.flags = e.flags
                msg.use_edns(0, dns.flags.DO if e.dnssec_ok else 0, 4096)
                wire = msg.to_wire()
                log(f"step {step.id} query {last_q} flags {flags_text(e.flags)}")
                data = send_query(wire, False, args.query_timeout)
                nxt = next((s for s in sc.steps[idx + 1 :] if s.kind == "CHECK_ANSWER"), None)
                want_tc = bool(nxt and nxt.entries and nxt.entries[0].flags & dns.flags.TC)
                if data is not None and not want_tc:
                    try:
                        if dns.message.from_wire(data).flags & dns.flags.TC:
                            log(f"step {step.id} TC=1, retrying over TCP")
                            data = send_query(wire, True, args.query_timeout)
                    except dns.exception.DNSException:
                        pass
                if data is None:
                    log(f"step {step.id} no answer")
                    continue
                try:
                    last = dns.message.from_wire(data)
                    log(f"step {step.id} answer:\n{last.to_text()}")
                except dns.exception.DNSException as ex:
                    log(f"step {step.id} unparsable answer: {ex}")
                    last = None
            elif step.kind == "CHECK_ANSWER":
                checks += 1
                if not step.entries:
                    continue
                e = step.entries[0]
                if last is None:
                    result = {"status": "fail", "reason": f"step {step.id} ({last_q}): no answer"}
                    break
                problems = mismatches(e, last)
                if problems:
                    result = {"status": "fail", "reason": f"step {step.id} ({last_q}): " + "; ".join(problems)}
                    break
                log(f"step {step.id} check ok")
            elif step.kind == "TIME_PASSES":
                resolver.advance(step.elapse)
                log(f"step {step.id} time passes {step.elapse} s (offset {resolver.offset})")
            elif step.kind in ("REPLY", "CHECK_OUT_QUERY"):
                continue
            else:
                log(f"step {step.id}: unknown step type {step.kind}, skipped")
        if result["status"] == "pass" and checks == 0:
            result = {"status": "pass", "reason": "no CHECK_ANSWER steps; resolver survived"}
        if resolver.proc.poll() is not None:
            result = {"status": "fail", "reason": f"{args.resolver} died: {resolver.log_tail()}"}
    finally:
        resolver.stop()
    if world.unmatched:
        seen = []
        for u in world.unmatched:
            if u not in seen:
                seen.append(u)
        result["unmatched"] = seen
        if result["status"] == "fail":
            result["reason"] += " [unmatched upstream: " + ", ".join(seen[:3]) + (" ..." if len(seen) > 3 else "") + "]"
    result["ignored"] = resolver.ignored
    result["upstream_queries"] = world.upstream_count
    log(f"result: {json.dumps(result)}")
    logf.close()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--binary", default="target/debug/dnsward")
    ap.add_argument("--resolver", choices=["dnsward", "unbound"], default="dnsward")
    ap.add_argument("--workdir", help="logs and rendered config (default: a temporary directory)")
    ap.add_argument("--unmatched", choices=["servfail", "drop"], default="servfail")
    ap.add_argument("--query-timeout", type=float, default=6.0)
    ap.add_argument("--log-level", default="info,hickory_proto=error")
    ap.add_argument("--all", action="store_true", help="accepted for compatibility: validation scenarios always run")
    args = ap.parse_args()

    def emit(status: str, reason: str, **extra) -> int:
        print("RESULT " + json.dumps({"status": status, "reason": reason, **extra}))
        return {"pass": 0, "fail": 1, "skip": 2}.get(status, 3)

    try:
        sc = parse(args.scenario)
    except (OSError, ScenarioError, ValueError) as e:
        return emit("error", f"parse: {e}")
    if args.workdir is None:
        args.workdir = tempfile.mkdtemp(prefix="replay-")
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    try:
        result = run(sc, args)
    except (RuntimeError, ScenarioError, OSError) as e:
        return emit("error", str(e))
    status = result.pop("status")
    reason = result.pop("reason")
    return emit(status, reason, **result)


if __name__ == "__main__":
    sys.exit(main())
