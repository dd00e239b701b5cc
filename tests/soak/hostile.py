#!/usr/bin/env python3
"""Hostile DNS client for tests/soak.sh: malformed and abusive traffic, loopback only.

Sends, for at most --duration seconds and at most --rate packets per second,
UDP datagrams of many malformed kinds (random garbage, truncated headers,
compression-pointer loops, label-length bytes > 63, names > 255, huge section
counts, QR=1, opcodes other than QUERY, EDNS version 1, broken OPT records,
CHAOS class, AXFR over UDP, bit-flipped queries, jumbo datagrams (a valid
query followed by tens of KB of junk), plus a few
valid queries as a control), and opens at most --tcp-conns TCP connections
(at most --tcp-parallel at once, plus --tcp-bursts bursts of --burst-size
simultaneous connections from --burst-source) that send junk, bad length prefixes, a query one
byte per second, nothing at all, pipelined good+bad messages, or half a query
followed by FIN or RST.

Answers are read and classified by the 16-bit ID each packet carries (where
the packet is long enough to carry one); a summary goes to stdout, the last
line being machine-readable:

    HOSTILE udp_sent=N udp_answered=N tcp_conns=N anomalies=N

"Anomalies" are answers that should never happen: an answer to a QR=1 packet
or to a packet shorter than a header, an answer with QR=0, or an unexpected
rcode for a kind whose rcode is fixed (e.g. NOTIMP for a bad opcode).

Only the standard library. Refuses any target outside 127.0.0.0/8.
"""

import argparse
import ipaddress
import random
import select
import socket
import struct
import sys
import threading
import time
from collections import Counter, defaultdict

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 16: "BADVERS"}


def rcode_name(n):
    return RCODES.get(n, "RCODE%d" % n)


