//! The JSON body of a variant's creation (`POST /accounts/{account_id}/images/v1/variants`):
//! [`valid_variant_body`], [`invalid_variant_body`] and [`variant_body_breaking`]. Every limit,
//! every required field, every accepted type and every enum is read from
//! `schemas/variant.schema.json`.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::{Map, Value};

use super::json::not_of_types;
use super::rule::InvalidRule;
use super::values::{text, text_over};
use crate::schema::VARIANT;

const NEVER_REQUIRE_SIGNED_URLS: &str = "neverRequireSignedURLs";

/// The one field the schema's `required` rule `rule` asks for.
fn required(rule: &str) -> String {
    let fields = VARIANT.keyword(rule, "/required");
    match fields.as_array().map(Vec::as_slice) {
        Some([Value::String(field)]) => field.clone(),
        _ => panic!("schemas/variant.schema.json: {rule} requires {fields}, not one field"),
    }
}

fn id_key() -> String {
    required("variant_id_missing")
}

fn options_key() -> String {
    required("variant_options_missing")
}

fn fit_key() -> String {
    required("variant_fit_missing")
}

fn metadata_key() -> String {
    required("variant_metadata_missing")
}

fn width_key() -> String {
    required("variant_width_missing")
}

fn height_key() -> String {
    required("variant_height_missing")
}

fn id_min() -> usize {
    VARIANT.bound("variant_id_invalid", "/minLength") as usize
}

fn id_max() -> usize {
    VARIANT.bound("variant_id_invalid", "/maxLength") as usize
}

/// The characters the schema's id pattern (`^[^/]*$`) refuses.
const ID_EXCLUDED: &str = "/";

/// The values of the schema's `enum` rule `rule`.
fn enum_of(rule: &str) -> Vec<String> {
    VARIANT
        .keyword(rule, "/enum")
        .as_array()
        .unwrap_or_else(|| panic!("schemas/variant.schema.json: {rule} has no enum"))
        .iter()
        .map(|value| value.as_str().expect("a string of the enum").to_owned())
        .collect()
}

/// The smallest number the schema's rule `rule` (a width or a height) accepts.
fn minimum_of(rule: &str) -> f64 {
    VARIANT
        .keyword(rule, "/minimum")
        .as_f64()
        .unwrap_or_else(|| panic!("schemas/variant.schema.json: {rule} has no numeric minimum"))
}

/// The JSON types the schema's type rule `rule` accepts.
fn types_of(rule: &str) -> Vec<String> {
    match VARIANT.keyword(rule, "/type") {
        Value::String(kind) => vec![kind.clone()],
        Value::Array(kinds) => kinds
            .iter()
            .map(|kind| kind.as_str().expect("a JSON type").to_owned())
            .collect(),
        other => panic!("schemas/variant.schema.json: {rule} has type {other}"),
    }
}

use super::json::Body as Draft;

impl Draft {
    /// The `options` object of a valid draft.
    fn options(&mut self) -> &mut Map<String, Value> {
        self.fields
            .get_mut(&options_key())
            .and_then(Value::as_object_mut)
            .expect("a valid draft has its options")
    }

    /// `self` with the option `key` set to `value` (last among the options).
    fn with_option(mut self, key: &str, value: Value) -> Draft {
        let options = self.options();
        options.remove(key);
        options.insert(key.to_owned(), value);
        self
    }

    /// `self` without the option `key`.
    fn without_option(mut self, key: &str) -> Draft {
        self.options().remove(key);
        self
    }
}

/// Ids the schema accepts: mostly short, now and then of exactly the maximum length or just
/// under (multi-byte characters included).
fn valid_id() -> impl Strategy<Value = String> {
    let (min, max) = (id_min(), id_max());
    prop_oneof![
        16 => text(min..=24.max(min), ID_EXCLUDED),
        1 => text(max..=max, ID_EXCLUDED),
        1 => text(max.saturating_sub(8).max(min)..=max, ID_EXCLUDED),
    ]
}

