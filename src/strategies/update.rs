//! The JSON body of an image update (`PATCH /accounts/{account_id}/images/v1/{image_id}`):
//! [`valid_image_update`], [`invalid_image_update`] and [`image_update_breaking`]. Every limit
//! and every accepted type is read from `schemas/image-update.schema.json`.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::{Map, Value};

use super::json::{not_of_types, pad_to, remove_last};
use super::rule::InvalidRule;
use super::values::{margin, metadata_object, text, text_over, text_up_to};
use crate::api::MAX_JSON_BODY;
use crate::schema::{json_len, IMAGE_UPDATE};

const CREATOR: &str = "creator";
const METADATA: &str = "metadata";
const REQUIRE_SIGNED_URLS: &str = "requireSignedURLs";

fn creator_max() -> usize {
    IMAGE_UPDATE.bound("update_creator_too_long", "/maxLength") as usize
}

fn metadata_max() -> usize {
    IMAGE_UPDATE.bound("update_metadata_too_large", "/x-max-json-bytes") as usize
}

/// The JSON types the schema's type rule `rule` accepts.
fn types_of(rule: &str) -> Vec<String> {
    let types = IMAGE_UPDATE.keyword(rule, "/type");
    match types {
        Value::String(kind) => vec![kind.clone()],
        Value::Array(kinds) => kinds
            .iter()
            .map(|kind| kind.as_str().expect("a JSON type").to_owned())
            .collect(),
        other => panic!("schemas/image-update.schema.json: {rule} has type {other}"),
    }
}

use super::json::Body as Draft;

/// Metadata the schema accepts: mostly a generated object, cut to the limit; sometimes exactly
/// the limit as JSON.
fn valid_metadata() -> impl Strategy<Value = Map<String, Value>> {
    let max = metadata_max();
    (
        metadata_object(),
        prop_oneof![4 => Just(false), 1 => Just(true)],
    )
        .prop_map(move |(mut map, exact)| {
            while json_len(&Value::Object(map.clone())) as usize > max {
                remove_last(&mut map);
            }
            if exact {
                pad_to(&mut map, max);
            }
            map
        })
}

/// Keys the API does not know, which it ignores.
fn unknown_field() -> impl Strategy<Value = (String, Value)> {
    (
        select(vec!["id", "filename", "variants", "meta", "uploaded", "x"]),
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            text(0..=16, "").prop_map(Value::from),
        ],
    )
        .prop_map(|(key, value)| (key.to_owned(), value))
}

/// The draft of a valid body: any subset of the fields, each a value or `null` (no change),
/// sometimes with keys the API ignores.
fn valid_draft() -> impl Strategy<Value = Draft> {
    let creator = prop_oneof![
        4 => text_up_to(creator_max(), "").prop_map(Value::from),
        1 => Just(Value::Null),
    ];
    let metadata = prop_oneof![
        4 => valid_metadata().prop_map(Value::Object),
        1 => Just(Value::Null),
    ];
    let private = prop_oneof![
        4 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
    ];
    (
        proptest::option::of(creator),
        proptest::option::of(metadata),
        proptest::option::of(private),
        proptest::collection::vec(unknown_field(), 0..=2),
        any::<bool>(),
        any::<Index>(),
    )
        .prop_map(|(creator, metadata, private, unknown, pretty, order)| {
            let mut fields: Vec<(String, Value)> = [
                (CREATOR, creator),
                (METADATA, metadata),
                (REQUIRE_SIGNED_URLS, private),
            ]
            .into_iter()
            .filter_map(|(key, value)| Some((key.to_owned(), value?)))
            .chain(unknown.into_iter().filter(|(key, _)| key != METADATA))
            .collect();
            if !fields.is_empty() {
                let len = fields.len();
                fields.rotate_left(order.index(len));
            }
            Draft {
                fields: fields.into_iter().collect(),
                pretty,
            }
        })
}

/// Image update bodies the API accepts: a JSON object with any subset of `creator`,
/// `metadata` and `requireSignedURLs`, each a value or `null` (no change), now and then with
/// keys the API ignores, written compact or indented.
///
/// Values go up to the schema's limits: a `creator` of exactly the maximum length (multi-byte
/// characters included), `metadata` of exactly the maximum size as JSON. A body with
/// `requireSignedURLs: true` is refused for an image with a custom id (`5410`), which no body
/// alone decides: send those to an image with a generated id.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(32), |(body in strategies::valid_image_update())| {
///     let request = Request::body("application/json", &body);
///     prop_assert!(check_request(Operation::Update, &request).is_ok());
/// });
/// ```
pub fn valid_image_update() -> impl Strategy<Value = Vec<u8>> {
    valid_draft().prop_map(|draft| draft.render())
}

