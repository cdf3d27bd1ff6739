#!/usr/bin/env python3
"""Writes the malformed-request corpus of `backprop serve`: raw HTTP requests, one per file, named
STATUS-what.http with the 4xx status the server must answer (a body over the 1 MiB limit, 413,
is sent by the test itself rather than stored here). tests/test_serve.cpp replays each
over a socket and then checks that the server still answers. Run from this folder."""
import json
import pathlib

here = pathlib.Path(__file__).parent
png = (here / "../seven-64.png").read_bytes()


def request(method, path, headers=(), body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += list(headers)
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def post(content_type, body, extra=()):
    headers = ([f"Content-Type: {content_type}"] if content_type else []) + list(extra)
    return request("POST", "/api/predict", headers, body)


def pixels(values, **more):
    return json.dumps({"pixels": values, **more}).encode()


cases = {
    "400-not-a-png": post("image/png", b"hello, not a picture"),
    "400-truncated-png": post("image/png", png[:100]),
    "400-png-header-only": post("image/png", png[:8]),
    "400-empty-body": post("image/png", b""),
    "415-text-plain": post("text/plain", b"1 2 3"),
    "415-no-content-type": post(None, png),
    "415-gif": post("image/gif", b"GIF89a"),
    "400-bad-json": post("application/json", b'{"pixels": [0, 0'),
    "400-json-not-object": post("application/json", b"[1, 2, 3]"),
    "400-json-no-pixels": post("application/json", b'{"image": []}'),
    "400-pixels-not-array": post("application/json", pixels("lots")),
    "400-wrong-count": post("application/json", pixels([0.5] * 100)),
    "400-ragged-rows": post("application/json", pixels([[0.0] * 28] * 27 + [[0.0] * 27])),
    "400-rows-not-arrays": post("application/json", pixels([0.0] * 28)),
    "400-value-above-1": post("application/json", pixels([2.0] * 784)),
    "400-negative-value": post("application/json", pixels([-0.5] + [0.0] * 783)),
    "400-string-values": post("application/json", pixels(["0"] * 784)),
    "400-prepare-not-bool": post("application/json", pixels([0.0] * 784, prepare="yes")),
    "422-blank-picture": post("application/json", pixels([0.0] * 784)),
    "400-index-missing": request("GET", "/api/misclassified"),
    "400-index-negative": request("GET", "/api/misclassified?index=-1"),
    "400-index-words": request("GET", "/api/misclassified?index=three"),
    "400-index-huge": request("GET", "/api/misclassified?index=99999999999999999999"),
    "404-index-past-the-end": request("GET", "/api/misclassified?index=999999"),
    "404-unknown-page": request("GET", "/nothing-here"),
    "404-unknown-api": request("POST", "/api/train", ["Content-Type: application/json"], b"{}"),
    "400-garbage-request-line": b"THIS IS NOT HTTP\r\n\r\n",
    "414-long-uri": request("GET", "/" + "a" * 10000),
}

for name, raw in cases.items():
    (here / f"{name}.http").write_bytes(raw)
print(f"wrote {len(cases)} requests")
