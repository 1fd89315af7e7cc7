#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into DIR/<target>/ (default: corpus/):
well-formed requests like those the tests send, signed with the targets' secrets, and
typical field values. `scripts/fuzz.sh` runs it before fuzzing."""
import hashlib
import hmac
import os
import struct
import sys

SECRET = b"fuzz-secret"
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def attr(typ, value):
    if isinstance(value, str):
        value = value.encode()
    return bytes([typ, len(value) + 2]) + value


def u32(typ, v):
    return attr(typ, struct.pack(">I", v))


def vsa(vendor, typ, value):
    return attr(26, struct.pack(">I", vendor) + attr(typ, value))


def hide(password, authenticator):
    p = password.encode()
    p += b"\0" * (-len(p) % 16 or (16 if not p else 0))
    out, last = b"", authenticator
    for i in range(0, len(p), 16):
        b = hashlib.md5(SECRET + last).digest()
        c = bytes(x ^ y for x, y in zip(p[i:i + 16], b))
        out, last = out + c, c
    return out


def request(code, ident, authenticator, attrs, message_authenticator=False):
    body = b"".join(attrs)
    if message_authenticator:
        body += attr(80, b"\0" * 16)
    packet = struct.pack(">BBH", code, ident, 20 + len(body)) + authenticator + body
    if message_authenticator:
        mac = hmac.new(SECRET, packet, hashlib.md5).digest()
        packet = packet[:-16] + mac
    return packet


def accounting(ident, attrs):
    body = b"".join(attrs)
    header = struct.pack(">BBH", 4, ident, 20 + len(body))
    authenticator = hashlib.md5(header + b"\0" * 16 + body + SECRET).digest()
    return header + authenticator + body


def reply(code, ident, request_authenticator, attrs):
    body = b"".join(attrs)
    header = struct.pack(">BBH", code, ident, 20 + len(body))
    authenticator = hashlib.md5(header + request_authenticator + body + SECRET).digest()
    return header + authenticator + body


ra = bytes(range(16))
common = [
    attr(4, bytes([127, 0, 0, 1])),
    attr(31, "00-11-22-33-44-55"),
    attr(87, "eth 0/1/0:100.200"),
    attr(8, bytes([10, 0, 0, 5])),
    u32(61, 15),
]
access = [
    request(1, 1, ra, [attr(1, "alice"), attr(2, hide("wonderland", ra))] + common, True),
    request(1, 2, ra, [attr(1, "alice"), attr(2, hide("wrong", ra))] + common, True),
    request(1, 3, ra, [attr(1, "alice"), attr(3, b"\x01" + bytes(16)), attr(60, bytes(16))]),
    request(1, 4, ra, [attr(1, "nobody"), attr(2, hide("x", ra)), attr(32, "bras-1")]),
    request(12, 5, ra, [], True),
    # MS-CHAP v2 and v1 (responses that do not match: the refusal path with MS-CHAP-Error).
    request(1, 6, ra, [attr(1, "alice"), vsa(311, 11, bytes(range(16))),
                       vsa(311, 25, bytes([0x42, 0]) + bytes(range(16)) + bytes(8) + bytes(24))], True),
    request(1, 7, ra, [attr(1, "alice"), vsa(311, 11, bytes(8)),
                       vsa(311, 1, bytes([1, 1]) + bytes(48))], True),
]
session = [attr(1, "alice"), attr(44, "fuzz-session-1"), attr(4, bytes([127, 0, 0, 1])),
           attr(8, bytes([10, 0, 0, 5])), attr(31, "00:11:22:33:44:55"), attr(87, "vlanid=100;vlanid2=200;"),
           attr(25, "product=standard"), vsa(2011, 26, "up")]
acct = [
    accounting(1, session + [u32(40, 1)]),
    accounting(2, session + [u32(40, 3), u32(46, 60), u32(42, 1000), u32(43, 5000), u32(52, 1), u32(53, 0)]),
    accounting(3, session + [u32(40, 2), u32(46, 120), u32(42, 2000), u32(43, 9000), u32(49, 1)]),
    accounting(4, [attr(4, bytes([127, 0, 0, 1])), u32(40, 7), attr(44, "0")]),
]
dynauth = [
    reply(41, 1, bytes([7]) * 16, []),
    reply(42, 2, bytes([7]) * 16, [u32(101, 503)]),
    reply(44, 3, bytes([7]) * 16, []),
    reply(45, 4, bytes([7]) * 16, [u32(101, 404)]),
]
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "config", "turnstile.toml"), "rb") as f:
    config = f.read()
def step(status, session, time, octets_in, octets_out, flags=0):
    """An accounting step of journal_plan: status 0 Start, 1 Interim, 2 Stop, 4 On."""
    return bytes([0, status | flags, session]) + struct.pack(">III", time, octets_in, octets_out)


commit = bytes([7 | 6 << 3])  # plan the batch, then 60 s pass
journal = [
    step(0, 0, 0, 0, 0) + commit + step(1, 0, 60, 1000, 5000) + commit + step(2, 0, 120, 2000, 9000) + commit,
    step(0, 1, 0, 0, 0) + step(1, 1, 60, 4000000000, 1) + commit + step(1, 1, 120, 5, 2, 0x10) + commit
    + bytes([6 | 8, 5]) + commit + step(4, 0, 0, 0, 0) + commit,
    step(0, 2, 0, 0, 0) + step(0, 0x82, 0, 0, 0) + commit + bytes([5 | 2 << 6]) + step(2, 2, 30, 1, 1, 0x20) + commit,
]
seeds = {
    "radius_packet": access + acct + dynauth,
    "journal_plan": journal,
    "access_request": access,
    "accounting_request": acct,
    "dynauth_reply": dynauth,
    "srun_codec": [bytes([8]) + b"c0ffee42" + b'{"username":"alice","password":"wonderland","ip":"10.0.0.5","acid":"1","enc_ver":"srun_bx1"}',
                   bytes([4]) + b"abcd" + b"{SRBX1}u9b+",
                   bytes([0]) + b"aGVsbG8="],
    "jsonp": [b"jQuery112405_1600000000000", b"cb", b"a.b$c"],
    # Mode byte (a route, or 8 and above a signed login), two bytes of the source address,
    # then the query, or the login's user, password, address and ac_id separated by NULs.
    "portal_request": [
        bytes([0, 0, 1]) + b"callback=jQuery112405_1&username=alice&ip=10.0.0.5&_=1600000000000",
        bytes([1, 0, 2]) + b"callback=cb&action=login&username=alice&password=%7BMD5%7D00&ac_id=1&ip=&n=200&type=1&info=%7BSRBX1%7Dabc&chksum=00",
        bytes([2, 0, 3]) + b"callback=cb&ip=10.0.0.5",
        bytes([3, 0, 4]) + b"callback=cb&username=alice&ip=10.0.0.5&time=1600000000&unbind=1&sign=00",
        bytes([4, 0, 5]) + b"ac_id=1&theme=basic",
        bytes([7, 0, 6]) + b"username=alice&ip=10.0.0.5",
        bytes([8, 0, 7]) + b"\0".join([b"alice", b"wonderland", b"10.0.0.7", b"1"]),
        bytes([8, 0, 8]) + b"\0".join([b"alice@campus", b"wrong", b"", b"1"]),
    ],
    "config_file": [config, b"[general]\nlanguage = \"en\"\n", b"[radius]\nauth_port = 70000\n"],
    "csv_import": [b"alice,wonderland\nbob,pass,with,commas\n", b"# comment\n\ncarol,pw\r\n", b"dave\n"],
    "api_body": [b'{"name":"alice","password":"pw","bindings":[{"kind":"mac","value":"00:11:22:33:44:55"}]}',
                 b'{"name":"a","name":"b"}', b'["bad5","p"]', b'{"enabled":false,"bind":[["mac","x"]]}', b'7'],
    # An EAP packet alone, or an Access-Request carrying one (split over two attributes).
    "eap_message": [
        b"\x02\x07\x00\x0a\x01alice", b"\x03\x07\x00\x04", b"\x01\x01\x00\x06\x04\x10",
        request(1, 8, ra, [attr(1, "alice"), attr(79, b"\x02\x07\x00\x0a\x01"), attr(79, b"alice")], True),
        request(1, 9, ra, [attr(1, "alice"), attr(79, b"")], True),
    ],
    # The value of a Vendor-Specific attribute: Microsoft's id, then sub-attributes.
    "ms_chap": [
        (311).to_bytes(4, "big") + bytes([11, 18]) + bytes(range(16))
        + bytes([25, 52, 0x42, 0]) + bytes(range(15, -1, -1)) + bytes(8)
        + bytes.fromhex("d2949707add1f3d9856cf52209b494938ddcd19011de8686"),
        (311).to_bytes(4, "big") + bytes([1, 52, 1, 1]) + bytes(48),
    ],
    "field_parsers": [b"00:11:22:33:44:55", b"0011.2233.4455", b"00-11-22-33-44-55", b"eth 0/1/0:100.200",
                      b"vlanid=100;vlanid2=200;", b"08:00-22:00", b"22:00-06:00", b"10.0.0.0/8",
                      b"10.0.0.1-10.0.0.9", b"+08:00", b"local"],
}
for target, items in seeds.items():
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, f"seed-{i}"), "wb") as f:
            f.write(data)
