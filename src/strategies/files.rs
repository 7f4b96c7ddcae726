//! Uploads whose file breaks one of the image rules of the schema.

use std::sync::LazyLock;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Union};

use super::base::base;
use super::form::UploadForm;
use super::rule::InvalidRule;
use super::values::{
    avif, content_type, dimension_limits, file_param, filename, filename_max, filename_text,
    fit_filename, margin, padded, valid_image,
};
use crate::ingest::form as upload;
use crate::{samples, schema};

/// Uploads whose file breaks `rule`, one of the file rules, and nothing else.
pub(super) fn breaking(rule: InvalidRule) -> BoxedStrategy<UploadForm> {
    match rule {
        InvalidRule::FileTooLarge => {
            let max = schema::max_file_size() as usize;
            with_file(
                (valid_image(), margin(200_000)).prop_map(move |(b, over)| padded(&b, max + over)),
            )
        }
        InvalidRule::FileUnsupportedType => with_file(file_breaking(rule, unsupported_bytes())),
        InvalidRule::FileUndecodable => with_file(select(UNDECODABLE.clone())),
        InvalidRule::FileDimensionTooLarge => with_file(file_breaking(
            rule,
            per_format(&general_formats(), side_over_maximum),
        )),
        InvalidRule::FileAvifDimensionTooLarge => with_file(file_breaking(
            rule,
            per_format(&[avif()], avif_side_over_maximum),
        )),
        InvalidRule::FileAreaTooLarge => with_file(file_breaking(
            rule,
            per_format(&general_formats(), area_over_maximum),
        )),
        InvalidRule::FilenameTooLong => (
            base(),
            valid_image(),
            filename_text(1..=8),
            margin(1000),
            content_type(),
        )
            .prop_map(|(mut draft, bytes, name, over, content_type)| {
                let name = fit_filename(draft.client, &name, filename_max() + over);
                draft.url = None;
                draft.file = Some(file_param(
                    draft.client,
                    bytes,
                    (Some(name), false),
                    content_type,
                ));
                draft.render()
            })
            .boxed(),
        other => unreachable!("{other} is not a rule of the file"),
    }
}

/// The accepted formats under the general dimension limits (all but AVIF).
fn general_formats() -> Vec<&'static str> {
    samples::ACCEPTED_FORMATS
        .into_iter()
        .filter(|&f| f != avif())
        .collect()
}

/// A draft whose file (replacing any url) has the given bytes.
fn with_file(bytes: impl Strategy<Value = Bytes> + 'static) -> BoxedStrategy<UploadForm> {
    (base(), bytes, filename(), content_type())
        .prop_map(|(mut draft, bytes, name, content_type)| {
            draft.url = None;
            draft.file = Some(file_param(draft.client, bytes, name, content_type));
            draft.render()
        })
        .boxed()
}

/// The rules the image rules of the schema find in `bytes`.
fn file_rules(bytes: &[u8]) -> Vec<String> {
    match upload::check_fetched(bytes, None) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|e| e.rule.name().to_owned())
            .collect(),
    }
}

/// `files` kept to those that break `rule` alone, by the schema.
fn file_breaking(
    rule: InvalidRule,
    files: impl Strategy<Value = Bytes>,
) -> impl Strategy<Value = Bytes> {
    files.prop_filter(
        format!("a file breaking other rules than {rule}"),
        move |bytes| file_rules(bytes) == [rule.name()],
    )
}

/// Images of each of `formats`, of the dimensions `dimensions(format)` gives.
fn per_format<S>(
    formats: &[&'static str],
    dimensions: fn(&'static str) -> S,
) -> impl Strategy<Value = Bytes>
where
    S: Strategy<Value = (u32, u32)> + 'static,
{
    let arms: Vec<BoxedStrategy<Bytes>> = formats
        .iter()
        .map(|&format| {
            dimensions(format)
                .prop_map(move |(w, h)| Bytes::from(samples::image(format, w, h)))
                .boxed()
        })
        .collect();
    Union::new(arms)
}

/// Sizes over `max`: one more, a few more, or many more (up to `highest`).
fn over(max: u32, highest: u32) -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(max + 1),
        max + 2..=max + 16,
        max + 17..=highest.max(max + 17)
    ]
}

/// `(over, other)` strategies for each orientation, as `(width, height)`.
fn either_way<S>(width_over: S, height_over: S) -> impl Strategy<Value = (u32, u32)>
where
    S: Strategy<Value = (u32, u32)>,
{
    prop_oneof![
        width_over,
        height_over.prop_map(|(over, other)| (other, over))
    ]
}

