//! The rules of each request shape, read from `schemas/`: compiled once per process, applied
//! with the `jsonschema` crate, and turned into the errors the real API answers.
//!
//! Every rule of a request lives in its schema next to its Cloudflare error
//! (`x-cloudflare-error`): the upload form in `schemas/upload.schema.json`, the PATCH body of an
//! image in `schemas/image-update.schema.json`, the queries of the v1 and v2 lists in
//! `schemas/list-v1.schema.json` and `schemas/list-v2.schema.json`. Errors that no rule of a
//! request produces (authentication, routing, transport, duplicates) live in
//! `schemas/errors.json`. Nothing here restates a rule: the code only finds, for each validation
//! error, the nearest enclosing annotation.
//!
//! A message may hold two kinds of placeholder: `{a/b}` is filled once from the annotated
//! subschema (a limit the schema states), `{$name}` at run time. [`Schema::validate`] fills
//! `{$value}` with the offending instance value and `{$count}` with its number of items (or
//! characters); [`Schema::error`] fills any `{$name}` from its arguments.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::SystemTime;

use jsonschema::{Keyword, PatternOptions, ValidationError, Validator};
use serde_json::{Map, Value};

use crate::ordered::Json;

use crate::error::{ApiError, ChainedError};

const ERRORS: &str = include_str!("../schemas/errors.json");

/// The annotation key that carries a rule's error.
const ANNOTATION: &str = "x-cloudflare-error";

/// The upload form: `POST /accounts/{account_id}/images/v1`.
pub(crate) static UPLOAD: LazyLock<Schema> = LazyLock::new(|| {
    Schema::load(
        "schemas/upload.schema.json",
        include_str!("../schemas/upload.schema.json"),
    )
});

/// The JSON body of `PATCH /accounts/{account_id}/images/v1/{image_id}`.
pub(crate) static IMAGE_UPDATE: LazyLock<Schema> = LazyLock::new(|| {
    Schema::load(
        "schemas/image-update.schema.json",
        include_str!("../schemas/image-update.schema.json"),
    )
});

/// The query of `GET /accounts/{account_id}/images/v1` (the deprecated paged list).
pub(crate) static LIST_V1: LazyLock<Schema> = LazyLock::new(|| {
    Schema::load(
        "schemas/list-v1.schema.json",
        include_str!("../schemas/list-v1.schema.json"),
    )
});

/// The path parameter of `PUT` and `DELETE /accounts/{account_id}/images/v1/keys/{name}`.
pub(crate) static SIGNING_KEY: LazyLock<Schema> = LazyLock::new(|| {
    Schema::load(
        "schemas/signing-key.schema.json",
        include_str!("../schemas/signing-key.schema.json"),
    )
});

/// The JSON body of a variant (create, and update with the path's id added).
pub(crate) static VARIANT: LazyLock<Schema> = LazyLock::new(|| {
    Schema::load(
        "schemas/variant.schema.json",
        include_str!("../schemas/variant.schema.json"),
    )
});

/// The query of `GET /accounts/{account_id}/images/v2` (continuation tokens, metadata filters).
pub(crate) static LIST_V2: LazyLock<Schema> = LazyLock::new(|| {
    Schema::load(
        "schemas/list-v2.schema.json",
        include_str!("../schemas/list-v2.schema.json"),
    )
});

/// The fields of a direct creator upload (v2 form, v1 JSON body) that are not an upload's:
/// `expiry`. The shared fields are checked by [`UPLOAD`]'s rules.
pub(crate) static DIRECT_UPLOAD: LazyLock<Schema> = LazyLock::new(|| {
    Schema::load(
        "schemas/direct-upload.schema.json",
        include_str!("../schemas/direct-upload.schema.json"),
    )
});

/// The account id path parameter, `$defs/account_id` of the upload schema.
static ACCOUNT_ID: LazyLock<Validator> = LazyLock::new(|| {
    let schema = UPLOAD
        .document
        .pointer("/$defs/account_id")
        .expect("schemas/upload.schema.json has no $defs/account_id");
    compile(schema, "schemas/upload.schema.json#/$defs/account_id")
});

/// A rule of a schema with the error it produces.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) name: String,
    /// The name as the public enum: every rule a schema writes has a variant (checked at load).
    pub(crate) id: crate::rule::Rule,
    pub(crate) code: u32,
    pub(crate) status: u16,
    /// The message with its `{pointer}` placeholders already filled from the schema; `{$name}`
    /// placeholders are left for run time.
    pub(crate) message: String,
    /// Where the error points when the instance path does not say (rules on the whole form).
    pub(crate) pointer: Option<String>,
    pub(crate) confirmed: bool,
    /// The JSON pointer of the annotated subschema.
    pub(crate) schema_path: String,
    /// Position in the schema, so errors come out in the order the schema lists its rules.
    pub(crate) order: usize,
}

/// One schema of `schemas/`, compiled, with its rules.
pub(crate) struct Schema {
    validator: Validator,
    /// Annotated subschemas by JSON pointer.
    rules: HashMap<String, Rule>,
    document: Value,
    /// The file it was read from, for panic messages.
    file: &'static str,
}

