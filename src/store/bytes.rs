//! The bytes of every stored image, kept until the image is deleted, in bounded memory.
//!
//! A stateful mock must answer `GET .../blob` with the exact bytes uploaded, however long the
//! test runs and however much it uploads, so nothing may be dropped; but a soak test uploading
//! gigabytes must not grow the process without bound either. [`Blobs`] keeps the newest bytes in
//! memory up to a budget and spills the oldest to files in a private temporary directory, which
//! disappears with the store. When the disk refuses a write the blob stays in memory: a test
//! exceeding its budget is better than a test losing an image.
//!
//! The lock guards only bookkeeping: files are written, read and deleted after it is released, so
//! one slow spill does not stall every reader. A blob being written out is still served from
//! memory until its file is known to be complete.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tempfile::TempDir;

/// The stored bytes of images, by a key the caller chooses, in memory up to a budget and on disk
/// beyond it.
pub(crate) struct Blobs {
    budget: u64,
    state: Mutex<State>,
}

/// One blob: in memory while `bytes` is `Some` (being spilled if it is not in `by_age`), else in
/// its file. `seq` orders blobs by age, names the file, and tells a finished spill whether the
/// slot is still the one it started from (the key may have been removed or put again meanwhile).
struct Slot {
    seq: u64,
    len: u64,
    bytes: Option<Bytes>,
}

#[derive(Default)]
struct State {
    slots: HashMap<u64, Slot>,
    /// The blobs in memory and not being spilled, oldest first: the spill candidates.
    by_age: BTreeMap<u64, u64>,
    next_seq: u64,
    /// Bytes held in memory, including those being spilled.
    resident: u64,
    /// Of `resident`, the bytes being spilled: counted as gone when choosing what to spill, so
    /// concurrent puts do not spill more than needed.
    leaving: u64,
    on_disk: u64,
    dir: Option<TempDir>,
    last_error: Option<String>,
}

impl Blobs {
    /// A store keeping at most `budget` bytes in memory (unless the disk fails).
    pub(crate) fn new(budget: u64) -> Blobs {
        let state = Mutex::new(State::default());
        Blobs { budget, state }
    }

    /// Keeps `bytes` under `key`, replacing what the key held; returns once they are stored.
    pub(crate) fn put(&self, key: u64, bytes: Bytes) {
        let len = bytes.len() as u64;
        let mut spills = vec![];
        let (stale, dir) = {
            let mut guard = self.lock();
            let state = &mut *guard;
            let stale = state.forget(key);
            let seq = state.next_seq;
            state.next_seq += 1;
            state.resident += len;
            if len > self.budget {
                // Spilling older blobs could never make room for this one: they stay.
                state.leaving += len;
                spills.push((key, seq, bytes.clone()));
            } else {
                while state.resident - state.leaving > self.budget {
                    let Some((old_seq, old_key)) = state.by_age.pop_first() else {
                        break;
                    };
                    if let Some(old) = state.slots.get(&old_key).and_then(|s| s.bytes.clone()) {
                        state.leaving += old.len() as u64;
                        spills.push((old_key, old_seq, old));
                    }
                }
                state.by_age.insert(seq, key);
            }
            let bytes = Some(bytes);
            state.slots.insert(key, Slot { seq, len, bytes });
            (
                stale,
                state.dir.as_ref().map(|dir| dir.path().to_path_buf()),
            )
        };
        if let Some(stale) = stale {
            let _ = std::fs::remove_file(stale);
        }
        if !spills.is_empty() {
            self.spill(dir, spills);
        }
    }

    /// The bytes stored under `key`, read back from disk if they were spilled.
    pub(crate) fn get(&self, key: u64) -> Option<Bytes> {
        let (seq, path) = {
            let state = self.lock();
            let slot = state.slots.get(&key)?;
            if let Some(bytes) = &slot.bytes {
                return Some(bytes.clone());
            }
            (slot.seq, state.path(key, slot.seq)?)
        };
        match std::fs::read(&path) {
            Ok(bytes) => Some(Bytes::from(bytes)),
            Err(error) => {
                let mut state = self.lock();
                // A concurrent remove deletes the file: no error, the blob is just gone.
                if state.slots.get(&key).is_some_and(|slot| slot.seq == seq) {
                    state.last_error = Some(format!("reading {}: {error}", path.display()));
                }
                None
            }
        }
    }