/// A width or a height the schema's rule `rule` accepts: whole numbers from the minimum (the
/// minimum itself as often as the others), and fractions.
fn valid_dimension(rule: &str) -> impl Strategy<Value = Value> {
    let min = minimum_of(rule);
    let whole = min.ceil() as u64;
    prop_oneof![
        2 => Just(Value::from(whole)),
        6 => (whole..=whole + 8192).prop_map(Value::from),
        2 => (min..min + 8192.0).prop_map(Value::from),
    ]
}

/// The `options` the schema accepts, in any order.
fn valid_options() -> impl Strategy<Value = Map<String, Value>> {
    (
        select(enum_of("variant_fit_unsupported")),
        select(enum_of("variant_metadata_unsupported")),
        valid_dimension("variant_width_invalid"),
        valid_dimension("variant_height_invalid"),
        any::<Index>(),
    )
        .prop_map(|(fit, metadata, width, height, order)| {
            let mut options = vec![
                (fit_key(), Value::from(fit)),
                (metadata_key(), Value::from(metadata)),
                (width_key(), width),
                (height_key(), height),
            ];
            let len = options.len();
            options.rotate_left(order.index(len));
            options.into_iter().collect()
        })
}

/// Keys the API does not know, which it ignores.
fn unknown_field() -> impl Strategy<Value = (String, Value)> {
    (
        select(vec!["name", "variants", "requireSignedURLs", "meta", "x"]),
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            text(0..=16, "").prop_map(Value::from),
        ],
    )
        .prop_map(|(key, value)| (key.to_owned(), value))
}

/// The draft of a valid body: an id and options, sometimes `neverRequireSignedURLs`, sometimes
/// keys the API ignores, in any order.
fn valid_draft() -> impl Strategy<Value = Draft> {
    (
        valid_id(),
        valid_options(),
        proptest::option::of(any::<bool>()),
        proptest::collection::vec(unknown_field(), 0..=2),
        any::<bool>(),
        any::<Index>(),
    )
        .prop_map(|(id, options, never, unknown, pretty, order)| {
            let mut fields: Vec<(String, Value)> = vec![
                (id_key(), Value::from(id)),
                (options_key(), Value::Object(options)),
            ];
            if let Some(never) = never {
                fields.push((NEVER_REQUIRE_SIGNED_URLS.to_owned(), Value::from(never)));
            }
            fields.extend(unknown);
            let len = fields.len();
            fields.rotate_left(order.index(len));
            // A repeated unknown key keeps its last value; the known keys are never repeated.
            Draft {
                fields: fields.into_iter().collect(),
                pretty,
            }
        })
}

/// Variant bodies the API accepts for a variant's creation: a JSON object with an `id` and
/// `options` (`fit`, `metadata`, `width` and `height`), sometimes `neverRequireSignedURLs`, now
/// and then with keys the API ignores, in any order, written compact or indented.
///
/// Values go up to the schema's limits: an `id` of exactly the maximum length (multi-byte
/// characters included), a `width` and a `height` of exactly the minimum, every `fit` and
/// `metadata` mode of the schema's enums. A mock refuses a second variant of the same id: send
/// each body to a fresh mock, or check it offline.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(32), |(body in strategies::valid_variant_body())| {
///     let request = Request::body("application/json", &body);
///     prop_assert!(check_request(Operation::CreateVariant, &request).is_ok());
/// });
/// ```
pub fn valid_variant_body() -> impl Strategy<Value = Vec<u8>> {
    valid_draft().prop_map(|draft| draft.render())
}

