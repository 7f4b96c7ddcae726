//! The requests other than the upload, turned from raw bytes into typed values under their
//! schemas: the JSON body of an image update (`schemas/image-update.schema.json`) and the
//! queries of the v1 and v2 lists (`schemas/list-v1.schema.json`, `schemas/list-v2.schema.json`).
//!
//! Each function builds a JSON instance from the request, validates it against its schema
//! ([`crate::schema`]) and only then reads the typed value out of it; limits, defaults and the
//! list of filter operators are read from the schemas, never restated here.
//!
//! Query strings are decoded as forms are (`application/x-www-form-urlencoded`: `+` is a space,
//! then percent-decoding, invalid UTF-8 replaced). Parameters a schema does not name are
//! ignored, and the last of repeated parameters wins (both assumed: nothing recorded shows the
//! real API refusing either).

// The GET/PATCH/DELETE/list handlers (being written in main) call these; until they land,
// nothing in the server does.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::schema::{Schema, IMAGE_UPDATE, LIST_V1, LIST_V2, VARIANT};
use crate::store::{Variant, VariantOptions};

/// The instance property that holds the metadata filters of the v2 list (built from the
/// `meta.<field>[<op>]` parameters, never read from a parameter of that name).
const FILTERS: &str = "filters";

/// The prefix of a metadata filter parameter.
const META: &str = "meta.";

/// The body of `PATCH /accounts/{account_id}/images/v1/{image_id}`: `None` means no change
/// (absent or `null`). `metadata` replaces the stored metadata; it does not merge.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ImageUpdate {
    pub(crate) creator: Option<String>,
    /// In the order sent.
    pub(crate) metadata: Option<crate::ordered::Object>,
    pub(crate) require_signed_urls: Option<bool>,
}

/// Reads and checks an image update body. A body that is not a JSON object gets 5400 `Bad
/// request: <serde_json's message>` (the recorded wording for an empty body); then the rules of
/// `schemas/image-update.schema.json` apply. Unknown keys are ignored.
///
/// The rule that needs the stored image (setting `requireSignedURLs: true` on an image with a
/// custom id) is the handler's: [`crate::schema::custom_id_private_error`].
pub(crate) fn image_update(body: &[u8]) -> Result<ImageUpdate, Vec<ApiError>> {
    let map: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
        vec![IMAGE_UPDATE.error("update_body_not_json", &[("serde", &e.to_string())])]
    })?;
    let instance = Value::Object(map);
    let errors = IMAGE_UPDATE.validate(&instance);
    if !errors.is_empty() {
        return Err(errors);
    }
    let Value::Object(mut map) = instance else {
        unreachable!("built as an object")
    };
    Ok(ImageUpdate {
        creator: match map.remove("creator") {
            Some(Value::String(creator)) => Some(creator),
            _ => None,
        },
        metadata: match map.remove("metadata") {
            // Read again in the order sent (the map is sorted unless `preserve_order` is on).
            Some(Value::Object(_)) => match serde_json::from_slice(body) {
                Ok(crate::ordered::Json::Object(mut body)) => match body.get_mut("metadata") {
                    Some(crate::ordered::Json::Object(metadata)) => Some(std::mem::take(metadata)),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        },
        require_signed_urls: map.remove("requireSignedURLs").and_then(|v| v.as_bool()),
    })
}

/// The JSON body of a variant: to create one (`path_id` `None`: the body names it), or to update
/// the variant of the path (`path_id`: the body's own `id`, if any, gives way to it). Both are
/// checked by `schemas/variant.schema.json`.
pub(crate) fn variant(body: &[u8], path_id: Option<&str>) -> Result<Variant, Vec<ApiError>> {
    let mut map: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| vec![VARIANT.error("variant_body_not_json", &[("serde", &e.to_string())])])?;
    if let Some(id) = path_id {
        map.insert("id".to_owned(), Value::String(id.to_owned()));
    }
    let instance = Value::Object(map);
    let errors = VARIANT.validate(&instance);
    if !errors.is_empty() {
        return Err(errors);
    }
    let text = |value: &Value, key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let number = |value: &Value, key: &str| match &value[key] {
        Value::Number(n) => n.clone(),
        _ => serde_json::Number::from(1),
    };
    let options = &instance["options"];
    Ok(Variant {
        id: text(&instance, "id"),
        options: VariantOptions {
            fit: text(options, "fit"),
            width: number(options, "width"),
            height: number(options, "height"),
            metadata: text(options, "metadata"),
        },
        never_require_signed_urls: instance["neverRequireSignedURLs"] == Value::Bool(true),
    })
}

