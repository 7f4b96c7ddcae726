//! Format and dimension sniffing of uploaded bytes.
//!
//! Cloudflare Images ignores the Content-Type of an uploaded part and decides from the bytes
//! themselves whether it got a PNG, a JPEG, an SVG or something it refuses, and it rejects files
//! whose header cannot be decoded. The mock mirrors that by reading only the header: binary
//! formats through `imagesize` (magic bytes, then the size fields, never pixel data) and SVG,
//! which `imagesize` does not know, through a small bounded sniffer of the root element. Both
//! paths do a bounded amount of work whatever the upload size, so a 10 MiB body costs the same
//! few microseconds as a 100-byte one, and neither panics on hostile input.

use std::io::{self, BufRead, Cursor, Read, Seek, SeekFrom};

use imagesize::{Compression, ImageType};

/// What the mock learned from the first bytes of an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageInfo {
    /// Lowercase format name: "png", "jpeg", "gif", "webp", "svg", "heic", "avif" for the formats
    /// Cloudflare accepts; other formats imagesize recognises get their own lowercase name
    /// ("bmp", "tiff", "ico", "psd", ...); None when the bytes are no known image format.
    pub(crate) format: Option<&'static str>,
    /// Pixel dimensions read from the header; None when the format was recognised but the header
    /// could not be decoded (truncated / corrupt), or for an SVG without usable size.
    pub(crate) width: Option<u64>,
    pub(crate) height: Option<u64>,
}

/// imagesize needs this many bytes to recognise any format.
const MIN_SNIFF_LEN: usize = 12;

/// How far into the upload the SVG sniffer looks for the root `<svg>` element.
const SVG_SNIFF_LEN: usize = 4096;

/// How much of an ISO-BMFF `ftyp` box is scanned for brands (real ones are a few dozen bytes).
const FTYP_SCAN_LEN: usize = 4096;

/// Reads and seeks imagesize may perform while looking for the size fields. Real headers need
/// a few dozen (a JPEG costs three per marker segment before SOF); the cap only bites on
/// crafted files made of thousands of tiny segments, which would otherwise be walked to the end.
const HEADER_OPERATIONS: u32 = 4096;

/// Detects the format of `bytes` and the dimensions its header declares.
///
/// Never panics and examines only a bounded prefix (plus O(1) seeks), whatever the input.
/// Inputs shorter than the 12 bytes imagesize needs are still matched against the magic
/// numbers, so a truncated PNG signature is reported as a PNG without dimensions rather than
/// as an unknown format.
pub(crate) fn probe(bytes: &[u8]) -> ImageInfo {
    if let Some(svg) = probe_svg(bytes) {
        return svg;
    }
    let unknown = ImageInfo {
        format: None,
        width: None,
        height: None,
    };

    if bytes.len() < MIN_SNIFF_LEN {
        let mut padded = [0u8; MIN_SNIFF_LEN];
        padded[..bytes.len()].copy_from_slice(bytes);
        return match imagesize::image_type(&padded) {
            // Fewer than 12 bytes never hold a complete header of any format imagesize reads.
            Ok(kind) => ImageInfo {
                format: Some(format_name(kind, bytes)),
                ..unknown
            },
            Err(_) => unknown,
        };
    }

    // Detect on the same reader that then reads the size: some imagesize parsers (WebP) carry
    // on from where detection stopped instead of seeking, exactly as in `blob_size`.
    let mut reader = Budgeted::new(bytes);
    let Ok(kind) = imagesize::reader_type(&mut reader) else {
        return unknown;
    };
    let size = kind.reader_size(&mut reader).ok();
    ImageInfo {
        format: Some(format_name(kind, bytes)),
        width: size.map(|s| s.width as u64),
        height: size.map(|s| s.height as u64),
    }
}