/// Variant bodies the API refuses for a variant's creation, each labelled with the one rule it
/// breaks (one of [`InvalidRule::CREATE_VARIANT`]); apart from that rule the body is valid.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(32), |((body, rule) in strategies::invalid_variant_body())| {
///     let request = Request::body("application/json", &body);
///     let errors = check_request(Operation::CreateVariant, &request).unwrap_err();
///     prop_assert_eq!(errors.len(), 1);
///     prop_assert_eq!(errors[0].rule.as_str(), rule.name());
/// });
/// ```
pub fn invalid_variant_body() -> impl Strategy<Value = (Vec<u8>, InvalidRule)> {
    let arms = InvalidRule::CREATE_VARIANT
        .iter()
        .map(|&rule| {
            variant_body_breaking(rule)
                .prop_map(move |body| (body, rule))
                .boxed()
        })
        .collect::<Vec<_>>();
    Union::new(arms)
}

/// Variant bodies that break `rule` and nothing else (see [`invalid_variant_body`]).
///
/// # Panics
/// If `rule` is not a rule of a variant's creation (not in [`InvalidRule::CREATE_VARIANT`]).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::strategies::{variant_body_breaking, InvalidRule};
/// use cloudflare_images_mock::Operation;
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let body = variant_body_breaking(InvalidRule::VariantFitUnsupported)
///     .new_tree(&mut TestRunner::default())
///     .unwrap()
///     .current();
/// let request = Request::body("application/json", &body);
/// let errors = check_request(Operation::CreateVariant, &request).unwrap_err();
/// assert_eq!(errors[0].rule, "variant_fit_unsupported");
/// ```
pub fn variant_body_breaking(rule: InvalidRule) -> BoxedStrategy<Vec<u8>> {
    let with = |key: String, values: BoxedStrategy<Value>| {
        (valid_draft(), values)
            .prop_map(move |(draft, value)| draft.with(&key, value).render())
            .boxed()
    };
    let without = |key: String| {
        valid_draft()
            .prop_map(move |draft| draft.without(&key).render())
            .boxed()
    };
    let with_option = |key: String, values: BoxedStrategy<Value>| {
        (valid_draft(), values)
            .prop_map(move |(draft, value)| draft.with_option(&key, value).render())
            .boxed()
    };
    let without_option = |key: String| {
        valid_draft()
            .prop_map(move |draft| draft.without_option(&key).render())
            .boxed()
    };
    match rule {
        InvalidRule::VariantBodyNotJson => not_a_json_object().boxed(),
        InvalidRule::VariantIdMissing => without(id_key()),
        InvalidRule::VariantOptionsMissing => without(options_key()),
        InvalidRule::VariantIdInvalid => with(id_key(), invalid_id().boxed()),
        InvalidRule::VariantNeverRequireSignedUrlsNotBoolean => with(
            NEVER_REQUIRE_SIGNED_URLS.to_owned(),
            prop_oneof![
                1 => select(vec!["true", "false", "True", "1", "0", ""]).prop_map(Value::from),
                3 => not_of_types(&types_of("variant_never_require_signed_urls_not_boolean")),
            ]
            .boxed(),
        ),
        InvalidRule::VariantOptionsNotObject => with(
            options_key(),
            not_of_types(&types_of("variant_options_not_object")).boxed(),
        ),
        InvalidRule::VariantFitMissing => without_option(fit_key()),
        InvalidRule::VariantMetadataMissing => without_option(metadata_key()),
        InvalidRule::VariantWidthMissing => without_option(width_key()),
        InvalidRule::VariantHeightMissing => without_option(height_key()),
        InvalidRule::VariantFitUnsupported => with_option(
            fit_key(),
            not_in_enum(
                "variant_fit_unsupported",
                vec![
                    "Cover",
                    "scale_down",
                    "scaledown",
                    "fill",
                    "crop ",
                    "none",
                    "",
                ],
            )
            .boxed(),
        ),
        InvalidRule::VariantMetadataUnsupported => with_option(
            metadata_key(),
            not_in_enum(
                "variant_metadata_unsupported",
                vec!["Keep", "all", "strip", "copyright ", "cover", ""],
            )
            .boxed(),
        ),
        InvalidRule::VariantWidthInvalid => {
            with_option(width_key(), invalid_dimension("variant_width_invalid"))
        }
        InvalidRule::VariantHeightInvalid => {
            with_option(height_key(), invalid_dimension("variant_height_invalid"))
        }
        other => panic!(
            "{other:?} is a rule of {}, not of a variant's creation",
            other.operation()
        ),
    }
}