/// One side over the maximum (by 1, a few, or many pixels), the area within its own.
fn side_over_maximum(format: &'static str) -> impl Strategy<Value = (u32, u32)> {
    let (max_w, max_h, area) = dimension_limits(format);
    let highest = u64::from(samples::max_side(format)).min(area) as u32;
    let arm = move |max: u32, other_max: u32| {
        over(max, highest).prop_flat_map(move |over| {
            (
                Just(over),
                1..=(area / u64::from(over)).min(u64::from(other_max)).max(1) as u32,
            )
        })
    };
    either_way(arm(max_w, max_h), arm(max_h, max_w))
}

/// An AVIF side over the AVIF maximum, within the maximum of every format.
fn avif_side_over_maximum(format: &'static str) -> impl Strategy<Value = (u32, u32)> {
    let (avif_w, avif_h, area) = dimension_limits(format);
    let max_w = schema::bound("file_dimension_too_large", "/properties/width/maximum") as u32;
    let max_h = schema::bound("file_dimension_too_large", "/properties/height/maximum") as u32;
    let arm = move |avif_max: u32, max: u32, other_max: u32| {
        over(avif_max, max)
            .prop_filter("over every format's maximum", move |&s| s <= max)
            .prop_flat_map(move |over| {
                (
                    Just(over),
                    1..=(area / u64::from(over)).min(u64::from(other_max)) as u32,
                )
            })
    };
    either_way(arm(avif_w, max_w, max_h), arm(avif_h, max_h, max_w))
}

/// An area over the maximum with both sides within theirs: the smallest area a side allows as
/// often as a larger one.
fn area_over_maximum(format: &'static str) -> impl Strategy<Value = (u32, u32)> {
    let (max_w, max_h, area) = dimension_limits(format);
    let arm = move |max: u32, other_max: u32| {
        let lowest = (area + 1).div_ceil(u64::from(other_max)) as u32;
        (lowest..=max).prop_flat_map(move |side| {
            let least = (area + 1).div_ceil(u64::from(side)) as u32;
            (Just(side), prop_oneof![Just(least), least..=other_max])
        })
    };
    either_way(arm(max_w, max_h), arm(max_h, max_w))
}

/// Bytes of no accepted format: nothing, text, documents and archives, a BMP, random bytes.
fn unsupported_bytes() -> impl Strategy<Value = Bytes> {
    let known = select(vec![
        Bytes::new(),
        Bytes::from_static(b"hello, world"),
        Bytes::from_static(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
        Bytes::from_static(b"PK\x03\x04\x14\x00\x00\x00\x08\x00"),
        Bytes::from_static(b"<!DOCTYPE html><html><body><img src=x></body></html>"),
        Bytes::from_static(b"{\"not\": \"an image\"}"),
    ]);
    let bmp = (1..=64u32, 1..=64u32).prop_map(|(w, h)| {
        let mut out = b"BM".to_vec();
        out.resize(0x12, 0);
        out.extend_from_slice(&w.to_le_bytes());
        out.extend_from_slice(&h.to_le_bytes());
        out.resize(54, 0);
        Bytes::from(out)
    });
    let noise = proptest::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from);
    prop_oneof![3 => known, 1 => bmp, 2 => noise]
}

/// Every prefix of small samples of the accepted formats (but SVG, which may have no size)
/// that the schema refuses as undecodable and for nothing else.
static UNDECODABLE: LazyLock<Vec<Bytes>> = LazyLock::new(|| {
    let mut cuts = Vec::new();
    // Formats the schema lets go without a size (SVG) cannot be undecodable.
    let sizeless = schema::keyword("file_undecodable", "/if/properties/format/not/enum");
    let sizeless = sizeless.as_array().expect("an enum is an array");
    let formats = samples::ACCEPTED_FORMATS
        .into_iter()
        .filter(|&f| !sizeless.contains(&f.into()));
    for format in formats {
        let sample = samples::image(format, 3, 2);
        for len in 0..sample.len() {
            if file_rules(&sample[..len]) == [InvalidRule::FileUndecodable.name()] {
                cuts.push(Bytes::copy_from_slice(&sample[..len]));
            }
        }
    }
    assert!(!cuts.is_empty(), "no prefix of any sample is undecodable");
    cuts
});