def qname(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def header(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid & 0xFFFF, flags, qd, an, ns, ar)


def opt_rr(version=0, udp=1232, rdata=b"", rdlen=None):
    if rdlen is None:
        rdlen = len(rdata)
    # owner root, type OPT(41), class = UDP size, TTL = ext-rcode|version|flags
    return b"\x00" + struct.pack(">HHBBHH", 41, udp, 0, version, 0, rdlen) + rdata


class Hostile:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        self.names = args.names or ["h1.bench.zz"]
        self.sent = Counter()  # kind -> packets
        self.answered = Counter()  # kind -> answers
        self.rcodes = defaultdict(Counter)  # kind -> rcode -> n
        self.anomalies = Counter()  # text -> n
        self.kind_of = {}  # id -> kind (last packet that used it)
        self.next_id = self.rng.randrange(65536)
        self.lock = threading.Lock()
        self.tcp = defaultdict(Counter)  # kind -> outcome -> n
        self.tcp_close = defaultdict(list)  # kind -> seconds until server closed
        self.tcp_conns = 0
        self.tcp_bytes = 0
        self.stop_at = time.monotonic() + args.duration

    # ------------------------------------------------------------ UDP packets

    def nid(self):
        self.next_id = (self.next_id + 1) & 0xFFFF
        return self.next_id

    def name(self):
        return self.rng.choice(self.names)

    def good(self, qid, qtype=1, flags=0x0100):
        return header(qid, flags) + qname(self.name()) + struct.pack(">HH", qtype, 1)

    def build(self, kind, qid):
        r = self.rng
        if kind == "garbage":
            b = bytearray(r.randbytes(r.randint(12, 600)))
            b[0:2] = struct.pack(">H", qid)
            b[2] &= 0x7F  # keep QR=0 so the answer (if any) is attributable
            return bytes(b)
        if kind == "short":
            return r.randbytes(r.randint(0, 11))
        if kind == "trunc_header":  # header cut, or header + a name cut mid-label
            g = self.good(qid)
            return g[: r.choice([r.randint(2, 11), r.randint(13, len(g) - 5)])]
        if kind == "trunc_question":  # name complete, qtype/qclass missing
            return header(qid) + qname(self.name())
        if kind == "ptr_self":  # name = pointer to itself
            return header(qid) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)
        if kind == "ptr_pair":  # a -> b -> a
            return header(qid) + b"\x01a\xc0\x10" + b"\x01b\xc0\x0c" + struct.pack(">HH", 1, 1)
        if kind == "ptr_forward":  # pointer past the end of the packet
            return header(qid) + b"\x01a\xc3\xff" + struct.pack(">HH", 1, 1)
        if kind == "ptr_chain":  # 200 pointers, each to the previous, ending at "x"
            base = 18  # header (12) + qname pointer (2) + qtype/qclass (4)
            body, prev = bytearray(b"\x01x\x00"), base
            for _ in range(200):
                off = base + len(body)
                body += struct.pack(">H", 0xC000 | prev)
                prev = off
            return header(qid) + struct.pack(">HHH", 0xC000 | prev, 1, 1) + bytes(body)
        if kind == "label_gt63":  # length byte 64..191 (reserved label types)
            n = r.randint(64, 191)
            return header(qid) + bytes([n]) + b"a" * min(n, 63) + b"\x00" + struct.pack(">HH", 1, 1)
        if kind == "name_gt255":  # 5 labels of 63 = 320 bytes
            return header(qid) + (b"\x3f" + b"a" * 63) * 5 + b"\x00" + struct.pack(">HH", 1, 1)
        if kind == "huge_counts":  # an >= 1 always, so never a plain query
            c = [r.choice([1, 0xFFFF, r.randint(9, 0xFFFF)]) for _ in range(4)]
            return header(qid, 0x0100, *c) + qname(self.name()) + struct.pack(">HH", 1, 1)
        if kind == "qd0":
            return header(qid, qd=0)
        if kind == "qd2":
            q = qname(self.name()) + struct.pack(">HH", 1, 1)
            return header(qid, qd=2) + q + q
        if kind == "qr1":  # a response sent to the server: must never be answered
            return self.good(qid, flags=0x8180)
        if kind == "opcode":  # IQUERY, STATUS, 3, NOTIFY, UPDATE, 6..15
            op = r.randint(1, 15)
            return self.good(qid, flags=(op << 11) | 0x0100)
        if kind == "edns_badvers":
            return header(qid, ar=1) + qname(self.name()) + struct.pack(">HH", 1, 1) + opt_rr(version=1)
        if kind == "edns_optlen":  # an EDNS option whose length runs past the RDATA
            q = qname(self.name()) + struct.pack(">HH", 1, 1)
            return header(qid, ar=1) + q + opt_rr(rdata=struct.pack(">HH", 10, 200) + b"xx")
        if kind == "edns_two_opt":  # two OPT records: RFC 6891 6.1.1 says FORMERR
            q = qname(self.name()) + struct.pack(">HH", 1, 1)
            return header(qid, ar=2) + q + opt_rr() + opt_rr()
        if kind == "class_ch":
            return header(qid) + qname("version.bind") + struct.pack(">HH", 16, 3)
        if kind == "axfr_udp":
            return header(qid) + qname("bench.zz") + struct.pack(">HH", r.choice([252, 251]), 1)
        if kind == "bitflip":  # a valid query with 1..4 random bit flips after the ID
            b = bytearray(self.good(qid, qtype=r.choice([1, 28, 65])))
            for _ in range(r.randint(1, 4)):
                i = r.randrange(2, len(b))
                b[i] ^= 1 << r.randrange(8)
            b[2] &= 0x7F
            return bytes(b)
        if kind == "jumbo":  # a valid query followed by tens of KB of junk
            return self.good(qid) + r.randbytes(r.randint(2000, 60000))
        if kind == "valid":  # control: must be answered
            return self.good(qid, qtype=r.choice([1, 28]))
        raise ValueError(kind)

    # kind -> rcode every answer must have (None: any); and whether an answer
    # must not exist at all
    EXPECT = {
        "opcode": "NOTIMP",
        "qr1": "none",
        "short": "none",
        "ptr_self": "FORMERR",
        "ptr_pair": "FORMERR",
        "ptr_forward": "FORMERR",
        "label_gt63": "FORMERR",
        "name_gt255": "FORMERR",
        "huge_counts": "FORMERR",
        "qd0": "FORMERR",
        "qd2": "FORMERR",
        "trunc_question": "FORMERR",
        "edns_badvers": "BADVERS",
        "edns_optlen": "FORMERR",
        "edns_two_opt": "FORMERR",
        "class_ch": "REFUSED",
        "axfr_udp": "REFUSED",
    }

    UDP_KINDS = [
        ("garbage", 14), ("short", 5), ("trunc_header", 6), ("trunc_question", 3),
        ("ptr_self", 5), ("ptr_pair", 5), ("ptr_forward", 4), ("ptr_chain", 3),
        ("label_gt63", 5), ("name_gt255", 4), ("huge_counts", 6), ("qd0", 3),
        ("qd2", 3), ("qr1", 6), ("opcode", 6), ("edns_badvers", 3), ("edns_optlen", 2), ("edns_two_opt", 2),
        ("class_ch", 2), ("axfr_udp", 2), ("bitflip", 8), ("jumbo", 1), ("valid", 5),
    ]

    def udp_loop(self):
        a = self.a
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a.source, 0))
        s.setblocking(False)
        kinds = [k for k, w in self.UDP_KINDS for _ in range(w)]
        limit = int(a.rate * a.duration)
        t0 = time.monotonic()
        n = 0
        while n < limit:
            now = time.monotonic()
            if now >= self.stop_at:
                break
            due = t0 + n / a.rate
            if due > now:
                self.drain(s, min(due - now, 0.05))
                continue
            kind = self.rng.choice(kinds)
            qid = self.nid()
            pkt = self.build(kind, qid)
            if len(pkt) >= 2 and kind != "short":
                self.kind_of[struct.unpack(">H", pkt[:2])[0]] = kind
            try:
                s.sendto(pkt, (a.target, a.port))
                self.sent[kind] += 1
            except (BlockingIOError, OSError):
                self.sent[kind + "(send-failed)"] += 1
            n += 1
        # answers still on the way
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            self.drain(s, 0.1)
        s.close()

    def drain(self, s, wait):
        r, _, _ = select.select([s], [], [], wait)
        if not r:
            return
        for _ in range(1000):  # bounded per call
            try:
                data, _src = s.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.classify(data)

    def classify(self, data, kind=None):
        if len(data) < 12:
            self.anomalies["answer shorter than a header"] += 1
            return
        qid, flags = struct.unpack(">HH", data[:4])
        kind = kind or self.kind_of.get(qid, "unknown-id")
        if kind == "unknown-id":
            self.anomalies["answer with an ID not sent (or to a short packet)"] += 1
        self.answered[kind] += 1
        rc = flags & 0x0F
        # extended rcode (BADVERS = 16) lives in the OPT TTL; look for it cheaply
        if rc == 0 and b"\x00\x00\x29" in data[12:] and kind == "edns_badvers":
            i = data.rfind(b"\x00\x00\x29")
            if i + 6 < len(data):
                rc = (data[i + 5] << 4) | rc
        name = rcode_name(rc)
        self.rcodes[kind][name] += 1
        if not flags & 0x8000:
            self.anomalies["answer with QR=0 (%s)" % kind] += 1
        exp = self.EXPECT.get(kind)
        if exp == "none":
            self.anomalies["answered a %s packet (%s)" % (kind, name)] += 1
        elif exp and name != exp:
            self.anomalies["%s answered %s, expected %s" % (kind, name, exp)] += 1

    # ------------------------------------------------------------ TCP

    TCP_KINDS = ["junk", "len_huge", "len_short", "slowloris", "idle", "pipeline", "half_fin", "half_rst", "len_4097"]

    def tcp_conn(self, kind):
        a, r = self.a, self.rng
        t_open = time.monotonic()
        deadline = min(self.stop_at + 2, t_open + a.tcp_max_secs)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((a.source, 0))
            s.settimeout(3)
            s.connect((a.target, a.port))
        except OSError as e:
            self.tcp_note(kind, "connect failed: %s" % e.__class__.__name__)
            return
        outcome = "?"
        try:
            if kind == "junk":  # plausible length prefix, random bytes
                for _ in range(3):
                    body = r.randbytes(r.randint(12, 500))
                    s.sendall(struct.pack(">H", len(body)) + body)
                outcome = self.tcp_read_until_close(s, deadline, t_open, kind)
            elif kind == "len_huge":  # 0xFFFF prefix then a little data
                s.sendall(b"\xff\xff" + r.randbytes(100))
                outcome = self.tcp_read_until_close(s, deadline, t_open, kind)
            elif kind == "len_4097":  # just over the server's 4096-byte cap, sent whole
                s.sendall(b"\x10\x01" + r.randbytes(4097))
                outcome = self.tcp_read_until_close(s, deadline, t_open, kind)
            elif kind == "len_short":  # length 0..11
                s.sendall(struct.pack(">H", r.randint(0, 11)) + r.randbytes(11))
                outcome = self.tcp_read_until_close(s, deadline, t_open, kind)
            elif kind == "slowloris":  # a valid query, one byte per second
                msg = self.good(self.nid())
                msg = struct.pack(">H", len(msg)) + msg
                sent = 0
                outcome = "still open at deadline"
                for i in range(len(msg)):
                    if time.monotonic() >= deadline:
                        break
                    try:
                        s.send(msg[i : i + 1])
                        sent += 1
                    except OSError:
                        outcome = "closed by server after %d of %d bytes" % (sent, len(msg))
                        self.tcp_close[kind].append(time.monotonic() - t_open)
                        break
                    if self.tcp_closed(s, 1.0):
                        outcome = "closed by server after %d of %d bytes" % (sent, len(msg))
                        self.tcp_close[kind].append(time.monotonic() - t_open)
                        break
                else:
                    outcome = "whole query dribbled; " + self.tcp_read_until_close(s, deadline, t_open, kind)
            elif kind == "idle":
                outcome = self.tcp_read_until_close(s, deadline, t_open, kind)
            elif kind == "pipeline":  # good, loop, good, huge counts, QR=1, good
                ids = [self.nid() for _ in range(6)]
                msgs = [
                    self.good(ids[0]),
                    header(ids[1]) + b"\xc0\x0c" + struct.pack(">HH", 1, 1),
                    self.good(ids[2], qtype=28),
                    header(ids[3], 0x0100, 0xFFFF, 0xFFFF, 0, 0) + qname("h2.bench.zz") + struct.pack(">HH", 1, 1),
                    self.good(ids[4], flags=0x8180),
                    self.good(ids[5]),
                ]
                s.sendall(b"".join(struct.pack(">H", len(m)) + m for m in msgs))
                got = self.tcp_read_msgs(s, 5, min(deadline, time.monotonic() + 5))
                rc = [rcode_name(struct.unpack(">H", m[2:4])[0] & 0x0F) for m in got]
                outcome = "%d/5 answers (%s)" % (len(got), ",".join(rc))
                if len(got) != 5 or rc != ["NOERROR", "FORMERR", "NOERROR", "FORMERR", "NOERROR"]:
                    with self.lock:
                        self.anomalies["tcp pipeline: %s" % outcome] += 1
            elif kind == "half_fin":  # half a query, then FIN
                m = self.good(self.nid())
                m = struct.pack(">H", len(m)) + m
                s.sendall(m[: len(m) // 2])
                s.shutdown(socket.SHUT_WR)
                outcome = self.tcp_read_until_close(s, deadline, t_open, kind)
            elif kind == "half_rst":  # half a query, then RST
                m = self.good(self.nid())
                m = struct.pack(">H", len(m)) + m
                s.sendall(m[: len(m) // 2])
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                outcome = "reset sent"
        except OSError as e:
            outcome = "error %s" % e.__class__.__name__
            if kind == "pipeline":
                with self.lock:
                    self.anomalies["tcp pipeline: %s" % outcome] += 1
        finally:
            s.close()
        self.tcp_note(kind, outcome)

    def tcp_note(self, kind, outcome):
        with self.lock:
            self.tcp[kind][outcome] += 1

    def tcp_closed(self, s, wait):
        """True if the peer closed (EOF/RST) within `wait` seconds."""
        r, _, _ = select.select([s], [], [], wait)
        if not r:
            return False
        try:
            d = s.recv(65535)
        except OSError:
            return True
        if d:
            with self.lock:
                self.tcp_bytes += len(d)
            return False
        return True

    def tcp_read_until_close(self, s, deadline, t_open, kind):
        total = 0
        while time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], min(1.0, max(0.0, deadline - time.monotonic())))
            if not r:
                continue
            try:
                d = s.recv(65535)
            except OSError:
                d = b""
            if not d:
                dt = time.monotonic() - t_open
                with self.lock:
                    self.tcp_close[kind].append(dt)
                    self.tcp_bytes += total
                return "closed by server" + (" after %d bytes of answers" % total if total else "")
            total += len(d)
        with self.lock:
            self.tcp_bytes += total
        return "still open at deadline"

    def tcp_read_msgs(self, s, n, deadline):
        buf, out = b"", []
        while len(out) < n and time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                break
            d = s.recv(65535)
            if not d:
                break
            buf += d
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                ln = struct.unpack(">H", buf[:2])[0]
                out.append(buf[2 : 2 + ln])
                buf = buf[2 + ln :]
        return out

    def burst(self):
        """burst_size connections at once from --burst-source (so that the other
        hostile connections do not count against its per-client limit), each
        sending one valid query; how many are served?"""
        a = self.a
        socks, served, refused = [], 0, 0
        for _ in range(a.burst_size):
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((a.burst_source, 0))
                s.settimeout(3)
                s.connect((a.target, a.port))
                socks.append(s)
            except OSError:
                refused += 1
        time.sleep(0.2)
        for s in socks:
            m = self.good(self.nid())
            try:
                s.sendall(struct.pack(">H", len(m)) + m)
            except OSError:
                pass
        end = time.monotonic() + 3
        for s in socks:
            got = self.tcp_read_msgs(s, 1, min(end, self.stop_at + 2))
            if got:
                served += 1
        for s in socks:
            s.close()
        with self.lock:
            self.tcp_conns += a.burst_size
            self.tcp["burst"]["%d connections: %d served, %d unserved" % (a.burst_size, served, a.burst_size - served)] += 1

    def tcp_loop(self):
        a = self.a
        if a.tcp_conns <= 0 and a.tcp_bursts <= 0:
            return
        threads = []
        # leave ~12 s at the end so the last connections see the server's idle close
        span = a.duration - 12 if a.duration >= 24 else a.duration
        interval = span / max(1, a.tcp_conns)
        burst_at = [a.duration * (i + 1) / (a.tcp_bursts + 1) for i in range(a.tcp_bursts)]
        t0 = time.monotonic()
        i = 0
        while time.monotonic() < self.stop_at and (i < a.tcp_conns or burst_at):
            el = time.monotonic() - t0
            if burst_at and el >= burst_at[0]:
                burst_at.pop(0)
                self.burst()
                continue
            threads = [t for t in threads if t.is_alive()]
            if i < a.tcp_conns and el >= i * interval and len(threads) < a.tcp_parallel:
                kind = self.TCP_KINDS[i % len(self.TCP_KINDS)]
                t = threading.Thread(target=self.tcp_conn, args=(kind,), daemon=True)
                t.start()
                threads.append(t)
                with self.lock:
                    self.tcp_conns += 1
                i += 1
                continue
            time.sleep(0.05)
        for t in threads:
            t.join(timeout=max(0.0, self.stop_at + 5 - time.monotonic()))

    # ------------------------------------------------------------ report

    def report(self):
        out = sys.stdout
        us = sum(v for k, v in self.sent.items())
        ua = sum(self.answered.values())
        out.write("udp: %d packets sent, %d answers received\n" % (us, ua))
        out.write("  %-16s %7s %7s  %s\n" % ("kind", "sent", "answers", "rcodes"))
        for k in sorted(set(self.sent) | set(self.answered)):
            rc = ",".join("%s=%d" % kv for kv in sorted(self.rcodes[k].items()))
            out.write("  %-16s %7d %7d  %s\n" % (k, self.sent.get(k, 0), self.answered.get(k, 0), rc or "-"))
        out.write("tcp: %d connections (%d bytes of answers read)\n" % (self.tcp_conns, self.tcp_bytes))
        for k in sorted(self.tcp):
            closes = self.tcp_close.get(k)
            ct = ""
            if closes:
                ct = "  [server closed after %.1f..%.1f s]" % (min(closes), max(closes))
            for o, n in sorted(self.tcp[k].items()):
                out.write("  %-10s %3d x %s\n" % (k, n, o))
            if ct:
                out.write("  %-10s %s\n" % ("", ct.strip()))
        na = sum(self.anomalies.values())
        out.write("anomalies: %d\n" % na)
        for t, n in sorted(self.anomalies.items()):
            out.write("  %5d x %s\n" % (n, t))
        out.write("HOSTILE udp_sent=%d udp_answered=%d tcp_conns=%d anomalies=%d\n" % (us, ua, self.tcp_conns, na))
        out.flush()


def loopback(addr):
    return ipaddress.ip_address(addr) in ipaddress.ip_network("127.0.0.0/8")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="127.0.0.66", help="local address (a loopback one, so per-client limits do not hit other clients)")
    p.add_argument("--duration", type=float, default=30)
    p.add_argument("--rate", type=float, default=200, help="UDP packets per second")
    p.add_argument("--tcp-conns", type=int, default=30)
    p.add_argument("--tcp-parallel", type=int, default=6)
    p.add_argument("--tcp-max-secs", type=float, default=30, help="longest life of one hostile TCP connection")
    p.add_argument("--tcp-bursts", type=int, default=1)
    p.add_argument("--burst-size", type=int, default=20)
    p.add_argument("--burst-source", default="127.0.0.67", help="local address of the burst connections")
    p.add_argument("--names", nargs="*", help="names for the otherwise valid parts of packets")
    p.add_argument("--names-file", help="file with one name (first field) per line")
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args()
    if not (loopback(a.target) and loopback(a.source) and loopback(a.burst_source)):
        sys.exit("hostile.py: target and source addresses must be in 127.0.0.0/8")
    if not (0 < a.duration <= 3600 and 0 < a.rate <= 5000 and a.tcp_conns <= 1000 and a.burst_size <= 200 and a.tcp_bursts <= 20):
        sys.exit("hostile.py: limits exceeded (duration <= 3600 s, rate <= 5000/s, tcp-conns <= 1000, burst-size <= 200, tcp-bursts <= 20)")
    if a.names_file:
        with open(a.names_file) as f:
            a.names = [ln.split()[0] for ln, _ in zip(f, range(10000)) if ln.strip()]
    h = Hostile(a)
    t = threading.Thread(target=h.tcp_loop, daemon=True)
    t.start()
    try:
        h.udp_loop()
    except KeyboardInterrupt:
        pass
    t.join(timeout=max(0.0, h.stop_at + 10 - time.monotonic()))
    h.report()


if __name__ == "__main__":
    main()