/// Whether a variant update's body sets `neverRequireSignedURLs` (an update without it leaves
/// the variant's as it is).
pub(crate) fn sets_never_require_signed_urls(body: &[u8]) -> bool {
    serde_json::from_slice::<Map<String, Value>>(body)
        .is_ok_and(|map| map.contains_key("neverRequireSignedURLs"))
}

/// The query of `GET /accounts/{account_id}/images/v1`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListV1 {
    /// From 1.
    pub(crate) page: u64,
    pub(crate) per_page: u64,
    /// `Some("")` selects the images without a creator: see [`creator_matches`].
    pub(crate) creator: Option<String>,
}

impl ListV1 {
    /// Whether an image with this creator is listed.
    pub(crate) fn matches(&self, creator: Option<&str>) -> bool {
        creator_matches(self.creator.as_deref(), creator)
    }
}

/// Reads and checks the query of the v1 list (`None`: no query string).
pub(crate) fn list_v1(query: Option<&str>) -> Result<ListV1, Vec<ApiError>> {
    let mut instance = query_instance(&LIST_V1, query);
    let errors = LIST_V1.validate(&instance);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ListV1 {
        page: integer(&LIST_V1, &instance, "page"),
        per_page: integer(&LIST_V1, &instance, "per_page"),
        creator: take_string(&mut instance, "creator"),
    })
}

/// The order of the v2 list, by upload time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortOrder {
    Asc,
    Desc,
}

/// The query of `GET /accounts/{account_id}/images/v2`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListV2 {
    pub(crate) continuation_token: Option<String>,
    pub(crate) per_page: u64,
    pub(crate) sort_order: SortOrder,
    /// `Some("")` selects the images without a creator: see [`creator_matches`].
    pub(crate) creator: Option<String>,
    /// All must match (AND), in query order.
    pub(crate) filters: Vec<MetaFilter>,
}

impl ListV2 {
    /// Whether an image with this creator and metadata is listed: the creator matches and every
    /// metadata filter does (AND; contradictory filters simply match nothing).
    pub(crate) fn matches(&self, creator: Option<&str>, meta: Option<&Map<String, Value>>) -> bool {
        if !creator_matches(self.creator.as_deref(), creator) {
            return false;
        }
        let empty = Map::new();
        let meta = meta.unwrap_or(&empty);
        self.filters.iter().all(|filter| filter.matches(meta))
    }
}

/// Reads and checks the query of the v2 list (`None`: no query string).
pub(crate) fn list_v2(query: Option<&str>) -> Result<ListV2, Vec<ApiError>> {
    let mut instance = query_instance(&LIST_V2, query);
    let errors = LIST_V2.validate(&instance);
    if !errors.is_empty() {
        return Err(errors);
    }
    let sort_order = match instance
        .get("sort_order")
        .unwrap_or_else(|| LIST_V2.default("sort_order"))
        .as_str()
    {
        Some("asc") => SortOrder::Asc,
        Some("desc") => SortOrder::Desc,
        other => unreachable!("schemas/list-v2.schema.json let sort_order {other:?} through"),
    };
    let filters = match instance.get_mut(FILTERS).map(Value::take) {
        Some(Value::Array(items)) => items.into_iter().map(MetaFilter::from_instance).collect(),
        _ => Vec::new(),
    };
    Ok(ListV2 {
        continuation_token: take_string(&mut instance, "continuation_token"),
        per_page: integer(&LIST_V2, &instance, "per_page"),
        sort_order,
        creator: take_string(&mut instance, "creator"),
        filters,
    })
}

/// Whether an image whose creator is `creator` is selected by the `creator` parameter
/// `wanted`: no parameter selects all, the empty string the images without a creator (the
/// official description of both lists), anything else the images with exactly that creator.
pub(crate) fn creator_matches(wanted: Option<&str>, creator: Option<&str>) -> bool {
    match wanted {
        None => true,
        Some("") => creator.is_none_or(str::is_empty),
        Some(wanted) => creator == Some(wanted),
    }
}

/// The kind of value a filter operator compares with (its `:type` suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// No suffix: a string equal to the text, a number equal to it read as a number, a boolean
    /// equal to it read as `true`/`false` (assumed: the description only says "Exact match").
    Any,
    String,
    Number,
    Boolean,
}

/// A metadata filter operator. Which ones the API takes is the schema's `enum`; this is what
/// each means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterOp {
    Eq(ValueKind),
    /// The range operators compare numbers only: a stored value that is not a JSON number
    /// (even a numeric string) never matches.
    Gt,
    Gte,
    Lt,
    Lte,
    /// Any of the pipe-separated values, each compared as [`FilterOp::Eq`] with the same kind.
    In(ValueKind),
}

