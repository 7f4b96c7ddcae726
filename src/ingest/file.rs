//! The bytes of an uploaded file, received chunk by chunk and kept in one piece.
//!
//! A file of one chunk (any small upload) is kept as multer handed it over: no copy. A larger
//! file is copied once, chunk by chunk while each is still in cache, into one buffer sized from
//! the request's `Content-Length`; the chunks are dropped at once, so multer keeps reusing its
//! own buffer instead of growing fresh ones (keeping multer's chunks made it copy each byte
//! again as its buffer grew). No digest is computed here: the journal computes one only when an
//! upload is read or its image deleted (see `Accepted` in the journal), not on every upload.
//!
//! On Linux a large buffer is anonymous memory whose pages are faulted in ahead of the copy, a
//! megabyte per call (`MADV_POPULATE_WRITE`): copying into a fresh buffer otherwise traps once
//! every 4 KiB, and the faults were a third of the server's time on a large upload. The buffers
//! of dropped files (spilled or deleted) are kept, up to 16 MiB per process, for the next large
//! upload, whose pages are then faulted in already. (Transparent huge pages were tried and
//! measured slower: see docs/performance.md.)

use bytes::{Bytes, BytesMut};

/// A file being received.
#[derive(Default)]
pub(crate) struct Receiver {
    /// The only chunk so far.
    first: Option<Bytes>,
    /// Every chunk, from the second on.
    joined: Option<Joined>,
    size: u64,
    /// How big the file may be: the body's declared length, capped by the caller.
    capacity: usize,
}

impl Receiver {
    /// A receiver for a file of up to `capacity` bytes (a hint: more is still taken).
    pub(crate) fn new(capacity: usize) -> Receiver {
        Receiver {
            capacity,
            ..Receiver::default()
        }
    }

    /// One more chunk of the file.
    pub(crate) fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.size += chunk.len() as u64;
        if let Some(joined) = &mut self.joined {
            joined.extend_from_slice(&chunk);
            return;
        }
        let Some(first) = self.first.take() else {
            self.first = Some(chunk);
            return;
        };
        let mut joined = Joined::with_capacity(self.capacity.max(self.size as usize));
        joined.extend_from_slice(&first);
        joined.extend_from_slice(&chunk);
        self.joined = Some(joined);
    }

    /// The bytes received so far.
    pub(crate) fn len(&self) -> u64 {
        self.size
    }

    /// The file in one piece.
    pub(crate) fn finish(self) -> FileBytes {
        match (self.joined, self.first) {
            (Some(joined), _) => {
                // A declared length far above the file (large text parts, or a client that
                // lied) would leave the journal holding unused capacity.
                let bytes = if joined.capacity() > 2 * joined.len() + (64 << 10) {
                    Bytes::copy_from_slice(joined.filled())
                } else {
                    joined.freeze()
                };
                FileBytes { bytes }
            }
            (None, first) => FileBytes::from(first.unwrap_or_default()),
        }
    }
}

/// The buffer a file of more than one chunk is copied into.
enum Joined {
    Heap(BytesMut),
    #[cfg(target_os = "linux")]
    Mapped(mapped::Buffer),
}

impl Joined {
    fn with_capacity(capacity: usize) -> Joined {
        #[cfg(target_os = "linux")]
        if capacity >= mapped::LARGE {
            if let Some(buffer) = mapped::Buffer::new(capacity) {
                return Joined::Mapped(buffer);
            }
        }
        Joined::Heap(BytesMut::with_capacity(capacity))
    }

    fn extend_from_slice(&mut self, chunk: &[u8]) {
        match self {
            Joined::Heap(heap) => heap.extend_from_slice(chunk),
            #[cfg(target_os = "linux")]
            Joined::Mapped(buffer) => {
                if !buffer.try_extend(chunk) {
                    // More than the declared length (a client that lied): the heap grows.
                    let filled = buffer.filled();
                    let mut heap = BytesMut::with_capacity(2 * (filled.len() + chunk.len()));
                    heap.extend_from_slice(filled);
                    heap.extend_from_slice(chunk);
                    *self = Joined::Heap(heap);
                }
            }
        }
    }

    fn filled(&self) -> &[u8] {
        match self {
            Joined::Heap(heap) => heap,
            #[cfg(target_os = "linux")]
            Joined::Mapped(buffer) => buffer.filled(),
        }
    }

