#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).

Run from anywhere: python3 tests/fuzz/make_seeds.py. The files are committed; running it again
rewrites them identically. libFuzzer adds what it finds to a copy (make fuzz), never here.
"""
import base64, hashlib, hmac, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- STOMP frames --------------------------------------------------------------------------
frames = {
    "connect": "CONNECT\naccept-version:1.2\nhost:127.0.0.1\nheart-beat:10000,10000\n\n\0",
    "connected": "CONNECTED\nversion:1.2\nheart-beat:0,0\nserver:x/1\n\n\0",
    "send": "SEND\ndestination:/publish/1\ncontent-type:application/json\ncontent-length:13\n\n{\"content\":1}\0",
    "send_nul_body": "SEND\ndestination:/t\ncontent-length:5\n\na\0b\0c\0",
    "message": "MESSAGE\nsubscription:0\nmessage-id:1\ndestination:/topic/room.1\n\nhello\0\n",
    "escapes": "MESSAGE\nsubscription:a\\cb\nx\\\\y:\\r\\n\\c\n\nbody\0",
    "crlf": "SEND\r\ndestination:/t\r\n\r\nbody\0\r\n\r\n",
    "heartbeats": "\n\r\n\n",
    "two_frames": "RECEIPT\nreceipt-id:1\n\n\0ERROR\nmessage:bad\n\nwhat\0",
    "duplicate_headers": "MESSAGE\nfoo:1\nfoo:2\ncontent-length:1\ncontent-length:9\n\nx\0",
    "bad_escape": "SEND\ndestination:a\\tb\n\n\0",
    "bad_length": "SEND\ncontent-length:-1\n\n\0",
    "huge_length": "SEND\ncontent-length:18446744073709551615\n\n\0",
    "missing_nul": "SEND\ncontent-length:1\n\nxy",
    "unknown": "HELLO\n\n\0",
    "subscribe": "SUBSCRIBE\nid:0\ndestination:/topic/room.1\nack:auto\nreceipt:r1\n\n\0",
    "disconnect": "DISCONNECT\nreceipt:77\n\n\0",
}
for i, (name, text) in enumerate(sorted(frames.items())):
    seed = struct.pack("<I", 0x1234567 * (i + 1) & 0x7FFFFFFF)
    write("stomp_parser", name, seed + text.encode())
write("stomp_parser", "long_header", struct.pack("<I", 5) + b"SEND\nx:" + b"a" * 300 + b"\n\n\0")
write("stomp_parser", "many_headers",
      struct.pack("<I", 9) + b"SEND\n" + b"".join(b"h%d:v\n" % i for i in range(12)) + b"\n\0")

# --- header escaping ------------------------------------------------------------------------
for name, text in {"plain": "abc", "all": "\\\\\\r\\n\\c", "bad_t": "a\\tb", "lone": "abc\\",
                   "mixed": "x\\cy\\nz:\r\n"}.items():
    write("stomp_unescape", name, text)

# --- heart-beats: 8 bytes of grace (a double), then "x,y|x,y|..." --------------------------
for name, (g, text) in {"usual": (2.0, "10000,10000|0,0|5000,20000"),
                        "max": (1.5, "4294967295,4294967295|1,1"),
                        "bad": (1.0, "10,|,10|-1,5| 1,2|1,2,3"),
                        "huge_grace": (1e300, "4294967295,4294967295|4294967295,1")}.items():
    write("heartbeat", name, struct.pack("<d", g) + text.encode())

# --- JWT: the key and time of fuzz_jwt.cpp --------------------------------------------------
KEY = b"fuzz-jwt-key-0123456789abcdef0123"
NOW = 1767225600


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(header, payload, key=KEY):
    h = b64(json.dumps(header, separators=(",", ":")).encode())
    p = b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest()
    return h + "." + p + "." + b64(sig)


good = {"sub": "7", "iat": NOW, "exp": NOW + 3600, "token_type": "access"}
hs = {"alg": "HS256", "typ": "JWT"}
write("jwt", "valid_access", token(hs, good))
write("jwt", "valid_refresh", token(hs, dict(good, token_type="refresh", jti="abc")))
write("jwt", "wrong_key", token(hs, good, key=b"another-key"))
write("jwt", "expired", token(hs, dict(good, exp=NOW - 1)))
write("jwt", "not_yet", token(hs, dict(good, nbf=NOW + 60)))
write("jwt", "alg_none", token({"alg": "none", "typ": "JWT"}, good).rsplit(".", 1)[0] + ".")
write("jwt", "alg_hs384", token({"alg": "HS384", "typ": "JWT"}, good))
write("jwt", "sub_zero", token(hs, dict(good, sub="0")))
write("jwt", "sub_number", token(hs, dict(good, sub=7)))
write("jwt", "exp_float", token(hs, dict(good, exp=1e30)))
write("jwt", "malformed", "a.b")
write("jwt", "four_parts", "a.b.c.d")

# --- scenarios: the committed examples plus small broken ones --------------------------------
root = os.path.dirname(os.path.dirname(HERE))
for f in sorted(os.listdir(os.path.join(root, "scenarios"))):
    if f.endswith(".toml"):
        with open(os.path.join(root, "scenarios", f), "rb") as src:
            write("scenario", f, src.read())
write("scenario", "tiny", '[target]\nembedded = true\n[[stage]]\nusers = 2\nduration = "1s"\n')
write("scenario", "secret", '[target]\nembedded = true\n[auth]\nmode = "login"\npassword = "${CANARY}"\n'
      '[[stage]]\nusers = "${USERS}"\nduration = "1s"\n')
write("scenario", "overrides", '[target]\nembedded = true\n[[stage]]\nusers = 2\nduration = "1s"\n'
      '\0stage[0].users=5\nstage[3].users=1\nbehaviour.interval=0s\nauth.password=x')
write("scenario", "bad_types", '[target]\nembedded = "yes"\n[[stage]]\nusers = -1\nduration = "1 fortnight"\n')
write("scenario", "bad_toml", '[target\nurl = "ws://\n')

# --- server frames: first byte = mode bits (1 broker, 2 CONNECT first, 4 binary, 8 chunked) --
sess = {
    "chat_subscribe_send": (2, "SUBSCRIBE\nid:0\ndestination:/topic/room.1\n\n\0"
                               "SEND\ndestination:/publish/1\ncontent-type:application/json\n\n"
                               "{\"content\":\"hi\"}\0"),
    "chat_connect_raw": (0, "CONNECT\naccept-version:1.2\nhost:x\n\n\0"),
    "chat_connect_twice": (2, "CONNECT\naccept-version:1.2\n\n\0"),
    "broker_pubsub": (3 | 8, "SUBSCRIBE\nid:a\\cb\ndestination:/topic/x\nreceipt:1\n\n\0"
                             "SEND\ndestination:/topic/x\n\nhello\0UNSUBSCRIBE\nid:a\\cb\n\n\0"),
    "broker_binary": (3 | 4, "SEND\ndestination:/topic/x\ncontent-length:3\n\na\0b\0"),
    "body_on_subscribe": (3, "SUBSCRIBE\nid:0\ndestination:/topic/x\n\nbody\0"),
    "missing_destination": (2, "SEND\n\nx\0"),
    "oversized": (3, "SEND\ndestination:/topic/x\ncontent-length:999999\n\n"),
    "ack_nack_tx": (3 | 8, "BEGIN\ntransaction:t\n\n\0ACK\nid:1\n\n\0NACK\nid:2\n\n\0"
                           "COMMIT\ntransaction:t\n\n\0ABORT\ntransaction:u\n\n\0"),
    "server_frame_from_client": (2, "MESSAGE\nsubscription:0\n\n\0"),
}
for name, (mode, text) in sess.items():
    write("server_frames", name, bytes([mode]) + text.encode())


# --- WebSocket frames from a server (the client's reader) -----------------------------------
def ws(first, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    if n < 126:
        head = bytes([first, n])
    elif n <= 0xFFFF:
        head = bytes([first, 126]) + struct.pack(">H", n)
    else:
        head = bytes([first, 127]) + struct.pack(">Q", n)
    return head + payload


ws_seeds = {
    "message": ws(0x81, "MESSAGE\nsubscription:0\n\nhello\0"),
    "fragments_ping": ws(0x01, "frag") + ws(0x89, "p") + ws(0x00, "men") + ws(0x80, "ted"),
    "mid_length": ws(0x82, b"y" * 300) + ws(0x8A, "pong"),
    "close": ws(0x81, "a") + ws(0x88, b"\x03\xe8bye") + ws(0x81, "after"),
    "close_empty": ws(0x88, b""),
    "bad_utf8": ws(0x81, b"h\xffi"),
    "masked": bytes([0x81, 0x81, 1, 2, 3, 4, 0x78]),
    "huge": bytes([0x82, 127]) + struct.pack(">Q", 1 << 62),
}
for name, data in ws_seeds.items():
    write("ws_reader", name, struct.pack("<I", 0x9E3779B9) + data)