impl FilterOp {
    /// The operator named `name` (`eq:number`), if it means anything.
    pub(crate) fn parse(name: &str) -> Option<FilterOp> {
        let (base, suffix) = name.split_once(':').unwrap_or((name, ""));
        let kind = match suffix {
            "" => ValueKind::Any,
            "string" => ValueKind::String,
            "number" => ValueKind::Number,
            "boolean" => ValueKind::Boolean,
            _ => return None,
        };
        let numeric = matches!(kind, ValueKind::Any | ValueKind::Number);
        Some(match base {
            "eq" => FilterOp::Eq(kind),
            "in" => FilterOp::In(kind),
            "gt" if numeric => FilterOp::Gt,
            "gte" if numeric => FilterOp::Gte,
            "lt" if numeric => FilterOp::Lt,
            "lte" if numeric => FilterOp::Lte,
            _ => return None,
        })
    }

    /// Whether the value is a pipe-separated list.
    pub(crate) fn is_list(self) -> bool {
        matches!(self, FilterOp::In(_))
    }
}

/// One `meta.<field>[<op>]=<value>` filter of the v2 list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetaFilter {
    /// The path below `meta`: `meta.region.name` is `["region", "name"]`.
    pub(crate) field: Vec<String>,
    pub(crate) op: FilterOp,
    /// The value, or the values of a list operator, as sent.
    pub(crate) values: Vec<String>,
}

impl MetaFilter {
    /// From an item of the validated instance's `filters`.
    fn from_instance(item: Value) -> MetaFilter {
        let field = item["field"]
            .as_array()
            .map(|segments| {
                segments
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let op = item["op"].as_str().unwrap_or("");
        let op = FilterOp::parse(op).unwrap_or_else(|| {
            unreachable!("schemas/list-v2.schema.json let the operator {op:?} through")
        });
        let values = match &item["value"] {
            Value::Array(values) => values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::String(value) => vec![value.clone()],
            _ => Vec::new(),
        };
        MetaFilter { field, op, values }
    }

    /// Whether an image's metadata satisfies this filter. A field that is absent (or below a
    /// value that is not an object) matches no operator.
    pub(crate) fn matches(&self, meta: &Map<String, Value>) -> bool {
        let Some((first, rest)) = self.field.split_first() else {
            return false;
        };
        let mut stored = meta.get(first);
        for segment in rest {
            stored = stored.and_then(|v| v.get(segment.as_str()));
        }
        let Some(stored) = stored else {
            return false;
        };
        let compare = |test: fn(f64, f64) -> bool| {
            let number = stored.as_f64().filter(|_| stored.is_number());
            self.values.iter().any(|v| match (number, number_of(v)) {
                (Some(stored), Some(wanted)) => test(stored, wanted),
                _ => false,
            })
        };
        match self.op {
            FilterOp::Eq(kind) | FilterOp::In(kind) => {
                self.values.iter().any(|v| equals(stored, v, kind))
            }
            FilterOp::Gt => compare(|a, b| a > b),
            FilterOp::Gte => compare(|a, b| a >= b),
            FilterOp::Lt => compare(|a, b| a < b),
            FilterOp::Lte => compare(|a, b| a <= b),
        }
    }
}

fn number_of(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn equals(stored: &Value, wanted: &str, kind: ValueKind) -> bool {
    let as_string = || stored.as_str() == Some(wanted);
    let as_number = || {
        stored.is_number()
            && stored
                .as_f64()
                .is_some_and(|n| Some(n) == number_of(wanted))
    };
    let as_boolean = || match stored {
        Value::Bool(b) => wanted == if *b { "true" } else { "false" },
        _ => false,
    };
    match kind {
        ValueKind::Any => as_string() || as_number() || as_boolean(),
        ValueKind::String => as_string(),
        ValueKind::Number => as_number(),
        ValueKind::Boolean => as_boolean(),
    }
}

/// The JSON instance of a query under `schema`: the parameters it names as properties (an
/// integer where the property's type is integer and the text is one), and, when it has a
/// `filters` property, the `meta.` parameters as filters.
fn query_instance(schema: &Schema, query: Option<&str>) -> Value {
    let takes_filters = schema.property(FILTERS).is_some();
    let mut instance = Map::new();
    let mut filters = Vec::new();
    for (key, value) in pairs(query.unwrap_or("")) {
        if takes_filters {
            if let Some(filter) = key.strip_prefix(META) {
                filters.push(filter_instance(filter, value));
                continue;
            }
        }
        if key == FILTERS {
            continue;
        }
        // Unknown parameters are ignored (assumed).
        let Some(property) = schema.property(&key) else {
            continue;
        };
        let value = if property.get("type").and_then(Value::as_str) == Some("integer") {
            integer_or_string(value)
        } else {
            Value::String(value)
        };
        instance.insert(key, value);
    }
    if !filters.is_empty() {
        instance.insert(FILTERS.to_owned(), Value::Array(filters));
    }
    Value::Object(instance)
}

/// `<field>[<op>]` (after `meta.`) and its value as a filter item of the instance.
fn filter_instance(filter: &str, value: String) -> Value {
    let (field, op) = match filter.strip_suffix(']').and_then(|f| f.rsplit_once('[')) {
        Some((field, op)) => (field, op),
        None => (filter, ""),
    };
    let segments: Vec<Value> = field
        .split('.')
        .map(|s| Value::from(s.to_owned()))
        .collect();
    let value = if FilterOp::parse(op).is_some_and(FilterOp::is_list) {
        Value::Array(
            value
                .split('|')
                .map(|v| Value::from(v.to_owned()))
                .collect(),
        )
    } else {
        Value::String(value)
    };
    let mut item = Map::new();
    item.insert("field".to_owned(), Value::Array(segments));
    item.insert("op".to_owned(), Value::from(op.to_owned()));
    item.insert("value".to_owned(), value);
    Value::Object(item)
}

/// An optional `-` and digits become an integer (saturating beyond the range), anything else
/// stays a string for the schema's type rule to refuse.
fn integer_or_string(text: String) -> Value {
    let digits = text.strip_prefix('-').unwrap_or(&text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Value::String(text);
    }
    if text.starts_with('-') {
        Value::from(text.parse::<i64>().unwrap_or(i64::MIN))
    } else {
        Value::from(text.parse::<u64>().unwrap_or(u64::MAX))
    }
}

/// The decoded `key=value` pairs of a query, in order (a pair without `=` has an empty value).
fn pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(key), form_decode(value))
        })
}