fn compile(schema: &Value, name: &str) -> Validator {
    jsonschema::options()
        // The regex crate matches in linear time: no pattern can be made to backtrack for ever.
        .with_pattern_options(PatternOptions::regex())
        .with_keyword("x-max-json-bytes", max_json_bytes)
        .with_keyword("x-rfc3339", rfc3339)
        .with_keyword("x-seconds-from-now", seconds_from_now)
        .build(schema)
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"))
}

/// `x-max-json-bytes: N`: the instance, serialised as compact JSON, is at most N bytes. Cloudflare
/// states the metadata limit in bytes, which no standard keyword measures.
struct MaxJsonBytes(u64);

impl<'i> Keyword<'i> for MaxJsonBytes {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            Ok(())
        } else {
            Err(ValidationError::custom(format!(
                "is longer than {} bytes as JSON",
                self.0
            )))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        json_len(instance) <= self.0
    }
}

fn max_json_bytes<'a>(
    _parent: &'a Map<String, Value>,
    value: &'a Value,
    _path: jsonschema::paths::Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    match value.as_u64() {
        Some(limit) => Ok(Box::new(MaxJsonBytes(limit))),
        None => Err(ValidationError::schema(
            "x-max-json-bytes must be a non-negative integer",
        )),
    }
}

/// The instant an RFC 3339 date-time names, if `value` is one.
pub(crate) fn parse_rfc3339(value: &Value) -> Option<std::time::SystemTime> {
    let text = value.as_str()?;
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(std::time::SystemTime::from(at))
}

/// `x-rfc3339: true`: a string is an RFC 3339 date-time (other types are left to `type`).
/// The standard `format: date-time` is only an annotation unless format checks are turned on
/// for every schema.
struct Rfc3339;

impl<'i> Keyword<'i> for Rfc3339 {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            Ok(())
        } else {
            Err(ValidationError::custom("is not an RFC 3339 date-time"))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        !instance.is_string() || parse_rfc3339(instance).is_some()
    }
}

fn rfc3339<'a>(
    _parent: &'a Map<String, Value>,
    _value: &'a Value,
    _path: jsonschema::paths::Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    Ok(Box::new(Rfc3339))
}

thread_local! {
    /// The time `x-seconds-from-now` is relative to, while [`Schema::validate_at`] runs.
    static NOW: Cell<Option<SystemTime>> = const { Cell::new(None) };
}

/// `x-seconds-from-now: {minimum, maximum}`: an RFC 3339 date-time lies within this many
/// seconds from now: the mock's clock ([`Schema::validate_at`]), or the system's time when
/// validated without one (anything that is no date-time is left to other rules). Cloudflare
/// states expiry windows relative to the time of the request, which no standard keyword can.
struct SecondsFromNow {
    minimum: i64,
    maximum: i64,
}

impl<'i> Keyword<'i> for SecondsFromNow {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            Ok(())
        } else {
            Err(ValidationError::custom(format!(
                "is not between {} and {} seconds from now",
                self.minimum, self.maximum
            )))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        let Some(at) = parse_rfc3339(instance) else {
            return true;
        };
        let now = NOW.get().unwrap_or_else(SystemTime::now);
        let seconds = match at.duration_since(now) {
            Ok(ahead) => i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX),
            Err(behind) => -i64::try_from(behind.duration().as_secs()).unwrap_or(i64::MAX),
        };
        (self.minimum..=self.maximum).contains(&seconds)
    }
}

fn seconds_from_now<'a>(
    _parent: &'a Map<String, Value>,
    value: &'a Value,
    _path: jsonschema::paths::Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    let bound = |key: &str| value.get(key).and_then(Value::as_i64);
    match (bound("minimum"), bound("maximum")) {
        (Some(minimum), Some(maximum)) => Ok(Box::new(SecondsFromNow { minimum, maximum })),
        _ => Err(ValidationError::schema(
            "x-seconds-from-now must be an object with integer minimum and maximum",
        )),
    }
}