    fn len(&self) -> usize {
        self.filled().len()
    }

    /// The bytes the buffer was made for.
    fn capacity(&self) -> usize {
        match self {
            Joined::Heap(heap) => heap.capacity(),
            #[cfg(target_os = "linux")]
            Joined::Mapped(buffer) => buffer.capacity(),
        }
    }

    fn freeze(self) -> Bytes {
        match self {
            Joined::Heap(heap) => heap.freeze(),
            #[cfg(target_os = "linux")]
            Joined::Mapped(buffer) => buffer.freeze(),
        }
    }
}

#[cfg(target_os = "linux")]
mod mapped {
    use std::sync::{Mutex, MutexGuard};

    use bytes::Bytes;
    use memmap2::{Advice, MmapMut};

    /// A buffer at least this large is mapped apart; a smaller one is left to the allocator,
    /// which may reuse memory already faulted in.
    pub(super) const LARGE: usize = 1 << 20;

    /// How far ahead of the copy pages are faulted in, in one call.
    const AHEAD: usize = 1 << 20;

    /// The most bytes of spare buffers kept: the largest upload (10 MB) fits.
    const SPARE_BYTES: usize = 16 << 20;

    /// Buffers of dropped files (spilled to disk or deleted), kept for the next large upload:
    /// once a mock's store is past its memory budget, every upload pushes an older file out, and
    /// the next upload is received into its pages, already faulted in. Shared by the mocks of a
    /// process, like the allocator's own caches.
    static SPARE: Mutex<Vec<(MmapMut, usize)>> = Mutex::new(Vec::new());

    fn spare() -> MutexGuard<'static, Vec<(MmapMut, usize)>> {
        // A panic cannot leave the list half changed.
        SPARE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Anonymous memory faulted in ahead of the copy.
    pub(super) struct Buffer {
        map: MmapMut,
        len: usize,
        /// The pages before this offset are faulted in.
        populated: usize,
    }

    impl Buffer {
        /// A buffer of at least `capacity` bytes, spare or new, or `None` if the system refuses
        /// a new mapping.
        pub(super) fn new(capacity: usize) -> Option<Buffer> {
            // Not much larger than asked: a stored file holds its buffer's faulted-in pages.
            let fits = |(map, _): &(MmapMut, usize)| {
                (capacity..=capacity + capacity / 8).contains(&map.len())
            };
            let reused = {
                let mut spare = spare();
                let at = spare.iter().position(fits);
                at.map(|at| spare.swap_remove(at))
            };
            let (map, populated) = match reused {
                Some(reused) => reused,
                None => (MmapMut::map_anon(capacity).ok()?, 0),
            };
            Some(Buffer {
                map,
                len: 0,
                populated,
            })
        }

        pub(super) fn filled(&self) -> &[u8] {
            &self.map[..self.len]
        }

        pub(super) fn capacity(&self) -> usize {
            self.map.len()
        }

        /// Appends `chunk` if it fits; returns whether it did.
        pub(super) fn try_extend(&mut self, chunk: &[u8]) -> bool {
            let end = self.len + chunk.len();
            if end > self.map.len() {
                return false;
            }
            if end > self.populated {
                let upto = end.max(self.populated + AHEAD).min(self.map.len());
                // A refusal (a kernel before 5.14) only means the copy faults page by page.
                let _ = self.map.advise_range(
                    Advice::PopulateWrite,
                    self.populated,
                    upto - self.populated,
                );
                self.populated = upto;
            }
            self.map[self.len..end].copy_from_slice(chunk);
            self.len = end;
            true
        }

        /// The filled part; the buffer is given back to the spares (or unmapped) when the last
        /// clone of it drops.
        pub(super) fn freeze(self) -> Bytes {
            let filled = ..self.len;
            let owner = Owner {
                map: Some(self.map),
                populated: self.populated,
            };
            Bytes::from_owner(owner).slice(filled)
        }
    }

    /// Bytes of spare buffers now.
    #[cfg(test)]
    pub(super) fn spare_bytes() -> usize {
        spare().iter().map(|(map, _)| map.len()).sum()
    }

