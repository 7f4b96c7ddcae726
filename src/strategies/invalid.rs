//! [`invalid_upload`]: uploads that break exactly one rule, labelled with it; the rules of the
//! form's fields here, those of the file in `files`, the transport rules in `transport`.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::{json, Value};

use super::base::base;
use super::draft::{Draft, UrlSpec};
use super::form::{ClientStyle, UploadForm};
use super::rule::InvalidRule;
use super::values::{
    content_type, creator_max, file_param, filename, filename_max, fit_filename, fit_metadata,
    id_max, id_rules, id_text, margin, metadata_max, metadata_object, text, text_over, valid_id,
    valid_image, valid_url,
};
use super::{files, transport};
use crate::schema;

/// Uploads the API refuses, each labelled with the one rule it breaks.
///
/// Every [`InvalidRule`] is generated, each by the smallest margin as often as by a larger one
/// (a `creator` of the maximum length plus one character, plus a few, or plus many; an area of
/// the smallest size over the maximum that the sides allow), and each value shrinks to a
/// minimal case of its rule. Apart from that one rule the upload is valid, so
/// [`conformance::check_upload`](crate::conformance::check_upload) finds exactly one error, with
/// that rule. Values over the file and body size limits (10 MiB) are rare, so that a thousand
/// cases stay fast.
///
/// The file rules are broken by `file` uploads: the mock checks the bytes of a `url` upload only
/// once it has fetched them, which [`check_upload`](crate::conformance::check_upload) cannot.
pub fn invalid_upload() -> impl Strategy<Value = (UploadForm, InvalidRule)> {
    let arms: Vec<(u32, BoxedStrategy<(UploadForm, InvalidRule)>)> = InvalidRule::UPLOAD
        .iter()
        .map(|&rule| {
            let weight = match rule {
                InvalidRule::FileTooLarge | InvalidRule::BodyTooLarge => 1,
                _ => 10,
            };
            (
                weight,
                upload_breaking(rule)
                    .prop_map(move |form| (form, rule))
                    .boxed(),
            )
        })
        .collect();
    Union::new_weighted(arms)
}