    /// Forgets `key`, freeing its memory or deleting its file; an unknown key is no error.
    pub(crate) fn remove(&self, key: u64) {
        let stale = self.lock().forget(key);
        if let Some(stale) = stale {
            let _ = std::fs::remove_file(stale);
        }
    }

    /// Bytes held in memory now.
    pub(crate) fn in_memory(&self) -> u64 {
        self.lock().resident
    }

    /// Bytes spilled to disk now.
    pub(crate) fn on_disk(&self) -> u64 {
        self.lock().on_disk
    }

    /// The spill directory, once the first spill created it.
    pub(crate) fn dir(&self) -> Option<PathBuf> {
        self.lock().dir.as_ref().map(|dir| dir.path().to_path_buf())
    }

    /// The last I/O error met, for diagnostics: the store itself never fails because of one.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No panic can leave the bookkeeping half done, so a poisoned lock is still sound.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes each blob to its file, then books it on disk, or back in memory if the write failed.
    fn spill(&self, dir: Option<PathBuf>, spills: Vec<(u64, u64, Bytes)>) {
        let dir = dir.map_or_else(|| self.create_dir(), Ok);
        let outcomes: Vec<Result<PathBuf, String>> = spills
            .iter()
            .map(|(key, seq, bytes)| {
                let dir = dir
                    .as_ref()
                    .map_err(|e| format!("creating a spill directory: {e}"))?;
                let path = dir.join(file_name(*key, *seq));
                std::fs::write(&path, bytes)
                    .map(|()| path.clone())
                    .map_err(|e| {
                        // A partial file is worth nothing: the blob stays in memory.
                        let _ = std::fs::remove_file(&path);
                        format!("writing {}: {e}", path.display())
                    })
            })
            .collect();
        let mut orphans = vec![];
        {
            let mut guard = self.lock();
            let state = &mut *guard;
            for ((key, seq, bytes), outcome) in spills.into_iter().zip(outcomes) {
                let len = bytes.len() as u64;
                let Some(slot) = state.slots.get_mut(&key).filter(|slot| slot.seq == seq) else {
                    // Removed or replaced while being written: `forget` did the accounting,
                    // and the file belongs to nobody.
                    orphans.extend(outcome.ok());
                    continue;
                };
                state.leaving -= len;
                match outcome {
                    Ok(_) => {
                        slot.bytes = None;
                        state.resident -= len;
                        state.on_disk += len;
                    }
                    Err(error) => {
                        state.by_age.insert(seq, key);
                        state.last_error = Some(format!("keeping blob {key} in memory: {error}"));
                    }
                }
            }
        }
        for orphan in orphans {
            let _ = std::fs::remove_file(orphan);
        }
    }

    /// Creates the spill directory outside the lock; should a racing thread install its own
    /// first, ours is removed as it drops.
    fn create_dir(&self) -> std::io::Result<PathBuf> {
        let created = tempfile::Builder::new()
            .prefix("cloudflare-images-mock-")
            .tempdir()?;
        Ok(self.lock().dir.get_or_insert(created).path().to_path_buf())
    }
}

impl State {
    /// Drops `key` from the books; returns its file, for the caller to delete outside the lock.
    fn forget(&mut self, key: u64) -> Option<PathBuf> {
        let slot = self.slots.remove(&key)?;
        if slot.bytes.is_none() {
            self.on_disk -= slot.len;
            return self.path(key, slot.seq);
        }
        self.resident -= slot.len;
        if self.by_age.remove(&slot.seq).is_none() {
            // Being spilled: the spilling thread will find the slot gone and delete the file.
            self.leaving -= slot.len;
        }
        None
    }

    fn path(&self, key: u64, seq: u64) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.path().join(file_name(key, seq)))
    }
}

/// One file per key; the sequence number keeps a key put again from reusing a file a slower
/// thread may still be writing or deleting.
fn file_name(key: u64, seq: u64) -> String {
    format!("{key}-{seq}")
}