fn form_decode(text: &str) -> String {
    let text = text.replace('+', " ");
    percent_decode_str(&text).decode_utf8_lossy().into_owned()
}

/// A validated integer property, or its default.
fn integer(schema: &Schema, instance: &Value, name: &str) -> u64 {
    instance
        .get(name)
        .unwrap_or_else(|| schema.default(name))
        .as_u64()
        .unwrap_or_else(|| unreachable!("the schema let {name} through as a non-integer"))
}

fn take_string(instance: &mut Value, name: &str) -> Option<String> {
    match instance.get_mut(name).map(Value::take) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{self, UPLOAD};
    use serde_json::json;

    fn rules(errors: &[ApiError]) -> Vec<&str> {
        errors.iter().map(|e| e.rule.as_str()).collect()
    }

    fn meta(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    // --- image update ---------------------------------------------------------------------

    #[test]
    fn an_empty_update_body_gets_the_recorded_message() {
        let errors = image_update(b"").unwrap_err();
        assert_eq!(rules(&errors), ["update_body_not_json"]);
        assert_eq!((errors[0].code, errors[0].status), (5400, 400));
        assert_eq!(
            errors[0].message,
            "Bad request: EOF while parsing a value at line 1 column 0"
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_with_serdes_message() {
        let errors = image_update(b"[1]").unwrap_err();
        assert_eq!(rules(&errors), ["update_body_not_json"]);
        assert!(errors[0].message.starts_with("Bad request: invalid type: "));
        let errors = image_update(br#"{"creator": "a""#).unwrap_err();
        assert!(errors[0]
            .message
            .starts_with("Bad request: EOF while parsing an object"));
    }

    #[test]
    fn an_update_reads_its_fields_and_ignores_unknown_keys() {
        let update = image_update(
            br#"{"creator":"me","metadata":{"k":"v"},"requireSignedURLs":true,"other":1}"#,
        )
        .unwrap();
        assert_eq!(update.creator.as_deref(), Some("me"));
        assert_eq!(
            update.metadata.map(|meta| meta.to_map()),
            Some(meta(json!({"k": "v"})))
        );
        assert_eq!(update.require_signed_urls, Some(true));
        assert_eq!(image_update(b"{}").unwrap(), ImageUpdate::default());
        // null is no change.
        let update =
            image_update(br#"{"creator":null,"metadata":null,"requireSignedURLs":null}"#).unwrap();
        assert_eq!(update, ImageUpdate::default());
    }

    #[test]
    fn update_limits_are_the_uploads() {
        assert_eq!(
            IMAGE_UPDATE.bound("update_creator_too_long", "/maxLength"),
            UPLOAD.bound("creator_too_long", "/maxLength")
        );
        assert_eq!(
            IMAGE_UPDATE.bound("update_metadata_too_large", "/x-max-json-bytes"),
            UPLOAD.bound("metadata_too_large", "/x-max-json-bytes")
        );
    }

    #[test]
    fn an_update_creator_over_the_limit_is_refused() {
        let max = IMAGE_UPDATE.bound("update_creator_too_long", "/maxLength") as usize;
        let body = |n: usize| json!({ "creator": "é".repeat(n) }).to_string();
        assert!(image_update(body(max).as_bytes()).is_ok());
        let errors = image_update(body(max + 1).as_bytes()).unwrap_err();
        assert_eq!(rules(&errors), ["update_creator_too_long"]);
        assert_eq!(
            errors[0].message,
            format!("Bad request: creator: must be at most {max} characters")
        );
        assert_eq!(errors[0].pointer.as_deref(), Some("/creator"));
        assert_eq!((errors[0].code, errors[0].status), (5400, 400));
    }

    #[test]
    fn update_metadata_over_the_limit_is_refused() {
        let max = IMAGE_UPDATE.bound("update_metadata_too_large", "/x-max-json-bytes");
        // {"k":"…"} is 8 bytes around the value.
        let metadata = |n: u64| json!({ "k": "x".repeat(n as usize - 8) });
        assert_eq!(schema::json_len(&metadata(max)), max);
        let body = |n| json!({ "metadata": metadata(n) }).to_string();
        assert!(image_update(body(max).as_bytes()).is_ok());
        let errors = image_update(body(max + 1).as_bytes()).unwrap_err();
        assert_eq!(rules(&errors), ["update_metadata_too_large"]);
        assert_eq!(
            errors[0].message,
            format!("Bad request: metadata: must not exceed {max} bytes as JSON")
        );
    }

    #[test]
    fn update_types_are_checked() {
        let errors = image_update(br#"{"creator":5,"metadata":"x","requireSignedURLs":"true"}"#)
            .unwrap_err();
        assert_eq!(
            rules(&errors),
            [
                "update_creator_not_string",
                "update_metadata_not_object",
                "update_require_signed_urls_not_boolean"
            ]
        );
    }

    #[test]
    fn the_custom_id_error_is_the_uploads() {
        let error = schema::custom_id_private_error();
        assert_eq!(error.code, 5410);
        assert_eq!(error.rule, "id_with_signed_urls");
        assert!(error.message.starts_with("The image contains a custom ID"));
    }

    // --- list v1 ----------------------------------------------------------------------------

    fn bounds(schema: &Schema, rule: &str) -> (u64, u64) {
        (
            schema.bound(rule, "/minimum"),
            schema
                .keyword(rule, "/maximum")
                .as_u64()
                .unwrap_or(u64::MAX),
        )
    }

    #[test]
    fn list_v1_defaults_come_from_the_schema() {
        let list = list_v1(None).unwrap();
        assert_eq!(Some(list.page), LIST_V1.default("page").as_u64());
        assert_eq!(Some(list.per_page), LIST_V1.default("per_page").as_u64());
        assert_eq!((list.page, list.per_page), (1, 1000)); // the spec's defaults
        assert_eq!(list.creator, None);
        assert_eq!(list_v1(Some("")).unwrap(), list);
    }

    #[test]
    fn list_v1_reads_its_parameters_and_ignores_others() {
        let list = list_v1(Some(
            "page=3&per_page=20&creator=a+b%2Fc&unknown=x&meta.a[eq]=1",
        ))
        .unwrap();
        assert_eq!(list.page, 3);
        assert_eq!(list.per_page, 20);
        assert_eq!(list.creator.as_deref(), Some("a b/c"));
        // Digits stay a string for creator.
        assert_eq!(
            list_v1(Some("creator=123")).unwrap().creator.as_deref(),
            Some("123")
        );
        // The last of repeated parameters wins.
        assert_eq!(list_v1(Some("page=2&page=5")).unwrap().page, 5);
    }

    #[test]
    fn list_v1_bounds_are_the_schemas() {
        let min_page = LIST_V1.bound("list_v1_page_invalid", "/minimum");
        assert_eq!(min_page, 1);
        let page = |p: i128| list_v1(Some(&format!("page={p}")));
        assert_eq!(page(min_page as i128).unwrap().page, min_page);
        let errors = page(min_page as i128 - 1).unwrap_err();
        assert_eq!(rules(&errors), ["list_v1_page_invalid"]);
        assert_eq!(
            errors[0].message,
            format!("Bad request: page: must be an integer of at least {min_page}")
        );
        assert_eq!(errors[0].pointer.as_deref(), Some("/page"));
        assert!(page(-5).is_err());
        // Beyond u64 saturates: a page past the end, not a type error.
        assert!(list_v1(Some("page=99999999999999999999999")).is_ok());

        let (min, max) = bounds(&LIST_V1, "list_v1_per_page_invalid");
        assert_eq!((min, max), (10, 10000));
        let per_page = |n: u64| list_v1(Some(&format!("per_page={n}")));
        assert_eq!(per_page(min).unwrap().per_page, min);
        assert_eq!(per_page(max).unwrap().per_page, max);
        for n in [min - 1, max + 1] {
            let errors = per_page(n).unwrap_err();
            assert_eq!(rules(&errors), ["list_v1_per_page_invalid"]);
            assert_eq!(
                errors[0].message,
                format!("Bad request: per_page: must be an integer from {min} to {max}")
            );
        }
    }

    #[test]
    fn list_v1_refuses_what_is_not_an_integer() {
        for query in ["page=abc", "page=", "page=1.5", "per_page=ten", "page=%2B1"] {
            assert!(list_v1(Some(query)).is_err(), "{query}");
        }
        let errors = list_v1(Some("page=abc&per_page=x")).unwrap_err();
        assert_eq!(
            rules(&errors),
            ["list_v1_page_invalid", "list_v1_per_page_invalid"]
        );
    }

    #[test]
    fn empty_creator_selects_images_without_one() {
        let list = list_v1(Some("creator=")).unwrap();
        assert_eq!(list.creator.as_deref(), Some(""));
        assert!(list.matches(None));
        assert!(!list.matches(Some("me")));
        let list = list_v1(Some("creator=me")).unwrap();
        assert!(list.matches(Some("me")));
        assert!(!list.matches(None));
        assert!(!list.matches(Some("you")));
        assert!(list_v1(None).unwrap().matches(None));
        assert!(list_v1(None).unwrap().matches(Some("me")));
    }

    // --- list v2 ----------------------------------------------------------------------------

    #[test]
    fn list_v2_defaults_come_from_the_schema() {
        let list = list_v2(None).unwrap();
        assert_eq!(Some(list.per_page), LIST_V2.default("per_page").as_u64());
        assert_eq!(list.per_page, 1000);
        assert_eq!(LIST_V2.default("sort_order"), "desc");
        assert_eq!(list.sort_order, SortOrder::Desc);
        assert_eq!(list.continuation_token, None);
        assert_eq!(list.creator, None);
        assert!(list.filters.is_empty());
    }

    #[test]
    fn list_v2_reads_its_parameters() {
        let list = list_v2(Some(
            "continuation_token=123&per_page=10&sort_order=asc&creator=&other=1",
        ))
        .unwrap();
        assert_eq!(list.continuation_token.as_deref(), Some("123"));
        assert_eq!(list.per_page, 10);
        assert_eq!(list.sort_order, SortOrder::Asc);
        assert_eq!(list.creator.as_deref(), Some(""));
        assert!(list.matches(None, None));
        assert!(!list.matches(Some("me"), None));
        // A literal `filters` parameter is not a filter.
        assert!(list_v2(Some("filters=x")).unwrap().filters.is_empty());
    }

    #[test]
    fn list_v2_bounds_are_the_schemas() {
        let (min, max) = bounds(&LIST_V2, "list_v2_per_page_invalid");
        assert_eq!((min, max), (10, 10000));
        let per_page = |n: u64| list_v2(Some(&format!("per_page={n}")));
        assert!(per_page(min).is_ok() && per_page(max).is_ok());
        for n in [min - 1, max + 1] {
            assert_eq!(
                rules(&per_page(n).unwrap_err()),
                ["list_v2_per_page_invalid"]
            );
        }

        // The official description's own example token is longer than its stated maxLength:
        // long tokens pass (a token the mock did not issue is the handler's business).
        assert!(list_v2(Some(&format!("continuation_token={}", "a".repeat(100)))).is_ok());

        let errors = list_v2(Some("sort_order=DESC")).unwrap_err();
        assert_eq!(rules(&errors), ["list_v2_sort_order_invalid"]);
        assert_eq!(
            errors[0].message,
            r#"sort_order: must be one of ["asc","desc"]"#
        );
    }

    #[test]
    fn six_filters_get_the_spec_message() {
        let max = LIST_V2.bound("list_v2_too_many_filters", "/maxItems") as usize;
        assert_eq!(max, 5);
        let query = |n: usize| {
            (0..n)
                .map(|i| format!("meta.f{i}[eq]=x"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert_eq!(list_v2(Some(&query(max))).unwrap().filters.len(), max);
        let errors = list_v2(Some(&query(max + 1))).unwrap_err();
        assert_eq!(rules(&errors), ["list_v2_too_many_filters"]);
        assert_eq!((errors[0].code, errors[0].status), (5400, 400));
        assert_eq!(
            errors[0].message,
            "Too many metadata filters: 6 provided, maximum 5 allowed"
        );
        assert!(errors[0].confirmed);
    }

    #[test]
    fn an_unknown_operator_gets_the_spec_message() {
        let errors = list_v2(Some("meta.status[not-eq]=active")).unwrap_err();
        assert_eq!(rules(&errors), ["list_v2_filter_operator_unsupported"]);
        assert_eq!((errors[0].code, errors[0].status), (5400, 400));
        assert_eq!(
            errors[0].message,
            "Unsupported metadata filter operator: 'not-eq'"
        );
        // Percent-encoded brackets are brackets; no brackets is the empty operator.
        let errors = list_v2(Some("meta.status%5Bne%5D=1")).unwrap_err();
        assert_eq!(
            errors[0].message,
            "Unsupported metadata filter operator: 'ne'"
        );
        let errors = list_v2(Some("meta.status=1")).unwrap_err();
        assert_eq!(
            errors[0].message,
            "Unsupported metadata filter operator: ''"
        );
        for op in ["gt:string", "in:boolean", "eq:text"] {
            assert!(list_v2(Some(&format!("meta.a[{op}]=1"))).is_err(), "{op}");
        }
    }

    #[test]
    fn every_operator_of_the_schema_has_a_meaning() {
        let ops = LIST_V2.keyword("list_v2_filter_operator_unsupported", "/properties/op/enum");
        let ops = ops.as_array().expect("an enum");
        assert_eq!(ops.len(), 15);
        for op in ops {
            let op = op.as_str().expect("operators are strings");
            assert!(FilterOp::parse(op).is_some(), "{op}");
            let query = format!(
                "meta.a[{op}]={}",
                if op.ends_with("boolean") { "true" } else { "1" }
            );
            assert!(list_v2(Some(&query)).is_ok(), "{query}");
        }
    }

    #[test]
    fn nesting_and_list_lengths_are_the_schemas() {
        let depth = LIST_V2.bound("list_v2_filter_too_deep", "/properties/field/maxItems") as usize;
        assert_eq!(depth, 5);
        let nested = |n: usize| {
            let path: Vec<String> = (0..n).map(|i| format!("l{i}")).collect();
            list_v2(Some(&format!("meta.{}[eq]=x", path.join("."))))
        };
        assert_eq!(nested(depth).unwrap().filters[0].field.len(), depth);
        let errors = nested(depth + 1).unwrap_err();
        assert_eq!(rules(&errors), ["list_v2_filter_too_deep"]);
        assert_eq!(
            errors[0].message,
            "Metadata filter nesting too deep: 6 levels provided, maximum 5 allowed"
        );

        let max = LIST_V2.bound(
            "list_v2_filter_too_many_values",
            "/properties/value/maxItems",
        ) as usize;
        assert_eq!(max, 10);
        let listed = |n: usize| {
            let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            list_v2(Some(&format!("meta.a[in]={}", values.join("|"))))
        };
        assert_eq!(listed(max).unwrap().filters[0].values.len(), max);
        let errors = listed(max + 1).unwrap_err();
        assert_eq!(rules(&errors), ["list_v2_filter_too_many_values"]);
        assert_eq!(
            errors[0].message,
            format!("Too many values for metadata filter list operator: 11 provided, maximum {max} allowed")
        );
        // The limit is on list operators only: a long `eq` value with pipes is one value.
        let long = (0..20).map(|i| i.to_string()).collect::<Vec<_>>().join("|");
        assert_eq!(
            list_v2(Some(&format!("meta.a[eq]={long}")))
                .unwrap()
                .filters[0]
                .values,
            [long]
        );
    }

    #[test]
    fn empty_fields_and_bad_typed_values_are_refused() {
        for query in ["meta.[eq]=x", "meta.a..b[eq]=x", "meta.a.[eq]=x"] {
            let errors = list_v2(Some(query)).unwrap_err();
            assert_eq!(rules(&errors), ["list_v2_filter_field_empty"], "{query}");
        }
        let errors = list_v2(Some("meta.a[gte]=high")).unwrap_err();
        assert_eq!(rules(&errors), ["list_v2_filter_value_not_number"]);
        assert_eq!(
            errors[0].message,
            "Invalid metadata filter value: 'high' is not a number"
        );
        let errors = list_v2(Some("meta.a[in:number]=1|x")).unwrap_err();
        assert_eq!(
            errors[0].message,
            "Invalid metadata filter value: 'x' is not a number"
        );
        let errors = list_v2(Some("meta.a[eq:boolean]=yes")).unwrap_err();
        assert_eq!(rules(&errors), ["list_v2_filter_value_not_boolean"]);
        assert_eq!(
            errors[0].message,
            "Invalid metadata filter value: 'yes' is not a boolean"
        );
        // Untyped operators take any text.
        assert!(list_v2(Some("meta.a[eq]=yes&meta.b[in]=x|1")).is_ok());
    }

    fn filter(query: &str) -> MetaFilter {
        let mut list = list_v2(Some(query)).unwrap_or_else(|e| panic!("{query}: {e:?}"));
        assert_eq!(list.filters.len(), 1);
        list.filters.remove(0)
    }

    /// Whether the one filter of `query` matches `meta`.
    fn hit(query: &str, meta_value: Value) -> bool {
        filter(query).matches(&meta(meta_value))
    }

    #[test]
    fn eq_matches() {
        let image = json!({"status": "active", "n": 5, "on": true, "s5": "5"});
        assert!(hit("meta.status[eq]=active", image.clone()));
        assert!(!hit("meta.status[eq]=inactive", image.clone()));
        // Untyped eq compares by the stored value's kind.
        assert!(hit("meta.n[eq]=5", image.clone()));
        assert!(hit("meta.n[eq]=5.0", image.clone()));
        assert!(hit("meta.on[eq]=true", image.clone()));
        assert!(hit("meta.s5[eq]=5", image.clone()));
        assert!(!hit("meta.missing[eq]=active", image.clone()));

        assert!(hit("meta.status[eq:string]=active", image.clone()));
        assert!(!hit("meta.n[eq:string]=5", image.clone()));
        assert!(hit("meta.n[eq:number]=5", image.clone()));
        assert!(!hit("meta.s5[eq:number]=5", image.clone()));
        assert!(!hit("meta.n[eq:number]=6", image.clone()));
        assert!(hit("meta.on[eq:boolean]=true", image.clone()));
        assert!(!hit("meta.on[eq:boolean]=false", image.clone()));
        assert!(!hit("meta.status[eq:boolean]=true", image));
    }

    #[test]
    fn range_operators_compare_numbers_only() {
        let image = json!({"p": 3, "s": "3"});
        for (op, below, equal, above) in [
            ("gt", true, false, false),
            ("gte", true, true, false),
            ("lt", false, false, true),
            ("lte", false, true, true),
        ] {
            for op in [op.to_owned(), format!("{op}:number")] {
                assert_eq!(
                    hit(&format!("meta.p[{op}]=2"), image.clone()),
                    below,
                    "{op} 2"
                );
                assert_eq!(
                    hit(&format!("meta.p[{op}]=3"), image.clone()),
                    equal,
                    "{op} 3"
                );
                assert_eq!(
                    hit(&format!("meta.p[{op}]=4"), image.clone()),
                    above,
                    "{op} 4"
                );
                assert!(
                    !hit(&format!("meta.s[{op}]=3"), image.clone()),
                    "{op} on a string"
                );
                assert!(
                    !hit(&format!("meta.x[{op}]=3"), image.clone()),
                    "{op} on nothing"
                );
            }
        }
        assert!(hit("meta.p[gt]=-1.5e0", image));
    }

    #[test]
    fn in_matches_any_listed_value() {
        let image = json!({"status": "pending", "rating": 4, "on": false});
        assert!(hit("meta.status[in]=active|pending", image.clone()));
        assert!(!hit("meta.status[in]=active|deleted", image.clone()));
        assert!(hit("meta.status[in:string]=pending|x", image.clone()));
        assert!(!hit("meta.rating[in:string]=4|5", image.clone()));
        assert!(hit("meta.rating[in:number]=4|5", image.clone()));
        assert!(!hit("meta.rating[in:number]=1|2", image.clone()));
        assert!(hit("meta.rating[in]=4|x", image.clone()));
        assert!(hit("meta.on[in]=false", image));
    }

    #[test]
    fn nested_fields_are_followed() {
        let image = json!({"region": {"name": "eu-west", "n": {"deep": 1}}, "flat": "x"});
        assert!(hit("meta.region.name[eq]=eu-west", image.clone()));
        assert!(!hit("meta.region.name[eq]=us-east", image.clone()));
        assert!(hit("meta.region.n.deep[eq:number]=1", image.clone()));
        assert!(!hit("meta.region[eq]=eu-west", image.clone()));
        assert!(!hit("meta.flat.below[eq]=x", image));
        // Field names are percent-decoded; `+` is a space.
        assert!(hit("meta.my+key[eq]=a%20b", json!({"my key": "a b"})));
    }

    #[test]
    fn filters_and_creator_combine_with_and() {
        let list = list_v2(Some(
            "meta.priority[eq:number]=5&meta.priority[lte:number]=3&creator=me",
        ))
        .unwrap();
        let m = meta(json!({"priority": 5}));
        assert!(
            !list.matches(Some("me"), Some(&m)),
            "contradictions match nothing"
        );
        let list = list_v2(Some(
            "meta.status[eq]=active&meta.priority[gte:number]=1&creator=me",
        ))
        .unwrap();
        let m = meta(json!({"status": "active", "priority": 2}));
        assert!(list.matches(Some("me"), Some(&m)));
        assert!(!list.matches(Some("you"), Some(&m)));
        assert!(!list.matches(Some("me"), None));
        assert!(list_v2(None).unwrap().matches(None, None));
    }
}