/// Uploads that break `rule` and nothing else (see [`invalid_upload`]).
///
/// # Panics
/// If `rule` is not a rule of an upload (not in [`InvalidRule::UPLOAD`]).
///
/// ```
/// use cloudflare_images_mock::{conformance, strategies::{upload_breaking, InvalidRule}};
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let form = upload_breaking(InvalidRule::CreatorTooLong)
///     .new_tree(&mut TestRunner::default())
///     .unwrap()
///     .current();
/// let errors = conformance::check_upload(&form.content_type(), &form.body()).unwrap_err();
/// assert_eq!(errors.len(), 1);
/// assert_eq!(errors[0].rule, "creator_too_long");
/// ```
pub fn upload_breaking(rule: InvalidRule) -> BoxedStrategy<UploadForm> {
    match rule {
        InvalidRule::FileAndUrl => (
            base(),
            valid_image(),
            filename(),
            content_type(),
            valid_url(),
        )
            .prop_map(|(mut draft, bytes, name, content_type, url)| {
                if draft.file.is_some() {
                    draft.url = Some(url);
                } else {
                    draft.file = Some(file_param(draft.client, bytes, name, content_type));
                }
                draft.render()
            })
            .boxed(),
        InvalidRule::FileOrUrlRequired => base()
            .prop_map(|mut draft| {
                draft.file = None;
                draft.url = None;
                draft.render()
            })
            .boxed(),
        InvalidRule::IdWithSignedUrls => (base(), valid_id(id_max()))
            .prop_map(|(mut draft, id)| {
                draft.id = Some(id);
                draft.require_signed_urls = Some("true".to_owned());
                draft.render()
            })
            .boxed(),
        InvalidRule::UrlNotHttp => (base(), bad_url())
            .prop_map(|(mut draft, url)| {
                draft.file = None;
                draft.url = Some(UrlSpec {
                    url,
                    filename: None,
                    served: None,
                });
                draft.render_with_empty_values()
            })
            .boxed(),
        InvalidRule::IdEmpty => with_id(Just(String::new())),
        InvalidRule::IdTooLong => with_id(id_breaking(
            rule,
            prop_oneof![
                id_text(id_max() + 1..=id_max() + 1),
                id_text(id_max() + 2..=id_max() + 16),
                id_text(id_max() + 17..=id_max() * 3),
            ],
        )),
        InvalidRule::IdLeadingOrTrailingSlash => with_id(id_breaking(
            rule,
            prop_oneof![
                1 => Just("/".to_owned()),
                4 => (valid_id(id_max() - 2), 0..3usize).prop_map(|(id, ends)| match ends {
                    0 => format!("/{id}"),
                    1 => format!("{id}/"),
                    _ => format!("/{id}/"),
                }),
            ],
        )),
        InvalidRule::IdUuid => with_id(id_breaking(rule, from_schema_pattern("id_uuid"))),
        InvalidRule::IdNonImageExtension => with_id(id_breaking(
            rule,
            (
                valid_id(id_max() - 16),
                from_schema_pattern("id_non_image_extension"),
            )
                .prop_map(|(id, extension)| id + &extension),
        )),
        InvalidRule::CreatorTooLong => (base(), text_over(creator_max(), ""))
            .prop_map(|(mut draft, creator)| {
                draft.creator = Some(creator);
                draft.render()
            })
            .boxed(),
        InvalidRule::MetadataNotObject => (base(), not_an_object())
            .prop_map(|(mut draft, metadata)| {
                // The SDKs would flatten an array (into parts that break other rules) and cannot
                // send null: those go as curl sends them.
                if matches!(metadata, Value::Array(_) | Value::Null) {
                    draft.switch_client(ClientStyle::Curl);
                }
                draft.metadata = Some(metadata);
                draft.render_with_empty_values()
            })
            .boxed(),
        InvalidRule::MetadataTooLarge => (base(), metadata_object(), margin(4096))
            .prop_map(|(mut draft, map, over)| {
                let map = fit_metadata(draft.client, map, Some(metadata_max() + over));
                draft.metadata = Some(Value::Object(map));
                draft.render()
            })
            .boxed(),
        InvalidRule::RequireSignedUrlsNotBoolean => (base(), not_a_boolean())
            .prop_map(|(mut draft, text)| {
                draft.require_signed_urls = Some(text);
                draft.render_with_empty_values()
            })
            .boxed(),
        InvalidRule::FileTooLarge
        | InvalidRule::FileUnsupportedType
        | InvalidRule::FileUndecodable
        | InvalidRule::FileDimensionTooLarge
        | InvalidRule::FileAvifDimensionTooLarge
        | InvalidRule::FileAreaTooLarge
        | InvalidRule::FilenameTooLong => files::breaking(rule),
        InvalidRule::NotMultipart
        | InvalidRule::NoBoundary
        | InvalidRule::TruncatedBody
        | InvalidRule::GarbageBody
        | InvalidRule::RepeatedPart
        | InvalidRule::TooManyParts
        | InvalidRule::NamelessPart
        | InvalidRule::MalformedMetadataName
        | InvalidRule::TextPartNotUtf8
        | InvalidRule::PartHeadersTooLarge
        | InvalidRule::TextPartTooLarge
        | InvalidRule::BodyTooLarge => transport::breaking(rule),
        other => panic!(
            "{other:?} is a rule of {}, not of an upload",
            other.operation()
        ),
    }
}

impl Draft {
    /// Renders a draft whose broken value may be empty: the Python SDK would leave an empty
    /// value out, so such a value goes as curl sends it.
    fn render_with_empty_values(mut self) -> UploadForm {
        let empty = |v: &Option<String>| v.as_deref() == Some("");
        if self.client == ClientStyle::PythonSdk
            && (empty(&self.id)
                || empty(&self.require_signed_urls)
                || self.url.as_ref().is_some_and(|u| u.url.is_empty())
                || self.metadata == Some(Value::from("")))
        {
            self.switch_client(ClientStyle::Curl);
        }
        self.render()
    }

    /// Hands the draft to another client, keeping what the first client made valid valid: the
    /// metadata size and the file name length depend on how a client writes them.
    fn switch_client(&mut self, client: ClientStyle) {
        self.client = client;
        if let Some(Value::Object(map)) = &mut self.metadata {
            *map = fit_metadata(client, std::mem::take(map), None);
        }
        if let Some(name) = self.file.as_mut().and_then(|f| f.filename.as_mut()) {
            if client.read_back(name).chars().count() > filename_max() {
                *name = fit_filename(client, name, filename_max());
            }
        }
    }
}

