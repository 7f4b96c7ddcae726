// The official Cloudflare TypeScript SDK (cloudflare 7.3.0) against the standalone mock.
//
// Calls `client.images.v1.create(...)` as a user would and checks the `Image` it returns, or the
// SDK's own `APIError` subclass (status and Cloudflare error code) for refusals. Then, on each
// instance, a whole lifecycle through the SDK's own methods: upload, `v1.get`, `v1.list` across
// pages (by hand: the SDK's auto-pagination reads `result.items`, which the recorded answer does
// not have), `v2.list` following `continuation_token`, `v1.edit`, `v1.blobs.get`, `v1.stats.get`,
// `v1.delete` and the `NotFoundError` after it. On each instance too: a direct creator upload
// (`v2.directUploads.create`, the draft, a POST of the file to `uploadURL` with the global fetch
// and no credentials, the refused second POST), the variants (`v1.variants`
// create/get/list/edit/delete), the signing keys (`v1.keys` list/update/delete), and a signed
// delivery URL whose signature is computed here as Cloudflare's docs describe (HMAC-SHA256 over
// `/{account_hash}/{id}/{variant}?exp={exp}`). Plain Node ESM: `node test-images.mjs` after
// `npm ci`.
//
// Environment (`tests/sdk/run` sets all of it):
// - CF_IMAGES_MOCK_URL: base URL of an instance started with `--token $CF_IMAGES_MOCK_TOKEN`
//   (default http://127.0.0.1:4010/client/v4).
// - CF_IMAGES_MOCK_TOKEN: the token that instance requires.
// - CF_IMAGES_MOCK_KEY_URL: base URL of an instance started with
//   `--email $CF_IMAGES_MOCK_EMAIL --key $CF_IMAGES_MOCK_KEY` (the key cases fail without it).
// - CF_IMAGES_MOCK_ACCOUNT_ID, CF_IMAGES_MOCK_ACCOUNT_HASH, CF_IMAGES_MOCK_VARIANTS: what both
//   instances were started with (--account-id, --account-hash, --variants).
//
// Prints `PASS name` or `FAIL name: detail` per case, then `N passed, M failed`; exits 1 on any
// failure.

import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { isDeepStrictEqual, inspect } from 'node:util';

// The SDK reads these when an option is left out; a developer's own credentials must not leak into
// the cases.
for (const name of [
  'CLOUDFLARE_API_TOKEN',
  'CLOUDFLARE_API_KEY',
  'CLOUDFLARE_EMAIL',
  'CLOUDFLARE_API_USER_SERVICE_KEY',
  'CLOUDFLARE_BASE_URL',
  'CLOUDFLARE_CUSTOM_HEADERS',
  'CLOUDFLARE_LOG',
]) {
  delete process.env[name];
}

const { default: Cloudflare, toFile } = await import('cloudflare');
const { VERSION } = await import('cloudflare/version');

const env = process.env;
const URL = env.CF_IMAGES_MOCK_URL ?? 'http://127.0.0.1:4010/client/v4';
const KEY_URL = env.CF_IMAGES_MOCK_KEY_URL;
const TOKEN = env.CF_IMAGES_MOCK_TOKEN ?? 'mock-api-token';
const EMAIL = env.CF_IMAGES_MOCK_EMAIL ?? 'user@example.com';
const KEY = env.CF_IMAGES_MOCK_KEY ?? '144c9defac04969c7bfad8efaa8ea194';
const ACCOUNT_ID = env.CF_IMAGES_MOCK_ACCOUNT_ID ?? '023e105f4ecef8ad9ca31a8372d0c353';
const ACCOUNT_HASH = env.CF_IMAGES_MOCK_ACCOUNT_HASH; // undefined: any 22-char base64url hash
const VARIANTS = (env.CF_IMAGES_MOCK_VARIANTS ?? 'public').split(',');

// Custom ids are unique per run, so the script can run again against a live instance.
const RUN = `${Math.floor(Date.now() / 1000)}-${randomBytes(4).toString('hex')}`;

// A valid 1x1 RGBA PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

const GENERATED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HASH = /^[A-Za-z0-9_-]{22}$/;
const MSG_DUPLICATE = 'Resource already exists. Verify the resource information and try again.';
const MSG_PRIVATE_CUSTOM_ID =
  'The image contains a custom ID and cannot be set to private. To make the image private, ' +
  'delete and upload the image again using a regular ID.';

class CheckFailed extends Error {}

/** A client as a user makes one; no retries, so a refusal is the first answer, not the last. */
function client(auth = { apiToken: TOKEN }, baseURL = URL) {
  return new Cloudflare({ baseURL, maxRetries: 0, ...auth });
}

