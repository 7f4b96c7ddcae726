//! The bytes of an uploaded file, received chunk by chunk and kept in one piece.
//!
//! A file of one chunk (any small upload) is kept as multer handed it over: no copy. A larger
//! file is copied once, chunk by chunk while each is still in cache, into one buffer sized from
//! the request's `Content-Length`; the chunks are dropped at once, so multer keeps reusing its
//! own buffer instead of growing fresh ones (keeping multer's chunks made it copy each byte
//! again as its buffer grew). The XXH3-128 digest is computed on the way.

use bytes::{Bytes, BytesMut};
use xxhash_rust::xxh3::{xxh3_128, Xxh3Default};

/// A file being received.
#[derive(Default)]
pub(crate) struct Receiver {
    /// The only chunk so far.
    first: Option<Bytes>,
    /// Every chunk, from the second on.
    joined: Option<BytesMut>,
    /// Fed from the second chunk on; a file of one chunk is digested in one call.
    hasher: Option<Box<Xxh3Default>>,
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
        if let (Some(joined), Some(hasher)) = (&mut self.joined, &mut self.hasher) {
            hasher.update(&chunk);
            joined.extend_from_slice(&chunk);
            return;
        }
        let Some(first) = self.first.take() else {
            self.first = Some(chunk);
            return;
        };
        let mut hasher = Box::new(Xxh3Default::new());
        hasher.update(&first);
        hasher.update(&chunk);
        let mut joined = BytesMut::with_capacity(self.capacity.max(self.size as usize));
        joined.extend_from_slice(&first);
        joined.extend_from_slice(&chunk);
        self.hasher = Some(hasher);
        self.joined = Some(joined);
    }

    /// The bytes received so far.
    pub(crate) fn len(&self) -> u64 {
        self.size
    }

    /// The file in one piece, with its digest.
    pub(crate) fn finish(self) -> FileBytes {
        match (self.joined, self.hasher, self.first) {
            (Some(joined), Some(hasher), _) => {
                // A declared length far above the file (large text parts, or a client that
                // lied) would leave the journal holding unused capacity.
                let bytes = if joined.capacity() > 2 * joined.len() + (64 << 10) {
                    Bytes::copy_from_slice(&joined)
                } else {
                    joined.freeze()
                };
                FileBytes {
                    digest: hasher.digest128(),
                    bytes,
                }
            }
            (_, _, first) => FileBytes::from(first.unwrap_or_default()),
        }
    }
}

/// A received file and its XXH3-128 digest.
#[derive(Debug, Clone)]
pub(crate) struct FileBytes {
    pub(crate) bytes: Bytes,
    pub(crate) digest: u128,
}

impl From<Bytes> for FileBytes {
    fn from(bytes: Bytes) -> FileBytes {
        FileBytes {
            digest: xxh3_128(&bytes),
            bytes,
        }
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
    fn the_bytes_and_digest_do_not_depend_on_the_chunking() {
        let whole = b"the quick brown fox jumps over the lazy dog".repeat(300);
        let expected = xxh3_128(&whole);
        for cut in [1, 7, 100, 4096, whole.len()] {
            let chunks: Vec<&[u8]> = whole.chunks(cut).collect();
            for capacity in [0, whole.len(), 10 * whole.len()] {
                let file = receive(&chunks, capacity);
                assert_eq!(file.digest, expected, "chunks of {cut}");
                assert_eq!(file.bytes, whole);
            }
        }
        assert_eq!(receive(&[], 0).digest, xxh3_128(b""));
        assert_eq!(receive(&[b"", b"ab", b""], 0).bytes, &b"ab"[..]);
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
