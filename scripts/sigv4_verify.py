"""Checks SigV4 signatures with botocore, independently of the Rust signer under test.

Reads one JSON object per line on stdin: the request as it arrived (method, url, headers as
[name, value] pairs, body in base64) and the credentials, region and service the receiver
expects. Writes `ready` once started, then one line per request: `ok`, or `mismatch: <why>`.

The signature is recomputed the way AWS does: botocore's SigV4Auth over the headers the request
says it signed (`SignedHeaders`), at the time it says it was signed (`X-Amz-Date`), with the
expected secret key. A wrong secret, another region or service, a changed header or a changed
body gives another signature.

Used by tests/support/otlp_receiver.rs (`make venv` installs botocore with moto).
"""

import base64
import hmac
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def parse_authorization(value):
    algorithm, _, rest = value.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise ValueError(f"algorithm {algorithm!r}")
    fields = {}
    for part in rest.split(","):
        key, _, val = part.strip().partition("=")
        fields[key] = val
    return fields["Credential"], fields["SignedHeaders"].split(";"), fields["Signature"]


def verify(req):
    headers = {}
    for name, value in req["headers"]:
        headers[name.lower()] = value
    if "authorization" not in headers:
        return "mismatch: no authorization header"
    credential, signed, signature = parse_authorization(headers["authorization"])
    key_id, date, region, service, terminator = credential.split("/")
    if key_id != req["access_key_id"]:
        return "mismatch: access key id"
    if (region, service, terminator) != (req["region"], req["service"], "aws4_request"):
        return f"mismatch: scope {region}/{service}/{terminator}"
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date):
        return "mismatch: x-amz-date outside the credential's day"
    token = req.get("session_token")
    if token is not None and headers.get("x-amz-security-token") != token:
        return "mismatch: session token"
    if token is not None and "x-amz-security-token" not in signed:
        return "mismatch: session token not signed"
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return f"mismatch: {required} not signed"

    body = base64.b64decode(req["body"])
    request = AWSRequest(
        method=req["method"],
        url=req["url"],
        data=body,
        headers={name: headers[name] for name in signed if name in headers},
    )
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(
        Credentials(req["access_key_id"], req["secret_access_key"], token),
        req["service"],
        req["region"],
    )
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signature):
        return "mismatch: signature"
    return "ok"


def main():
    print("ready", flush=True)  # botocore is imported: the receiver may start
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            verdict = verify(json.loads(line))
        except Exception as e:  # a malformed request is a mismatch, never a crash
            verdict = f"mismatch: {type(e).__name__}"
        print(verdict, flush=True)


if __name__ == "__main__":
    main()
