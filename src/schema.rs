//! The rules of an upload, read from `schemas/`: compiled once per process, applied with the
//! `jsonschema` crate, and turned into the errors the real API answers.
//!
//! Every rule of the upload lives in `schemas/upload.schema.json` next to its Cloudflare error
//! (`x-cloudflare-error`); errors that no rule of the form produces (authentication, routing,
//! transport, duplicates) live in `schemas/errors.json`. Nothing here restates a rule: the code
//! only finds, for each validation error, the nearest enclosing annotation.

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonschema::{Keyword, PatternOptions, ValidationError, Validator};
use serde_json::{Map, Value};

use crate::error::ApiError;

const UPLOAD_SCHEMA: &str = include_str!("../schemas/upload.schema.json");
const ERRORS: &str = include_str!("../schemas/errors.json");

/// The annotation key that carries a rule's error.
const ANNOTATION: &str = "x-cloudflare-error";

/// A rule of the upload schema with the error it produces.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) name: String,
    pub(crate) code: u32,
    pub(crate) status: u16,
    /// The message with its `{pointer}` placeholders already filled from the schema.
    pub(crate) message: String,
    /// Where the error points when the instance path does not say (rules on the whole form).
    pub(crate) pointer: Option<String>,
    pub(crate) confirmed: bool,
    /// The JSON pointer of the annotated subschema.
    pub(crate) schema_path: String,
    /// Position in the schema, so errors come out in the order the schema lists its rules.
    pub(crate) order: usize,
}

pub(crate) struct UploadSchema {
    validator: Validator,
    account_id: Validator,
    /// Annotated subschemas by JSON pointer.
    rules: HashMap<String, Rule>,
    document: Value,
}

static SCHEMA: LazyLock<UploadSchema> = LazyLock::new(|| {
    let document: Value = serde_json::from_str(UPLOAD_SCHEMA)
        .unwrap_or_else(|e| panic!("schemas/upload.schema.json is not JSON: {e}"));
    let validator = compile(&document, "schemas/upload.schema.json");
    let account_schema = document
        .pointer("/$defs/account_id")
        .expect("schemas/upload.schema.json has no $defs/account_id")
        .clone();
    let account_id = compile(
        &account_schema,
        "schemas/upload.schema.json#/$defs/account_id",
    );
    let mut rules = HashMap::new();
    collect_rules(&document, String::new(), &mut rules);
    UploadSchema {
        validator,
        account_id,
        rules,
        document,
    }
});

