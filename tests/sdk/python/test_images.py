#!/usr/bin/env python3
"""The official Cloudflare Python SDK (cloudflare 5.9.0) against the standalone mock.

Calls ``client.images.v1.create(...)`` as a user would and checks the typed ``Image`` it returns,
or the SDK's own ``APIStatusError`` subclass (status and Cloudflare error code) for refusals.

Environment (``tests/sdk/run`` sets all of it):

- ``CF_IMAGES_MOCK_URL``: base URL of an instance started with ``--token $CF_IMAGES_MOCK_TOKEN``
  (default ``http://127.0.0.1:4010/client/v4``).
- ``CF_IMAGES_MOCK_TOKEN``: the token that instance requires.
- ``CF_IMAGES_MOCK_KEY_URL``: base URL of an instance started with
  ``--email $CF_IMAGES_MOCK_EMAIL --key $CF_IMAGES_MOCK_KEY`` (the key cases fail without it).
- ``CF_IMAGES_MOCK_ACCOUNT_ID``, ``CF_IMAGES_MOCK_ACCOUNT_HASH``, ``CF_IMAGES_MOCK_VARIANTS``:
  what both instances were started with (``--account-id``, ``--account-hash``, ``--variants``).

Prints ``PASS name`` or ``FAIL name: detail`` per case, then ``N passed, M failed``; exits 1 on
any failure.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid

# The SDK reads these when an argument is None; a developer's own credentials (X-Auth-Email and
# X-Auth-Key take precedence over a token) must not leak into the cases.
for _var in (
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_API_USER_SERVICE_KEY",
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_CUSTOM_HEADERS",
):
    os.environ.pop(_var, None)

import cloudflare  # noqa: E402
from cloudflare import Cloudflare  # noqa: E402

URL = os.environ.get("CF_IMAGES_MOCK_URL", "http://127.0.0.1:4010/client/v4")
KEY_URL = os.environ.get("CF_IMAGES_MOCK_KEY_URL")
TOKEN = os.environ.get("CF_IMAGES_MOCK_TOKEN", "mock-api-token")
EMAIL = os.environ.get("CF_IMAGES_MOCK_EMAIL", "user@example.com")
KEY = os.environ.get("CF_IMAGES_MOCK_KEY", "144c9defac04969c7bfad8efaa8ea194")
ACCOUNT_ID = os.environ.get("CF_IMAGES_MOCK_ACCOUNT_ID", "023e105f4ecef8ad9ca31a8372d0c353")
ACCOUNT_HASH = os.environ.get("CF_IMAGES_MOCK_ACCOUNT_HASH")  # None: any 22-char base64url hash
VARIANTS = os.environ.get("CF_IMAGES_MOCK_VARIANTS", "public").split(",")

# Custom ids are unique per run, so the script can run again against a live instance.
RUN = f"{int(time.time())}-{uuid.uuid4().hex[:8]}"

# A valid 1x1 RGBA PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

GENERATED_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HASH = re.compile(r"^[A-Za-z0-9_-]{22}$")

MSG_DUPLICATE = "Resource already exists. Verify the resource information and try again."
MSG_PRIVATE_CUSTOM_ID = (
    "The image contains a custom ID and cannot be set to private. To make the image private, "
    "delete and upload the image again using a regular ID."
)


def client(**auth) -> Cloudflare:
    """A client as a user makes one; no retries, so a refusal is the first answer, not the last."""
    if not auth:
        auth = {"api_token": TOKEN}
    base_url = auth.pop("base_url", URL)
    return Cloudflare(base_url=base_url, max_retries=0, **auth)


def key_client(**auth) -> Cloudflare:
    if not KEY_URL:
        raise AssertionError("CF_IMAGES_MOCK_KEY_URL is not set (no instance requiring email/key)")
    auth = auth or {"api_email": EMAIL, "api_key": KEY}
    return client(base_url=KEY_URL, **auth)


# --- the image server for url uploads --------------------------------------------------------


class ImageServer:
    """Serves PNG at /cat.png on 127.0.0.1 (the mock fetches loopback http URLs) and counts GETs."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(self.path)
                if self.path == "/cat.png":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(PNG)))
                    self.end_headers()
                    self.wfile.write(PNG)
                else:
                    self.send_error(404)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- checks ---------------------------------------------------------------------------------


