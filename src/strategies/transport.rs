//! Uploads that break a transport rule: a body that is no readable `multipart/form-data` form,
//! or one larger than the mock reads.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::BoxedStrategy;
use serde_json::{json, Map, Value};

use super::base::base;
use super::draft::{text_part, Draft};
use super::form::{rendered_len, Body, ClientStyle, UploadForm, WirePart};
use super::rule::InvalidRule;
use super::values::{file_param, margin, padded, text, valid_image};
use crate::ingest::multipart::Limits;
use crate::samples;

/// Uploads that break `rule`, one of the transport rules, and nothing else.
pub(super) fn breaking(rule: InvalidRule) -> BoxedStrategy<UploadForm> {
    match rule {
        InvalidRule::NotMultipart => (base(), 0..6usize)
            .prop_map(|(draft, shape)| not_multipart(&draft, shape))
            .boxed(),
        InvalidRule::NoBoundary => (
            base(),
            select(vec![
                "multipart/form-data",
                "multipart/form-data; charset=utf-8",
                "Multipart/Form-Data",
            ]),
        )
            .prop_map(|(draft, content_type)| {
                let mut form = draft.render();
                form.content_type = content_type.to_owned();
                form
            })
            .boxed(),
        InvalidRule::TruncatedBody => (base(), any::<Index>())
            .prop_map(|(draft, cut)| {
                let mut form = draft.render();
                let body = form.body();
                // Cut anywhere before the closing delimiter's final `--` (without its line break
                // a closing delimiter still closes the body).
                let keep = cut.index(body.len() - 2);
                form.body = Body::Raw(Bytes::copy_from_slice(&body[..keep]));
                form
            })
            .boxed(),
        InvalidRule::GarbageBody => (
            base(),
            0..3usize,
            any::<u128>(),
            proptest::collection::vec(any::<u8>(), 0..256),
        )
            .prop_map(|(draft, shape, seed, noise)| garbage(&draft, shape, seed, noise))
            .prop_filter("the body holds the announced delimiter", |form| {
                let delimiter = format!("--{}", form.content_type.rsplit('=').next().unwrap_or(""));
                !form
                    .body()
                    .windows(delimiter.len())
                    .any(|w| w == delimiter.as_bytes())
            })
            .boxed(),
        InvalidRule::RepeatedPart => (base(), any::<Index>(), any::<Index>())
            .prop_map(|(draft, which, at)| {
                let mut form = draft.render();
                let parts = form.parts_mut().expect("a rendered draft is multipart");
                let single: Vec<usize> = (0..parts.len())
                    .filter(|&i| {
                        matches!(
                            parts[i].name.as_deref(),
                            Some(
                                "file"
                                    | "url"
                                    | "id"
                                    | "creator"
                                    | "metadata"
                                    | "requireSignedURLs"
                            )
                        )
                    })
                    .collect();
                let copy = parts[*which.get(&single)].clone();
                parts.insert(at.index(parts.len() + 1), copy);
                form
            })
            .boxed(),
        InvalidRule::TooManyParts => (base(), margin(1024))
            .prop_map(|(draft, over)| {
                let mut form = draft.render();
                let client = form.client;
                let parts = form.parts_mut().expect("a rendered draft is multipart");
                let total = Limits::standard().max_parts + over;
                let fillers = total.saturating_sub(parts.len());
                parts.extend((0..fillers).map(|i| text_part(client, &format!("note{i}"), "")));
                form
            })
            .boxed(),
        InvalidRule::NamelessPart => (
            base(),
            any::<Index>(),
            select(vec![
                "Content-Disposition: form-data",
                "Content-Disposition: form-data; filename=\"cat.png\"",
                "Content-Type: text/plain",
            ]),
        )
            .prop_map(|(draft, at, head)| {
                let mut form = draft.render();
                let parts = form.parts_mut().expect("a rendered draft is multipart");
                let part = WirePart {
                    name: None,
                    head: head.to_owned(),
                    value: Bytes::from_static(b"42"),
                };
                parts.insert(at.index(parts.len() + 1), part);
                form
            })
            .boxed(),
        InvalidRule::MalformedMetadataName => {
            (base(), any::<Index>(), text(1..=8, "[].\"\\"), 0..5usize)
                .prop_map(|(draft, at, key, shape)| {
                    let name = match shape {
                        0 => format!("metadata[{key}"),
                        1 => format!("metadata[{key}]x"),
                        2 => "metadata[]".to_owned(),
                        3 => format!("metadata[][{key}]"),
                        _ => format!("metadata[{key}]["),
                    };
                    let mut form = draft.render();
                    let client = form.client;
                    let parts = form.parts_mut().expect("a rendered draft is multipart");
                    parts.insert(at.index(parts.len() + 1), text_part(client, &name, "value"));
                    form
                })
                .boxed()
        }
        InvalidRule::TextPartNotUtf8 => (
            base(),
            select(vec![
                "creator",
                "id",
                "url",
                "metadata",
                "requireSignedURLs",
                "note",
            ]),
            select(NOT_UTF8.to_vec()),
            text(0..=8, ""),
            text(0..=8, ""),
        )
            .prop_map(|(draft, name, bad, before, after)| {
                let mut form = draft.render();
                let client = form.client;
                let mut value = before.into_bytes();
                value.extend_from_slice(bad);
                value.extend_from_slice(after.as_bytes());
                let parts = form.parts_mut().expect("a rendered draft is multipart");
                // The part as the client sends it (a metadata key's part if the client sends
                // metadata so), else a part of its own.
                let sent = parts.iter_mut().find(|p| {
                    p.name
                        .as_deref()
                        .is_some_and(|n| n == name || (name == "metadata" && n.starts_with(name)))
                });
                match sent {
                    Some(part) => part.value = Bytes::from(value),
                    None => {
                        let mut part = text_part(client, name, "");
                        part.value = Bytes::from(value);
                        parts.push(part);
                    }
                }
                form
            })
            .boxed(),
        InvalidRule::PartHeadersTooLarge => {
            (base(), any::<Index>(), margin(16 * 1024), any::<bool>())
                .prop_map(|(draft, at, over, long_name)| {
                    let mut form = draft.render();
                    let client = form.client;
                    let max = Limits::standard().max_part_headers;
                    let parts = form.parts_mut().expect("a rendered draft is multipart");
                    // Counted as the mock counts them: each header line and its line break.
                    let counted = |head: &str| head.len() + 2;
                    if long_name {
                        let framing = counted(&text_part(client, "", "").head);
                        let name = "n".repeat(max + over - framing);
                        parts.insert(at.index(parts.len() + 1), text_part(client, &name, "v"));
                    } else {
                        let i = at.index(parts.len());
                        let part = &mut parts[i];
                        let line = "\r\nX-Padding: ";
                        let missing = (max + over).saturating_sub(counted(&part.head) + line.len());
                        part.head = format!("{}{line}{}", part.head, "x".repeat(missing));
                    }
                    form
                })
                .boxed()
        }
        InvalidRule::TextPartTooLarge => (
            base(),
            margin(4096),
            select(vec!["creator", "id", "url", "metadata", "note"]),
        )
            .prop_map(|(draft, over, name)| {
                let mut form = draft.render();
                let client = form.client;
                let value = "x".repeat(Limits::standard().max_text_part as usize + over);
                let parts = form.parts_mut().expect("a rendered draft is multipart");
                match parts.iter_mut().find(|p| p.name.as_deref() == Some(name)) {
                    Some(part) => part.value = Bytes::from(value),
                    None => parts.push(text_part(client, name, &value)),
                }
                form
            })
            .boxed(),
        InvalidRule::BodyTooLarge => (base(), valid_image(), margin(1 << 20))
            .prop_map(|(mut draft, bytes, over)| {
                let limits = Limits::standard();
                draft.url = None;
                let file = file_param(
                    draft.client,
                    padded(&bytes, limits.max_file as usize),
                    (None, false),
                    None,
                );
                draft.file = Some(file);
                let mut form = draft.render();
                let client = form.client;
                let boundary = form.boundary().unwrap_or_default().to_owned();
                let parts = form.parts_mut().expect("a rendered draft is multipart");
                let target = limits.max_body() as usize + over;
                fill_to(
                    client,
                    &boundary,
                    parts,
                    target,
                    limits.max_text_part as usize,
                );
                form
            })
            .boxed(),
        other => unreachable!("{other} is not a transport rule"),
    }
}

