//! Small, real image files of every format Cloudflare Images accepts, generated on demand.
//!
//! Tests and proptest strategies need uploads of each accepted format at arbitrary dimensions,
//! and checking binary fixtures into the repository would pin them to a handful of sizes and
//! hide how they were made. Each generator here writes the format's container by hand, so the
//! header always carries exactly the requested width and height (which is all the mock's
//! `image::probe` reads). Where it is cheap, the file is also fully decodable by real decoders:
//! SVG and WebP (up to 16384 px a side) always, PNG, GIF and JPEG while
//! `width * height <= DECODABLE_MAX_PIXELS`. Beyond that PNG, GIF and JPEG only guarantee a
//! valid header, because spelling out millions of pixels would make property tests crawl.
//! HEIC and AVIF are always header-only: they carry a complete `ftyp` + `meta` description but
//! no HEVC / AV1 bitstream.

/// The formats Cloudflare Images accepts, as the mock names them.
// Only the tests use this until the rest of the crate (uploads, strategies) adopts it.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const ACCEPTED_FORMATS: [&str; 7] =
    ["png", "jpeg", "gif", "webp", "svg", "heic", "avif"];

/// PNG, GIF and JPEG samples carry real pixel data (and so decode) up to this many pixels;
/// larger ones are header-only so that a 12000x12000 sample stays a few hundred bytes.
pub(crate) const DECODABLE_MAX_PIXELS: u64 = 65_536;

/// Largest width or height `image` can write for `format` (the smallest is always 1).
///
/// Proptest strategies use this to stay inside what the format can express: PNG stores
/// dimensions as 31-bit integers, GIF and JPEG as u16, WebP's VP8X canvas as 24-bit "minus one"
/// values; SVG, HEIC and AVIF take any u32.
///
/// # Panics
/// On a format name outside [`ACCEPTED_FORMATS`].
pub(crate) fn max_side(format: &str) -> u32 {
    match format {
        "png" => 0x7FFF_FFFF,
        "gif" | "jpeg" => u32::from(u16::MAX),
        "webp" => 1 << 24,
        "svg" | "heic" | "avif" => u32::MAX,
        other => panic!(
            "samples::max_side: unknown format {other:?}, expected one of {ACCEPTED_FORMATS:?}"
        ),
    }
}

/// Bytes of a small image of `format` (one of [`ACCEPTED_FORMATS`]) whose header says
/// `width` x `height`.
///
/// See the module documentation for which samples are fully decodable and which are only
/// header-valid.
///
/// # Panics
/// With a clear message on an unknown format name, on a zero dimension, or on a dimension
/// above [`max_side`] for the format.
// Only the tests use this until the rest of the crate adopts it.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn image(format: &str, width: u32, height: u32) -> Vec<u8> {
    let max = max_side(format);
    assert!(
        (1..=max).contains(&width) && (1..=max).contains(&height),
        "samples::image: {format} cannot express {width}x{height}; each side must be in 1..={max}"
    );
    match format {
        "png" => png(width, height),
        "jpeg" => jpeg(width, height),
        "gif" => gif(width, height),
        "webp" => webp(width, height),
        "svg" => svg(width, height),
        "heic" => heif(HeifCodec::Hevc, width, height),
        "avif" => heif(HeifCodec::Av1, width, height),
        // max_side has already rejected every other name.
        _ => unreachable!(),
    }
}

/// Whether a PNG/GIF/JPEG sample of this size carries its full pixel data.
fn decodable(width: u32, height: u32) -> bool {
    u64::from(width) * u64::from(height) <= DECODABLE_MAX_PIXELS
}

/// A gray value for pixel (x, y): a diagonal gradient, so decoded samples are not blank.
fn gray(x: u32, y: u32) -> u8 {
    (x.wrapping_add(y) & 0xFF) as u8
}

// ---------------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------------

/// 8-bit grayscale PNG. Pixel rows use filter 0 and go into *stored* deflate blocks, which
/// keeps the encoder trivial while staying a standard zlib stream.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // bit depth 8, colour type 0 (grayscale), compression 0, filter 0, no interlace
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);

    // Large samples get an empty (but well-formed) zlib stream: the header is what callers
    // need, and the real scanlines could be gigabytes.
    let raw = if decodable(width, height) {
        let mut raw = Vec::with_capacity((height as usize) * (width as usize + 1));
        for y in 0..height {
            raw.push(0); // filter type None
            raw.extend((0..width).map(|x| gray(x, y)));
        }
        raw
    } else {
        Vec::new()
    };
    png_chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Appends one PNG chunk: length, type, data, CRC-32 over type and data.
fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).expect("PNG chunk longer than 2^32 bytes");
    out.extend_from_slice(&len.to_be_bytes());
    let crc_start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[crc_start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream (RFC 1950) holding `data` in stored deflate blocks (RFC 1951 §3.2.4).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    // CMF 0x78 = deflate with a 32 KiB window; FLG 0x01 makes CMF*256+FLG a multiple of 31.
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(0xFFFF).peekable();
    if blocks.peek().is_none() {
        // An empty input still needs one (final, empty) block to be a valid stream.
        out.extend_from_slice(&[1, 0x00, 0x00, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        // BFINAL in bit 0, BTYPE=00 (stored); the rest of the byte is padding to the boundary.
        out.push(u8::from(last));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// CRC-32 (ISO-HDLC, as used by PNG and zlib), bitwise: samples are tiny, a table is not worth it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Adler-32 checksum that closes a zlib stream.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % MOD;
        b = (b + a) % MOD;
    }
    (b << 16) | a
}

// ---------------------------------------------------------------------------------------------
// GIF
// ---------------------------------------------------------------------------------------------

/// GIF89a with a two-colour global palette and one full-canvas frame in a diagonal
/// two-colour stripe pattern, LZW-compressed by a real (small) encoder.
fn gif(width: u32, height: u32) -> Vec<u8> {
    // max_side guarantees both fit in u16.
    let (w, h) = (width as u16, height as u16);
    let mut out = b"GIF89a".to_vec();
    // Logical screen descriptor: size, packed = global colour table of 2^(0+1) entries,
    // background colour 0, no aspect ratio.
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&[0x80, 0, 0]);
    out.extend_from_slice(&[0xCC, 0x33, 0x33, 0xFF, 0xFF, 0xFF]);
    // Image descriptor covering the whole canvas, no local palette, not interlaced.
    out.push(0x2C);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.push(0);
    // 2 is the smallest LZW minimum code size GIF allows, even for a 2-colour palette.
    const MIN_CODE_SIZE: u8 = 2;
    out.push(MIN_CODE_SIZE);
    let data = if decodable(width, height) {
        let pixels =
            (0..height).flat_map(|y| (0..width).map(move |x| (x.wrapping_add(y) / 4 % 2) as u8));
        lzw_encode(MIN_CODE_SIZE, pixels)
    } else {
        // Header-only: a clear code straight followed by end-of-information.
        lzw_encode(MIN_CODE_SIZE, std::iter::empty())
    };
    // Image data goes out in sub-blocks of at most 255 bytes, ended by an empty one.
    for block in data.chunks(255) {
        out.push(block.len() as u8);
        out.extend_from_slice(block);
    }
    out.push(0);
    out.push(0x3B); // trailer
    out
}

/// GIF-flavoured variable-width LZW (codes packed LSB-first, 12-bit maximum, a clear code when
/// the table fills). `pixels` must be palette indices below `1 << min_code_size`.
fn lzw_encode(min_code_size: u8, pixels: impl IntoIterator<Item = u8>) -> Vec<u8> {
    const MAX_CODES: u16 = 4096;
    let alphabet = 1u16 << min_code_size;
    let clear = alphabet;
    let end = clear + 1;
    // children[code * alphabet + pixel] = code of the string `code` extended by `pixel`, 0 if
    // absent (0 is never a valid extension code since extensions start above `end`).
    let mut children = vec![0u16; usize::from(MAX_CODES) * usize::from(alphabet)];
    let mut next = end + 1;
    let mut width = min_code_size + 1;
    let mut bits = BitWriter::default();

    bits.write(u32::from(clear), width);
    let mut prefix: Option<u16> = None;
    for pixel in pixels {
        let pixel = u16::from(pixel);
        let Some(current) = prefix else {
            prefix = Some(pixel);
            continue;
        };
        let slot = usize::from(current) * usize::from(alphabet) + usize::from(pixel);
        if children[slot] != 0 {
            prefix = Some(children[slot]);
            continue;
        }
        bits.write(u32::from(current), width);
        if next == MAX_CODES {
            // Table full: reset both sides rather than keep coding with a frozen table.
            bits.write(u32::from(clear), width);
            children.fill(0);
            next = end + 1;
            width = min_code_size + 1;
        } else {
            children[slot] = next;
            next += 1;
            // The decoder adds its entries one code later than we do, so it widens its codes
            // when *its* next code reaches 2^width, i.e. when ours exceeds it.
            if next > (1 << width) && width < 12 {
                width += 1;
            }
        }
        prefix = Some(pixel);
    }
    if let Some(current) = prefix {
        bits.write(u32::from(current), width);
        // Emitting a code is followed by an (implicit) table insertion on both sides, which
        // may widen the code that carries end-of-information.
        if next < MAX_CODES {
            next += 1;
            if next > (1 << width) && width < 12 {
                width += 1;
            }
        }
    }
    bits.write(u32::from(end), width);
    bits.finish()
}

/// Packs bit fields LSB-first, the bit order of both GIF's LZW and WebP lossless.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    len: u32,
}