def eq(what: str, got, want) -> None:
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def check_image(image, *, id=None, filename, creator=None, meta=None, signed=False) -> None:
    if not isinstance(image, cloudflare.types.images.Image):
        raise AssertionError(f"create returned {type(image).__name__}, not Image")
    if id is None:
        if not GENERATED_ID.match(image.id or ""):
            raise AssertionError(f"id: {image.id!r} is not a generated UUID-shaped id")
    else:
        eq("id", image.id, id)
    eq("filename", image.filename, filename)
    eq("creator", image.creator, creator)
    eq("meta", image.meta, {} if meta is None else meta)
    eq("require_signed_urls", image.require_signed_urls, signed)
    if not isinstance(image.uploaded, dt.datetime) or image.uploaded.tzinfo is None:
        raise AssertionError(f"uploaded: {image.uploaded!r} is not an aware datetime")
    skew = abs((dt.datetime.now(dt.timezone.utc) - image.uploaded).total_seconds())
    if skew > 300:
        raise AssertionError(f"uploaded: {image.uploaded.isoformat()} is {skew:.0f}s from now")
    variants = image.variants or []
    eq("number of variants", len(variants), len(VARIANTS))
    for url, name in zip(variants, VARIANTS):
        m = re.match(r"^https://imagedelivery\.net/([^/]+)/(.+)/([^/]+)$", url)
        if not m:
            raise AssertionError(f"variant {url!r} is not https://imagedelivery.net/<hash>/<id>/<v>")
        hash_, id_, variant = m.groups()
        if ACCOUNT_HASH is not None:
            eq("variant account hash", hash_, ACCOUNT_HASH)
        elif not HASH.match(hash_):
            raise AssertionError(f"variant {url!r}: account hash {hash_!r} is not 22 base64url chars")
        eq("variant image id", id_, image.id)
        eq("variant name", variant, name)


def expect_error(call, status: int, code: int, error_class, message: str | None = None) -> None:
    try:
        image = call()
    except cloudflare.APIStatusError as e:
        if not isinstance(e, error_class):
            raise AssertionError(
                f"raised {type(e).__name__}, want {error_class.__name__}; body {e.body!r}"
            ) from None
        eq("status_code", e.status_code, status)
        codes = [err.code for err in e.errors]
        if code not in codes:
            raise AssertionError(f"error codes {codes}, want {code}; body {e.body!r}")
        body = e.body if isinstance(e.body, dict) else {}
        eq("body.success", body.get("success"), False)
        eq("body.result", body.get("result", "missing"), None)
        if message is not None:
            eq("message", [err.message for err in e.errors if err.code == code][0], message)
        return
    raise AssertionError(f"accepted (id {getattr(image, 'id', None)!r}), want {status}/{code}")


# --- cases ----------------------------------------------------------------------------------

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn

    return register


@case("accepted: file bytes with a filename (bearer token)")
def _():
    image = client().images.v1.create(account_id=ACCOUNT_ID, file=("cat.png", PNG, "image/png"))
    check_image(image, filename="cat.png")


@case("accepted: file bytes without a filename")
def _():
    image = client().images.v1.create(account_id=ACCOUNT_ID, file=PNG)
    check_image(image, filename="upload")


@case("accepted: nested metadata (dot parts; numbers and booleans come back as strings)")
def _():
    metadata = {"owner": "42", "nested": {"a": "b"}, "count": 7, "flag": True}
    image = client().images.v1.create(
        account_id=ACCOUNT_ID, file=("cat.png", PNG, "image/png"), metadata=metadata
    )
    want = {"owner": "42", "nested": {"a": "b"}, "count": "7", "flag": "true"}
    check_image(image, filename="cat.png", meta=want)


@case("accepted: metadata of exactly 1024 bytes as compact JSON")
def _():
    metadata = {"note": "x" * (1024 - len('{"note":""}'))}
    eq("test setup", len(json.dumps(metadata, separators=(",", ":"))), 1024)
    image = client().images.v1.create(account_id=ACCOUNT_ID, file=PNG, metadata=metadata)
    check_image(image, filename="upload", meta=metadata)


@case("accepted: creator")
def _():
    image = client().images.v1.create(account_id=ACCOUNT_ID, file=PNG, creator="user-1234")
    check_image(image, filename="upload", creator="user-1234")


@case("accepted: creator of 1024 characters (2048 UTF-8 bytes)")
def _():
    creator = "é" * 1024
    image = client().images.v1.create(account_id=ACCOUNT_ID, file=PNG, creator=creator)
    check_image(image, filename="upload", creator=creator)


@case("accepted: custom id with subpaths")
def _():
    custom = f"sdk/python/{RUN}/custom-cat"
    image = client().images.v1.create(account_id=ACCOUNT_ID, id=custom, file=("cat.png", PNG, "image/png"))
    check_image(image, id=custom, filename="cat.png")


@case("accepted: require_signed_urls=True without id")
def _():
    image = client().images.v1.create(account_id=ACCOUNT_ID, file=PNG, require_signed_urls=True)
    check_image(image, filename="upload", signed=True)


@case("accepted: every field at once (require_signed_urls=False)")
def _():
    custom = f"sdk/python/{RUN}/everything.png"
    image = client().images.v1.create(
        account_id=ACCOUNT_ID,
        id=custom,
        creator="someone",
        file=("everything.png", PNG, "image/png"),
        metadata={"k": "v"},
        require_signed_urls=False,
    )
    check_image(image, id=custom, filename="everything.png", creator="someone", meta={"k": "v"})


