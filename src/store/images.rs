//! Every image the mock holds: what one request stores, the next one sees.
//!
//! Records are kept in upload order (the v1 list, [`MockImages::images`](crate::MockImages::images))
//! and by `(uploaded, id)` (the v2 list's order and its continuation tokens), so a page costs in
//! proportion to the page, not to the store. Locks are short: no lock is held while bytes are
//! copied to or read from disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use foldhash::fast::FixedState;
use serde_json::{Map, Value};

use super::bytes::Blobs;
use crate::clock::Clock;
use crate::ids::Ids;

/// An image as the mock stores it: what `GET /accounts/{account_id}/images/v1/{image_id}`
/// answers, and what [`MockImages::images`](crate::MockImages::images) and
/// [`MockImages::image`](crate::MockImages::image) give a test.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cloudflare_images_mock::{MockImages, NewImage};
///
/// let mock = MockImages::start().await;
/// let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"/>"#;
/// let image = mock.insert_image(NewImage::new(svg).id("logos/cat.svg").creator("me"));
/// assert_eq!(image.id, "logos/cat.svg");
/// assert_eq!(image.format.as_deref(), Some("svg"));
/// assert_eq!(image.dimensions, Some((4, 3)));
/// assert_eq!(mock.image("logos/cat.svg").unwrap().creator.as_deref(), Some("me"));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredImage {
    /// The image id: the custom id sent, or the one the mock generated.
    pub id: String,
    /// The file name: of the `file` part, or the last segment of `url`.
    pub filename: Option<String>,
    /// The `creator` sent, or set by an update.
    pub creator: Option<String>,
    /// The metadata (`meta` in answers): `None` when none was sent (the answer then has no
    /// `meta` key, as recorded), `Some` of the object sent otherwise, even an empty one
    /// (`metadata={}` gives `"meta": {}`). An update's `metadata` replaces it (not merged).
    pub meta: Option<Map<String, Value>>,
    /// `meta` in the order sent, which answers echo: a `serde_json` map is sorted unless its
    /// `preserve_order` feature is on, and the mock does not switch it on in users' builds.
    pub(crate) meta_sent: Option<crate::ordered::Object>,
    /// Whether delivery URLs of the image must be signed.
    pub require_signed_urls: bool,
    /// When the image was uploaded.
    pub uploaded: SystemTime,
    /// Whether the image is a draft of a direct creator upload still waiting for its file.
    pub draft: bool,
    /// The image format detected from its bytes: `png`, `jpeg`, `gif`, `webp`, `svg`, `heic`,
    /// `avif`.
    pub format: Option<String>,
    /// Width and height read from the image header (none for an SVG without a size).
    pub dimensions: Option<(u64, u64)>,
    /// The size of the file in bytes.
    pub file_size: Option<u64>,
}

impl StoredImage {
    /// Sets the metadata, as sent and as a `serde_json` map.
    pub(crate) fn set_meta(&mut self, meta: Option<crate::ordered::Object>) {
        self.meta = meta.as_ref().map(crate::ordered::Object::to_map);
        self.meta_sent = meta;
    }

    /// The `Content-Type` of the image's bytes, from its detected format.
    pub fn content_type(&self) -> &'static str {
        match self.format.as_deref() {
            Some("png") => "image/png",
            Some("jpeg") => "image/jpeg",
            Some("gif") => "image/gif",
            Some("webp") => "image/webp",
            Some("svg") => "image/svg+xml",
            Some("heic") => "image/heic",
            Some("avif") => "image/avif",
            _ => "application/octet-stream",
        }
    }
}

/// Where the bytes of the stored images are, from [`MockImages::storage`](crate::MockImages::storage).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Storage {
    /// Bytes of images held in memory, within
    /// [`MockImagesBuilder::memory_budget`](crate::MockImagesBuilder::memory_budget).
    pub in_memory: u64,
    /// Bytes of images written to the spill directory.
    pub on_disk: u64,
    /// The temporary directory the mock spills to, once it has; removed when the mock is
    /// dropped.
    pub spill_dir: Option<std::path::PathBuf>,
    /// The last error writing or reading the spill directory (bytes that could not be written
    /// stay in memory: nothing is lost).
    pub last_error: Option<String>,
}

/// Where a v2 list page starts: after the image with this upload time (ms) and id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cursor {
    pub(crate) uploaded_ms: i64,
    pub(crate) id: Arc<str>,
}

