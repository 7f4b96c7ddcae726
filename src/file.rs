//! The bytes of an uploaded file, kept as they arrived.
//!
//! multer hands the file part over in chunks that already live in memory of their own; joining
//! them on the request path would copy every upload once more (10 MiB for a large one, the
//! largest cost after the socket itself). So the chunks are kept as they are, their XXH3-128
//! digest is computed while they arrive (still in cache), and they are joined only when a test
//! reads the bytes.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

use bytes::{Bytes, BytesMut};
use xxhash_rust::xxh3::{xxh3_128, Xxh3Default};

/// A file received chunk by chunk: the chunks, their total size and their digest.
#[derive(Clone, Default)]
pub(crate) struct FileBytes {
    chunks: Vec<Bytes>,
    size: u64,
    /// Fed from the second chunk on; a file of one chunk is digested in one call.
    hasher: Option<Box<Xxh3Default>>,
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBytes")
            .field("chunks", &self.chunks.len())
            .field("size", &self.size)
            .finish()
    }
}

impl From<Bytes> for FileBytes {
    fn from(bytes: Bytes) -> FileBytes {
        let mut file = FileBytes::default();
        file.push(bytes);
        file
    }
}

impl FileBytes {
    /// One more chunk of the file.
    pub(crate) fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.size += chunk.len() as u64;
        match (&mut self.hasher, self.chunks.as_slice()) {
            (None, []) => {}
            (None, [first]) => {
                let mut hasher = Box::new(Xxh3Default::new());
                hasher.update(first);
                hasher.update(&chunk);
                self.hasher = Some(hasher);
            }
            (Some(hasher), _) => hasher.update(&chunk),
            (None, _) => unreachable!("a hasher exists from the second chunk on"),
        }
        self.chunks.push(chunk);
    }

    /// The size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.size
    }

    /// XXH3-128 of the bytes.
    pub(crate) fn digest(&self) -> u128 {
        match (&self.hasher, self.chunks.as_slice()) {
            (Some(hasher), _) => hasher.digest128(),
            (None, [one]) => xxh3_128(one),
            (None, _) => xxh3_128(&[]),
        }
    }

    /// The bytes in one piece: the chunk itself for a file of one chunk, else a copy.
    pub(crate) fn to_bytes(&self) -> Bytes {
        match self.chunks.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            chunks => {
                let mut joined = BytesMut::with_capacity(self.size as usize);
                for chunk in chunks {
                    joined.extend_from_slice(chunk);
                }
                joined.freeze()
            }
        }
    }

    /// The chunks, as slices.
    pub(crate) fn slices(&self) -> Vec<&[u8]> {
        self.chunks.iter().map(|c| c.as_ref()).collect()
    }
}

/// A `Read + BufRead + Seek` cursor over chunks, as `std::io::Cursor` is over one slice.
pub(crate) struct ChunkCursor<'a> {
    chunks: &'a [&'a [u8]],
    /// Where each chunk starts, and the total length at the end.
    starts: Vec<u64>,
    position: u64,
}

impl<'a> ChunkCursor<'a> {
    pub(crate) fn new(chunks: &'a [&'a [u8]]) -> ChunkCursor<'a> {
        let mut starts = Vec::with_capacity(chunks.len() + 1);
        let mut at = 0u64;
        for chunk in chunks {
            starts.push(at);
            at += chunk.len() as u64;
        }
        starts.push(at);
        ChunkCursor {
            chunks,
            starts,
            position: 0,
        }
    }

    fn len(&self) -> u64 {
        self.starts.last().copied().unwrap_or(0)
    }

    /// The rest of the chunk the position is in (empty at or past the end).
    fn remaining(&self) -> &'a [u8] {
        if self.position >= self.len() {
            return &[];
        }
        // The last chunk starting at or before the position; empty chunks are skipped since
        // the next one starts at the same offset.
        let index = self.starts.partition_point(|&start| start <= self.position) - 1;
        let offset = (self.position - self.starts[index]) as usize;
        &self.chunks[index][offset..]
    }
}

impl Read for ChunkCursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < buf.len() {
            let available = self.remaining();
            if available.is_empty() {
                break;
            }
            let n = available.len().min(buf.len() - written);
            buf[written..written + n].copy_from_slice(&available[..n]);
            written += n;
            self.position += n as u64;
        }
        Ok(written)
    }
}

impl BufRead for ChunkCursor<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.remaining())
    }

    fn consume(&mut self, amount: usize) {
        self.position += amount as u64;
    }
}

impl Seek for ChunkCursor<'_> {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        let target = match position {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.len().checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        match target {
            Some(at) => {
                self.position = at;
                Ok(at)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid seek to a negative or overflowing position",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(chunks: &[&[u8]]) -> FileBytes {
        let mut file = FileBytes::default();
        for chunk in chunks {
            file.push(Bytes::copy_from_slice(chunk));
        }
        file
    }

    #[test]
    fn the_digest_does_not_depend_on_the_chunking() {
        let whole = b"the quick brown fox jumps over the lazy dog".repeat(300);
        let expected = xxh3_128(&whole);
        for cut in [1, 7, 100, 4096, whole.len()] {
            let chunks: Vec<&[u8]> = whole.chunks(cut).collect();
            let file = file(&chunks);
            assert_eq!(file.digest(), expected, "chunks of {cut}");
            assert_eq!(file.len(), whole.len() as u64);
            assert_eq!(file.to_bytes(), whole);
        }
        assert_eq!(FileBytes::default().digest(), xxh3_128(b""));
    }

    #[test]
    fn the_cursor_reads_and_seeks_across_chunks_like_a_cursor_over_one_slice() {
        let whole: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let chunks: Vec<&[u8]> = vec![&whole[..3], &[], &whole[3..500], &whole[500..]];
        let mut chunked = ChunkCursor::new(&chunks);
        let mut plain = io::Cursor::new(&whole[..]);
        let steps = [
            SeekFrom::Start(2),
            SeekFrom::Current(1),
            SeekFrom::End(-10),
            SeekFrom::Start(498),
            SeekFrom::Start(5000),
            SeekFrom::Current(-4600),
        ];
        for step in steps {
            assert_eq!(chunked.seek(step).unwrap(), plain.seek(step).unwrap());
            let (mut a, mut b) = ([0u8; 7], [0u8; 7]);
            assert_eq!(chunked.read(&mut a).unwrap(), plain.read(&mut b).unwrap());
            assert_eq!(a, b);
            assert_eq!(
                chunked.fill_buf().unwrap().first(),
                plain.fill_buf().unwrap().first()
            );
        }
        assert!(chunked.seek(SeekFrom::Current(-100_000)).is_err());
    }
}