@case("accepted: url upload from a loopback image server")
def _():
    server = ImageServer()
    try:
        image = client().images.v1.create(account_id=ACCOUNT_ID, url=server.url("/cat.png"))
        check_image(image, filename="cat.png")
        eq("GETs the image server saw", server.requests, ["/cat.png"])
    finally:
        server.close()


@case("accepted: X-Auth-Email/X-Auth-Key")
def _():
    image = key_client().images.v1.create(account_id=ACCOUNT_ID, file=("cat.png", PNG, "image/png"))
    check_image(image, filename="cat.png")


@case("accepted: raw envelope of a success")
def _():
    raw = client().images.v1.with_raw_response.create(account_id=ACCOUNT_ID, file=PNG)
    eq("status", raw.status_code, 200)
    body = raw.http_response.json()
    eq("success", body.get("success"), True)
    eq("errors", body.get("errors"), [])
    eq("messages", body.get("messages"), [])
    check_image(raw.parse(), filename="upload")


@case("refused: both file and url (400, 5400)")
def _():
    server = ImageServer()
    try:
        expect_error(
            lambda: client().images.v1.create(
                account_id=ACCOUNT_ID, file=("cat.png", PNG, "image/png"), url=server.url("/cat.png")
            ),
            400,
            5400,
            cloudflare.BadRequestError,
        )
        eq("GETs the image server saw (a refused upload fetches nothing)", server.requests, [])
    finally:
        server.close()


@case("refused: neither file nor url (400, 5400)")
def _():
    expect_error(
        lambda: client().images.v1.create(account_id=ACCOUNT_ID, creator="nobody"),
        400,
        5400,
        cloudflare.BadRequestError,
    )


@case("refused: metadata over 1024 bytes (400, 5400)")
def _():
    metadata = {"note": "x" * (1025 - len('{"note":""}'))}
    expect_error(
        lambda: client().images.v1.create(account_id=ACCOUNT_ID, file=PNG, metadata=metadata),
        400,
        5400,
        cloudflare.BadRequestError,
    )


@case("refused: creator over 1024 characters (400, 5400)")
def _():
    expect_error(
        lambda: client().images.v1.create(account_id=ACCOUNT_ID, file=PNG, creator="c" * 1025),
        400,
        5400,
        cloudflare.BadRequestError,
    )


@case("refused: custom id with signed URLs (400, 5410)")
def _():
    expect_error(
        lambda: client().images.v1.create(
            account_id=ACCOUNT_ID, id=f"sdk/python/{RUN}/private", file=PNG, require_signed_urls=True
        ),
        400,
        5410,
        cloudflare.BadRequestError,
        MSG_PRIVATE_CUSTOM_ID,
    )


@case("refused: duplicate id (409, 5409)")
def _():
    custom = f"sdk/python/{RUN}/twice"
    first = client().images.v1.create(account_id=ACCOUNT_ID, id=custom, file=PNG)
    check_image(first, id=custom, filename="upload")
    expect_error(
        lambda: client().images.v1.create(account_id=ACCOUNT_ID, id=custom, file=PNG),
        409,
        5409,
        cloudflare.ConflictError,
        MSG_DUPLICATE,
    )


@case("refused: wrong bearer token (403, 10000)")
def _():
    expect_error(
        lambda: client(api_token=TOKEN + "-wrong").images.v1.create(account_id=ACCOUNT_ID, file=PNG),
        403,
        10000,
        cloudflare.PermissionDeniedError,
        "Authentication error",
    )


@case("refused: wrong X-Auth-Key (403, 10000)")
def _():
    expect_error(
        lambda: key_client(api_email=EMAIL, api_key="0" * 37)
        .images.v1.create(account_id=ACCOUNT_ID, file=PNG),
        403,
        10000,
        cloudflare.PermissionDeniedError,
        "Authentication error",
    )


@case("refused: a bearer token where email/key are required (403, 10000)")
def _():
    expect_error(
        lambda: key_client(api_token=TOKEN).images.v1.create(account_id=ACCOUNT_ID, file=PNG),
        403,
        10000,
        cloudflare.PermissionDeniedError,
    )


def main() -> int:
    print(f"python SDK cloudflare {cloudflare.__version__} against {URL} (key instance {KEY_URL})")
    passed = failed = 0
    for name, fn in CASES:
        try:
            fn()
        except AssertionError as e:
            failed += 1
            print(f"FAIL {name}: {e}")
        except Exception as e:  # an SDK error where none was expected, a connection error...
            failed += 1
            detail = f"{type(e).__name__}: {e}"
            if isinstance(e, cloudflare.APIStatusError):
                detail += f" (status {e.status_code})"
            print(f"FAIL {name}: {detail}")
            if os.environ.get("CF_IMAGES_MOCK_TRACEBACK"):
                traceback.print_exc()
        else:
            passed += 1
            print(f"PASS {name}")
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