impl BitWriter {
    fn write(&mut self, value: u32, bits: u8) {
        debug_assert!(bits <= 32 && u64::from(value) < (1u64 << bits));
        self.acc |= u64::from(value) << self.len;
        self.len += u32::from(bits);
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.len > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

// ---------------------------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------------------------

/// Baseline grayscale JFIF of a uniform mid-gray image.
///
/// Every 8x8 block has a zero DC difference and no AC coefficients; with one-symbol Huffman
/// tables that is two bits per block, so the scan is tiny and a real decoder accepts it.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as u16, height as u16);
    let mut out = vec![0xFF, 0xD8]; // SOI
                                    // APP0 JFIF 1.01, no density units, 1:1 aspect, no thumbnail.
    jpeg_segment(
        &mut out,
        0xE0,
        b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    );
    // DQT: table 0, 8-bit precision, every quantiser 1.
    let mut dqt = vec![0x00];
    dqt.extend_from_slice(&[1; 64]);
    jpeg_segment(&mut out, 0xDB, &dqt);
    // SOF0: 8-bit precision, height, width, one component (id 1, 1x1 sampling, table 0).
    let mut sof = vec![8];
    sof.extend_from_slice(&h.to_be_bytes());
    sof.extend_from_slice(&w.to_be_bytes());
    sof.extend_from_slice(&[1, 1, 0x11, 0]);
    jpeg_segment(&mut out, 0xC0, &sof);
    // DHT: DC table 0 and AC table 0, each a single 1-bit code ("0") for symbol 0x00, which
    // means "DC difference of category 0" and "end of block" respectively.
    for class in [0x00, 0x10] {
        let mut dht = vec![class, 1];
        dht.extend_from_slice(&[0; 15]);
        dht.push(0x00);
        jpeg_segment(&mut out, 0xC4, &dht);
    }
    // SOS: one component using DC/AC tables 0, full spectral range, no approximation.
    jpeg_segment(&mut out, 0xDA, &[1, 1, 0x00, 0, 63, 0]);
    if decodable(width, height) {
        let blocks = u64::from(width.div_ceil(8)) * u64::from(height.div_ceil(8));
        let bits = blocks * 2;
        // All code bits are 0; the final partial byte is padded with 1 bits as the standard
        // requires. A byte is never 0xFF, so no byte stuffing is needed.
        out.resize(out.len() + (bits / 8) as usize, 0x00);
        let rest = (bits % 8) as u32;
        if rest != 0 {
            out.push(0xFF >> rest);
        }
    }
    // Header-only samples end right after SOS: decoders report premature end of data.
    out.extend_from_slice(&[0xFF, 0xD9]); // EOI
    out
}

/// Appends a marker segment: 0xFF, marker, big-endian length (including itself), payload.
fn jpeg_segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&(payload.len() as u16 + 2).to_be_bytes());
    out.extend_from_slice(payload);
}

// ---------------------------------------------------------------------------------------------
// WebP
// ---------------------------------------------------------------------------------------------

/// Largest side a VP8L bitstream can carry (14-bit "minus one" fields).
const VP8L_MAX_SIDE: u32 = 1 << 14;