/// Image update bodies the API refuses, each labelled with the one rule it breaks (one of
/// [`InvalidRule::UPDATE`]); apart from that rule the body is valid. Values over a limit go over
/// by the smallest margin as often as by a larger one.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(32), |((body, rule) in strategies::invalid_image_update())| {
///     let errors = check_request(Operation::Update, &Request::body("application/json", &body))
///         .unwrap_err();
///     prop_assert_eq!(errors.len(), 1);
///     prop_assert_eq!(errors[0].rule.as_str(), rule.name());
/// });
/// ```
pub fn invalid_image_update() -> impl Strategy<Value = (Vec<u8>, InvalidRule)> {
    let arms = InvalidRule::UPDATE
        .iter()
        .map(|&rule| {
            let weight = if rule == InvalidRule::UpdateBodyTooLarge {
                1
            } else {
                10
            };
            let arm = image_update_breaking(rule)
                .prop_map(move |body| (body, rule))
                .boxed();
            (weight, arm)
        })
        .collect::<Vec<_>>();
    Union::new_weighted(arms)
}

/// Image update bodies that break `rule` and nothing else (see [`invalid_image_update`]).
///
/// # Panics
/// If `rule` is not a rule of an image update (not in [`InvalidRule::UPDATE`]).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::strategies::{image_update_breaking, InvalidRule};
/// use cloudflare_images_mock::Operation;
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let body = image_update_breaking(InvalidRule::UpdateCreatorTooLong)
///     .new_tree(&mut TestRunner::default())
///     .unwrap()
///     .current();
/// let errors = check_request(Operation::Update, &Request::body("application/json", &body))
///     .unwrap_err();
/// assert_eq!(errors[0].rule, "update_creator_too_long");
/// ```
pub fn image_update_breaking(rule: InvalidRule) -> BoxedStrategy<Vec<u8>> {
    let with = |key: &'static str, values: BoxedStrategy<Value>| {
        (valid_draft(), values)
            .prop_map(move |(draft, value)| draft.with(key, value).render())
            .boxed()
    };
    match rule {
        InvalidRule::UpdateBodyNotJson => not_a_json_object().boxed(),
        InvalidRule::UpdateCreatorNotString => with(
            CREATOR,
            not_of_types(&types_of("update_creator_not_string")).boxed(),
        ),
        InvalidRule::UpdateCreatorTooLong => with(
            CREATOR,
            text_over(creator_max(), "").prop_map(Value::from).boxed(),
        ),
        InvalidRule::UpdateMetadataNotObject => with(
            METADATA,
            not_of_types(&types_of("update_metadata_not_object")).boxed(),
        ),
        InvalidRule::UpdateMetadataTooLarge => {
            let max = metadata_max();
            with(
                METADATA,
                (metadata_object(), margin(4096))
                    .prop_map(move |(mut map, over)| {
                        pad_to(&mut map, max + over);
                        Value::Object(map)
                    })
                    .boxed(),
            )
        }
        InvalidRule::UpdateRequireSignedUrlsNotBoolean => with(
            REQUIRE_SIGNED_URLS,
            prop_oneof![
                1 => select(vec!["true", "false", "True", "1", "0", ""]).prop_map(Value::from),
                3 => not_of_types(&types_of("update_require_signed_urls_not_boolean")),
            ]
            .boxed(),
        ),
        InvalidRule::UpdateBodyTooLarge => (valid_draft(), margin(MAX_JSON_BODY), any::<bool>())
            .prop_map(|(draft, over, leading)| {
                // White space around a JSON value changes nothing but the body's size.
                let body = draft.render();
                let padding = vec![b' '; (MAX_JSON_BODY + over).saturating_sub(body.len())];
                if leading {
                    [padding, body].concat()
                } else {
                    [body, padding].concat()
                }
            })
            .boxed(),
        other => panic!(
            "{other:?} is a rule of {}, not of an image update",
            other.operation()
        ),
    }
}

/// Bodies that are no JSON object: not JSON at all (empty, cut short, trailing text, not UTF-8,
/// JavaScript object syntax), or JSON of another type.
fn not_a_json_object() -> impl Strategy<Value = Vec<u8>> {
    let near_misses = select(vec![
        "",
        " ",
        "{",
        "}",
        "{\"creator\":",
        "{\"creator\":\"me\"",
        "{\"creator\":\"me\",}",
        "{creator: \"me\"}",
        "{'creator': 'me'}",
        "creator=me",
        "null",
        "[]",
        "[{\"creator\":\"me\"}]",
        "\"{}\"",
        "true",
        "42",
    ])
    .prop_map(|text| text.as_bytes().to_vec());
    let cut_short = (valid_image_update(), any::<Index>()).prop_map(|(body, at)| {
        let at = at.index(body.len());
        body[..at].to_vec()
    });
    let trailing = (valid_image_update(), text(1..=8, " \t"))
        .prop_map(|(body, tail)| [body, tail.into_bytes()].concat());
    let not_utf8 = (valid_image_update(), any::<Index>()).prop_map(|(mut body, at)| {
        let at = at.index(body.len());
        body.insert(at, 0xff);
        body
    });
    let other_types = not_of_types(&["object".to_owned()])
        .prop_map(|value| serde_json::to_vec(&value).expect("a JSON value serialises"));
    prop_oneof![3 => near_misses, 2 => cut_short, 1 => trailing, 1 => not_utf8, 2 => other_types]
        .prop_filter("a JSON object after all", |body| {
            serde_json::from_slice::<Map<String, Value>>(body).is_err()
        })
}