/// Bytes that are not UTF-8, each placed between UTF-8 text: byte order marks of UTF-16 and
/// UTF-32 with what follows them, a lone continuation byte, a sequence cut short, an overlong
/// encoding, an encoded surrogate, a code point over U+10FFFF, Latin-1.
const NOT_UTF8: &[&[u8]] = &[
    b"\xff\xfe\xc3\x28",
    b"\xfe\xff\x00a",
    b"\xff\xfe\x00\x00a\x00\x00\x00",
    b"\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"caf\xe9",
];

/// A body in another format than `multipart/form-data`.
fn not_multipart(draft: &Draft, shape: usize) -> UploadForm {
    let mut form = draft.render();
    let mut fields = Map::new();
    let params = form.params.clone();
    for (key, value) in [
        ("url", &params.url),
        ("id", &params.id),
        ("creator", &params.creator),
    ] {
        if let Some(value) = value {
            fields.insert(key.to_owned(), Value::from(value.as_str()));
        }
    }
    if let Some(metadata) = &params.metadata {
        fields.insert("metadata".to_owned(), metadata.clone());
    }
    if let Some(signed) = params.require_signed_urls {
        fields.insert("requireSignedURLs".to_owned(), Value::from(signed));
    }
    let image = || match &params.file {
        Some(file) => file.bytes.clone(),
        None => Bytes::from(samples::image("png", 1, 1)),
    };
    let (content_type, body) = match shape {
        0 => (
            "application/json".to_owned(),
            Bytes::from(Value::Object(fields).to_string()),
        ),
        1 => {
            let format = crate::ingest::image::probe(&image())
                .format
                .unwrap_or("png");
            let mime = if format == "svg" {
                "image/svg+xml".to_owned()
            } else {
                format!("image/{format}")
            };
            (mime, image())
        }
        2 => ("application/octet-stream".to_owned(), image()),
        3 => {
            let pairs: Vec<String> = fields
                .iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    format!(
                        "{k}={}",
                        percent_encoding::utf8_percent_encode(
                            &v,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    )
                })
                .collect();
            (
                "application/x-www-form-urlencoded".to_owned(),
                Bytes::from(pairs.join("&")),
            )
        }
        4 => (
            form.content_type.replace("form-data", "mixed"),
            Bytes::from(form.body()),
        ),
        _ => (
            "text/plain; charset=utf-8".to_owned(),
            Bytes::from(form.body()),
        ),
    };
    form.content_type = content_type;
    form.body = Body::Raw(body);
    form
}