/// Extended-format WebP: VP8X with the canvas size, then a lossless VP8L image of one colour.
///
/// A single colour needs five one-symbol prefix codes, which cost zero bits per pixel, so the
/// file is 50 bytes whatever the size. VP8L can only describe up to 16384 px a side, so above
/// that the VP8L image is clamped and no longer matches the canvas: header-only.
fn webp(width: u32, height: u32) -> Vec<u8> {
    let mut vp8l = BitWriter::default();
    vp8l.write(0x2F, 8); // VP8L signature
    vp8l.write(width.min(VP8L_MAX_SIDE) - 1, 14);
    vp8l.write(height.min(VP8L_MAX_SIDE) - 1, 14);
    vp8l.write(0, 1); // alpha_is_used
    vp8l.write(0, 3); // version
    vp8l.write(0, 1); // no transforms
    vp8l.write(0, 1); // no colour cache
    vp8l.write(0, 1); // no meta prefix codes
                      // Green, red, blue and alpha codes: "simple" code with one 8-bit symbol.
    for symbol in [0x33, 0xCC, 0x33, 0xFF] {
        vp8l.write(1, 1); // simple code
        vp8l.write(0, 1); // one symbol
        vp8l.write(1, 1); // symbol is 8 bits wide
        vp8l.write(symbol, 8);
    }
    // Distance code: one 1-bit symbol 0 (never used, as there are no backward references).
    vp8l.write(1, 1);
    vp8l.write(0, 1);
    vp8l.write(0, 1);
    vp8l.write(0, 1);
    let vp8l = vp8l.finish();

    let mut vp8x = vec![0u8; 4]; // no ICC, alpha, EXIF, XMP or animation; reserved bits zero
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);

    let mut body = b"WEBP".to_vec();
    riff_chunk(&mut body, b"VP8X", &vp8x);
    riff_chunk(&mut body, b"VP8L", &vp8l);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Appends a RIFF chunk, padded to an even length as RIFF requires.