impl Cursor {
    /// An opaque token: hex of `<uploaded_ms>:<id>`, the `(created_at, id)` pair Cloudflare's own
    /// local emulator says production's tokens hold.
    pub(crate) fn token(&self) -> String {
        use std::fmt::Write as _;
        let text = format!("{}:{}", self.uploaded_ms, self.id);
        let mut out = String::with_capacity(text.len() * 2);
        for byte in text.bytes() {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }

    /// The cursor of a token, if it is one the mock made.
    pub(crate) fn from_token(token: &str) -> Option<Cursor> {
        if !token.len().is_multiple_of(2) {
            return None;
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let text = String::from_utf8(bytes).ok()?;
        let (ms, id) = text.split_once(':')?;
        Some(Cursor {
            uploaded_ms: ms.parse().ok()?,
            id: Arc::from(id),
        })
    }
}

fn millis(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[derive(Debug)]
struct Record {
    image: Arc<StoredImage>,
    /// The key of the image's bytes in [`Blobs`], unique for the life of the store (an id
    /// uploaded again after a delete gets a new key).
    key: u64,
}

#[derive(Debug, Default)]
struct Images {
    /// By key: keys grow with each insert, so this is upload order.
    by_key: BTreeMap<u64, Record>,
    /// Hashed with foldhash: SipHash of each id (and of every id again when the map grows) was
    /// about 1% of an upload, and ids are a test's own, not an attacker's.
    by_id: HashMap<Arc<str>, u64, FixedState>,
    by_time: BTreeMap<Cursor, u64>,
    next_key: u64,
    /// Images that are not drafts: what stats count.
    current: usize,
    /// When each draft of a direct creator upload expires; an expired draft is removed when
    /// next looked at (lazily, by the mock's clock).
    drafts: HashMap<Arc<str>, SystemTime, FixedState>,
}

impl Images {
    /// Indexes `image` under a new key (by id, by upload time unless a draft, as a draft until
    /// `expires`): the key.
    fn add(&mut self, image: Arc<StoredImage>, expires: Option<SystemTime>) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        // One copy of the id, shared by the indexes.
        let id: Arc<str> = Arc::from(image.id.as_str());
        self.by_id.insert(Arc::clone(&id), key);
        if let Some(expires) = expires {
            self.drafts.insert(Arc::clone(&id), expires);
        }
        if !image.draft {
            self.current += 1;
            let cursor = Cursor {
                uploaded_ms: millis(image.uploaded),
                id,
            };
            self.by_time.insert(cursor, key);
        }
        self.by_key.insert(key, Record { image, key });
        key
    }

    /// Removes the draft called `id` if it has expired by `clock`, which is read only when `id`
    /// is a draft (most ids are not: an upload then reads no time here).
    fn expire(&mut self, id: &str, clock: &Clock) {
        if self
            .drafts
            .get(id)
            .is_some_and(|expires| *expires <= clock.now())
        {
            self.remove_draft(id);
        }
    }

    fn remove_draft(&mut self, id: &str) {
        self.drafts.remove(id);
        if let Some(key) = self.by_id.remove(id) {
            // A draft has no bytes and is neither counted nor in the time index.
            self.by_key.remove(&key);
        }
    }

    /// Removes every draft that has expired by `now`.
    fn expire_all(&mut self, now: SystemTime) {
        let expired: Vec<Arc<str>> = self
            .drafts
            .iter()
            .filter(|(_, expires)| **expires <= now)
            .map(|(id, _)| Arc::clone(id))
            .collect();
        for id in expired {
            self.remove_draft(&id);
        }
    }
}

/// Why a draft cannot take its file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DraftRefused {
    /// No such draft: never created, expired, or deleted.
    Gone,
    /// The draft already took its file: the upload URL was used.
    Used,
}

/// The image store of one mock.
#[derive(Debug)]
pub(crate) struct Store {
    images: Mutex<Images>,
    /// The account's signing keys.
    pub(crate) keys: super::Keys,
    /// The account's variants.
    pub(crate) variants: super::Variants,
    blobs: Arc<Blobs>,
    /// Where small files are copied (see [`Store::insert`]).
    small: Mutex<BytesMut>,
    /// What drafts expire by.
    clock: Clock,
}

/// Files up to this size are copied into a shared block rather than kept in the buffer they
/// arrived in.
const SMALL_FILE: usize = 16 << 10;

/// The id is taken (5409).
#[derive(Debug)]
pub(crate) struct Taken;

impl Store {
    /// A store keeping at most `budget` bytes of images in memory, whose drafts expire by
    /// `clock` and whose signing keys come from `ids`.
    pub(crate) fn new(budget: u64, variants: &[String], clock: Clock, ids: Ids) -> Store {
        Store {
            images: Mutex::new(Images::default()),
            keys: super::Keys::new(ids),
            variants: super::Variants::new(variants),
            blobs: Blobs::new(budget),
            small: Mutex::new(BytesMut::new()),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Images> {
        // Every change below is made whole under the lock: a panic cannot leave it half-done.
        self.images.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores an image and its bytes; the key of the bytes, or [`Taken`] when the id is.
    pub(crate) fn insert(
        &self,
        image: Arc<StoredImage>,
        bytes: Option<Bytes>,
    ) -> Result<u64, Taken> {
        self.insert_expiring(image, bytes, None)
    }

    /// Stores a draft of a direct creator upload, gone at `expires`; [`Taken`] when the id is.
    pub(crate) fn insert_draft(
        &self,
        image: Arc<StoredImage>,
        expires: SystemTime,
    ) -> Result<u64, Taken> {
        debug_assert!(image.draft);
        self.insert_expiring(image, None, Some(expires))
    }

    fn insert_expiring(
        &self,
        image: Arc<StoredImage>,
        bytes: Option<Bytes>,
        expires: Option<SystemTime>,
    ) -> Result<u64, Taken> {
        let key = {
            let mut images = self.lock();
            images.expire(&image.id, &self.clock);
            if images.by_id.contains_key(image.id.as_str()) {
                return Err(Taken);
            }
            images.add(image, expires)
        };
        self.put_bytes(key, bytes);
        Ok(key)
    }

    /// Turns the draft called `image.id` into `image` (no longer a draft) with its bytes: the
    /// key of the bytes, or why the draft cannot take them.
    pub(crate) fn complete_draft(
        &self,
        image: Arc<StoredImage>,
        bytes: Option<Bytes>,
    ) -> Result<u64, DraftRefused> {
        debug_assert!(!image.draft);
        let key = {
            let mut images = self.lock();
            images.expire(&image.id, &self.clock);
            let old = *images
                .by_id
                .get(image.id.as_str())
                .ok_or(DraftRefused::Gone)?;
            if !images.by_key.get(&old).is_some_and(|r| r.image.draft) {
                return Err(DraftRefused::Used);
            }
            images.by_key.remove(&old);
            images.drafts.remove(image.id.as_str());
            images.add(image, None)
        };
        self.put_bytes(key, bytes);
        Ok(key)
    }

    /// The draft called `id`, while it can take its file: [`DraftRefused`] otherwise.
    pub(crate) fn draft(&self, id: &str) -> Result<Arc<StoredImage>, DraftRefused> {
        let image = self.get(id).ok_or(DraftRefused::Gone)?;
        if image.draft {
            Ok(image)
        } else {
            Err(DraftRefused::Used)
        }
    }

    fn put_bytes(&self, key: u64, bytes: Option<Bytes>) {
        if let Some(bytes) = bytes {
            // A small file is copied into a shared block: the buffer it arrived in goes back to
            // the allocator at once, to be reused (in cache) by the next upload. Keeping every
            // upload's own buffer made each upload land on fresh memory: ~10 µs of the server's
            // CPU per 4 KiB upload. A block is freed when the last image in it is deleted.
            let bytes = if bytes.len() <= SMALL_FILE {
                let mut small = self.small.lock().unwrap_or_else(|p| p.into_inner());
                crate::journal::copy_into(&mut small, &bytes)
            } else {
                bytes
            };
            self.blobs.put(key, bytes);
        }
    }

    /// The image called `id`.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<StoredImage>> {
        let mut images = self.lock();
        images.expire(id, &self.clock);
        let key = images.by_id.get(id)?;
        images.by_key.get(key).map(|r| Arc::clone(&r.image))
    }

    /// The image called `id` and its bytes.
    pub(crate) fn get_with_bytes(&self, id: &str) -> Option<(Arc<StoredImage>, Option<Bytes>)> {
        let (image, key) = {
            let mut images = self.lock();
            images.expire(id, &self.clock);
            let key = *images.by_id.get(id)?;
            (Arc::clone(&images.by_key.get(&key)?.image), key)
        };
        Some((image, self.blobs.get(key)))
    }

    /// The bytes stored under `key`, while their image is stored.
    pub(crate) fn bytes(&self, key: u64) -> Option<Bytes> {
        self.blobs.get(key)
    }

    /// The XXH3-128 digest of the bytes stored under `key`, once their image is deleted.
    pub(crate) fn removed_digest(&self, key: u64) -> Option<u128> {
        self.blobs.removed_digest(key)
    }

    /// Changes the image called `id` with `change`, which may refuse; the image as changed.
    pub(crate) fn update<E>(
        &self,
        id: &str,
        change: impl FnOnce(&mut StoredImage) -> Result<(), E>,
    ) -> Option<Result<Arc<StoredImage>, E>> {
        let mut images = self.lock();
        images.expire(id, &self.clock);
        let key = *images.by_id.get(id)?;
        let record = images.by_key.get_mut(&key)?;
        // A new record: the journal keeps the one answered at upload.
        let mut changed = StoredImage::clone(&record.image);
        Some(change(&mut changed).map(|()| {
            record.image = Arc::new(changed);
            Arc::clone(&record.image)
        }))
    }

    /// Removes the image called `id` with its bytes (their digest stays, see
    /// [`removed_digest`](Self::removed_digest)); its id can be used again.
    pub(crate) fn remove(&self, id: &str) -> Option<Arc<StoredImage>> {
        let record = {
            let mut images = self.lock();
            images.expire(id, &self.clock);
            images.drafts.remove(id);
            let key = images.by_id.remove(id)?;
            let record = images.by_key.remove(&key)?;
            if !record.image.draft {
                images.current -= 1;
                images.by_time.remove(&cursor(&record.image));
            }
            record
        };
        self.blobs.remove(record.key);
        Some(record.image)
    }

    /// Where the bytes are: in memory, on disk, the spill directory, the last I/O error.
    pub(crate) fn storage(&self) -> Storage {
        Storage {
            in_memory: self.blobs.in_memory(),
            on_disk: self.blobs.on_disk(),
            spill_dir: self.blobs.dir(),
            last_error: self.blobs.last_error(),
        }
    }

    /// How many images are stored, drafts excepted.
    pub(crate) fn count(&self) -> usize {
        self.lock().current
    }

    /// Every image, drafts included, in upload order.
    pub(crate) fn all(&self) -> Vec<StoredImage> {
        let mut images = self.lock();
        images.expire_all(self.clock.now());
        images
            .by_key
            .values()
            .map(|r| StoredImage::clone(&r.image))
            .collect()
    }

    /// A v1 page: `per_page` images (drafts excepted) that `keep` keeps, after skipping
    /// `(page - 1) * per_page` of them, in upload order.
    pub(crate) fn page(
        &self,
        page: u64,
        per_page: u64,
        keep: impl Fn(&StoredImage) -> bool,
    ) -> Vec<Arc<StoredImage>> {
        let skip =
            usize::try_from(page.saturating_sub(1).saturating_mul(per_page)).unwrap_or(usize::MAX);
        let take = usize::try_from(per_page).unwrap_or(usize::MAX);
        self.lock()
            .by_key
            .values()
            .map(|r| &r.image)
            .filter(|image| !image.draft && keep(image))
            .skip(skip)
            .take(take)
            .map(Arc::clone)
            .collect()
    }

    /// A v2 page: up to `per_page` images (drafts excepted) that `keep` keeps, by upload time
    /// then id, ascending or not, strictly after `after`; and the cursor of the next page when
    /// there is one.
    pub(crate) fn page_by_time(
        &self,
        after: Option<&Cursor>,
        ascending: bool,
        per_page: u64,
        keep: impl Fn(&StoredImage) -> bool,
    ) -> (Vec<Arc<StoredImage>>, Option<Cursor>) {
        use std::ops::Bound::{Excluded, Unbounded};
        let per_page = usize::try_from(per_page).unwrap_or(usize::MAX);
        let images = self.lock();
        let range: Box<dyn Iterator<Item = (&Cursor, &u64)>> = match (after, ascending) {
            (Some(after), true) => Box::new(images.by_time.range((Excluded(after), Unbounded))),
            (Some(after), false) => {
                Box::new(images.by_time.range((Unbounded, Excluded(after))).rev())
            }
            (None, true) => Box::new(images.by_time.iter()),
            (None, false) => Box::new(images.by_time.iter().rev()),
        };
        let mut page = Vec::new();
        let mut last = None;
        let mut more = false;
        for (cursor, key) in range {
            let Some(record) = images.by_key.get(key) else {
                continue;
            };
            if !keep(&record.image) {
                continue;
            }
            if page.len() == per_page {
                more = true;
                break;
            }
            page.push(Arc::clone(&record.image));
            last = Some(cursor);
        }
        (page, last.filter(|_| more).cloned())
    }
}

fn cursor(image: &StoredImage) -> Cursor {
    Cursor {
        uploaded_ms: millis(image.uploaded),
        id: Arc::from(image.id.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn image(id: &str, ms: u64) -> Arc<StoredImage> {
        Arc::new(StoredImage {
            id: id.to_owned(),
            filename: None,
            creator: None,
            meta: None,
            meta_sent: None,
            require_signed_urls: false,
            uploaded: UNIX_EPOCH + Duration::from_millis(ms),
            draft: false,
            format: Some("png".to_owned()),
            dimensions: None,
            file_size: None,
        })
    }

    #[test]
    fn insert_get_update_remove_and_the_id_is_free_again() {
        let store = Store::new(1 << 20, &[], Clock::system(), Ids::random());
        store
            .insert(image("a", 1), Some(Bytes::from_static(b"A")))
            .unwrap();
        assert!(store.insert(image("a", 2), None).is_err());
        assert_eq!(
            store.get("a").unwrap().uploaded,
            UNIX_EPOCH + Duration::from_millis(1)
        );
        let (_, bytes) = store.get_with_bytes("a").unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"A"[..]));
        let changed = store
            .update("a", |i| {
                i.creator = Some("me".into());
                Ok::<(), ()>(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(changed.creator.as_deref(), Some("me"));
        assert!(store.update("a", |_| Err(())).unwrap().is_err());
        assert_eq!(store.get("a").unwrap().creator.as_deref(), Some("me"));
        assert_eq!(store.count(), 1);
        assert_eq!(store.remove("a").unwrap().id, "a");
        assert_eq!(store.count(), 0);
        assert!(store.get("a").is_none() && store.remove("a").is_none());
        let key = store
            .insert(image("a", 3), Some(Bytes::from_static(b"B")))
            .unwrap();
        assert_eq!(store.bytes(key).as_deref(), Some(&b"B"[..]));
    }

    #[test]
    fn pages_by_time_follow_cursors_both_ways_and_ties_go_by_id() {
        let store = Store::new(1 << 20, &[], Clock::system(), Ids::random());
        for (id, ms) in [("c", 2), ("a", 1), ("b", 2), ("d", 3), ("e", 0)] {
            store.insert(image(id, ms), None).unwrap();
        }
        let mut draft = StoredImage::clone(&image("draft", 5));
        draft.draft = true;
        store.insert(Arc::new(draft), None).unwrap();
        let walk = |ascending: bool| {
            let mut ids = Vec::new();
            let mut after = None;
            loop {
                let (page, next) = store.page_by_time(after.as_ref(), ascending, 2, |_| true);
                assert!(page.len() <= 2);
                ids.extend(page.into_iter().map(|i| i.id.clone()));
                match next {
                    Some(next) => after = Some(Cursor::from_token(&next.token()).unwrap()),
                    None => break ids,
                }
            }
        };
        assert_eq!(walk(true), ["e", "a", "b", "c", "d"]);
        assert_eq!(walk(false), ["d", "c", "b", "a", "e"]);
        let v1: Vec<String> = store
            .page(2, 2, |_| true)
            .into_iter()
            .map(|i| i.id.clone())
            .collect();
        assert_eq!(v1, ["b", "d"]);
        assert_eq!(store.count(), 5);
        assert_eq!(store.all().len(), 6);
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            uploaded_ms: 1_700_000_000_123,
            id: "a/ü:b".into(),
        };
        assert_eq!(Cursor::from_token(&cursor.token()), Some(cursor));
        for garbage in ["", "zz", "abc", "3a", "6869"] {
            assert_eq!(Cursor::from_token(garbage), None, "{garbage}");
        }
    }
}