function keyClient(auth = { apiEmail: EMAIL, apiKey: KEY }) {
  if (!KEY_URL) throw new CheckFailed('CF_IMAGES_MOCK_KEY_URL is not set (no instance requiring email/key)');
  return client(auth, KEY_URL);
}

const cat = () => toFile(PNG, 'cat.png', { type: 'image/png' });
const bare = () => toFile(PNG);

// --- the image server for url uploads ---------------------------------------------------------

/** Serves PNG at /cat.png on 127.0.0.1 (the mock fetches loopback http URLs) and counts GETs. */
async function imageServer() {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'GET' && req.url === '/cat.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length });
      res.end(PNG);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    requests,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function withImageServer(fn) {
  const server = await imageServer();
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

// --- checks -----------------------------------------------------------------------------------

function eq(what, got, want) {
  if (!isDeepStrictEqual(got, want)) {
    throw new CheckFailed(`${what}: got ${inspect(got, { depth: 5 })}, want ${inspect(want, { depth: 5 })}`);
  }
}

function checkImage(image, { id, filename, creator, meta, signed = false }) {
  if (id === undefined) {
    if (!GENERATED_ID.test(image.id ?? '')) throw new CheckFailed(`id: ${inspect(image.id)} is not a generated UUID-shaped id`);
  } else {
    eq('id', image.id, id);
  }
  eq('filename', image.filename, filename);
  // As recorded, a result has no `creator` key when none was set and no `meta` key when no
  // metadata was sent (RECORDED.md section 0, finding 4).
  eq('creator', image.creator, creator);
  eq('meta', image.meta, meta);
  eq('requireSignedURLs', image.requireSignedURLs, signed);
  const uploaded = Date.parse(image.uploaded ?? '');
  if (Number.isNaN(uploaded) || !/(Z|[+-]\d\d:\d\d)$/.test(image.uploaded)) {
    throw new CheckFailed(`uploaded: ${inspect(image.uploaded)} is not an ISO-8601 time with a zone`);
  }
  const skew = Math.abs(Date.now() - uploaded) / 1000;
  if (skew > 300) throw new CheckFailed(`uploaded: ${image.uploaded} is ${skew.toFixed(0)}s from now`);
  const variants = image.variants ?? [];
  eq('number of variants', variants.length, VARIANTS.length);
  variants.forEach((url, i) => {
    const m = /^https:\/\/imagedelivery\.net\/([^/]+)\/(.+)\/([^/]+)$/.exec(url);
    if (!m) throw new CheckFailed(`variant ${url} is not https://imagedelivery.net/<hash>/<id>/<v>`);
    const [, hash, imageId, variant] = m;
    if (ACCOUNT_HASH !== undefined) eq('variant account hash', hash, ACCOUNT_HASH);
    else if (!HASH.test(hash)) throw new CheckFailed(`variant ${url}: hash ${hash} is not 22 base64url chars`);
    eq('variant image id', imageId, image.id);
    eq('variant name', variant, VARIANTS[i]);
  });
}

async function expectError(call, status, code, ErrorClass, message) {
  let image;
  try {
    image = await call();
  } catch (e) {
    if (!(e instanceof Cloudflare.APIError) || e.status === undefined) throw e;
    if (!(e instanceof ErrorClass)) {
      throw new CheckFailed(`threw ${e.constructor.name}, want ${ErrorClass.name}; body ${JSON.stringify(e.error)}`);
    }
    eq('status', e.status, status);
    const codes = (e.errors ?? []).map((err) => err.code);
    if (!codes.includes(code)) throw new CheckFailed(`error codes ${inspect(codes)}, want ${code}; body ${JSON.stringify(e.error)}`);
    eq('body.success', e.error?.success, false);
    // The gateway's 10000 and 9106 bodies have no result (recorded); the others a null one.
    if ((e.error && 'result' in e.error) || ![9106, 10000].includes(code)) eq('body.result', e.error?.result, null);
    if (message !== undefined) eq('message', e.errors.find((err) => err.code === code).message, message);
    return;
  }
  throw new CheckFailed(`accepted (id ${inspect(image?.id)}), want ${status}/${code}`);
}

// --- cases ------------------------------------------------------------------------------------

const cases = [];
const test = (name, fn) => cases.push([name, fn]);

test('accepted: file bytes with a filename (bearer token)', async () => {
  const image = await client().images.v1.create({ account_id: ACCOUNT_ID, file: await cat() });
  checkImage(image, { filename: 'cat.png' });
});

test('accepted: file bytes without a filename', async () => {
  const image = await client().images.v1.create({ account_id: ACCOUNT_ID, file: await bare() });
  checkImage(image, { filename: 'unknown_file' });
});

test('accepted: nested metadata (bracket parts; numbers and booleans come back as strings)', async () => {
  const metadata = { owner: '42', nested: { a: 'b' }, count: 7, flag: true, tags: ['x', 'y'] };
  const image = await client().images.v1.create({ account_id: ACCOUNT_ID, file: await cat(), metadata });
  const want = { owner: '42', nested: { a: 'b' }, count: '7', flag: 'true', tags: ['x', 'y'] };
  checkImage(image, { filename: 'cat.png', meta: want });
});

test('accepted: metadata of exactly 1024 bytes as compact JSON', async () => {
  const metadata = { note: 'x'.repeat(1024 - '{"note":""}'.length) };
  eq('test setup', Buffer.byteLength(JSON.stringify(metadata)), 1024);
  const image = await client().images.v1.create({ account_id: ACCOUNT_ID, file: await bare(), metadata });
  checkImage(image, { filename: 'unknown_file', meta: metadata });
});

test('accepted: creator', async () => {
  const image = await client().images.v1.create({ account_id: ACCOUNT_ID, file: await bare(), creator: 'user-1234' });
  checkImage(image, { filename: 'unknown_file', creator: 'user-1234' });
});

test('accepted: creator of 1024 characters (2048 UTF-8 bytes)', async () => {
  const creator = 'é'.repeat(1024);
  const image = await client().images.v1.create({ account_id: ACCOUNT_ID, file: await bare(), creator });
  checkImage(image, { filename: 'unknown_file', creator });
});

test('accepted: custom id with subpaths', async () => {
  const id = `sdk/typescript/${RUN}/custom-cat`;
  const image = await client().images.v1.create({ account_id: ACCOUNT_ID, id, file: await cat() });
  checkImage(image, { id, filename: 'cat.png' });
});

test('accepted: requireSignedURLs true without id', async () => {
  const image = await client().images.v1.create({
    account_id: ACCOUNT_ID,
    file: await bare(),
    requireSignedURLs: true,
  });
  checkImage(image, { filename: 'unknown_file', signed: true });
});

test('accepted: every field at once (requireSignedURLs false)', async () => {
  const id = `sdk/typescript/${RUN}/everything.png`;
  const image = await client().images.v1.create({
    account_id: ACCOUNT_ID,
    id,
    creator: 'someone',
    file: await toFile(PNG, 'everything.png', { type: 'image/png' }),
    metadata: { k: 'v' },
    requireSignedURLs: false,
  });
  checkImage(image, { id, filename: 'everything.png', creator: 'someone', meta: { k: 'v' } });
});

test('accepted: url upload from a loopback image server', () =>
  withImageServer(async (server) => {
    const image = await client().images.v1.create({ account_id: ACCOUNT_ID, url: server.url('/cat.png') });
    checkImage(image, { filename: 'cat.png' });
    eq('requests the image server saw', server.requests, ['GET /cat.png']);
  }));

test('accepted: X-Auth-Email/X-Auth-Key', async () => {
  const image = await keyClient().images.v1.create({ account_id: ACCOUNT_ID, file: await cat() });
  checkImage(image, { filename: 'cat.png' });
});

test('accepted: raw envelope of a success', async () => {
  const response = await client()
    .images.v1.create({ account_id: ACCOUNT_ID, file: await bare() })
    .asResponse();
  eq('status', response.status, 200);
  eq('content-type', response.headers.get('content-type')?.split(';')[0], 'application/json');
  const body = await response.json();
  eq('success', body.success, true);
  eq('errors', body.errors, []);
  eq('messages', body.messages, []);
  checkImage(body.result, { filename: 'unknown_file' });
});

test('refused: both file and url (400, 5400)', () =>
  withImageServer(async (server) => {
    await expectError(
      async () =>
        client().images.v1.create({ account_id: ACCOUNT_ID, file: await cat(), url: server.url('/cat.png') }),
      400,
      5400,
      Cloudflare.BadRequestError,
    );
    eq('requests the image server saw (a refused upload fetches nothing)', server.requests, []);
  }));

test('refused: neither file nor url (400, 5400)', () =>
  expectError(
    () => client().images.v1.create({ account_id: ACCOUNT_ID, creator: 'nobody' }),
    400,
    5400,
    Cloudflare.BadRequestError,
  ));

test('refused: metadata over 1024 bytes (400, 5400)', async () => {
  const metadata = { note: 'x'.repeat(1025 - '{"note":""}'.length) };
  await expectError(
    async () => client().images.v1.create({ account_id: ACCOUNT_ID, file: await bare(), metadata }),
    400,
    5400,
    Cloudflare.BadRequestError,
  );
});

test('refused: creator over 1024 characters (400, 5400)', () =>
  expectError(
    async () => client().images.v1.create({ account_id: ACCOUNT_ID, file: await bare(), creator: 'c'.repeat(1025) }),
    400,
    5400,
    Cloudflare.BadRequestError,
  ));

test('refused: custom id with signed URLs (400, 5410)', () =>
  expectError(
    async () =>
      client().images.v1.create({
        account_id: ACCOUNT_ID,
        id: `sdk/typescript/${RUN}/private`,
        file: await bare(),
        requireSignedURLs: true,
      }),
    400,
    5410,
    Cloudflare.BadRequestError,
    MSG_PRIVATE_CUSTOM_ID,
  ));

test('refused: duplicate id (409, 5409)', async () => {
  const id = `sdk/typescript/${RUN}/twice`;
  const first = await client().images.v1.create({ account_id: ACCOUNT_ID, id, file: await bare() });
  checkImage(first, { id, filename: 'unknown_file' });
  await expectError(
    async () => client().images.v1.create({ account_id: ACCOUNT_ID, id, file: await bare() }),
    409,
    5409,
    Cloudflare.ConflictError,
    MSG_DUPLICATE,
  );
});

test('refused: wrong bearer token (401, 10000)', () =>
  expectError(
    async () => client({ apiToken: `${TOKEN}-wrong` }).images.v1.create({ account_id: ACCOUNT_ID, file: await bare() }),
    401,
    10000,
    Cloudflare.AuthenticationError,
    'Authentication error',
  ));

test('refused: wrong X-Auth-Key (401, 10000)', () =>
  expectError(
    async () =>
      keyClient({ apiEmail: EMAIL, apiKey: '0'.repeat(37) }).images.v1.create({
        account_id: ACCOUNT_ID,
        file: await bare(),
      }),
    401,
    10000,
    Cloudflare.AuthenticationError,
    'Authentication error',
  ));

test('refused: a bearer token where email/key are required (401, 10000)', () =>
  expectError(
    async () => keyClient({ apiToken: TOKEN }).images.v1.create({ account_id: ACCOUNT_ID, file: await bare() }),
    401,
    10000,
    Cloudflare.AuthenticationError,
  ));

// --- lifecycle: upload, get, list v1 and v2 across pages, edit, blob, stats, delete, 404 --------
//
// Run once per instance (bearer token, then email/key), each under its own creator so that the
// lists see only this run's images. Every step is its own case; a step needs the ones before it.

// A valid 3x2 RGB PNG with a tEXt chunk: the blob must answer these bytes exactly.
const SUBJECT_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAFXRFWHRDb21tZW50AHNkayBsaWZlY3ljbGUZ3mMTAAAA' +
    'HUlEQVR42mNgYDgRwHBiAcMJBoaKEwEVJxZUnAAAQiwH+UDjC18AAAAASUVORK5CYII=',
  'base64',
);
const LIFECYCLE_IMAGES = 25; // three pages of 10 (the least per_page both lists accept)
const PAGE = 10;
const NOT_FOUND_TEXT = 'ERROR 5404: Image not found';

/** The SDK's NotFoundError with status 404. The body is the recorded plain text, so the SDK has
 * no JSON to keep (`e.error` undefined, `e.errors` empty) and puts the text in the message. */
async function expectNotFound(call) {
  let got;
  try {
    got = await call();
  } catch (e) {
    if (!(e instanceof Cloudflare.APIError) || e.status === undefined) throw e;
    if (!(e instanceof Cloudflare.NotFoundError)) {
      throw new CheckFailed(`threw ${e.constructor.name} (status ${e.status}), want NotFoundError`);
    }
    eq('status', e.status, 404);
    eq('message', e.message.trim(), `404 ${NOT_FOUND_TEXT}`);
    eq('error', e.error, undefined);
    eq('errors', e.errors, []);
    eq('cf-images header', e.headers.get('cf-images'), 'err=5404');
    return;
  }
  throw new CheckFailed(`answered ${inspect(got)}, want NotFoundError (404)`);
}

function lifecycle(label, makeClient) {
  const state = {};
  const creator = `sdk-typescript-${RUN}-${label}`;
  const editedCreator = `${creator}-edited`;
  const need = (key) => {
    if (!(key in state)) throw new CheckFailed(`an earlier lifecycle step (${key}) failed`);
    return state[key];
  };

  test(`lifecycle (${label}): upload ${LIFECYCLE_IMAGES} images with one creator`, async () => {
    const c = makeClient();
    const meta = { role: 'subject', keep: 'no' };
    const subject = await c.images.v1.create({
      account_id: ACCOUNT_ID,
      file: await toFile(SUBJECT_PNG, 'subject.png', { type: 'image/png' }),
      creator,
      metadata: meta,
    });
    checkImage(subject, { filename: 'subject.png', creator, meta });
    const ids = [subject.id];
    for (let i = 1; i < LIFECYCLE_IMAGES; i++) {
      const image = await c.images.v1.create({
        account_id: ACCOUNT_ID,
        file: await toFile(PNG, `n${i}.png`, { type: 'image/png' }),
        creator,
      });
      checkImage(image, { filename: `n${i}.png`, creator });
      ids.push(image.id);
    }
    eq('distinct ids', new Set(ids).size, LIFECYCLE_IMAGES);
    Object.assign(state, { subject, ids });
  });

  test(`lifecycle (${label}): a custom id with subpaths: get, blobs.get, edit (5410), delete`, async () => {
    // The SDK sends the id as one path segment with each "/" as %2F.
    const c = makeClient();
    const id = `sdk/typescript/${RUN}/${label}/life-cycle.png`;
    const image = await c.images.v1.create({ account_id: ACCOUNT_ID, id, file: await cat() });
    checkImage(image, { id, filename: 'cat.png' });
    const { data, response } = await c.images.v1.get(id, { account_id: ACCOUNT_ID }).withResponse();
    if (!response.url.includes('%2F')) throw new CheckFailed(`the SDK sent ${response.url}, not a %2F-encoded id`);
    eq('get', data, image);
    const blob = await c.images.v1.blobs.get(id, { account_id: ACCOUNT_ID });
    eq('blob bytes', Buffer.from(await blob.arrayBuffer()).equals(PNG), true);
    await expectError(
      () => c.images.v1.edit(id, { account_id: ACCOUNT_ID, requireSignedURLs: true }),
      400,
      5410,
      Cloudflare.BadRequestError,
      MSG_PRIVATE_CUSTOM_ID,
    );
    eq('delete result', await c.images.v1.delete(id, { account_id: ACCOUNT_ID }), {});
    await expectNotFound(() => c.images.v1.get(id, { account_id: ACCOUNT_ID }));
  });

  test(`lifecycle (${label}): images.v1.get`, async () => {
    const subject = need('subject');
    const image = await makeClient().images.v1.get(subject.id, { account_id: ACCOUNT_ID });
    checkImage(image, { id: subject.id, filename: 'subject.png', creator, meta: subject.meta });
    eq('get == upload', image, subject);
  });

  test(`lifecycle (${label}): images.v1.list auto-pagination reads result.items (the answer has result.images): yields nothing`, async () => {
    // V4PagePagination.getPaginatedItems() is `this.result?.items ?? []`; the recorded answer
    // (and the mock) is `result: {images: [...]}`, so iteration stops after the first page with
    // no items, whatever result_info says (nextPageRequestOptions only adds 1 to `page`).
    need('ids');
    const list = () => makeClient().images.v1.list({ account_id: ACCOUNT_ID, creator, per_page: PAGE });
    const page = await list();
    eq('items of the first page', page.getPaginatedItems(), []);
    eq('hasNextPage()', page.hasNextPage(), false);
    let iterated = 0;
    for await (const _ of list()) iterated += 1;
    eq('items iterated', iterated, 0);
    eq('result.images.length', page.result.images?.length, PAGE);
  });

  test(`lifecycle (${label}): images.v1.list across pages (page=1.. by hand, per_page=10)`, async () => {
    const ids = need('ids');
    const c = makeClient();
    const seen = [];
    const sizes = [];
    for (let n = 1; ; n++) {
      if (n > 10) throw new CheckFailed(`more pages than expected: sizes ${inspect(sizes)}`);
      const page = await c.images.v1.list({ account_id: ACCOUNT_ID, creator, page: n, per_page: PAGE });
      const images = page.result.images ?? [];
      sizes.push(images.length);
      if (images.length === 0) break;
      for (const image of images) eq('creator of a listed image', image.creator, creator);
      seen.push(...images);
    }
    eq('page sizes', sizes, [10, 10, 5, 0]);
    const got = seen.map((i) => i.id);
    eq('listed ids (no repeats)', new Set(got).size, got.length);
    eq('listed ids', [...got].sort(), [...ids].sort());
    eq('listed subject == upload', seen.find((i) => i.id === ids[0]), need('subject'));
  });

  test(`lifecycle (${label}): images.v2.list across pages (per_page=10, continuation_token)`, async () => {
    const ids = need('ids');
    const c = makeClient();
    const orders = {};
    for (const sort_order of ['desc', 'asc']) {
      const seen = [];
      const sizes = [];
      let token;
      for (;;) {
        if (sizes.length > 10) throw new CheckFailed(`more pages than expected: sizes ${inspect(sizes)}`);
        const result = await c.images.v2.list({
          account_id: ACCOUNT_ID,
          creator,
          per_page: PAGE,
          sort_order,
          ...(token === undefined ? {} : { continuation_token: token }),
        });
        const images = result.images ?? [];
        sizes.push(images.length);
        for (const image of images) eq('creator of a listed image', image.creator, creator);
        seen.push(...images);
        if (result.continuation_token == null) break;
        token = result.continuation_token;
        if (typeof token !== 'string' || token === '') {
          throw new CheckFailed(`continuation_token ${inspect(token)} is not a non-empty string`);
        }
      }
      eq(`${sort_order}: page sizes`, sizes, [10, 10, 5]);
      const got = seen.map((i) => i.id);
      eq(`${sort_order}: listed ids (no repeats)`, new Set(got).size, got.length);
      eq(`${sort_order}: listed ids`, [...got].sort(), [...ids].sort());
      const key = (i) => `${new Date(i.uploaded).toISOString()} ${i.id}`;
      const keys = seen.map(key);
      const sorted = [...keys].sort();
      eq(`${sort_order}: ordered by (uploaded, id)`, keys, sort_order === 'desc' ? sorted.reverse() : sorted);
      orders[sort_order] = got;
    }
    eq('asc == reversed(desc)', orders.asc, [...orders.desc].reverse());
  });

  test(`lifecycle (${label}): images.v1.edit replaces metadata and sets creator`, async () => {
    const subject = need('subject');
    const c = makeClient();
    const meta = { replaced: 'yes', nested: { k: 'v' } };
    const edited = await c.images.v1.edit(subject.id, {
      account_id: ACCOUNT_ID,
      creator: editedCreator,
      metadata: meta,
    });
    checkImage(edited, { id: subject.id, filename: 'subject.png', creator: editedCreator, meta });
    eq('uploaded unchanged', edited.uploaded, subject.uploaded);
    eq('get after edit', await c.images.v1.get(subject.id, { account_id: ACCOUNT_ID }), edited);
    const moved = await c.images.v2.list({ account_id: ACCOUNT_ID, creator: editedCreator, per_page: PAGE });
    eq('v2 list by the new creator', (moved.images ?? []).map((i) => i.id), [subject.id]);
    const rest = await c.images.v2.list({ account_id: ACCOUNT_ID, creator, per_page: 100 });
    eq('v2 list by the old creator', (rest.images ?? []).length, LIFECYCLE_IMAGES - 1);
  });

  test(`lifecycle (${label}): images.v1.blobs.get answers the uploaded bytes`, async () => {
    const subject = need('subject');
    const blob = await makeClient().images.v1.blobs.get(subject.id, { account_id: ACCOUNT_ID });
    eq('status', blob.status, 200);
    eq('content-type', blob.headers.get('content-type')?.split(';')[0], 'image/png');
    eq('blob bytes', Buffer.from(await blob.arrayBuffer()).equals(SUBJECT_PNG), true);
  });

  test(`lifecycle (${label}): images.v1.stats.get counts the images`, async () => {
    need('ids');
    const stat = await makeClient().images.v1.stats.get({ account_id: ACCOUNT_ID });
    eq('count.allowed', stat.count?.allowed, 100000);
    if (!(stat.count?.current >= LIFECYCLE_IMAGES)) {
      throw new CheckFailed(`count.current ${inspect(stat.count?.current)} < ${LIFECYCLE_IMAGES} uploaded here`);
    }
    state.current = stat.count.current;
  });

  test(`lifecycle (${label}): images.v1.delete`, async () => {
    const subject = need('subject');
    const c = makeClient();
    eq('delete result', await c.images.v1.delete(subject.id, { account_id: ACCOUNT_ID }), {});
    if ('current' in state) {
      const stat = await c.images.v1.stats.get({ account_id: ACCOUNT_ID });
      eq('count.current after delete', stat.count?.current, state.current - 1);
    }
    const rest = await c.images.v2.list({ account_id: ACCOUNT_ID, creator: editedCreator, per_page: PAGE });
    eq('v2 list by its creator after delete', rest.images ?? [], []);
    state.deleted = true;
  });

  test(`lifecycle (${label}): 404 NotFoundError after delete (get, blob, edit, delete)`, async () => {
    const subject = need('subject');
    need('deleted');
    const c = makeClient();
    await expectNotFound(() => c.images.v1.get(subject.id, { account_id: ACCOUNT_ID }));
    await expectNotFound(() => c.images.v1.blobs.get(subject.id, { account_id: ACCOUNT_ID }));
    await expectNotFound(() => c.images.v1.edit(subject.id, { account_id: ACCOUNT_ID, creator: 'x' }));
    await expectNotFound(() => c.images.v1.delete(subject.id, { account_id: ACCOUNT_ID }));
  });
}

lifecycle('bearer', () => client());
lifecycle('email-key', () => keyClient());

// --- direct creator uploads, variants, signing keys, signed delivery (issue 14 item 7) ---------
//
// Run once per instance. The one-time upload URL and the delivery URL are posted to / fetched with
// the global fetch (and FormData), without credentials, as a browser or a CDN would.

/** The mock's root: the SDK's base URL without `/client/v4`. */
function mockRoot(baseURL) {
  const base = baseURL.replace(/\/+$/, '');
  if (!base.endsWith('/client/v4')) throw new CheckFailed(`base URL ${baseURL} does not end with /client/v4`);
  return base.slice(0, -'/client/v4'.length);
}

/** Cloudflare's docs' signature: lowercase hex HMAC-SHA256 keyed by the key's UTF-8 bytes. */
const sign = (toSign, keyValue) => createHmac('sha256', Buffer.from(keyValue, 'utf8')).update(toSign, 'utf8').digest('hex');

function fileForm(bytes, filename) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type: 'image/png' }), filename);
  return form;
}