/// The length of `value` serialised as compact JSON, without allocating the text.
pub(crate) fn json_len(value: &Value) -> u64 {
    struct Counter(u64);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a Value to an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

fn collect_rules(node: &Value, path: String, file: &str, rules: &mut HashMap<String, Rule>) {
    match node {
        Value::Object(map) => {
            if let Some(annotation) = map.get(ANNOTATION) {
                let order = rules.len();
                rules.insert(
                    path.clone(),
                    rule_from(annotation, node, &path, file, order),
                );
            }
            for (key, child) in map {
                if key != ANNOTATION {
                    collect_rules(child, format!("{path}/{}", escape(key)), file, rules);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_rules(child, format!("{path}/{i}"), file, rules);
            }
        }
        _ => {}
    }
}

/// The paths of the annotated subschemas, in the order the document lists them.
fn annotated_paths(node: &Json, path: String, paths: &mut Vec<String>) {
    match node {
        Json::Object(map) => {
            if map.get(ANNOTATION).is_some() {
                paths.push(path.clone());
            }
            for (key, child) in map.iter() {
                if key != ANNOTATION {
                    annotated_paths(child, format!("{path}/{}", escape(key)), paths);
                }
            }
        }
        Json::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                annotated_paths(child, format!("{path}/{i}"), paths);
            }
        }
        _ => {}
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn rule_from(annotation: &Value, subschema: &Value, path: &str, file: &str, order: usize) -> Rule {
    let field = |key: &str| {
        annotation
            .get(key)
            .unwrap_or_else(|| panic!("{file}: {ANNOTATION} at {path} has no {key}"))
    };
    let template = field("message").as_str().expect("message is a string");
    let name = field("rule").as_str().expect("rule is a string");
    Rule {
        name: name.to_owned(),
        id: crate::rule::Rule::from_name(name)
            .unwrap_or_else(|| panic!("{file}: rule {name:?} at {path} is no variant of `Rule`")),
        code: field("code").as_u64().expect("code is a number") as u32,
        status: field("status").as_u64().expect("status is a number") as u16,
        message: fill_from_schema(template, subschema),
        pointer: annotation
            .get("pointer")
            .and_then(Value::as_str)
            .map(str::to_owned),
        confirmed: annotation
            .get("confirmed")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        schema_path: path.to_owned(),
        order,
    }
}

/// Fills `{a/b}` placeholders with the value at that pointer below `subschema`, so a message
/// never restates a limit the schema states. `{$...}` placeholders are left for run time.
fn fill_from_schema(template: &str, subschema: &Value) -> String {
    fill(template, |name| {
        if name.starts_with('$') {
            return None;
        }
        subschema
            .pointer(&format!("/{name}"))
            .map(|value| match value {
                Value::String(s) => s.clone(),
                value => value.to_string(),
            })
    })
}

/// Replaces each `{name}` of `template` for which `value(name)` answers; leaves the others.
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        out.push_str(&rest[..start]);
        match value(name) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&rest[start..=start + len]),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// Fills the run-time placeholders `{$value}` (the offending value: a string as is, anything
/// else as JSON) and `{$count}` (its number of items, entries or characters).
fn fill_from_instance(message: &str, value: Option<&Value>) -> String {
    if !message.contains("{$") {
        return message.to_owned();
    }
    fill(message, |name| {
        let value = value?;
        match name {
            "$value" => Some(match value {
                Value::String(s) => s.clone(),
                value => value.to_string(),
            }),
            "$count" => Some(
                match value {
                    Value::Array(items) => items.len(),
                    Value::Object(map) => map.len(),
                    Value::String(s) => s.chars().count(),
                    _ => return None,
                }
                .to_string(),
            ),
            _ => None,
        }
    })
}

impl Schema {
    fn load(file: &'static str, text: &str) -> Schema {
        let document: Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        let validator = compile(&document, file);
        let mut rules = HashMap::new();
        collect_rules(&document, String::new(), file, &mut rules);
        // A `Value`'s maps are sorted unless serde_json's `preserve_order` is on: the order of
        // the rules, in which errors come out, is read from the text.
        let ordered: Json =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        let mut paths = Vec::new();
        annotated_paths(&ordered, String::new(), &mut paths);
        for (order, path) in paths.iter().enumerate() {
            if let Some(rule) = rules.get_mut(path) {
                rule.order = order;
            }
        }
        Schema {
            validator,
            rules,
            document,
            file,
        }
    }

    fn rule_for(&self, schema_path: &str) -> Option<&Rule> {
        let mut path = schema_path;
        loop {
            if let Some(rule) = self.rules.get(path) {
                return Some(rule);
            }
            let cut = path.rfind('/')?;
            path = &path[..cut];
        }
    }

    /// The rule named `name`.
    pub(crate) fn rule(&self, name: &str) -> &Rule {
        self.rules
            .values()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{} has no rule {name:?}", self.file))
    }

    /// [`validate`](Self::validate) with `now` as the time `x-seconds-from-now` is relative
    /// to (a mock's clock), instead of the system's time.
    pub(crate) fn validate_at(&self, instance: &Value, now: SystemTime) -> Vec<ApiError> {
        // jsonschema's keywords take no context: `now` reaches them through this thread for the
        // length of the (synchronous) validation.
        let previous = NOW.replace(Some(now));
        let errors = self.validate(instance);
        NOW.set(previous);
        errors
    }

    /// Validates an instance; every broken rule once, in the order the schema lists them.
    pub(crate) fn validate(&self, instance: &Value) -> Vec<ApiError> {
        // Most requests are valid: the yes/no check builds no error values and is much cheaper.
        if self.validator.is_valid(instance) {
            return Vec::new();
        }
        let mut found: Vec<(&Rule, String, Option<&Value>)> = Vec::new();
        for error in self.validator.iter_errors(instance) {
            let schema_path = error.schema_path().as_str();
            let rule = self.rule_for(schema_path).unwrap_or_else(|| {
                panic!(
                    "{}: the rule at {schema_path} has no {ANNOTATION} (error: {error})",
                    self.file
                )
            });
            if found
                .iter()
                .any(|(seen, _, _)| seen.schema_path == rule.schema_path)
            {
                continue;
            }
            let instance_path = error.instance_path().as_str();
            let field = instance_path.split('/').nth(1).unwrap_or("").to_owned();
            found.push((rule, field, instance.pointer(instance_path)));
        }
        found.sort_by_key(|(rule, _, _)| rule.order);
        found
            .into_iter()
            .map(|(rule, field, value)| {
                let mut error = to_api_error(rule, &field);
                error.message = fill_from_instance(&error.message, value);
                error
            })
            .collect()
    }

    /// The error of rule `name`, for a rule the code must apply itself (one that needs more
    /// than the instance, such as the stored image), its `{$key}` placeholders filled from
    /// `args` (given without the `$`).
    pub(crate) fn error(&self, name: &str, args: &[(&str, &str)]) -> ApiError {
        let rule = self.rule(name);
        let mut error = to_api_error(rule, "");
        error.message = fill(&error.message, |placeholder| {
            let key = placeholder.strip_prefix('$')?;
            args.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        });
        error
    }

    /// A number the schema states in the subschema of `rule`, at `pointer` below it.
    pub(crate) fn bound(&self, rule: &str, pointer: &str) -> u64 {
        self.keyword(rule, pointer).as_u64().unwrap_or_else(|| {
            panic!(
                "{}: rule {rule:?} has no non-negative integer at {pointer}",
                self.file
            )
        })
    }

    /// Any value the schema states in the subschema of `rule`, at `pointer` below it (a number,
    /// a pattern, an enum), for code that must derive what it does from the schema.
    pub(crate) fn keyword(&self, rule: &str, pointer: &str) -> &Value {
        let rule_path = self.rule(rule).schema_path.as_str();
        self.document
            .pointer(&format!("{rule_path}{pointer}"))
            .unwrap_or_else(|| panic!("{}: rule {rule:?} has nothing at {pointer}", self.file))
    }

    /// A top-level keyword of the schema (`x-upload-fields`, ...), for code that must derive
    /// what it does from the schema.
    pub(crate) fn top(&self, key: &str) -> &Value {
        self.document
            .get(key)
            .unwrap_or_else(|| panic!("{} has no top-level {key:?}", self.file))
    }

    /// The schema of the instance's top-level property `name` (`/properties/{name}`).
    pub(crate) fn property(&self, name: &str) -> Option<&Value> {
        self.document
            .get("properties")
            .and_then(|properties| properties.get(name))
    }

    /// The `default` the schema states for the top-level property `name`.
    pub(crate) fn default(&self, name: &str) -> &Value {
        self.property(name)
            .and_then(|property| property.get("default"))
            .unwrap_or_else(|| panic!("{}: property {name:?} has no default", self.file))
    }

    /// Every rule of the schema, in schema order.
    #[cfg(test)]
    pub(crate) fn rules(&self) -> Vec<Rule> {
        let mut rules: Vec<Rule> = self.rules.values().cloned().collect();
        rules.sort_by_key(|rule| rule.order);
        rules
    }
}

fn to_api_error(rule: &Rule, field: &str) -> ApiError {
    let pointer = rule
        .pointer
        .clone()
        .or_else(|| (!field.is_empty()).then(|| format!("/{field}")));
    ApiError {
        code: rule.code,
        status: rule.status,
        message: rule.message.clone(),
        rule: rule.id,
        pointer,
        schema_path: Some(rule.schema_path.clone()),
        confirmed: rule.confirmed,
        error_chain: Box::default(),
    }
}

/// Validates an upload instance; every broken rule once, in the order the schema lists them.
pub(crate) fn validate(instance: &Value) -> Vec<ApiError> {
    UPLOAD.validate(instance)
}

/// The 5410 error for making a custom-id image private, from the upload schema's rule
/// `id_with_signed_urls`: the PATCH handler applies it, since it needs the stored image.
// Used by the PATCH handler being written in main.
#[allow(dead_code)]
pub(crate) fn custom_id_private_error() -> ApiError {
    UPLOAD.error("id_with_signed_urls", &[])
}

/// Whether `account_id` is shaped like a real account id (`$defs/account_id`).
pub(crate) fn is_account_id(account_id: &str) -> bool {
    // A mock's requests nearly all name the same account: the last one found valid on this
    // thread is remembered, which spares a validation (and a string to validate) per request.
    use std::cell::RefCell;
    thread_local! {
        static LAST_VALID: RefCell<String> = const { RefCell::new(String::new()) };
    }
    if !account_id.is_empty() && LAST_VALID.with_borrow(|last| last == account_id) {
        return true;
    }
    let valid = ACCOUNT_ID.is_valid(&Value::String(account_id.to_owned()));
    if valid {
        LAST_VALID.with_borrow_mut(|last| account_id.clone_into(last));
    }
    valid
}

/// A number the upload schema states in the subschema of `rule`, at `pointer` below it (e.g.
/// the file size limit), for the code that must act on it before there is an instance to
/// validate (the streaming reader) and for generators.
pub(crate) fn bound(rule: &str, pointer: &str) -> u64 {
    UPLOAD.bound(rule, pointer)
}

/// Any value the upload schema states in the subschema of `rule`, at `pointer` below it (a
/// number, a pattern, an enum), for code that must derive what it does from the schema.
#[cfg_attr(not(feature = "proptest"), allow(dead_code))]
pub(crate) fn keyword(rule: &str, pointer: &str) -> &'static Value {
    let schema: &'static Schema = &UPLOAD;
    schema.keyword(rule, pointer)
}