/// A body that holds no delimiter of the boundary its Content-Type announces.
fn garbage(draft: &Draft, shape: usize, seed: u128, noise: Vec<u8>) -> UploadForm {
    let mut form = draft.render();
    let body = match shape {
        // A form written with another boundary than the header's (a client bug).
        0 => form.body(),
        1 => noise,
        _ => serde_json::to_vec(&json!({"url": "https://example.com/cat.png"})).unwrap_or_default(),
    };
    let announced = match shape {
        0 => ClientStyle::Curl
            .boundary(seed.wrapping_add(1) | 2)
            .replace('-', "x"),
        _ => form.boundary().unwrap_or("x").to_owned(),
    };
    form.content_type = format!("multipart/form-data; boundary={announced}");
    form.body = Body::Raw(Bytes::from(body));
    form
}

/// Text parts appended until the body is exactly `target` bytes, none over `max_text` bytes.
fn fill_to(
    client: ClientStyle,
    boundary: &str,
    parts: &mut Vec<WirePart>,
    target: usize,
    max_text: usize,
) {
    let name = |i: usize| format!("note{i:05}");
    let framing =
        rendered_len(boundary, &[text_part(client, &name(0), "")]) - rendered_len(boundary, &[]);
    for i in 0.. {
        let missing = target.saturating_sub(rendered_len(boundary, parts));
        if missing == 0 {
            break;
        }
        let value = if missing <= framing + max_text {
            missing - framing
        } else if missing >= 2 * framing + max_text {
            max_text
        } else {
            // Leave exactly one part's framing for the last part.
            missing - 2 * framing
        };
        parts.push(text_part(client, &name(i), &"x".repeat(value)));
    }
}