/// The mock's name for an imagesize type.
fn format_name(kind: ImageType, bytes: &[u8]) -> &'static str {
    match kind {
        ImageType::Png => "png",
        ImageType::Jpeg => "jpeg",
        ImageType::Gif => "gif",
        ImageType::Webp => "webp",
        ImageType::Heif(Compression::Hevc) => "heic",
        ImageType::Heif(Compression::Av1) => "avif",
        ImageType::Heif(_) => heif_name_from_brands(bytes),
        ImageType::Aseprite => "aseprite",
        ImageType::Astc => "astc",
        ImageType::Atc(_) => "atc",
        ImageType::Bmp => "bmp",
        ImageType::Dds(_) => "dds",
        ImageType::Eac(_) => "eac",
        ImageType::Etc2(_) => "etc2",
        ImageType::Exr => "exr",
        ImageType::Farbfeld => "farbfeld",
        ImageType::Hdr => "hdr",
        ImageType::Ico => "ico",
        ImageType::Ilbm => "ilbm",
        ImageType::Jxl => "jxl",
        ImageType::Ktx2 => "ktx2",
        ImageType::Pnm => "pnm",
        ImageType::Pvrtc(_) => "pvr",
        ImageType::Psd => "psd",
        ImageType::Qoi => "qoi",
        ImageType::Tga => "tga",
        ImageType::Tiff => "tiff",
        ImageType::Vtf => "vtf",
        // ImageType is non-exhaustive: a format added by a later imagesize is still an image,
        // just not one Cloudflare accepts.
        _ => "other",
    }
}

/// Names an ISO-BMFF file imagesize could not pin to HEVC or AV1.
///
/// imagesize only looks at the major brand and the first two compatible brands, and calls any
/// `ftyp` file (MP4 and QuickTime video included) HEIF. Scanning every compatible brand
/// recovers AVIF/HEIC files that list their codec brand late; a plain `mif1`/`msf1`/`mif2`/
/// `miaf` image without codec brand is taken as HEIC since HEVC is HEIF's default codec; JPEG
/// in HEIF and non-image ISO-BMFF files (videos) become "heif", which Cloudflare refuses.
fn heif_name_from_brands(bytes: &[u8]) -> &'static str {
    const AV1: [&[u8; 4]; 5] = [b"avif", b"avis", b"avio", b"MA1A", b"MA1B"];
    const HEVC: [&[u8; 4]; 8] = [
        b"heic", b"heix", b"heis", b"hevs", b"heim", b"hevm", b"hevc", b"hevx",
    ];
    const JPEG: [&[u8; 4]; 2] = [b"jpeg", b"jpgs"];
    const GENERIC_IMAGE: [&[u8; 4]; 4] = [b"mif1", b"msf1", b"mif2", b"miaf"];

    let Some(size) = bytes.get(..4) else {
        return "heif";
    };
    let declared = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
    let ftyp = &bytes[..declared.min(bytes.len()).min(FTYP_SCAN_LEN)];
    // Major brand at 8..12, minor version at 12..16, compatible brands from 16 on.
    let brands: Vec<&[u8]> = ftyp
        .get(8..12)
        .into_iter()
        .chain(ftyp.get(16..).unwrap_or_default().chunks_exact(4))
        .collect();
    let has = |set: &[&[u8; 4]]| brands.iter().any(|b| set.iter().any(|s| s[..] == **b));
    if has(&AV1) {
        "avif"
    } else if has(&HEVC) {
        "heic"
    } else if has(&JPEG) {
        "heif"
    } else if has(&GENERIC_IMAGE) {
        "heic"
    } else {
        "heif"
    }
}

/// A cursor over the upload that fails every operation once `HEADER_OPERATIONS` are spent.
///
/// imagesize's parsers walk segment/box chains with cheap seeks, which is fine for real files
/// but lets a crafted upload of millions of 4-byte JPEG segments cost a full scan. Bounding the
/// number of operations (rather than truncating the buffer) keeps large-but-legitimate skips,
/// such as an HEIF `mdat` before `meta`, working.
struct Budgeted<'a> {
    inner: Cursor<&'a [u8]>,
    operations_left: u32,
}