/// The largest file the API takes, in bytes.
pub(crate) fn max_file_size() -> u64 {
    bound("file_too_large", "/properties/size/maximum")
}

/// Every rule of the upload schema, in schema order.
#[cfg(test)]
pub(crate) fn rules() -> Vec<Rule> {
    UPLOAD.rules()
}

/// `schemas/errors.json`, read once.
static CATALOGUE: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(ERRORS).unwrap_or_else(|e| panic!("schemas/errors.json: {e}"))
});

/// The gateway envelopes of the catalogue: the members, in order, of the body recorded for each
/// entry that the API gateway answers rather than the Images service (its `envelope`).
static GATEWAY_ENVELOPES: LazyLock<HashMap<String, Vec<String>>> = LazyLock::new(|| {
    let entries = CATALOGUE["errors"]
        .as_object()
        .expect("schemas/errors.json: errors is an object");
    entries
        .iter()
        .filter_map(|(name, entry)| {
            let keys = entry.get("envelope")?.as_array().unwrap_or_else(|| {
                panic!("schemas/errors.json: {name}: envelope is an array of member names")
            });
            let keys = keys
                .iter()
                .map(|key| key.as_str().expect("a member name").to_owned())
                .collect();
            Some((name.clone(), keys))
        })
        .collect()
});