/// A draft with `id` as its custom id (and without signed URLs, which a custom id forbids).
fn with_id(id: impl Strategy<Value = String> + 'static) -> BoxedStrategy<UploadForm> {
    (base(), id)
        .prop_map(|(mut draft, id)| {
            draft.id = Some(id);
            if draft.require_signed_urls.as_deref() == Some("true") {
                draft.require_signed_urls = Some("false".to_owned());
            }
            draft.render_with_empty_values()
        })
        .boxed()
}

/// `ids` kept to those that break `rule` alone, by the schema.
fn id_breaking(
    rule: InvalidRule,
    ids: impl Strategy<Value = String>,
) -> impl Strategy<Value = String> {
    ids.prop_filter(
        format!("an id breaking other rules than {rule}"),
        move |id| id_rules(id) == [rule.name()],
    )
}

/// Strings matching a pattern of the schema (`/not/pattern` of `rule`), anchors left out.
fn from_schema_pattern(rule: &str) -> impl Strategy<Value = String> {
    let pattern = schema::keyword(rule, "/not/pattern")
        .as_str()
        .unwrap_or_else(|| panic!("the pattern of {rule} is not a string"));
    let pattern = pattern.trim_start_matches('^').trim_end_matches('$');
    proptest::string::string_regex(pattern)
        .unwrap_or_else(|e| panic!("the pattern of {rule} cannot be generated: {e}"))
}

/// URLs the schema refuses: other schemes, no scheme, no host, white space.
fn bad_url() -> impl Strategy<Value = String> {
    let near_misses = select(vec![
        "",
        "ftp://example.com/cat.png",
        "example.com/cat.png",
        "//example.com/cat.png",
        "https:/example.com/cat.png",
        "https://",
        "http://",
        "file:///tmp/cat.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "javascript:alert(1)",
        "httpss://example.com/cat.png",
    ])
    .prop_map(str::to_owned);
    let spaced =
        (valid_url(), any::<Index>(), select(vec![" ", "\t"])).prop_map(|(url, at, space)| {
            let mut url = url.url;
            let at = at.index(url.len() + 1);
            let at = (0..=at)
                .rev()
                .find(|&i| url.is_char_boundary(i))
                .unwrap_or(0);
            url.insert_str(at, space);
            url
        });
    prop_oneof![3 => near_misses, 2 => spaced, 1 => text(0..=20, "")].prop_filter(
        "a url breaking other rules than url_not_http",
        |url| {
            let rules: Vec<String> = schema::validate(&json!({ "url": url }))
                .into_iter()
                .map(|e| e.rule.name().to_owned())
                .collect();
            rules == ["url_not_http"]
        },
    )
}

/// Values of `metadata` that are no JSON object: text (JSON or not), numbers, booleans, null,
/// arrays.
fn not_an_object() -> impl Strategy<Value = Value> {
    let words = select(vec![
        "",
        "not json",
        "{",
        "{\"a\":",
        "owner=42",
        "[1, 2]",
        "\"quoted\"",
        "null",
    ])
    .prop_map(Value::from);
    prop_oneof![
        3 => words,
        2 => text(0..=32, "").prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => proptest::collection::vec(text(0..=8, "").prop_map(Value::from), 0..=3)
            .prop_map(Value::Array),
    ]
    .prop_filter("an object after all", |value| match value {
        Value::String(text) => !serde_json::from_str::<Value>(text).is_ok_and(|v| v.is_object()),
        _ => true,
    })
}

/// Texts of `requireSignedURLs` other than `true` and `false`.
fn not_a_boolean() -> impl Strategy<Value = String> {
    let near_misses = select(vec![
        "", "True", "TRUE", "False", "1", "0", "yes", "no", "on", " true", "false ", "\"true\"",
        "null",
    ])
    .prop_map(str::to_owned);
    prop_oneof![3 => near_misses, 1 => text(0..=12, "")]
        .prop_filter("a boolean", |text| text != "true" && text != "false")
}