    /// A stored file's buffer.
    struct Owner {
        map: Option<MmapMut>,
        populated: usize,
    }

    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            self.map.as_deref().unwrap_or_default()
        }
    }

    impl Drop for Owner {
        fn drop(&mut self) {
            let Some(map) = self.map.take() else {
                return;
            };
            let mut spare = spare();
            let kept: usize = spare.iter().map(|(map, _)| map.len()).sum();
            if kept + map.len() <= SPARE_BYTES {
                spare.push((map, self.populated));
                return;
            }
            drop(spare);
            // Unmapped here, outside the lock.
            drop(map);
        }
    }
}

/// A received file.
#[derive(Debug, Clone)]
pub(crate) struct FileBytes {
    pub(crate) bytes: Bytes,
}

impl From<Bytes> for FileBytes {
    fn from(bytes: Bytes) -> FileBytes {
        FileBytes { bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(chunks: &[&[u8]], capacity: usize) -> FileBytes {
        let mut receiver = Receiver::new(capacity);
        for chunk in chunks {
            receiver.push(Bytes::copy_from_slice(chunk));
        }
        assert_eq!(
            receiver.len(),
            chunks.iter().map(|c| c.len() as u64).sum::<u64>()
        );
        receiver.finish()
    }

    #[test]
    fn the_bytes_do_not_depend_on_the_chunking() {
        let whole = b"the quick brown fox jumps over the lazy dog".repeat(300);
        for cut in [1, 7, 100, 4096, whole.len()] {
            let chunks: Vec<&[u8]> = whole.chunks(cut).collect();
            for capacity in [0, whole.len(), 10 * whole.len()] {
                let file = receive(&chunks, capacity);
                assert_eq!(file.bytes, whole, "chunks of {cut}");
            }
        }
        assert_eq!(receive(&[], 0).bytes, &b""[..]);
        assert_eq!(receive(&[b"", b"ab", b""], 0).bytes, &b"ab"[..]);
    }

    /// Bytes that do not repeat with any small period, so a chunk copied to the wrong place
    /// shows.
    fn noise(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn a_large_file_is_the_same_for_any_chunking_and_declared_length() {
        let whole = noise(3 << 20 | 12_345);
        let len = whole.len();
        for cut in [8191, 65_536, 1 << 20, (1 << 20) + 3, len - 1] {
            let chunks: Vec<&[u8]> = whole.chunks(cut).collect();
            // Declared lengths: none, exact, a little more (other fields), a little less (a
            // lying client: the buffer is outgrown), twice, far too much.
            for capacity in [0, len, len + 700, len - 5000, 1 << 20, 2 * len, 10 * len] {
                let file = receive(&chunks, capacity);
                assert!(file.bytes == whole, "chunks of {cut}, capacity {capacity}");
            }
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_large_buffer_is_mapped_and_a_small_one_is_not() {
        let mapped = |capacity| matches!(Joined::with_capacity(capacity), Joined::Mapped(_));
        assert!(mapped(mapped::LARGE));
        assert!(mapped(10 << 20));
        assert!(!mapped(mapped::LARGE - 1));
        assert!(!mapped(0));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_reused_buffer_holds_only_the_new_file_and_spares_stay_bounded() {
        let capacity = 3 << 20;
        let mut files = Vec::new();
        for round in 0..8 {
            // Each file shorter than the last, so a reused buffer still holds older bytes
            // past its end.
            let whole = noise(capacity - round * 100_000);
            let file = receive(&whole.chunks(65_536).collect::<Vec<_>>(), capacity);
            assert!(file.bytes == whole, "round {round}");
            files.push(file);
            if round % 2 == 1 {
                files.clear();
            }
            assert!(mapped::spare_bytes() <= 16 << 20);
        }
    }

    #[test]
    fn one_chunk_is_kept_without_a_copy() {
        let chunk = Bytes::from(vec![1u8; 4096]);
        let mut receiver = Receiver::new(1 << 20);
        receiver.push(chunk.clone());
        let file = receiver.finish();
        assert_eq!(file.bytes.as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn a_far_too_large_capacity_is_not_kept() {
        let capacity = |file: FileBytes| file.bytes.try_into_mut().unwrap().capacity();
        assert!(capacity(receive(&[b"abc", b"def"], 10 << 20)) < 1 << 20);
        assert!(capacity(receive(&[&[0; 40_000], &[0; 40_000]], 100_000)) >= 100_000);
    }
}