/// The error of `schemas/errors.json` that `rule` names, its `{name}` placeholders filled from
/// `args` (a rule of a request schema has no entry there: a panic, which a test would meet).
pub(crate) fn catalogue_error(rule: crate::rule::Rule, args: &[(&str, &str)]) -> ApiError {
    let name = rule.name();
    let entry = CATALOGUE
        .pointer(&format!("/errors/{name}"))
        .unwrap_or_else(|| panic!("schemas/errors.json has no error {name:?}"));
    let mut message = entry["message"]
        .as_str()
        .expect("message is a string")
        .to_owned();
    for (key, value) in args {
        message = message.replace(&format!("{{{key}}}"), value);
    }
    let error_chain = entry
        .get("error_chain")
        .and_then(Value::as_array)
        .map(|chain| {
            chain
                .iter()
                .map(|link| ChainedError {
                    code: link["code"].as_u64().expect("code is a number") as u32,
                    message: link["message"]
                        .as_str()
                        .expect("message is a string")
                        .to_owned(),
                })
                .collect::<Vec<_>>()
                .into_boxed_slice()
        })
        .unwrap_or_default();
    ApiError {
        code: entry["code"].as_u64().expect("code is a number") as u32,
        status: entry["status"].as_u64().expect("status is a number") as u16,
        message,
        rule,
        pointer: None,
        schema_path: None,
        confirmed: entry["confirmed"].as_bool().unwrap_or(false),
        error_chain,
    }
}

/// The members, in order, of the body the API gateway answers `error` with, when it is an error
/// of the gateway (credentials, the `Authorization` header's format, routing): the `envelope`
/// recorded for it in `schemas/errors.json`. `None` for errors of the Images service.
pub(crate) fn gateway_envelope(error: &ApiError) -> Option<&'static [String]> {
    if error.schema_path.is_some() {
        return None;
    }
    GATEWAY_ENVELOPES.get(error.rule.name()).map(Vec::as_slice)
}

/// Every gateway envelope recorded for `code` (one code may be answered by several entries).
pub(crate) fn gateway_envelopes_of_code(code: u64) -> Vec<&'static [String]> {
    GATEWAY_ENVELOPES
        .iter()
        .filter(|(name, _)| CATALOGUE["errors"][name.as_str()]["code"].as_u64() == Some(code))
        .map(|(_, keys)| keys.as_slice())
        .collect()
}

/// The name of every rule of the request schemas and of every error of the catalogue.
#[cfg(test)]
pub(crate) fn all_rule_names() -> Vec<String> {
    let mut names: Vec<String> = all()
        .iter()
        .flat_map(|schema| schema.rules())
        .map(|rule| rule.name)
        .collect();
    names.extend(
        CATALOGUE["errors"]
            .as_object()
            .expect("errors is an object")
            .keys()
            .cloned(),
    );
    names
}