async function expectStatus404(call, what) {
  try {
    await call();
  } catch (e) {
    if (!(e instanceof Cloudflare.NotFoundError)) throw e;
    eq(`${what}: status`, e.status, 404);
    return;
  }
  throw new CheckFailed(`${what}: answered, want NotFoundError`);
}

function extras(label, makeClient, baseURL) {
  const creator = `sdk-typescript-${RUN}-${label}-direct`;

  test(`direct upload (${label}): v2.directUploads.create, draft, POST to uploadURL, image, 409 on reuse`, async () => {
    const c = makeClient();
    const meta = { origin: 'direct', label };
    const created = await c.images.v2.directUploads.create({ account_id: ACCOUNT_ID, metadata: meta, creator });
    if (!GENERATED_ID.test(created.id ?? '')) throw new CheckFailed(`id ${inspect(created.id)} is not a generated UUID-shaped id`);
    if (typeof created.uploadURL !== 'string' || !created.uploadURL.endsWith(`/${created.id}`)) {
      throw new CheckFailed(`uploadURL ${inspect(created.uploadURL)} does not end with /${created.id}`);
    }
    const draft = await c.images.v1.get(created.id, { account_id: ACCOUNT_ID });
    eq('draft id', draft.id, created.id);
    // `draft` is not a member of the SDK's Image type; it is in the object as answered.
    eq('draft.draft', draft.draft, true);
    eq('draft meta', draft.meta, meta);
    const posted = await fetch(created.uploadURL, { method: 'POST', body: fileForm(SUBJECT_PNG, 'direct.png') });
    const postedText = await posted.text();
    eq(`status of the POST to uploadURL (body ${postedText.slice(0, 300)})`, posted.status, 200);
    eq('success', JSON.parse(postedText).success, true);
    const image = await c.images.v1.get(created.id, { account_id: ACCOUNT_ID });
    checkImage(image, { id: created.id, filename: 'direct.png', creator, meta });
    eq("'draft' in the image", 'draft' in image, false);
    const blob = await c.images.v1.blobs.get(created.id, { account_id: ACCOUNT_ID });
    eq('blob bytes', Buffer.from(await blob.arrayBuffer()).equals(SUBJECT_PNG), true);
    const again = await fetch(created.uploadURL, { method: 'POST', body: fileForm(PNG, 'again.png') });
    const againText = await again.text();
    eq(`status of a second POST to uploadURL (body ${againText.slice(0, 300)})`, again.status, 409);
    eq('second POST success', JSON.parse(againText).success, false);
    eq('image after the refused reuse', await c.images.v1.get(created.id, { account_id: ACCOUNT_ID }), image);
  });

  test(`variants (${label}): create, get, list, edit, delete, 404 after`, async () => {
    const c = makeClient();
    const id = `thumb-${randomBytes(5).toString('hex')}`;
    const options = { fit: 'cover', width: 100, height: 100, metadata: 'none' };
    const created = await c.images.v1.variants.create({ account_id: ACCOUNT_ID, id, options, neverRequireSignedURLs: true });
    const want = { id, options, neverRequireSignedURLs: true };
    eq('created variant', created.variant, want);
    eq('get', (await c.images.v1.variants.get(id, { account_id: ACCOUNT_ID })).variant, want);
    // The SDK types `variants` with one member, `hero` (the description's example).
    const listed = (await c.images.v1.variants.list({ account_id: ACCOUNT_ID })).variants ?? {};
    eq('listed variant', listed[id], want);
    const options2 = { fit: 'contain', width: 200, height: 150, metadata: 'keep' };
    const edited = await c.images.v1.variants.edit(id, {
      account_id: ACCOUNT_ID,
      options: options2,
      neverRequireSignedURLs: false,
    });
    const want2 = { id, options: options2, neverRequireSignedURLs: false };
    eq('edited variant', edited.variant, want2);
    eq('get after edit', (await c.images.v1.variants.get(id, { account_id: ACCOUNT_ID })).variant, want2);
    eq('delete result', await c.images.v1.variants.delete(id, { account_id: ACCOUNT_ID }), {});
    const after = (await c.images.v1.variants.list({ account_id: ACCOUNT_ID })).variants ?? {};
    eq('listed after delete', id in after, false);
    await expectStatus404(() => c.images.v1.variants.get(id, { account_id: ACCOUNT_ID }), 'get after delete');
  });

  test(`keys (${label}): list has default, update (PUT) answers every key, delete`, async () => {
    const c = makeClient();
    const byName = (r) => Object.fromEntries((r.keys ?? []).map((k) => [k.name, k.value]));
    const before = byName(await c.images.v1.keys.list({ account_id: ACCOUNT_ID }));
    if (!before.default) throw new CheckFailed(`keys ${inspect(Object.keys(before))}: no 'default' with a value`);
    const name = `k${randomBytes(6).toString('hex')}`;
    const after = byName(await c.images.v1.keys.update(name, { account_id: ACCOUNT_ID }));
    eq('names after update', Object.keys(after).sort(), [...Object.keys(before), name].sort());
    if (!after[name]) throw new CheckFailed(`the new key ${name} has no value`);
    const { [name]: _, ...others } = after;
    eq('the other keys unchanged', others, before);
    eq('list after update', byName(await c.images.v1.keys.list({ account_id: ACCOUNT_ID })), after);
    eq('keys after delete', byName(await c.images.v1.keys.delete(name, { account_id: ACCOUNT_ID })), before);
    eq('list after delete', byName(await c.images.v1.keys.list({ account_id: ACCOUNT_ID })), before);
  });

  test(`signed delivery (${label}): HMAC-SHA256 sig by hand: 200 with the bytes; no sig 403`, async () => {
    if (ACCOUNT_HASH === undefined) throw new CheckFailed('CF_IMAGES_MOCK_ACCOUNT_HASH is not set');
    const c = makeClient();
    const image = await c.images.v1.create({
      account_id: ACCOUNT_ID,
      file: await toFile(SUBJECT_PNG, 'private.png', { type: 'image/png' }),
      requireSignedURLs: true,
    });
    checkImage(image, { filename: 'private.png', signed: true });
    const keys = (await c.images.v1.keys.list({ account_id: ACCOUNT_ID })).keys ?? [];
    const keyValue = (keys.find((k) => k.name === 'default') ?? keys[0])?.value;
    if (!keyValue) throw new CheckFailed(`no key value in ${inspect(keys)}`);
    const exp = Math.floor(Date.now() / 1000) + 300;
    const path = `/${ACCOUNT_HASH}/${image.id}/public`;
    const sig = sign(`${path}?exp=${exp}`, keyValue);
    const url = `${mockRoot(baseURL())}/cdn-cgi/imagedelivery${path}`;
    const ok = await fetch(`${url}?exp=${exp}&sig=${sig}`);
    const bytes = Buffer.from(await ok.arrayBuffer());
    eq(`status with sig (body ${bytes.toString('utf8').slice(0, 200)})`, ok.status, 200);
    eq('delivered bytes', bytes.equals(SUBJECT_PNG), true);
    const status = async (u) => {
      const r = await fetch(u);
      await r.arrayBuffer();
      return r.status;
    };
    eq('status without sig', await status(`${url}?exp=${exp}`), 403);
    eq('status without exp and sig', await status(url), 403);
    const bad = sign(`${path}?exp=${exp}`, `${keyValue}x`);
    eq("status with a wrong key's sig", await status(`${url}?exp=${exp}&sig=${bad}`), 403);
  });
}

extras('bearer', () => client(), () => URL);
extras('email-key', () => keyClient(), () => {
  if (!KEY_URL) throw new CheckFailed('CF_IMAGES_MOCK_KEY_URL is not set (no instance requiring email/key)');
  return KEY_URL;
});

// --- runner -----------------------------------------------------------------------------------

console.log(`typescript SDK cloudflare ${VERSION} on node ${process.version} against ${URL} (key instance ${KEY_URL})`);
let passed = 0;
let failed = 0;
for (const [name, fn] of cases) {
  try {
    await fn();
    passed += 1;
    console.log(`PASS ${name}`);
  } catch (e) {
    failed += 1;
    let detail;
    if (e instanceof CheckFailed) detail = e.message;
    else if (e instanceof Cloudflare.APIError) detail = `${e.constructor.name} (status ${e.status}): ${e.message}`;
    else detail = `${e?.constructor?.name ?? 'error'}: ${e?.message ?? e}`;
    console.log(`FAIL ${name}: ${detail}`);
    if (env.CF_IMAGES_MOCK_TRACEBACK) console.error(e);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