fn riff_chunk(out: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(fourcc);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

// ---------------------------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------------------------

/// A red rectangle filling a `width` x `height` canvas.
fn svg(width: u32, height: u32) -> Vec<u8> {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" fill="#c33"/></svg>"##
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// HEIC / AVIF
// ---------------------------------------------------------------------------------------------

/// The two HEIF codecs Cloudflare accepts.
#[derive(Clone, Copy)]
enum HeifCodec {
    Hevc,
    Av1,
}

/// ISO-BMFF/HEIF still image: `ftyp`, then a `meta` box describing one primary image item
/// (`hdlr`, `pitm`, `iinf`/`infe`, `iprp` with `ipco` holding the codec configuration and
/// `ispe`, and `ipma` tying them to the item). There is no `iloc`/`mdat`: no coded pixels.
///
/// imagesize tells the codecs apart by the `ftyp` brands only (major brand first, then the
/// first compatible brands after a `mif1`-style brand), so the major brand carries the codec;
/// the `hvcC`/`av1C` and item type merely keep the file self-consistent.
fn heif(codec: HeifCodec, width: u32, height: u32) -> Vec<u8> {
    let (brands, item_type, config): (&[&[u8; 4]], &[u8; 4], Vec<u8>) = match codec {
        HeifCodec::Hevc => (&[b"heic", b"mif1", b"heic"], b"hvc1", {
            // HEVCDecoderConfigurationRecord, version 1, Main profile, level 3.0, 4:2:0
            // 8-bit, 4-byte NAL lengths, no parameter-set arrays.
            let mut record = vec![1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 90];
            record.extend_from_slice(&[0xF0, 0x00, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0, 0x0F, 0]);
            bmff_box(b"hvcC", &record)
        }),
        HeifCodec::Av1 => (&[b"avif", b"avif", b"mif1", b"miaf"], b"av01", {
            // AV1CodecConfigurationRecord: marker+version 1, Main profile level 0, 8-bit 4:2:0.
            bmff_box(b"av1C", &[0x81, 0x00, 0x0C, 0x00])
        }),
    };

    let mut ftyp = Vec::new();
    ftyp.extend_from_slice(brands[0]);
    ftyp.extend_from_slice(&0u32.to_be_bytes()); // minor version
    for brand in &brands[1..] {
        ftyp.extend_from_slice(*brand);
    }

    // hdlr: pre_defined, handler "pict", three reserved words, empty name.
    let mut hdlr = vec![0; 4];
    hdlr.extend_from_slice(b"pict");
    hdlr.extend_from_slice(&[0; 13]);
    let hdlr = full_box(b"hdlr", 0, &hdlr);
    let pitm = full_box(b"pitm", 0, &1u16.to_be_bytes());
    // infe version 2: item 1, no protection, the codec's item type, empty name.
    let mut infe = vec![0, 1, 0, 0];
    infe.extend_from_slice(item_type);
    infe.push(0);
    let mut iinf = 1u16.to_be_bytes().to_vec();
    iinf.extend_from_slice(&full_box(b"infe", 2, &infe));
    let iinf = full_box(b"iinf", 0, &iinf);

    let mut ispe = width.to_be_bytes().to_vec();
    ispe.extend_from_slice(&height.to_be_bytes());
    let mut ipco = config;
    ipco.extend_from_slice(&full_box(b"ispe", 0, &ispe));
    // ipma: one entry, item 1 -> property 1 (codec config, essential) and property 2 (ispe).
    let ipma = full_box(b"ipma", 0, &[0, 0, 0, 1, 0, 1, 2, 0x81, 0x02]);
    let mut iprp = bmff_box(b"ipco", &ipco);
    iprp.extend_from_slice(&ipma);

    let mut meta = Vec::new();
    for child in [hdlr, pitm, iinf, bmff_box(b"iprp", &iprp)] {
        meta.extend_from_slice(&child);
    }
    let mut out = bmff_box(b"ftyp", &ftyp);
    out.extend_from_slice(&full_box(b"meta", 0, &meta));
    out
}

/// An ISO-BMFF box: 32-bit size (including the 8-byte header), four-character type, payload.
fn bmff_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let size = u32::try_from(payload.len() + 8).expect("BMFF box too large");
    let mut out = size.to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// An ISO-BMFF "full box": a box whose payload starts with version (8 bits) and flags (24, zero).
fn full_box(kind: &[u8; 4], version: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![version, 0, 0, 0];
    body.extend_from_slice(payload);
    bmff_box(kind, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::image::{probe, ImageInfo};

    /// Sizes every format must reproduce exactly (when it can express them).
    const SIZES: [(u32, u32); 8] = [
        (1, 1),
        (7, 3),
        (255, 256),
        (256, 256),
        (1200, 1200),
        (12000, 11999),
        (65535, 1),
        (1, 65535),
    ];

    #[test]
    fn every_format_reports_the_requested_size() {
        for format in ACCEPTED_FORMATS {
            for (w, h) in SIZES {
                let bytes = image(format, w, h);
                assert_eq!(
                    probe(&bytes),
                    ImageInfo {
                        format: Some(format),
                        width: Some(w.into()),
                        height: Some(h.into())
                    },
                    "{format} {w}x{h}"
                );
            }
        }
    }

    #[test]
    fn extreme_sizes_within_each_format_limit() {
        for format in ACCEPTED_FORMATS {
            let max = max_side(format);
            for (w, h) in [(max, max), (max, 1), (1, max), (max - 1, 2)] {
                let info = probe(&image(format, w, h));
                assert_eq!(
                    (info.format, info.width, info.height),
                    (Some(format), Some(w.into()), Some(h.into())),
                    "{format} {w}x{h}"
                );
            }
        }
    }

    #[test]
    fn samples_stay_small() {
        for format in ACCEPTED_FORMATS {
            // Header-only samples of huge images must not balloon.
            assert!(image(format, 12000, 11999).len() < 1024, "{format}");
            // Decodable ones are bounded by the pixel cap (PNG is the largest: 1 byte/pixel).
            assert!(image(format, 256, 256).len() < 70_000, "{format}");
        }
    }

    #[test]
    #[should_panic(expected = "unknown format \"bmp\"")]
    fn unknown_format_panics() {
        image("bmp", 1, 1);
    }

    #[test]
    #[should_panic(expected = "gif cannot express 65536x1; each side must be in 1..=65535")]
    fn gif_limit_panics() {
        image("gif", 65536, 1);
    }

    #[test]
    #[should_panic(expected = "jpeg cannot express 1x70000")]
    fn jpeg_limit_panics() {
        image("jpeg", 1, 70000);
    }

    #[test]
    #[should_panic(expected = "webp cannot express 16777217x1")]
    fn webp_limit_panics() {
        image("webp", (1 << 24) + 1, 1);
    }

    #[test]
    #[should_panic(expected = "png cannot express 2147483648x1")]
    fn png_limit_panics() {
        image("png", 1 << 31, 1);
    }

    #[test]
    #[should_panic(expected = "svg cannot express 0x5")]
    fn zero_side_panics() {
        image("svg", 0, 5);
    }

    #[test]
    fn checksums_match_known_vectors() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
    }

    /// Splits a PNG into (type, data, stored CRC) chunks, checking the layout on the way.
    fn png_chunks(png: &[u8]) -> Vec<([u8; 4], &[u8], u32)> {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut chunks = Vec::new();
        let mut rest = &png[8..];
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = rest[4..8].try_into().unwrap();
            let data = &rest[8..8 + len];
            let crc = u32::from_be_bytes(rest[8 + len..12 + len].try_into().unwrap());
            chunks.push((kind, data, crc));
            rest = &rest[12 + len..];
        }
        chunks
    }

    /// Inflates a zlib stream made only of stored blocks, checking every framing field.
    fn inflate_stored(zlib: &[u8]) -> Vec<u8> {
        assert_eq!(zlib[0] & 0x0F, 8, "CM must be deflate");
        assert_eq!(
            (u16::from(zlib[0]) << 8 | u16::from(zlib[1])) % 31,
            0,
            "FCHECK"
        );
        assert_eq!(zlib[1] & 0x20, 0, "no preset dictionary");
        let mut out = Vec::new();
        let mut pos = 2;
        loop {
            let header = zlib[pos];
            assert_eq!(header >> 1 & 0b11, 0, "only stored blocks expected");
            let len = u16::from_le_bytes([zlib[pos + 1], zlib[pos + 2]]);
            let nlen = u16::from_le_bytes([zlib[pos + 3], zlib[pos + 4]]);
            assert_eq!(len, !nlen, "NLEN must be the complement of LEN");
            pos += 5;
            out.extend_from_slice(&zlib[pos..pos + usize::from(len)]);
            pos += usize::from(len);
            if header & 1 == 1 {
                break;
            }
        }
        let adler = u32::from_be_bytes(zlib[pos..pos + 4].try_into().unwrap());
        assert_eq!(adler, adler32(&out), "Adler-32");
        assert_eq!(pos + 4, zlib.len(), "trailing bytes after the zlib stream");
        out
    }

    #[test]
    fn png_4x4_is_fully_valid() {
        let png = image("png", 4, 4);
        let chunks = png_chunks(&png);
        let kinds: Vec<&[u8; 4]> = chunks.iter().map(|(kind, _, _)| kind).collect();
        assert_eq!(kinds, [b"IHDR", b"IDAT", b"IEND"]);
        for (kind, data, crc) in &chunks {
            let mut covered = kind.to_vec();
            covered.extend_from_slice(data);
            assert_eq!(
                *crc,
                crc32(&covered),
                "CRC of {}",
                String::from_utf8_lossy(kind)
            );
        }
        assert_eq!(chunks[0].1, [0, 0, 0, 4, 0, 0, 0, 4, 8, 0, 0, 0, 0]);
        let raw = inflate_stored(chunks[1].1);
        // 4 rows of a filter byte plus 4 one-byte gray pixels.
        assert_eq!(raw.len(), 4 * (1 + 4));
        assert!(raw.chunks(5).all(|row| row[0] == 0));
        assert_eq!(raw[5..10], [0, 1, 2, 3, 4]);
    }

    #[test]
    fn png_spanning_several_stored_blocks_is_valid() {
        // 65536 pixels + 256 filter bytes need two stored blocks.
        let png = image("png", 256, 256);
        let idat = png_chunks(&png)[1].1;
        assert_eq!(inflate_stored(idat).len(), 256 * 257);
    }

    #[test]
    fn large_png_is_header_only_but_well_formed() {
        let png = image("png", 300, 300);
        let chunks = png_chunks(&png);
        assert_eq!(chunks.len(), 3);
        assert!(inflate_stored(chunks[1].1).is_empty());
    }

    /// A straightforward GIF LZW decoder, independent of the encoder's bookkeeping.
    fn lzw_decode(min_code_size: u8, data: &[u8]) -> Vec<u8> {
        let clear = 1u16 << min_code_size;
        let end = clear + 1;
        let mut table: Vec<Vec<u8>> = Vec::new();
        let reset = |table: &mut Vec<Vec<u8>>| {
            table.clear();
            table.extend((0..clear).map(|i| vec![i as u8]));
            table.push(Vec::new());
            table.push(Vec::new());
        };
        reset(&mut table);
        let mut width = min_code_size + 1;
        let (mut acc, mut len, mut pos) = (0u32, 0u8, 0usize);
        let mut previous: Option<Vec<u8>> = None;
        let mut out = Vec::new();
        loop {
            while len < width {
                acc |= u32::from(data[pos]) << len;
                pos += 1;
                len += 8;
            }
            let code = (acc & ((1 << width) - 1)) as u16;
            acc >>= width;
            len -= width;
            if code == clear {
                reset(&mut table);
                width = min_code_size + 1;
                previous = None;
                continue;
            }
            if code == end {
                return out;
            }
            let entry = match (&previous, table.get(usize::from(code))) {
                (_, Some(entry)) => entry.clone(),
                (Some(prev), None) => {
                    assert_eq!(usize::from(code), table.len(), "code beyond the table");
                    let mut entry = prev.clone();
                    entry.push(prev[0]);
                    entry
                }
                (None, None) => panic!("first code after clear is not a literal"),
            };
            out.extend_from_slice(&entry);
            if let Some(prev) = previous.take() {
                if table.len() < 4096 {
                    let mut added = prev;
                    added.push(entry[0]);
                    table.push(added);
                    if table.len() == 1 << width && width < 12 {
                        width += 1;
                    }
                }
            }
            previous = Some(entry);
        }
    }

    /// Returns (logical screen width, height, decoded frame indices) of a sample GIF.
    fn decode_gif(gif: &[u8]) -> (u16, u16, Vec<u8>) {
        assert_eq!(&gif[..6], b"GIF89a");
        let w = u16::from_le_bytes([gif[6], gif[7]]);
        let h = u16::from_le_bytes([gif[8], gif[9]]);
        assert_eq!(gif[10], 0x80, "2-entry global colour table");
        let descriptor = &gif[19..29];
        assert_eq!(descriptor[0], 0x2C);
        assert_eq!(descriptor[5..9], gif[6..10], "frame covers the canvas");
        let min_code_size = gif[29];
        let mut data = Vec::new();
        let mut pos = 30;
        while gif[pos] != 0 {
            let n = usize::from(gif[pos]);
            data.extend_from_slice(&gif[pos + 1..pos + 1 + n]);
            pos += 1 + n;
        }
        assert_eq!(&gif[pos + 1..], [0x3B], "trailer right after the frame");
        (w, h, lzw_decode(min_code_size, &data))
    }

    #[test]
    fn gif_decodes_to_every_pixel() {
        // 256x256 overflows the 4096-entry table, exercising the clear-code reset.
        for (w, h) in [(1, 1), (4, 4), (7, 3), (100, 37), (256, 256), (65535, 1)] {
            let (gw, gh, pixels) = decode_gif(&image("gif", w, h));
            assert_eq!((u32::from(gw), u32::from(gh)), (w, h));
            let expected: Vec<u8> = (0..h)
                .flat_map(|y| (0..w).map(move |x| ((x + y) / 4 % 2) as u8))
                .collect();
            assert_eq!(pixels, expected, "{w}x{h}");
        }
    }

    #[test]
    fn lzw_round_trips_pseudo_random_indices() {
        // Noisy data fills the table quickly and walks through every code width.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let pixels: Vec<u8> = (0..50_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 4) as u8
            })
            .collect();
        assert_eq!(
            lzw_decode(2, &lzw_encode(2, pixels.iter().copied())),
            pixels
        );
        assert!(lzw_decode(2, &lzw_encode(2, [])).is_empty());
        assert_eq!(lzw_decode(2, &lzw_encode(2, [3])), [3]);
    }

    #[test]
    fn large_gif_is_header_only() {
        let (_, _, pixels) = decode_gif(&image("gif", 1000, 1000));
        assert!(pixels.is_empty());
    }

    #[test]
    fn jpeg_scan_has_two_bits_per_block() {
        let jpeg = image("jpeg", 17, 9);
        assert_eq!(&jpeg[..4], [0xFF, 0xD8, 0xFF, 0xE0]);
        assert_eq!(&jpeg[jpeg.len() - 2..], [0xFF, 0xD9]);
        let sos = jpeg.windows(2).position(|m| m == [0xFF, 0xDA]).unwrap();
        let scan = &jpeg[sos + 2 + 8..jpeg.len() - 2];
        // ceil(17/8) * ceil(9/8) = 6 blocks = 12 bits of zeros, then four 1-bits of padding.
        assert_eq!(scan, [0x00, 0x0F]);
    }

    #[test]
    fn webp_chunk_sizes_are_consistent() {
        for (w, h) in [(1, 1), (16384, 16384), (16385, 3), (1 << 24, 1 << 24)] {
            let webp = image("webp", w, h);
            assert_eq!(&webp[..4], b"RIFF");
            let riff_len = u32::from_le_bytes(webp[4..8].try_into().unwrap()) as usize;
            assert_eq!(riff_len + 8, webp.len());
            assert_eq!(&webp[12..16], b"VP8X");
            assert_eq!(&webp[30..34], b"VP8L");
            let vp8l_len = u32::from_le_bytes(webp[34..38].try_into().unwrap()) as usize;
            assert_eq!(38 + vp8l_len, webp.len());
            assert_eq!(webp[38], 0x2F);
            let dims = u32::from_le_bytes(webp[39..43].try_into().unwrap());
            assert_eq!(
                ((dims & 0x3FFF) + 1, (dims >> 14 & 0x3FFF) + 1),
                (w.min(16384), h.min(16384))
            );
        }
    }

    #[test]
    fn heif_boxes_nest_exactly() {
        /// Walks sibling boxes, asserting they tile `data` exactly; returns (type, payload).
        fn boxes(data: &[u8]) -> Vec<([u8; 4], &[u8])> {
            let mut out = Vec::new();
            let mut rest = data;
            while !rest.is_empty() {
                let size = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                assert!(size >= 8 && size <= rest.len(), "box size {size}");
                out.push((rest[4..8].try_into().unwrap(), &rest[8..size]));
                rest = &rest[size..];
            }
            out
        }
        for format in ["heic", "avif"] {
            let file = image(format, 640, 480);
            let top = boxes(&file);
            assert_eq!(top.len(), 2);
            assert_eq!((&top[0].0, &top[0].1[..4]), (b"ftyp", format.as_bytes()));
            assert_eq!(&top[1].0, b"meta");
            let meta = boxes(&top[1].1[4..]);
            let kinds: Vec<_> = meta.iter().map(|(kind, _)| kind).collect();
            assert_eq!(kinds, [b"hdlr", b"pitm", b"iinf", b"iprp"]);
            assert_eq!(&meta[0].1[8..12], b"pict");
            let iprp = boxes(meta[3].1);
            assert_eq!((&iprp[0].0, &iprp[1].0), (b"ipco", b"ipma"));
            let ipco = boxes(iprp[0].1);
            let config: &[u8; 4] = if format == "heic" { b"hvcC" } else { b"av1C" };
            assert_eq!((&ipco[0].0, &ipco[1].0), (config, b"ispe"));
            assert_eq!(ipco[1].1, [0, 0, 0, 0, 0, 0, 2, 0x80, 0, 0, 1, 0xE0]);
            // hvcC record is 23 bytes, av1C 4.
            assert_eq!(ipco[0].1.len(), if format == "heic" { 23 } else { 4 });
            // iinf payload: version/flags, entry count, then the infe boxes.
            let infe = boxes(&meta[2].1[6..]);
            assert_eq!(&infe[0].0, b"infe");
        }
    }

    #[test]
    fn svg_is_the_documented_markup() {
        assert_eq!(
            String::from_utf8(image("svg", 3, 2)).unwrap(),
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="3" height="2" viewBox="0 0 3 2"><rect width="3" height="2" fill="#c33"/></svg>"##
        );
    }

    /// Writes samples to $CF_IMAGES_MOCK_SAMPLE_DIR for checking with external decoders
    /// (ImageMagick, dwebp, djpeg); a no-op without that variable.
    #[test]
    fn dump_samples_for_external_decoders() {
        let Some(dir) = std::env::var_os("CF_IMAGES_MOCK_SAMPLE_DIR") else {
            return;
        };
        for format in ACCEPTED_FORMATS {
            for (w, h) in [
                (1, 1),
                (4, 4),
                (7, 3),
                (100, 37),
                (256, 256),
                (16000, 4),
                (16384, 1),
            ] {
                if format != "webp" && format != "svg" && !decodable(w, h) {
                    continue;
                }
                let path = std::path::Path::new(&dir).join(format!("{w}x{h}.{format}"));
                std::fs::write(path, image(format, w, h)).unwrap();
            }
        }
    }
}