/// Every schema of requests, for checks that apply to all of them.
#[cfg(test)]
fn all() -> [&'static Schema; 7] {
    [
        &*UPLOAD,
        &*DIRECT_UPLOAD,
        &*IMAGE_UPDATE,
        &*LIST_V1,
        &*LIST_V2,
        &*SIGNING_KEY,
        &*VARIANT,
    ]
}

/// Compiles, at a mock's start, what every request or the first upload needs (the account id
/// and the upload form), so they do not pay for it. The schemas of the other operations compile
/// on their first request: compiling them all doubled the first start in a process (about 0.5
/// ms more), which every test pays, for operations most tests never call.
pub(crate) fn warm_up() {
    LazyLock::force(&UPLOAD);
    LazyLock::force(&ACCOUNT_ID);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules_of(instance: Value) -> Vec<String> {
        validate(&instance)
            .into_iter()
            .map(|e| e.rule.name().to_owned())
            .collect()
    }

    #[test]
    fn every_annotation_is_complete_and_rule_names_are_unique() {
        let rules = rules();
        assert!(rules.len() >= 15, "{} rules", rules.len());
        let mut names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), rules.len(), "rule names repeat");
        for rule in &rules {
            assert!(rule.code >= 1000, "{rule:?}");
            assert!((400..500).contains(&rule.status), "{rule:?}");
            assert!(!rule.message.contains("{maxLength}"), "{rule:?}");
        }
    }

    /// Every `x-cloudflare-error` of `node` with its schema path.
    fn annotations<'a>(node: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
        match node {
            Value::Object(map) => {
                for (key, child) in map {
                    if key == ANNOTATION {
                        out.push((path.clone(), child));
                    } else {
                        annotations(child, format!("{path}/{}", escape(key)), out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    annotations(child, format!("{path}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_annotation_of_every_schema_is_complete_and_rule_names_are_unique_across_them() {
        let mut names = std::collections::HashSet::new();
        for schema in all() {
            let file = schema.file;
            for key in ["$schema", "$id", "title", "description", "x-provenance"] {
                assert!(schema.document.get(key).is_some(), "{file} has no {key}");
            }
            let mut found = Vec::new();
            annotations(&schema.document, String::new(), &mut found);
            assert_eq!(found.len(), schema.rules.len(), "{file}");
            for (path, annotation) in found {
                let at = format!("{file} at {path:?}");
                let map = annotation.as_object().unwrap_or_else(|| panic!("{at}"));
                for key in map.keys() {
                    assert!(
                        [
                            "rule",
                            "code",
                            "status",
                            "message",
                            "pointer",
                            "confirmed",
                            "source",
                            "note"
                        ]
                        .contains(&key.as_str()),
                        "{at}: unknown key {key}"
                    );
                }
                let string = |key: &str| map.get(key).and_then(Value::as_str);
                let rule = string("rule").unwrap_or_else(|| panic!("{at}: no rule"));
                assert!(names.insert(rule.to_owned()), "{at}: rule {rule} repeats");
                assert!(string("message").is_some_and(|m| !m.is_empty()), "{at}");
                let code = map.get("code").and_then(Value::as_u64);
                assert!(code.is_some_and(|c| c >= 1000), "{at}: code");
                let status = map.get("status").and_then(Value::as_u64);
                assert!(status.is_some_and(|s| (400..500).contains(&s)), "{at}");
                let confirmed = map.get("confirmed").and_then(Value::as_bool);
                let confirmed = confirmed.unwrap_or_else(|| panic!("{at}: no confirmed"));
                for key in ["pointer", "note"] {
                    assert!(map.get(key).is_none_or(Value::is_string), "{at}: {key}");
                }
                if let Some(problem) = provenance_problem(string("source"), confirmed) {
                    panic!("{at} (rule {rule}): {problem}");
                }
                // Schema placeholders are all filled; only run-time ones are left.
                let message = &schema.rules[&path].message;
                let mut rest = message.as_str();
                while let Some(start) = rest.find('{') {
                    assert_eq!(&rest[start + 1..start + 2], "$", "{at}: {message}");
                    rest = &rest[start + 1..];
                }
            }
        }
        assert!(names.len() >= 30, "{} rules", names.len());
    }

    /// What is wrong with the provenance of an entry: no source, or one that names no row of
    /// the evidence (`RECORDED.md`, `FACTS.md`) and is not marked `GUESS`, or a `GUESS` marked
    /// confirmed.
    fn provenance_problem(source: Option<&str>, confirmed: bool) -> Option<String> {
        let Some(source) = source.filter(|s| !s.trim().is_empty()) else {
            return Some("no source: name the RECORDED.md or FACTS.md row it rests on".into());
        };
        let guess = source.starts_with("GUESS");
        if guess && confirmed {
            return Some(format!("a GUESS cannot be confirmed: {source:?}"));
        }
        if !guess && !source.contains("RECORDED.md") && !source.contains("FACTS.md") {
            return Some(format!(
                "its source names no row of RECORDED.md or FACTS.md (and is not a GUESS): \
                 {source:?}"
            ));
        }
        None
    }

    #[test]
    fn every_catalogue_entry_has_code_status_message_and_provenance() {
        let entries = CATALOGUE["errors"]
            .as_object()
            .expect("errors is an object");
        assert!(entries.len() >= 15, "{} entries", entries.len());
        for (name, entry) in entries {
            let at = format!("schemas/errors.json: {name}");
            let map = entry.as_object().unwrap_or_else(|| panic!("{at}"));
            for key in map.keys() {
                assert!(
                    [
                        "code",
                        "status",
                        "message",
                        "error_chain",
                        "envelope",
                        "confirmed",
                        "source",
                        "note"
                    ]
                    .contains(&key.as_str()),
                    "{at}: unknown key {key}"
                );
            }
            assert!(
                map.get("code").and_then(Value::as_u64).is_some(),
                "{at}: code"
            );
            let status = map.get("status").and_then(Value::as_u64);
            assert!(
                status.is_some_and(|s| (400..600).contains(&s)),
                "{at}: status"
            );
            let message = map.get("message").and_then(Value::as_str);
            assert!(message.is_some_and(|m| !m.is_empty()), "{at}: message");
            let confirmed = map.get("confirmed").and_then(Value::as_bool);
            let confirmed = confirmed.unwrap_or_else(|| panic!("{at}: no confirmed"));
            let source = map.get("source").and_then(Value::as_str);
            if let Some(problem) = provenance_problem(source, confirmed) {
                panic!("{at}: {problem}");
            }
            assert!(map.get("note").is_none_or(Value::is_string), "{at}: note");
            // The error is built, its chain and envelope included.
            let rule = crate::rule::Rule::from_name(name)
                .unwrap_or_else(|| panic!("{at}: no variant of `Rule` is called {name:?}"));
            let error = catalogue_error(rule, &[]);
            assert_eq!(
                error.error_chain.is_empty(),
                map.get("error_chain").is_none()
            );
            if let Some(keys) = gateway_envelope(&error) {
                let mut sorted: Vec<&str> = keys.iter().map(String::as_str).collect();
                sorted.sort_unstable();
                assert!(
                    ["errors", "success"] == sorted[..]
                        || ["errors", "messages", "result", "success"] == sorted[..],
                    "{at}: envelope {keys:?}"
                );
            }
        }
    }

    /// The rows of the README's "What is assumed" table: rule name, code and status cells.
    fn readme_assumed_rows() -> Vec<(String, String, String)> {
        let readme = include_str!("../README.md");
        let start = readme
            .find("\n## What is assumed\n")
            .expect("README.md has a section \"## What is assumed\"");
        let section = &readme[start + 1..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
        section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.trim().strip_prefix('|')?.split('|').collect();
                let name = cells.first()?.trim().strip_prefix('`')?.strip_suffix('`')?;
                let cell = |i: usize| cells.get(i).map_or("", |c| c.trim()).to_owned();
                Some((name.to_owned(), cell(2), cell(3)))
            })
            .collect()
    }

    #[test]
    fn the_readme_lists_every_unconfirmed_entry_and_nothing_else() {
        // (name, where, code, status, confirmed) of every rule and catalogue entry.
        let mut entries: Vec<(String, String, u64, u64, bool)> = Vec::new();
        for schema in all() {
            let file = schema.file.trim_start_matches("schemas/");
            for rule in schema.rules() {
                let (code, status) = (u64::from(rule.code), u64::from(rule.status));
                entries.push((rule.name, file.to_owned(), code, status, rule.confirmed));
            }
        }
        for (name, entry) in CATALOGUE["errors"].as_object().unwrap() {
            let number = |key: &str| entry[key].as_u64().unwrap_or_default();
            let confirmed = entry["confirmed"].as_bool().unwrap_or(false);
            let (code, status) = (number("code"), number("status"));
            entries.push((name.clone(), "errors.json".into(), code, status, confirmed));
        }
        let rows = readme_assumed_rows();
        let mut problems = Vec::new();
        for (name, file, code, status, confirmed) in &entries {
            let row = rows.iter().find(|(row, _, _)| row == name);
            match (confirmed, row) {
                (false, None) => problems.push(format!(
                    "unconfirmed `{name}` ({file}: {code}, {status}) is missing; add the row \
                     | `{name}` | {file} | {code} | {status} | <what is assumed> |"
                )),
                (false, Some((_, row_code, row_status))) => {
                    if *row_code != code.to_string() || *row_status != status.to_string() {
                        problems.push(format!(
                            "`{name}` is listed with code {row_code} and status {row_status}; \
                             {file} says {code} and {status}"
                        ));
                    }
                }
                (true, Some(_)) => problems.push(format!(
                    "`{name}` ({file}) is confirmed now: remove its row"
                )),
                (true, None) => {}
            }
        }
        for (row, _, _) in &rows {
            if !entries.iter().any(|(name, ..)| name == row) {
                problems.push(format!("`{row}` names no rule of schemas/: remove its row"));
            }
        }
        assert!(
            problems.is_empty(),
            "README.md, section \"What is assumed\", disagrees with schemas/:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn run_time_placeholders_are_filled_from_the_instance_or_arguments() {
        assert_eq!(
            fill_from_instance("{$count} of {$value}", Some(&json!([1, 2]))),
            "2 of [1,2]"
        );
        assert_eq!(fill_from_instance("'{$value}'", Some(&json!("a"))), "'a'");
        let e = IMAGE_UPDATE.error("update_body_not_json", &[("serde", "oops")]);
        assert_eq!(e.message, "Bad request: oops");
        assert_eq!(custom_id_private_error().code, 5410);
    }

    #[test]
    fn messages_take_their_limits_from_the_schema() {
        let errors = validate(&json!({"url": "https://a.b/c", "creator": "x".repeat(1025)}));
        assert_eq!(
            errors[0].message,
            "Bad request: creator: must be at most 1024 characters"
        );
        assert_eq!(errors[0].pointer.as_deref(), Some("/creator"));
    }

    #[test]
    fn a_clean_form_passes() {
        let file = json!({"size": 10, "format": "png", "width": 1, "height": 1, "area": 1});
        assert!(
            validate(&json!({"file": file, "id": "a/b.png", "metadata": {"k": "v"}})).is_empty()
        );
    }

    /// Read from the text, not from a `Value` (whose maps are sorted unless serde_json's
    /// `preserve_order` is on, as it is in this crate's test build but not in users' builds):
    /// errors come out in the order each schema file lists its rules.
    #[test]
    fn rule_order_is_the_order_of_the_schema_text() {
        let schemas: [(&Schema, &str); 7] = [
            (&UPLOAD, include_str!("../schemas/upload.schema.json")),
            (
                &IMAGE_UPDATE,
                include_str!("../schemas/image-update.schema.json"),
            ),
            (&LIST_V1, include_str!("../schemas/list-v1.schema.json")),
            (
                &SIGNING_KEY,
                include_str!("../schemas/signing-key.schema.json"),
            ),
            (&VARIANT, include_str!("../schemas/variant.schema.json")),
            (&LIST_V2, include_str!("../schemas/list-v2.schema.json")),
            (
                &DIRECT_UPLOAD,
                include_str!("../schemas/direct-upload.schema.json"),
            ),
        ];
        for (schema, text) in schemas {
            let rules = schema.rules();
            assert!(!rules.is_empty(), "{}", schema.file);
            let at = |rule: &Rule| {
                text.find(&format!("\"rule\": \"{}\"", rule.name))
                    .unwrap_or_else(|| panic!("{}: rule {} in the text", schema.file, rule.name))
            };
            for pair in rules.windows(2) {
                assert!(
                    at(&pair[0]) < at(&pair[1]),
                    "{}: {} is listed before {}",
                    schema.file,
                    pair[1].name,
                    pair[0].name
                );
            }
        }
    }

    #[test]
    fn each_rule_is_reported_once_and_in_schema_order() {
        let file = json!({"size": 10, "format": "png"});
        assert_eq!(rules_of(json!({"file": file})), ["file_undecodable"]);
        assert_eq!(
            rules_of(json!({"url": "ftp://x", "file": {"size": 1, "format": "svg"}})),
            ["file_and_url", "url_not_http"]
        );
    }

    #[test]
    fn metadata_is_measured_in_json_bytes() {
        let ok = json!({"k": "é".repeat(507)}); // {"k":"…"} = 8 + 1014 bytes
        assert_eq!(json_len(&ok), 1022);
        assert!(rules_of(json!({"url": "http://a", "metadata": ok})).is_empty());
        let over = json!({"k": "é".repeat(509)});
        assert_eq!(
            rules_of(json!({"url": "http://a", "metadata": over})),
            ["metadata_too_large"]
        );
    }

    #[test]
    fn catalogue_fills_placeholders() {
        let e = catalogue_error(crate::Rule::MethodNotAllowed, &[("method", "PUT")]);
        assert_eq!((e.code, e.status), (7001, 405));
        assert_eq!(e.message, "Method PUT not available for that URI.");
    }

    #[test]
    fn account_ids_are_32_lowercase_hex() {
        assert!(is_account_id("023e105f4ecef8ad9ca31a8372d0c353"));
        assert!(!is_account_id("023E105F4ECEF8AD9CA31A8372D0C353"));
        assert!(!is_account_id("023e105f4ecef8ad9ca31a8372d0c35"));
        assert!(!is_account_id("../../etc/passwd"));
        assert!(!is_account_id(""));
        // Remembering the last valid id answers it again, and nothing else.
        let valid = "0123456789abcdef0123456789abcdef";
        assert!(is_account_id(valid) && is_account_id(valid));
        assert!(!is_account_id(&valid[1..]));
        assert!(!is_account_id(&format!("{valid}0")));
        assert!(!is_account_id(""));
        assert!(is_account_id("023e105f4ecef8ad9ca31a8372d0c353"));
    }

    #[test]
    fn bounds_are_read_from_the_schema() {
        assert_eq!(max_file_size(), 10 * 1024 * 1024);
    }
}
