#!/usr/bin/env python3
"""The official Cloudflare Python SDK (cloudflare 5.9.0) against the standalone mock.

Calls ``client.images.v1.create(...)`` as a user would and checks the typed ``Image`` it returns,
or the SDK's own ``APIStatusError`` subclass (status and Cloudflare error code) for refusals.
Then, on each instance, a whole lifecycle through the SDK's own methods: upload, ``v1.get``,
``v1.list`` across pages (by hand: the SDK's auto-pagination reads ``result.items``, which the
recorded answer does not have), ``v2.list`` following ``continuation_token``, ``v1.edit``,
``v1.blobs.get``, ``v1.stats.get``, ``v1.delete`` and the ``NotFoundError`` after it.
On each instance too: a direct creator upload (``v2.direct_uploads.create``, the draft, a POST of
the file to ``uploadURL`` with plain ``httpx`` and no credentials, the refused second POST), the
variants (``v1.variants`` create/get/list/edit/delete), the signing keys (``v1.keys``
list/update/delete), and a signed delivery URL whose signature is computed here as Cloudflare's
docs describe (HMAC-SHA256 over ``/{account_hash}/{id}/{variant}?exp={exp}``).

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
import hashlib
import hmac
import http.server
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
import warnings

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
import httpx  # noqa: E402  (the SDK's own HTTP client)

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
    # As recorded, no `meta` key when no metadata was sent (RECORDED.md section 0, finding 4).
    eq("meta", image.meta, meta)
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
        # The gateway's 10000 and 9106 bodies have no result (recorded); the others a null one.
        if "result" in body or code not in (9106, 10000):
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


@case("refused: wrong bearer token (401, 10000)")
def _():
    expect_error(
        lambda: client(api_token=TOKEN + "-wrong").images.v1.create(account_id=ACCOUNT_ID, file=PNG),
        401,
        10000,
        cloudflare.AuthenticationError,
        "Authentication error",
    )


@case("refused: wrong X-Auth-Key (401, 10000)")
def _():
    expect_error(
        lambda: key_client(api_email=EMAIL, api_key="0" * 37)
        .images.v1.create(account_id=ACCOUNT_ID, file=PNG),
        401,
        10000,
        cloudflare.AuthenticationError,
        "Authentication error",
    )


@case("refused: a bearer token where email/key are required (401, 10000)")
def _():
    expect_error(
        lambda: key_client(api_token=TOKEN).images.v1.create(account_id=ACCOUNT_ID, file=PNG),
        401,
        10000,
        cloudflare.AuthenticationError,
    )


# --- lifecycle: upload, get, list v1 and v2 across pages, edit, blob, stats, delete, 404 ------
#
# Run once per instance (bearer token, then email/key), each under its own creator so that the
# lists see only this run's images. Every step is its own case; a step needs the ones before it.

# A valid 3x2 RGB PNG with a tEXt chunk: the blob must answer these bytes exactly.
SUBJECT_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAFXRFWHRDb21tZW50AHNkayBsaWZlY3ljbGUZ3mMTAAAA"
    "HUlEQVR42mNgYDgRwHBiAcMJBoaKEwEVJxZUnAAAQiwH+UDjC18AAAAASUVORK5CYII="
)
LIFECYCLE_IMAGES = 25  # three pages of 10 (the least per_page both lists accept)
PAGE = 10
NOT_FOUND_TEXT = "ERROR 5404: Image not found"


def expect_not_found(call) -> None:
    """The SDK's NotFoundError with status 404; the body is the recorded plain text, so the SDK
    has no JSON `errors` to parse (``e.errors == []``) and keeps the text as ``e.body``."""
    try:
        got = call()
    except cloudflare.APIStatusError as e:
        if not isinstance(e, cloudflare.NotFoundError):
            raise AssertionError(f"raised {type(e).__name__}, want NotFoundError; body {e.body!r}") from None
        eq("status_code", e.status_code, 404)
        eq("body", e.body, NOT_FOUND_TEXT)
        eq("errors", e.errors, [])
        eq("cf-images header", e.response.headers.get("cf-images"), "err=5404")
        return
    raise AssertionError(f"answered {got!r}, want NotFoundError (404)")


def list_v1(c: Cloudflare, **query):
    """``images.v1.list``, which the SDK marks deprecated (as the description does the endpoint):
    its DeprecationWarning is expected here, not news."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return c.images.v1.list(account_id=ACCOUNT_ID, **query)