fn compile(schema: &Value, name: &str) -> Validator {
    jsonschema::options()
        // The regex crate matches in linear time: no pattern can be made to backtrack for ever.
        .with_pattern_options(PatternOptions::regex())
        .with_keyword("x-max-json-bytes", max_json_bytes)
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

fn collect_rules(node: &Value, path: String, rules: &mut HashMap<String, Rule>) {
    match node {
        Value::Object(map) => {
            if let Some(annotation) = map.get(ANNOTATION) {
                let order = rules.len();
                rules.insert(path.clone(), rule_from(annotation, node, &path, order));
            }
            for (key, child) in map {
                if key != ANNOTATION {
                    collect_rules(child, format!("{path}/{}", escape(key)), rules);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_rules(child, format!("{path}/{i}"), rules);
            }
        }
        _ => {}
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn rule_from(annotation: &Value, subschema: &Value, path: &str, order: usize) -> Rule {
    let field = |key: &str| {
        annotation
            .get(key)
            .unwrap_or_else(|| panic!("{ANNOTATION} at {path} has no {key}"))
    };
    let template = field("message").as_str().expect("message is a string");
    Rule {
        name: field("rule").as_str().expect("rule is a string").to_owned(),
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
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        out.push_str(&rest[..start]);
        match subschema.pointer(&format!("/{name}")) {
            Some(Value::String(s)) if !name.starts_with('$') => out.push_str(s),
            Some(value) if !name.starts_with('$') => out.push_str(&value.to_string()),
            _ => out.push_str(&rest[start..=start + len]),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

impl UploadSchema {
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
}

/// Validates an upload instance; every broken rule once, in the order the schema lists them.
pub(crate) fn validate(instance: &Value) -> Vec<ApiError> {
    let schema = &*SCHEMA;
    // Most uploads are valid: the yes/no check builds no error values and is much cheaper.
    if schema.validator.is_valid(instance) {
        return Vec::new();
    }
    let mut found: Vec<(&Rule, String)> = Vec::new();
    for error in schema.validator.iter_errors(instance) {
        let schema_path = error.schema_path().as_str();
        let rule = schema.rule_for(schema_path).unwrap_or_else(|| {
            panic!(
                "schemas/upload.schema.json: the rule at {schema_path} has no {ANNOTATION} \
                 (error: {error})"
            )
        });
        if found
            .iter()
            .any(|(seen, _)| seen.schema_path == rule.schema_path)
        {
            continue;
        }
        let field = error
            .instance_path()
            .as_str()
            .split('/')
            .nth(1)
            .unwrap_or("")
            .to_owned();
        found.push((rule, field));
    }
    found.sort_by_key(|(rule, _)| rule.order);
    found
        .into_iter()
        .map(|(rule, field)| to_api_error(rule, &field))
        .collect()
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
        rule: rule.name.clone(),
        pointer,
        schema_path: Some(rule.schema_path.clone()),
        confirmed: rule.confirmed,
    }
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
    let valid = SCHEMA
        .account_id
        .is_valid(&Value::String(account_id.to_owned()));
    if valid {
        LAST_VALID.with_borrow_mut(|last| account_id.clone_into(last));
    }
    valid
}

/// A number the schema states in the subschema of `rule`, at `pointer` below it (e.g. the file
/// size limit), for the code that must act on it before there is an instance to validate (the
/// streaming reader) and for generators.
pub(crate) fn bound(rule: &str, pointer: &str) -> u64 {
    keyword(rule, pointer).as_u64().unwrap_or_else(|| {
        panic!("schemas/upload.schema.json: rule {rule:?} has no number at {pointer}")
    })
}

/// Any value the schema states in the subschema of `rule`, at `pointer` below it (a number, a
/// pattern, an enum), for code that must derive what it does from the schema.
pub(crate) fn keyword(rule: &str, pointer: &str) -> &'static Value {
    let schema = &*SCHEMA;
    let rule_path = schema
        .rules
        .values()
        .find(|r| r.name == rule)
        .map(|r| r.schema_path.as_str())
        .unwrap_or_else(|| panic!("schemas/upload.schema.json has no rule {rule:?}"));
    schema
        .document
        .pointer(&format!("{rule_path}{pointer}"))
        .unwrap_or_else(|| {
            panic!("schemas/upload.schema.json: rule {rule:?} has nothing at {pointer}")
        })
}

/// The largest file the API takes, in bytes.
pub(crate) fn max_file_size() -> u64 {
    bound("file_too_large", "/properties/size/maximum")
}

/// Every rule of the upload schema, in schema order.
#[cfg(any(test, feature = "proptest"))]
pub(crate) fn rules() -> Vec<Rule> {
    let mut rules: Vec<Rule> = SCHEMA.rules.values().cloned().collect();
    rules.sort_by_key(|rule| rule.order);
    rules
}

/// An error of `schemas/errors.json`, its `{name}` placeholders filled from `args`.
pub(crate) fn catalogue_error(name: &str, args: &[(&str, &str)]) -> ApiError {
    static CATALOGUE: LazyLock<Value> = LazyLock::new(|| {
        serde_json::from_str(ERRORS).unwrap_or_else(|e| panic!("schemas/errors.json: {e}"))
    });
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
    ApiError {
        code: entry["code"].as_u64().expect("code is a number") as u32,
        status: entry["status"].as_u64().expect("status is a number") as u16,
        message,
        rule: name.to_owned(),
        pointer: None,
        schema_path: None,
        confirmed: entry["confirmed"].as_bool().unwrap_or(false),
    }
}

/// Compiles the schemas now, so the first request does not pay for it.
pub(crate) fn warm_up() {
    LazyLock::force(&SCHEMA);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules_of(instance: Value) -> Vec<String> {
        validate(&instance).into_iter().map(|e| e.rule).collect()
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

    #[test]
    fn messages_take_their_limits_from_the_schema() {
        let errors = validate(&json!({"url": "https://a.b/c", "creator": "x".repeat(1025)}));
        assert_eq!(
            errors[0].message,
            "creator: must be at most 1024 characters"
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
        let e = catalogue_error("method_not_allowed", &[("method", "PUT")]);
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

/// The 5410 refusal of making a custom-id image private: the upload schema's own rule
/// (`id_with_signed_urls`), so its text lives in one place.
pub(crate) fn custom_id_private_error() -> ApiError {
    let rule = SCHEMA
        .rules
        .values()
        .find(|r| r.name == "id_with_signed_urls")
        .expect("schemas/upload.schema.json has the rule id_with_signed_urls");
    to_api_error(rule, "requireSignedURLs")
}