impl fmt::Debug for Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the bytes: a store holds megabytes.
        let state = self.lock();
        f.debug_struct("Blobs")
            .field("budget", &self.budget)
            .field("blobs", &state.slots.len())
            .field("in_memory", &state.resident)
            .field("on_disk", &state.on_disk)
            .field("dir", &state.dir.as_ref().map(TempDir::path))
            .field("last_error", &state.last_error)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ from one position to the next, so a read back checks their order too.
    fn blob(seed: u8, len: usize) -> Bytes {
        (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
    }

    impl Blobs {
        /// The file holding `key`, if it is on disk.
        fn file(&self, key: u64) -> Option<PathBuf> {
            let state = self.lock();
            let slot = state.slots.get(&key).filter(|slot| slot.bytes.is_none())?;
            state.path(key, slot.seq)
        }
    }

    #[test]
    fn a_blob_within_budget_round_trips_in_memory() {
        let blobs = Blobs::new(100);
        blobs.put(1, blob(1, 40));
        assert_eq!(blobs.get(1), Some(blob(1, 40)));
        assert_eq!((blobs.in_memory(), blobs.on_disk()), (40, 0));
        assert_eq!(blobs.dir(), None, "no spill, no directory");
        assert!(format!("{blobs:?}").contains("in_memory: 40"));
        assert_eq!(blobs.get(2), None);
    }

    #[test]
    fn exceeding_the_budget_spills_the_oldest_first() {
        let blobs = Blobs::new(100);
        for key in 1..=3 {
            blobs.put(key, blob(key as u8, 40));
        }
        // 120 > 100: the oldest went to disk, the two newest stayed.
        assert_eq!((blobs.in_memory(), blobs.on_disk()), (80, 40));
        let file = blobs.file(1).expect("blob 1 on disk");
        let dir = blobs.dir().expect("a spill directory");
        assert!(file.starts_with(&dir) && file.is_file());
        let name = dir
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        assert!(name.starts_with("cloudflare-images-mock-"), "{name}");
        assert_eq!((blobs.file(2), blobs.file(3)), (None, None));

        // Making room for 70 bytes spills 2, then 3.
        blobs.put(4, blob(4, 70));
        assert_eq!((blobs.in_memory(), blobs.on_disk()), (70, 120));
        assert!(blobs.file(2).is_some() && blobs.file(3).is_some());
        for (key, len) in [(1, 40), (2, 40), (3, 40), (4, 70)] {
            assert_eq!(blobs.get(key), Some(blob(key as u8, len)), "blob {key}");
        }
        assert_eq!(blobs.last_error(), None);
    }

    #[test]
    fn remove_frees_memory_and_deletes_files() {
        let blobs = Blobs::new(50);
        blobs.put(1, blob(1, 30));
        blobs.put(2, blob(2, 30));
        let file = blobs.file(1).expect("blob 1 on disk");
        assert_eq!((blobs.in_memory(), blobs.on_disk()), (30, 30));

        blobs.remove(2);
        assert_eq!(
            (blobs.in_memory(), blobs.on_disk(), blobs.get(2)),
            (0, 30, None)
        );
        blobs.remove(1);
        assert_eq!(
            (blobs.in_memory(), blobs.on_disk(), blobs.get(1)),
            (0, 0, None)
        );
        assert!(!file.exists());
        blobs.remove(1);
        blobs.remove(99);

        // Putting a key again is a remove, then a put.
        blobs.put(3, blob(3, 60));
        let first = blobs.file(3).expect("blob 3 on disk");
        blobs.put(3, blob(4, 70));
        assert!(!first.exists());
        assert_eq!((blobs.on_disk(), blobs.get(3)), (70, Some(blob(4, 70))));
        assert_eq!(blobs.last_error(), None);
    }

    #[test]
    fn a_blob_bigger_than_the_budget_goes_straight_to_disk() {
        let blobs = Blobs::new(50);
        blobs.put(1, blob(1, 30));
        blobs.put(2, blob(2, 51));
        assert_eq!((blobs.in_memory(), blobs.on_disk()), (30, 51));
        assert!(
            blobs.file(1).is_none(),
            "the smaller, older blob stays in memory"
        );
        assert!(blobs.file(2).is_some());
        assert_eq!(blobs.get(2), Some(blob(2, 51)));
    }

    #[test]
    fn budget_zero_keeps_everything_on_disk() {
        let blobs = Blobs::new(0);
        for key in 0..5 {
            blobs.put(key, blob(key as u8, 3));
        }
        assert_eq!((blobs.in_memory(), blobs.on_disk()), (0, 15));
        for key in 0..5 {
            assert!(blobs.file(key).is_some());
            assert_eq!(blobs.get(key), Some(blob(key as u8, 3)));
        }
    }

    #[test]
    fn a_failed_spill_keeps_the_blob_in_memory() {
        let blobs = Blobs::new(0);
        blobs.put(1, blob(1, 5));
        let dir = blobs.dir().expect("a spill directory");
        // The directory gone, no spill can succeed.
        std::fs::remove_dir_all(&dir).expect("remove the spill directory");
        blobs.put(2, blob(2, 5));
        assert_eq!((blobs.in_memory(), blobs.on_disk()), (5, 5));
        assert_eq!(blobs.get(2), Some(blob(2, 5)));
        assert!(blobs
            .last_error()
            .is_some_and(|error| error.contains("blob 2")));
        // Blob 1's file went with the directory: reported, not panicked on.
        assert_eq!(blobs.get(1), None);
        assert!(blobs
            .last_error()
            .is_some_and(|error| error.contains("reading")));
    }

    #[test]
    fn dropping_the_store_removes_the_directory() {
        let blobs = Blobs::new(0);
        blobs.put(1, blob(1, 5));
        let dir = blobs.dir().expect("a spill directory");
        assert!(dir.is_dir());
        drop(blobs);
        assert!(!dir.exists());
    }

    #[test]
    fn concurrent_puts_and_gets_keep_every_blob() {
        fn shareable<T: Send + Sync>(value: T) -> T {
            value
        }
        let blobs = shareable(Blobs::new(4_000));
        std::thread::scope(|scope| {
            for thread in 0..4u64 {
                let blobs = &blobs;
                scope.spawn(move || {
                    for i in 0..200u64 {
                        let key = thread * 1_000 + i;
                        let len = 1 + (key % 97) as usize * 10;
                        blobs.put(key, blob(key as u8, len));
                        assert_eq!(blobs.get(key), Some(blob(key as u8, len)));
                        if i % 10 == 9 {
                            blobs.remove(key - 5);
                        }
                    }
                });
            }
        });
        let mut total = 0;
        for thread in 0..4u64 {
            for i in 0..200u64 {
                let key = thread * 1_000 + i;
                let len = 1 + (key % 97) as usize * 10;
                let expected = (i % 10 != 4).then(|| blob(key as u8, len));
                total += expected.as_ref().map_or(0, |bytes| bytes.len() as u64);
                assert_eq!(blobs.get(key), expected, "key {key}");
            }
        }
        assert!(blobs.in_memory() <= 4_000);
        assert_eq!(blobs.in_memory() + blobs.on_disk(), total);
        assert_eq!(blobs.last_error(), None);
    }

    /// The cost of spilling, printed (not asserted): 10,000 blobs of 4 KiB fill a 40 MiB budget,
    /// then 20 puts of 9.5 MiB push them out. Run with
    /// `cargo test --lib store::bytes::tests::spill_timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, printed: run it with --ignored --nocapture"]
    fn spill_timing() {
        let blobs = Blobs::new(40 << 20);
        for key in 0..10_000 {
            blobs.put(key, blob(key as u8, 4 << 10));
        }
        assert_eq!(blobs.on_disk(), 0, "the small blobs fit");
        let large = blob(7, 19 << 19);
        let mut times = vec![];
        for key in 10_000..10_020 {
            let started = std::time::Instant::now();
            blobs.put(key, large.clone());
            times.push(started.elapsed());
        }
        let files = std::fs::read_dir(blobs.dir().expect("spilled")).map_or(0, Iterator::count);
        let ms = |d: &[std::time::Duration]| {
            d.iter().map(std::time::Duration::as_secs_f64).sum::<f64>() * 1e3 / d.len() as f64
        };
        // The first five puts push out the 10,000 small blobs, the next fifteen large ones.
        eprintln!(
            "spill timing: per 9.5 MiB put {:.2} ms while the small blobs spill (puts 1-5), \
             {:.2} ms after (puts 6-20), {:.2} ms overall; {files} files; each put (ms): {:?}",
            ms(&times[..5]),
            ms(&times[5..]),
            ms(&times),
            times
                .iter()
                .map(|d| (d.as_secs_f64() * 1e4).round() / 10.0)
                .collect::<Vec<_>>()
        );
        assert_eq!(blobs.get(0), Some(blob(0, 4 << 10)));
        assert_eq!(blobs.get(10_000), Some(large));
        assert_eq!(blobs.last_error(), None);
    }
}