impl<'a> Budgeted<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Budgeted {
            inner: Cursor::new(bytes),
            operations_left: HEADER_OPERATIONS,
        }
    }

    fn spend(&mut self) -> io::Result<()> {
        match self.operations_left.checked_sub(1) {
            Some(left) => {
                self.operations_left = left;
                Ok(())
            }
            None => Err(io::Error::other("image header scan budget exhausted")),
        }
    }
}

impl Read for Budgeted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.spend()?;
        self.inner.read(buf)
    }
}

impl BufRead for Budgeted<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.spend()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}

impl Seek for Budgeted<'_> {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        self.spend()?;
        self.inner.seek(position)
    }
}

// ---------------------------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------------------------

/// Recognises an SVG document and reads its intrinsic size; None when `bytes` is not SVG.
///
/// Only the first `SVG_SNIFF_LEN` bytes are examined, every loop advances through them, and
/// all indexing is checked, so this is linear, bounded and panic-free on any input.
fn probe_svg(bytes: &[u8]) -> Option<ImageInfo> {
    let head = &bytes[..bytes.len().min(SVG_SNIFF_LEN)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let attributes_start = svg_root_start(head)?;
    let attributes = RootAttributes::parse(&head[attributes_start..]);
    let (width, height) = attributes.intrinsic_size();
    Some(ImageInfo {
        format: Some("svg"),
        width,
        height,
    })
}

/// Skips the XML prolog (declaration, processing instructions, comments, doctype, whitespace)
/// and returns the index right after `<svg` when the root element is `svg`.
fn svg_root_start(head: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        at = skip_whitespace(head, at);
        let rest = &head[at..];
        if let Some(after) = rest.strip_prefix(b"<?") {
            at += 2 + find(after, b"?>")? + 2;
        } else if let Some(after) = rest.strip_prefix(b"<!--") {
            at += 4 + find(after, b"-->")? + 3;
        } else if let Some(after) = rest.strip_prefix(b"<!DOCTYPE") {
            at += 9 + doctype_len(after)?;
        } else if let Some(after) = rest.strip_prefix(b"<svg") {
            // `<svgfoo>` is another element; the window ending right after `<svg` proves nothing.
            let next = *after.first()?;
            return (is_xml_whitespace(next) || next == b'>' || next == b'/').then_some(at + 4);
        } else {
            return None;
        }
    }
}

/// Length of the rest of a `<!DOCTYPE` declaration, up to and including its closing `>`, which
/// may follow an internal subset in brackets and quoted identifiers that contain `>`.
fn doctype_len(s: &[u8]) -> Option<usize> {
    let mut quote = None;
    let mut in_subset = false;
    for (i, &c) in s.iter().enumerate() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'[') => in_subset = true,
            (None, b']') => in_subset = false,
            (None, b'>') if !in_subset => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The size-related attributes of the root `<svg>` tag, as raw attribute values.
#[derive(Default)]
struct RootAttributes<'a> {
    width: Option<&'a [u8]>,
    height: Option<&'a [u8]>,
    view_box: Option<&'a [u8]>,
}