def lifecycle(label: str, make_client) -> None:
    state: dict = {}
    creator = f"sdk-python-{RUN}-{label}"
    edited_creator = f"{creator}-edited"

    def need(key):
        if key not in state:
            raise AssertionError(f"an earlier lifecycle step ({key}) failed")
        return state[key]

    @case(f"lifecycle ({label}): upload {LIFECYCLE_IMAGES} images with one creator")
    def _():
        c = make_client()
        subject = c.images.v1.create(
            account_id=ACCOUNT_ID,
            file=("subject.png", SUBJECT_PNG, "image/png"),
            creator=creator,
            metadata={"role": "subject", "keep": "no"},
        )
        check_image(subject, filename="subject.png", creator=creator, meta={"role": "subject", "keep": "no"})
        ids = [subject.id]
        for i in range(1, LIFECYCLE_IMAGES):
            image = c.images.v1.create(
                account_id=ACCOUNT_ID, file=(f"n{i}.png", PNG, "image/png"), creator=creator
            )
            check_image(image, filename=f"n{i}.png", creator=creator)
            ids.append(image.id)
        eq("distinct ids", len(set(ids)), LIFECYCLE_IMAGES)
        state.update(subject=subject, ids=ids)

    @case(f"lifecycle ({label}): a custom id with subpaths: get, blobs.get, edit (5410), delete")
    def _():
        # The SDK sends the id as one path segment with each "/" as %2F.
        c = make_client()
        custom = f"sdk/python/{RUN}/{label}/life-cycle.png"
        image = c.images.v1.create(account_id=ACCOUNT_ID, id=custom, file=("cat.png", PNG, "image/png"))
        check_image(image, id=custom, filename="cat.png")
        raw = c.images.v1.with_raw_response.get(custom, account_id=ACCOUNT_ID)
        if "%2F" not in raw.http_request.url.raw_path.decode():
            raise AssertionError(f"the SDK sent {raw.http_request.url}, not a %2F-encoded id")
        eq("get", raw.parse().to_dict(), image.to_dict())
        eq("blob bytes", c.images.v1.blobs.get(custom, account_id=ACCOUNT_ID).read(), PNG)
        expect_error(
            lambda: c.images.v1.edit(custom, account_id=ACCOUNT_ID, require_signed_urls=True),
            400,
            5410,
            cloudflare.BadRequestError,
            MSG_PRIVATE_CUSTOM_ID,
        )
        eq("delete result", c.images.v1.delete(custom, account_id=ACCOUNT_ID), {})
        expect_not_found(lambda: c.images.v1.get(custom, account_id=ACCOUNT_ID))

    @case(f"lifecycle ({label}): images.v1.get")
    def _():
        subject = need("subject")
        image = make_client().images.v1.get(subject.id, account_id=ACCOUNT_ID)
        check_image(image, id=subject.id, filename="subject.png", creator=creator, meta=subject.meta)
        eq("get == upload", image.to_dict(), subject.to_dict())

    @case(f"lifecycle ({label}): images.v1.list auto-pagination reads result.items (the answer has result.images): yields nothing")
    def _():
        # SyncV4PagePagination._get_page_items reads `result.items`; the recorded answer (and the
        # mock) is `result: {images: [...]}`, so iteration stops after the first page with no
        # items, whatever result_info says (next_page_info only adds 1 to the `page` it sent).
        need("ids")
        pager = list_v1(make_client(), creator=creator, per_page=PAGE)
        eq("items of the first page", list(pager._get_page_items()), [])
        eq("has_next_page()", pager.has_next_page(), False)
        eq("items iterated", sum(1 for _ in pager), 0)
        # The images are there, as an extra (untyped) member of `result`.
        eq("len(result.images)", len(pager.result.images), PAGE)

    @case(f"lifecycle ({label}): images.v1.list across pages (page=1.. by hand, per_page=10)")
    def _():
        ids = need("ids")
        c = make_client()
        seen, sizes, page = [], [], 1
        while True:
            pager = list_v1(c, creator=creator, page=page, per_page=PAGE)
            # `result` is typed {items}; `images` is kept as an extra member of raw dicts.
            images = [cloudflare.types.images.Image.construct(**i) for i in (pager.result.images or [])]
            sizes.append(len(images))
            if not images:
                break
            for image in images:
                eq("creator of a listed image", image.creator, creator)
                seen.append(image.id)
            page += 1
            if page > 10:
                raise AssertionError(f"more pages than expected: sizes {sizes}")
        eq("page sizes", sizes, [10, 10, 5, 0])
        eq("listed ids (no repeats)", len(seen), len(set(seen)))
        eq("listed ids", sorted(seen), sorted(ids))
        raw = list_v1(c, creator=creator, per_page=100).result.images
        listed = cloudflare.types.images.Image.construct(**next(i for i in raw if i["id"] == ids[0]))
        eq("listed subject == upload", listed.to_dict(), need("subject").to_dict())

    @case(f"lifecycle ({label}): images.v2.list across pages (per_page=10, continuation_token)")
    def _():
        ids = need("ids")
        c = make_client()
        orders = {}
        for sort_order in ("desc", "asc"):
            seen, sizes, token = [], [], None
            while True:
                kwargs = {"continuation_token": token} if token is not None else {}
                result = c.images.v2.list(
                    account_id=ACCOUNT_ID, creator=creator, per_page=PAGE, sort_order=sort_order, **kwargs
                )
                if not isinstance(result, cloudflare.types.images.V2ListResponse):
                    raise AssertionError(f"v2 list returned {type(result).__name__}")
                images = result.images or []
                sizes.append(len(images))
                for image in images:
                    if not isinstance(image, cloudflare.types.images.Image):
                        raise AssertionError(f"a listed image is {type(image).__name__}, not Image")
                    eq("creator of a listed image", image.creator, creator)
                seen += images
                token = result.continuation_token
                if token is None:
                    break
                if not isinstance(token, str) or not token:
                    raise AssertionError(f"continuation_token {token!r} is not a non-empty string")
                if len(sizes) > 10:
                    raise AssertionError(f"more pages than expected: sizes {sizes}")
            eq(f"{sort_order}: page sizes", sizes, [10, 10, 5])
            got = [i.id for i in seen]
            eq(f"{sort_order}: listed ids (no repeats)", len(got), len(set(got)))
            eq(f"{sort_order}: listed ids", sorted(got), sorted(ids))
            keys = [(i.uploaded, i.id) for i in seen]
            eq(f"{sort_order}: ordered by (uploaded, id)", keys, sorted(keys, reverse=sort_order == "desc"))
            orders[sort_order] = got
        eq("asc == reversed(desc)", orders["asc"], orders["desc"][::-1])

    @case(f"lifecycle ({label}): images.v1.edit replaces metadata and sets creator")
    def _():
        subject = need("subject")
        c = make_client()
        edited = c.images.v1.edit(
            subject.id, account_id=ACCOUNT_ID, creator=edited_creator, metadata={"replaced": "yes", "nested": {"k": "v"}}
        )
        want_meta = {"replaced": "yes", "nested": {"k": "v"}}
        check_image(edited, id=subject.id, filename="subject.png", creator=edited_creator, meta=want_meta)
        eq("uploaded unchanged", edited.uploaded, subject.uploaded)
        again = c.images.v1.get(subject.id, account_id=ACCOUNT_ID)
        eq("get after edit", again.to_dict(), edited.to_dict())
        moved = c.images.v2.list(account_id=ACCOUNT_ID, creator=edited_creator, per_page=PAGE).images or []
        eq("v2 list by the new creator", [i.id for i in moved], [subject.id])
        rest = c.images.v2.list(account_id=ACCOUNT_ID, creator=creator, per_page=100).images or []
        eq("v2 list by the old creator", len(rest), LIFECYCLE_IMAGES - 1)
        state["edited"] = edited

    @case(f"lifecycle ({label}): images.v1.blobs.get answers the uploaded bytes")
    def _():
        subject = need("subject")
        blob = make_client().images.v1.blobs.get(subject.id, account_id=ACCOUNT_ID)
        eq("blob bytes", blob.read(), SUBJECT_PNG)
        eq("content-type", blob.http_response.headers.get("content-type", "").split(";")[0], "image/png")

    @case(f"lifecycle ({label}): images.v1.stats.get counts the images")
    def _():
        need("ids")
        stat = make_client().images.v1.stats.get(account_id=ACCOUNT_ID)
        if not isinstance(stat, cloudflare.types.images.v1.Stat):
            raise AssertionError(f"stats returned {type(stat).__name__}, not Stat")
        eq("count.allowed", stat.count.allowed, 100000)
        if not stat.count.current >= LIFECYCLE_IMAGES:
            raise AssertionError(f"count.current {stat.count.current} < {LIFECYCLE_IMAGES} uploaded here")
        state["current"] = stat.count.current

    @case(f"lifecycle ({label}): images.v1.delete")
    def _():
        subject = need("subject")
        c = make_client()
        result = c.images.v1.delete(subject.id, account_id=ACCOUNT_ID)
        eq("delete result", result, {})
        if "current" in state:
            eq("count.current after delete", c.images.v1.stats.get(account_id=ACCOUNT_ID).count.current,
               state["current"] - 1)
        rest = c.images.v2.list(account_id=ACCOUNT_ID, creator=edited_creator, per_page=PAGE).images or []
        eq("v2 list by its creator after delete", rest, [])
        state["deleted"] = True

    @case(f"lifecycle ({label}): 404 NotFoundError after delete (get, blob, edit, delete)")
    def _():
        subject = need("subject")
        need("deleted")
        c = make_client()
        expect_not_found(lambda: c.images.v1.get(subject.id, account_id=ACCOUNT_ID))
        expect_not_found(lambda: c.images.v1.blobs.get(subject.id, account_id=ACCOUNT_ID))
        expect_not_found(lambda: c.images.v1.edit(subject.id, account_id=ACCOUNT_ID, creator="x"))
        expect_not_found(lambda: c.images.v1.delete(subject.id, account_id=ACCOUNT_ID))