/// Ids the schema refuses: empty (under the minimum length), over the maximum length by the
/// smallest margin as often as by a larger one, with a `/`, or no string.
fn invalid_id() -> impl Strategy<Value = Value> {
    let (min, max) = (id_min(), id_max());
    let short = text(0..=min.saturating_sub(1), ID_EXCLUDED);
    let slashed = (
        text(0..=16, ID_EXCLUDED),
        1..=3usize,
        text(0..=16, ID_EXCLUDED),
    )
        .prop_map(|(head, slashes, tail)| format!("{head}{}{tail}", "/".repeat(slashes)));
    prop_oneof![
        1 => short.prop_map(Value::from),
        3 => text_over(max, ID_EXCLUDED).prop_map(Value::from),
        3 => slashed.prop_map(Value::from),
        3 => not_of_types(&types_of("variant_id_invalid")),
    ]
}

/// Values not in the enum of the schema's rule `rule`: near misses, other text, other types.
fn not_in_enum(rule: &str, near_misses: Vec<&'static str>) -> impl Strategy<Value = Value> {
    let members = enum_of(rule);
    prop_oneof![
        3 => select(near_misses).prop_map(Value::from),
        2 => text(0..=12, "").prop_map(Value::from),
        2 => not_of_types(&["string".to_owned()]),
    ]
    .prop_filter("a member of the enum", move |value| {
        !value
            .as_str()
            .is_some_and(|text| members.iter().any(|m| m == text))
    })
}

/// Widths or heights the schema's rule `rule` refuses: numbers under the minimum (whole ones
/// and fractions, just under as often as far under), or no number.
fn invalid_dimension(rule: &str) -> BoxedStrategy<Value> {
    let min = minimum_of(rule);
    let below = min.ceil() as i64 - 1;
    prop_oneof![
        2 => Just(Value::from(below)),
        2 => (below - 100_000..=below).prop_map(Value::from),
        2 => (min - 100_000.0..min).prop_map(Value::from),
        1 => Just(Value::from(min - 0.001)),
        3 => not_of_types(&types_of(rule)),
    ]
    .prop_filter("a number of at least the minimum", move |value| {
        value.as_f64().is_none_or(|n| n < min)
    })
    .boxed()
}

/// Bodies that are no JSON object: not JSON at all (empty, cut short, trailing text, not UTF-8,
/// JavaScript object syntax), or JSON of another type.
fn not_a_json_object() -> impl Strategy<Value = Vec<u8>> {
    let near_misses = select(vec![
        "",
        " ",
        "{",
        "}",
        "{\"id\":",
        "{\"id\":\"thumb\"",
        "{\"id\":\"thumb\",}",
        "{id: \"thumb\"}",
        "{'id': 'thumb'}",
        "id=thumb",
        "null",
        "[]",
        "[{\"id\":\"thumb\"}]",
        "\"{}\"",
        "true",
        "42",
    ])
    .prop_map(|text| text.as_bytes().to_vec());
    let cut_short = (valid_variant_body(), any::<Index>()).prop_map(|(body, at)| {
        let at = at.index(body.len());
        body[..at].to_vec()
    });
    let trailing = (valid_variant_body(), text(1..=8, " \t"))
        .prop_map(|(body, tail)| [body, tail.into_bytes()].concat());
    let not_utf8 = (valid_variant_body(), any::<Index>()).prop_map(|(mut body, at)| {
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