impl<'a> RootAttributes<'a> {
    /// Reads `name="value"` pairs from just after `<svg` up to the end of the start tag. An
    /// unterminated tag or malformed attribute ends the scan with whatever was read so far.
    fn parse(tag: &'a [u8]) -> Self {
        let mut attributes = RootAttributes::default();
        let mut at = 0;
        loop {
            at = skip_whitespace(tag, at);
            match tag.get(at) {
                None | Some(b'>' | b'/') => break,
                Some(_) => {}
            }
            let name_start = at;
            while let Some(&c) = tag.get(at) {
                if is_xml_whitespace(c) || matches!(c, b'=' | b'>' | b'/') {
                    break;
                }
                at += 1;
            }
            let name = &tag[name_start..at];
            at = skip_whitespace(tag, at);
            if tag.get(at) != Some(&b'=') {
                break;
            }
            at = skip_whitespace(tag, at + 1);
            let Some(&quote @ (b'"' | b'\'')) = tag.get(at) else {
                break;
            };
            let value_start = at + 1;
            let Some(value_len) = tag[value_start..].iter().position(|&c| c == quote) else {
                break;
            };
            let value = &tag[value_start..value_start + value_len];
            at = value_start + value_len + 1;
            // XML forbids duplicates; if they occur anyway the first one wins.
            let slot = match name {
                b"width" => &mut attributes.width,
                b"height" => &mut attributes.height,
                b"viewBox" => &mut attributes.view_box,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        attributes
    }

    /// Width and height in whole pixels, rounded up.
    ///
    /// Plain `width`/`height` (unitless or `px`) win; a missing one is derived from the other
    /// through the viewBox aspect ratio, as renderers size the image; with neither, the viewBox
    /// size itself is the intrinsic size. Percentages, other units and malformed values count
    /// as missing.
    fn intrinsic_size(&self) -> (Option<u64>, Option<u64>) {
        let width = self.width.and_then(parse_length);
        let height = self.height.and_then(parse_length);
        let view_box = self.view_box.and_then(parse_view_box);
        let (width, height) = match (width, height, view_box) {
            (Some(w), Some(h), _) => (Some(w), Some(h)),
            (Some(w), None, Some((vw, vh))) => (Some(w), Some(w * vh / vw)),
            (None, Some(h), Some((vw, vh))) => (Some(h * vw / vh), Some(h)),
            (None, None, Some((vw, vh))) => (Some(vw), Some(vh)),
            (w, h, None) => (w, h),
        };
        (
            width.and_then(ceil_to_pixels),
            height.and_then(ceil_to_pixels),
        )
    }
}

/// A non-negative plain number, optionally followed by `px`.
fn parse_length(value: &[u8]) -> Option<f64> {
    let value = value.trim_ascii();
    let number = value.strip_suffix(b"px").unwrap_or(value);
    parse_decimal(number).filter(|n| *n >= 0.0)
}

/// `min-x min-y width height`, separated by whitespace and/or a comma; width and height must be
/// positive (a zero or negative viewBox disables rendering, so it gives no size).
fn parse_view_box(value: &[u8]) -> Option<(f64, f64)> {
    let mut numbers = value
        .split(|&c| is_xml_whitespace(c) || c == b',')
        .filter(|part| !part.is_empty())
        .map(parse_decimal);
    let (_min_x, _min_y, width, height) = (
        numbers.next()??,
        numbers.next()??,
        numbers.next()??,
        numbers.next()??,
    );
    if numbers.next().is_some() || width <= 0.0 || height <= 0.0 {
        return None;
    }
    Some((width, height))
}

/// `[+-]digits[.digits]` or `[+-].digits`: deliberately stricter than `f64::from_str`, which
/// would also take `inf`, `NaN` and exponents that SVG authors do not use for sizes.
fn parse_decimal(text: &[u8]) -> Option<f64> {
    let unsigned = text
        .strip_prefix(b"+")
        .or_else(|| text.strip_prefix(b"-"))
        .unwrap_or(text);
    let (integer, fraction) = match unsigned.iter().position(|&c| c == b'.') {
        Some(dot) => (&unsigned[..dot], &unsigned[dot + 1..]),
        None => (unsigned, &b""[..]),
    };
    let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if integer.is_empty() && fraction.is_empty() || !all_digits(integer) || !all_digits(fraction) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Rounds a CSS pixel length up to whole pixels; None for values no image could have.
fn ceil_to_pixels(value: f64) -> Option<u64> {
    // 2^53: beyond it f64 no longer holds every integer, and no real image is that large.
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
    // NaN and infinities fail the range check too.
    (0.0..=MAX_EXACT)
        .contains(&value)
        .then(|| value.ceil() as u64)
}

/// XML's whitespace: space, tab, carriage return, line feed.
fn is_xml_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_whitespace(s: &[u8], mut at: usize) -> usize {
    while s.get(at).copied().is_some_and(is_xml_whitespace) {
        at += 1;
    }
    at
}

/// Position of the first occurrence of `needle` (a few bytes long) in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{image, ACCEPTED_FORMATS};

    fn info(format: Option<&'static str>, width: Option<u64>, height: Option<u64>) -> ImageInfo {
        ImageInfo {
            format,
            width,
            height,
        }
    }

    fn sized(format: &'static str, width: u64, height: u64) -> ImageInfo {
        info(Some(format), Some(width), Some(height))
    }

    fn svg(text: &str) -> ImageInfo {
        probe(text.as_bytes())
    }

    /// Deterministic pseudo-random bytes (xorshift64), so failures reproduce.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn every_sample_format_is_detected_with_exact_dimensions() {
        for format in ACCEPTED_FORMATS {
            for (w, h) in [(1, 1), (7, 3), (300, 200), (4000, 3000)] {
                assert_eq!(
                    probe(&image(format, w, h)),
                    sized(format, w.into(), h.into()),
                    "{format} {w}x{h}"
                );
            }
        }
    }

    #[test]
    fn truncated_headers() {
        // (format, prefix length, expected dimensions). Below 12 bytes imagesize cannot read
        // any header, but the padded magic still names the format. GIF keeps its size in bytes
        // 6..10, so 12 bytes are enough for it; the others need more.
        type Case = (&'static str, usize, Option<(u64, u64)>);
        let cases: [Case; 14] = [
            ("png", 12, None),
            ("png", 23, None), // IHDR height cut short
            ("png", 8, None),
            ("jpeg", 12, None), // inside APP0, SOF0 not reached
            ("jpeg", 3, None),
            ("gif", 12, Some((7, 3))),
            ("gif", 9, None),
            ("gif", 4, None),
            ("webp", 12, None), // no chunk header yet
            ("webp", 29, None), // VP8X height cut short
            ("heic", 12, None), // ftyp only
            ("avif", 12, None),
            ("svg", 12, None), // `<svg xmlns="`: root seen, attributes cut
            ("svg", 55, None), // width="7" present, height and viewBox cut off
        ];
        for (format, len, dims) in cases {
            let bytes = image(format, 7, 3);
            let got = probe(&bytes[..len]);
            let expected = match (format, len) {
                // A 55-byte SVG prefix holds width but nothing that yields a height.
                ("svg", 55) => info(Some("svg"), Some(7), None),
                _ => info(Some(format), dims.map(|d| d.0), dims.map(|d| d.1)),
            };
            assert_eq!(got, expected, "{format} cut to {len} bytes");
        }
        // Three bytes are too few even for the magic numbers of WebP and HEIF.
        assert_eq!(probe(&image("webp", 7, 3)[..3]), info(None, None, None));
        assert_eq!(probe(&image("heic", 7, 3)[..3]), info(None, None, None));
    }

    #[test]
    fn heic_and_avif_are_told_apart_by_brands() {
        fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
            let mut b = (16 + 4 * compatible.len() as u32).to_be_bytes().to_vec();
            b.extend_from_slice(b"ftyp");
            b.extend_from_slice(major);
            b.extend_from_slice(&[0; 4]);
            for c in compatible {
                b.extend_from_slice(*c);
            }
            b
        }
        type Case = (&'static [u8; 4], &'static [&'static [u8; 4]], &'static str);
        let cases: [Case; 9] = [
            (b"heic", &[b"mif1", b"heic"], "heic"),
            (b"heix", &[], "heic"),
            (b"avif", &[b"mif1", b"miaf"], "avif"),
            (b"avis", &[b"msf1"], "avif"),
            // Generic major brand, codec brand first among the compatible ones: imagesize.
            (b"mif1", &[b"heic", b"mif1"], "heic"),
            // Codec brand listed too late for imagesize: found by our own brand scan.
            (b"mif1", &[b"mif1", b"miaf", b"MA1B", b"avif"], "avif"),
            (b"mif1", &[b"mif1", b"miaf"], "heic"),
            (b"isom", &[b"iso2", b"mp41"], "heif"), // an MP4 video
            (b"jpeg", &[b"mif1"], "heif"),
        ];
        for (major, compatible, name) in cases {
            let bytes = ftyp(major, compatible);
            assert_eq!(
                probe(&bytes),
                info(Some(name), None, None),
                "{major:?} {compatible:?}"
            );
        }
    }

    #[test]
    fn heif_size_survives_a_large_mdat_before_meta() {
        let sample = image("heic", 640, 480);
        let ftyp_len = u32::from_be_bytes(sample[..4].try_into().unwrap()) as usize;
        let mut bytes = sample[..ftyp_len].to_vec();
        let mdat_len = 3 << 20;
        bytes.extend_from_slice(&(mdat_len as u32).to_be_bytes());
        bytes.extend_from_slice(b"mdat");
        bytes.resize(ftyp_len + mdat_len, 0xAB);
        bytes.extend_from_slice(&sample[ftyp_len..]);
        assert_eq!(probe(&bytes), sized("heic", 640, 480));
    }

    #[test]
    fn other_formats_get_their_own_names() {
        let mut bmp = b"BM".to_vec();
        bmp.resize(0x12, 0);
        bmp.extend_from_slice(&5u32.to_le_bytes());
        bmp.extend_from_slice(&6u32.to_le_bytes());
        assert_eq!(probe(&bmp), sized("bmp", 5, 6));

        let mut tiff = b"II*\0".to_vec();
        tiff.extend_from_slice(&8u32.to_le_bytes());
        tiff.extend_from_slice(&2u16.to_le_bytes());
        for (tag, value) in [(0x100u16, 9u32), (0x101, 4)] {
            tiff.extend_from_slice(&tag.to_le_bytes());
            tiff.extend_from_slice(&4u16.to_le_bytes()); // LONG
            tiff.extend_from_slice(&1u32.to_le_bytes());
            tiff.extend_from_slice(&value.to_le_bytes());
        }
        assert_eq!(probe(&tiff), sized("tiff", 9, 4));

        // One 16x16 entry, then a cut-off directory.
        let ico = [0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0, 0];
        assert_eq!(probe(&ico), sized("ico", 16, 16));

        let mut psd = b"8BPS\0\x01".to_vec();
        psd.resize(14, 0);
        psd.extend_from_slice(&20u32.to_be_bytes()); // height
        psd.extend_from_slice(&30u32.to_be_bytes()); // width
        assert_eq!(probe(&psd), sized("psd", 30, 20));

        assert_eq!(probe(b"BM"), info(Some("bmp"), None, None));
    }

    #[test]
    fn garbage_and_empty_input_are_unknown() {
        let none = info(None, None, None);
        assert_eq!(probe(b""), none);
        assert_eq!(probe(b"\0"), none);
        assert_eq!(probe(&[0; 64]), none);
        assert_eq!(probe(b"this is definitely not an image file"), none);
        assert_eq!(probe(b"<html><body>hi</body></html>"), none);
        assert_eq!(probe(b"{\"json\": true}"), none);
        assert_eq!(probe(&XorShift(0x1234_5678_9ABC_DEF0).bytes(4096)), none);
    }

    #[test]
    fn svg_sniffing() {
        assert_eq!(
            svg("<svg width=\"10\" height=\"20\"/>"),
            sized("svg", 10, 20)
        );
        assert_eq!(
            svg("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width='100.5px' height='3.0'>"),
            sized("svg", 101, 3)
        );
        assert_eq!(
            svg("<!-- made by hand -> still a comment -->\n<svg width=\"1\" height=\"2\">"),
            sized("svg", 1, 2)
        );
        assert_eq!(
            svg("<?xml version=\"1.0\"?><!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\r\n<svg\twidth=\"4\"\nheight=\"5\">"),
            sized("svg", 4, 5)
        );
        assert_eq!(
            svg("<!DOCTYPE svg [ <!ENTITY e \"a>b\"> ]><svg width=\"6\" height=\"7\">"),
            sized("svg", 6, 7)
        );
        assert_eq!(
            probe(b"\xEF\xBB\xBF  \n<svg width=\"8\" height=\"9\"></svg>"),
            sized("svg", 8, 9)
        );
        assert_eq!(svg("<svg viewBox=\"0 0 640 480\">"), sized("svg", 640, 480));
        assert_eq!(svg("<svg viewBox=\"-5,-5, 10.2,4\">"), sized("svg", 11, 4));
        // One attribute plus viewBox: the other side follows the aspect ratio.
        assert_eq!(
            svg("<svg width=\"200\" viewBox=\"0 0 100 50\">"),
            sized("svg", 200, 100)
        );
        assert_eq!(
            svg("<svg height=\"30\" viewBox=\"0 0 100 50\">"),
            sized("svg", 60, 30)
        );
        // Unusable attributes fall back to the viewBox.
        assert_eq!(
            svg("<svg width=\"100%\" height=\"2em\" viewBox=\"0 0 3 4\">"),
            sized("svg", 3, 4)
        );
        assert_eq!(svg("<svg>"), info(Some("svg"), None, None));
        assert_eq!(svg("<svg/>"), info(Some("svg"), None, None));
        assert_eq!(svg("<svg width=\"10\">"), info(Some("svg"), Some(10), None));
        assert_eq!(
            svg("<svg width=\"1e3\" height=\"-4\" viewBox=\"0 0 0 5\">"),
            info(Some("svg"), None, None)
        );
        // The first duplicate wins; attributes of child elements are not the root's.
        assert_eq!(
            svg("<svg width=\"1\" width=\"2\" height=\"3\"><rect width=\"9\" height=\"9\"/>"),
            sized("svg", 1, 3)
        );

        let not_svg = info(None, None, None);
        assert_eq!(svg("<svgfoo width=\"1\" height=\"1\">"), not_svg);
        assert_eq!(
            svg("<html><svg width=\"1\" height=\"1\"></svg></html>"),
            not_svg
        );
        assert_eq!(svg("<svg"), not_svg);
        assert_eq!(svg("<SVG width=\"1\">"), not_svg);
        assert_eq!(svg("hello <svg>"), not_svg);
        assert_eq!(svg("<?xml version=\"1.0\"<svg>"), not_svg); // unterminated declaration
        assert_eq!(svg("<!-- never closed <svg>"), not_svg);
    }

    #[test]
    fn svg_root_beyond_the_sniff_window_is_not_seen() {
        let mut doc = format!("<!--{}-->", " ".repeat(SVG_SNIFF_LEN));
        doc.push_str("<svg width=\"1\" height=\"1\">");
        assert_eq!(svg(&doc), info(None, None, None));
    }

    #[test]
    fn hostile_svg_attributes() {
        let huge = "9".repeat(3000);
        assert_eq!(
            svg(&format!("<svg width=\"{huge}\" height=\"2\">")),
            info(Some("svg"), None, Some(2))
        );
        assert_eq!(
            svg("<svg width=\"9007199254741000\" height=\"9007199254740992\">"),
            info(Some("svg"), None, Some(9_007_199_254_740_992))
        );
        // Attribute value running past the window, unterminated tag, non-UTF-8 values.
        let long = format!("<svg height=\"5\" width=\"{}", "1".repeat(10_000));
        assert_eq!(svg(&long), info(Some("svg"), None, Some(5)));
        assert_eq!(
            probe(b"<svg width=\"\xFF\xFE\" height=\"1\" viewBox=\"0 0 \xC3 2\""),
            info(Some("svg"), None, Some(1))
        );
        assert_eq!(
            svg("<svg width height=\"4\">"),
            info(Some("svg"), None, None)
        );
    }

    #[test]
    fn large_uploads_are_probed_from_the_header_only() {
        let mut bytes = image("png", 640, 480);
        bytes.resize(10 << 20, 0x55);
        assert_eq!(probe(&bytes), sized("png", 640, 480));

        let mut svg = image("svg", 640, 480);
        svg.resize(10 << 20, b' ');
        assert_eq!(probe(&svg), sized("svg", 640, 480));

        // A crafted JPEG of 10 MiB of empty APP0 segments before any SOF: the size lies past
        // the operation budget, so it is treated as undecodable instead of walked to the end.
        let mut jpeg = vec![0xFF, 0xD8];
        while jpeg.len() < 10 << 20 {
            jpeg.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x02]);
        }
        jpeg.extend_from_slice(&image("jpeg", 5, 5)[2..]);
        let started = std::time::Instant::now();
        assert_eq!(probe(&jpeg), info(Some("jpeg"), None, None));
        // Generous bound (debug build, busy CI); a full walk would take far longer.
        assert!(started.elapsed() < std::time::Duration::from_millis(200));

        // The same file with a realistic number of segments still decodes.
        let mut jpeg = vec![0xFF, 0xD8];
        for _ in 0..500 {
            jpeg.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x02]);
        }
        jpeg.extend_from_slice(&image("jpeg", 5, 5)[2..]);
        assert_eq!(probe(&jpeg), sized("jpeg", 5, 5));
    }

    #[test]
    fn fuzz_never_panics() {
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        // Magic numbers that route random tails into each imagesize parser.
        let magics: [&[u8]; 25] = [
            b"\x89PNG",
            b"\xFF\xD8\xFF",
            b"GIF89a",
            b"II*\0",
            b"MM\0+",
            b"RIFF\0\0\0\0WEBPVP8X",
            b"RIFF\0\0\0\0WEBPVP8L",
            b"RIFF\0\0\0\0WEBPVP8 ",
            b"\0\0\0\x18ftypmif1",
            b"\0\0\0\x18ftypheic",
            b"\xFF\x0A",
            b"\0\0\0\x0CJXL \x0D\x0A\x87\x0A",
            b"BM",
            b"8BPS",
            b"\0\0\x01\0",
            b"v/1\x01",
            b"#?RADIANCE\n",
            b"DDS ",
            b"\xABKTX 20\xBB\r\n\x1a\n",
            b"qoif",
            b"farbfeld",
            b"P6",
            b"VTF\0",
            b"FORM\0\0\0\0ILBM",
            b"<svg ",
        ];
        for i in 0..6000 {
            let len = (rng.next() % 96) as usize;
            let mut bytes = if i % 2 == 0 {
                magics[(rng.next() % magics.len() as u64) as usize].to_vec()
            } else {
                Vec::new()
            };
            bytes.extend(rng.bytes(len));
            let got = probe(&bytes);
            // Dimensions only ever come with a format.
            assert!(got.format.is_some() || (got.width.is_none() && got.height.is_none()));
        }
        for format in ACCEPTED_FORMATS {
            for (w, h) in [(7, 3), (12000, 11999)] {
                let (w, h) = (w.min(65535), h.min(65535));
                let bytes = image(format, w, h);
                for len in 0..=bytes.len() {
                    probe(&bytes[..len]);
                }
            }
        }
    }
}