lifecycle("bearer", client)
lifecycle("email-key", key_client)


# --- direct creator uploads, variants, signing keys, signed delivery (issue 14 item 7) -------
#
# Run once per instance. The one-time upload URL and the delivery URL are posted to / fetched with
# plain httpx (the SDK's own HTTP client), without credentials, as a browser or a CDN would.

DIRECT_PNG = SUBJECT_PNG


def mock_root(base_url: str) -> str:
    """The mock's root: the SDK's base URL without ``/client/v4``."""
    if not base_url.rstrip("/").endswith("/client/v4"):
        raise AssertionError(f"base URL {base_url!r} does not end with /client/v4")
    return base_url.rstrip("/")[: -len("/client/v4")]


def sign(path: str, key_value: str) -> str:
    """Cloudflare's docs' signature: lowercase hex HMAC-SHA256 keyed by the key's UTF-8 bytes."""
    return hmac.new(key_value.encode("utf-8"), path.encode("utf-8"), hashlib.sha256).hexdigest()


def extras(label: str, make_client, base_url) -> None:
    state: dict = {}
    creator = f"sdk-python-{RUN}-{label}-direct"

    @case(f"direct upload ({label}): v2.direct_uploads.create, draft, POST to uploadURL, image, 409 on reuse")
    def _():
        c = make_client()
        meta = {"origin": "direct", "label": label}
        created = c.images.v2.direct_uploads.create(account_id=ACCOUNT_ID, metadata=meta, creator=creator)
        if not isinstance(created, cloudflare.types.images.v2.DirectUploadCreateResponse):
            raise AssertionError(f"create returned {type(created).__name__}")
        if not GENERATED_ID.match(created.id or ""):
            raise AssertionError(f"id {created.id!r} is not a generated UUID-shaped id")
        if not isinstance(created.upload_url, str) or not created.upload_url.endswith("/" + created.id):
            raise AssertionError(f"uploadURL {created.upload_url!r} does not end with /{created.id}")
        draft = c.images.v1.get(created.id, account_id=ACCOUNT_ID)
        eq("draft id", draft.id, created.id)
        # `draft` is not a field of the SDK's Image: it is kept as an extra member.
        eq("draft.draft", draft.to_dict().get("draft"), True)
        eq("draft meta", draft.meta, meta)
        # The URL as returned, with the SDK's HTTP client and no credentials.
        with httpx.Client(timeout=30) as http:
            posted = http.post(created.upload_url, files={"file": ("direct.png", DIRECT_PNG, "image/png")})
            eq(f"status of the POST to uploadURL (body {posted.text[:300]!r})", posted.status_code, 200)
            eq("success", posted.json().get("success"), True)
            image = c.images.v1.get(created.id, account_id=ACCOUNT_ID)
            check_image(image, id=created.id, filename="direct.png", creator=creator, meta=meta)
            eq("'draft' in the image", "draft" in image.to_dict(), False)
            eq("blob bytes", c.images.v1.blobs.get(created.id, account_id=ACCOUNT_ID).read(), DIRECT_PNG)
            again = http.post(created.upload_url, files={"file": ("again.png", PNG, "image/png")})
            eq(f"status of a second POST to uploadURL (body {again.text[:300]!r})", again.status_code, 409)
            eq("second POST success", again.json().get("success"), False)
        eq("image after the refused reuse", c.images.v1.get(created.id, account_id=ACCOUNT_ID).to_dict(),
           image.to_dict())

    @case(f"variants ({label}): create, get, list, edit, delete, 404 after")
    def _():
        c = make_client()
        vid = f"thumb-{uuid.uuid4().hex[:10]}"
        options = {"fit": "cover", "width": 100, "height": 100, "metadata": "none"}
        created = c.images.v1.variants.create(
            account_id=ACCOUNT_ID, id=vid, options=options, never_require_signed_urls=True
        )
        if not isinstance(created, cloudflare.types.images.v1.VariantCreateResponse):
            raise AssertionError(f"create returned {type(created).__name__}")
        want = {"id": vid, "options": options, "neverRequireSignedURLs": True}
        eq("created variant", created.variant.to_dict(), want)
        got = c.images.v1.variants.get(vid, account_id=ACCOUNT_ID)
        eq("get", got.variant.to_dict(), want)
        # The SDK types `variants` with one member, `hero` (the description's example); any other
        # variant is an extra (untyped) member.
        listed = c.images.v1.variants.list(account_id=ACCOUNT_ID).to_dict().get("variants") or {}
        eq("listed variant", listed.get(vid), want)
        options2 = {"fit": "contain", "width": 200, "height": 150, "metadata": "keep"}
        edited = c.images.v1.variants.edit(
            vid, account_id=ACCOUNT_ID, options=options2, never_require_signed_urls=False
        )
        want2 = {"id": vid, "options": options2, "neverRequireSignedURLs": False}
        eq("edited variant", edited.variant.to_dict(), want2)
        eq("get after edit", c.images.v1.variants.get(vid, account_id=ACCOUNT_ID).variant.to_dict(), want2)
        eq("delete result", c.images.v1.variants.delete(vid, account_id=ACCOUNT_ID), {})
        listed = c.images.v1.variants.list(account_id=ACCOUNT_ID).to_dict().get("variants") or {}
        eq("listed after delete", vid in listed, False)
        try:
            c.images.v1.variants.get(vid, account_id=ACCOUNT_ID)
        except cloudflare.NotFoundError as e:
            eq("status after delete", e.status_code, 404)
        else:
            raise AssertionError("get after delete answered, want NotFoundError")

    @case(f"keys ({label}): list has default, update (PUT) answers every key, delete")
    def _():
        c = make_client()
        keys = c.images.v1.keys.list(account_id=ACCOUNT_ID)
        if not isinstance(keys, cloudflare.types.images.v1.KeyListResponse):
            raise AssertionError(f"list returned {type(keys).__name__}")
        before = {k.name: k.value for k in keys.keys or []}
        if "default" not in before or not before["default"]:
            raise AssertionError(f"keys {sorted(before)}: no 'default' with a value")
        name = f"k{uuid.uuid4().hex[:12]}"
        updated = c.images.v1.keys.update(name, account_id=ACCOUNT_ID)
        after = {k.name: k.value for k in updated.keys or []}
        eq("names after update", sorted(after), sorted([*before, name]))
        if not after[name]:
            raise AssertionError(f"the new key {name} has no value")
        eq("the other keys unchanged", {k: v for k, v in after.items() if k != name}, before)
        eq("list after update", {k.name: k.value for k in c.images.v1.keys.list(account_id=ACCOUNT_ID).keys},
           after)
        deleted = c.images.v1.keys.delete(name, account_id=ACCOUNT_ID)
        eq("keys after delete", {k.name: k.value for k in deleted.keys or []}, before)
        eq("list after delete", {k.name: k.value for k in c.images.v1.keys.list(account_id=ACCOUNT_ID).keys},
           before)

    @case(f"signed delivery ({label}): HMAC-SHA256 sig by hand: 200 with the bytes; no sig 403")
    def _():
        if ACCOUNT_HASH is None:
            raise AssertionError("CF_IMAGES_MOCK_ACCOUNT_HASH is not set")
        c = make_client()
        image = c.images.v1.create(
            account_id=ACCOUNT_ID, file=("private.png", SUBJECT_PNG, "image/png"), require_signed_urls=True
        )
        check_image(image, filename="private.png", signed=True)
        keys = {k.name: k.value for k in c.images.v1.keys.list(account_id=ACCOUNT_ID).keys or []}
        key_value = keys.get("default") or next(iter(keys.values()))
        exp = int(time.time()) + 300
        path = f"/{ACCOUNT_HASH}/{image.id}/public"
        sig = sign(f"{path}?exp={exp}", key_value)
        url = f"{mock_root(base_url())}/cdn-cgi/imagedelivery{path}"
        with httpx.Client(timeout=30) as http:
            ok = http.get(url, params={"exp": exp, "sig": sig})
            eq(f"status with sig (body {ok.text[:200]!r})", ok.status_code, 200)
            eq("delivered bytes", ok.content, SUBJECT_PNG)
            eq("status without sig", http.get(url, params={"exp": exp}).status_code, 403)
            eq("status without exp and sig", http.get(url).status_code, 403)
            bad = sign(f"{path}?exp={exp}", key_value + "x")
            eq("status with a wrong key's sig", http.get(url, params={"exp": exp, "sig": bad}).status_code, 403)


def _key_url() -> str:
    if not KEY_URL:
        raise AssertionError("CF_IMAGES_MOCK_KEY_URL is not set (no instance requiring email/key)")
    return KEY_URL


extras("bearer", client, lambda: URL)
extras("email-key", key_client, _key_url)


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
