//! The queries of the two image lists: `GET /accounts/{account_id}/images/v1` (pages) and
//! `GET /accounts/{account_id}/images/v2` (continuation tokens, metadata filters), valid and
//! invalid. Every bound, enum, operator list and number syntax is read from
//! `schemas/list-v1.schema.json` and `schemas/list-v2.schema.json`.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::Value;

use super::query::{render, style, Param, Style};
use super::rule::InvalidRule;
use super::values::{margin, text};
use crate::params::FilterOp;
use crate::schema::{Schema, LIST_V1, LIST_V2};
use crate::store::Cursor;

// ---- what the schemas state ----------------------------------------------------------------

fn page_min() -> u64 {
    LIST_V1.bound("list_v1_page_invalid", "/minimum")
}

/// The bounds of `per_page` in `schema`, whose rule for it is `rule`.
fn per_page_bounds(schema: &Schema, rule: &str) -> (u64, u64) {
    (
        schema.bound(rule, "/minimum"),
        schema.bound(rule, "/maximum"),
    )
}

fn v1_per_page() -> (u64, u64) {
    per_page_bounds(&LIST_V1, "list_v1_per_page_invalid")
}

fn v2_per_page() -> (u64, u64) {
    per_page_bounds(&LIST_V2, "list_v2_per_page_invalid")
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("not a string or a list of strings: {other}"),
    }
}

fn sort_orders() -> Vec<String> {
    strings(LIST_V2.keyword("list_v2_sort_order_invalid", "/enum"))
}

fn max_filters() -> usize {
    LIST_V2.bound("list_v2_too_many_filters", "/maxItems") as usize
}

fn max_depth() -> usize {
    LIST_V2.bound("list_v2_filter_too_deep", "/properties/field/maxItems") as usize
}

fn max_values() -> usize {
    LIST_V2.bound(
        "list_v2_filter_too_many_values",
        "/properties/value/maxItems",
    ) as usize
}

fn operators() -> Vec<String> {
    strings(LIST_V2.keyword("list_v2_filter_operator_unsupported", "/properties/op/enum"))
}

fn numeric_operators() -> Vec<String> {
    strings(LIST_V2.keyword("list_v2_filter_value_not_number", "/if/properties/op/enum"))
}

fn boolean_operator() -> String {
    strings(LIST_V2.keyword(
        "list_v2_filter_value_not_boolean",
        "/if/properties/op/const",
    ))
    .remove(0)
}

fn booleans() -> Vec<String> {
    strings(LIST_V2.keyword(
        "list_v2_filter_value_not_boolean",
        "/then/properties/value/enum",
    ))
}

/// Whether `op` takes a `|`-separated list: what the mock makes of it (the schema says which
/// operators exist, not which take lists).
fn is_list(op: &str) -> bool {
    FilterOp::parse(op).is_some_and(FilterOp::is_list)
}

/// Numbers as the schema's number pattern spells them.
fn number() -> impl Strategy<Value = String> {
    let pattern = LIST_V2
        .keyword(
            "list_v2_filter_value_not_number",
            "/then/properties/value/pattern",
        )
        .as_str()
        .expect("the number pattern is a string");
    let pattern = pattern.trim_start_matches('^').trim_end_matches('$');
    proptest::string::string_regex(pattern)
        .unwrap_or_else(|e| panic!("the number pattern cannot be generated: {e}"))
}

/// Texts that are no number by the schema's pattern: near misses, and texts without a digit.
fn not_a_number() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "", "high", "1,5", "1.", ".5", "01", "+1", "1e", "- 1", "NaN", "Infinity", "0x1F",
            "1_000", "١", "−1", "1 ", "true",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z ]{1,8}",
    ]
}

// ---- integers ------------------------------------------------------------------------------

/// An integer parameter as a client may write it: mostly plain, sometimes with leading zeros.
fn integer_text(n: u64) -> impl Strategy<Value = String> {
    prop_oneof![4 => Just(n.to_string()), 1 => (1..3usize).prop_map(move |zeros| {
        format!("{}{n}", "0".repeat(zeros))
    })]
}

/// An integer in `min..=max`, each bound as often as the values between.
fn integer_in(min: u64, max: u64) -> impl Strategy<Value = String> {
    prop_oneof![Just(min), Just(max), min..=max].prop_flat_map(integer_text)
}

/// Texts the mock does not read as an integer.
fn not_an_integer() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "", "abc", "1.5", "1e3", "+1", " 1", "1 ", "0x10", "one", "١", "−1", "-", "1,000",
            "10abc", "ten",
        ])
        .prop_map(str::to_owned),
        text(1..=8, "0123456789"),
    ]
}

/// Texts of an integer parameter out of `min..=max` (`max` `None`: no maximum), or no integer.
fn integer_out_of(min: u64, max: Option<u64>) -> BoxedStrategy<String> {
    let below = margin(1000).prop_map(move |under| (i128::from(min) - under as i128).to_string());
    let mut arms = vec![(2, below.boxed()), (2, not_an_integer().boxed())];
    if let Some(max) = max {
        let above = margin(1_000_000).prop_flat_map(move |over| integer_text(max + over as u64));
        arms.push((2, above.boxed()));
    }
    Union::new_weighted(arms).boxed()
}

// ---- v1 ------------------------------------------------------------------------------------

/// A v1 query being built.
#[derive(Debug, Clone)]
struct V1Draft {
    page: Option<String>,
    per_page: Option<String>,
    creator: Option<String>,
    unknown: Vec<(String, String)>,
    style: Style,
    order: Index,
}

impl V1Draft {
    fn render(&self) -> String {
        let style = self.style;
        let mut params: Vec<Param> = [
            ("page", &self.page),
            ("per_page", &self.per_page),
            ("creator", &self.creator),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some(Param::plain(style, key, value.clone()?)))
        .chain(
            self.unknown
                .iter()
                .map(|(key, value)| Param::plain(style, key, value.clone())),
        )
        .collect();
        rotate(&mut params, self.order);
        render(style, &params)
    }
}

fn rotate<T>(items: &mut [T], by: Index) {
    if !items.is_empty() {
        let len = items.len();
        items.rotate_left(by.index(len));
    }
}

/// A `creator` parameter: any text, the empty string (images without a creator) included.
fn creator() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just(String::new()), 4 => text(1..=24, "")]
}

/// Parameters `schema` does not name, which the mock ignores; `names` are the ones to use.
fn unknown(names: Vec<&'static str>) -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(
        (select(names), text(0..=8, "")).prop_map(|(k, v)| (k.to_owned(), v)),
        0..=1,
    )
}

fn v1_draft() -> impl Strategy<Value = V1Draft> {
    let (min, max) = v1_per_page();
    let page = prop_oneof![
        8 => integer_in(page_min(), page_min() + 100),
        1 => Just("99999999999999999999999".to_owned()),
    ];
    (
        proptest::option::of(page),
        proptest::option::of(integer_in(min, max)),
        proptest::option::of(creator()),
        // `meta.`, `sort_order` and `continuation_token` belong to the v2 list only.
        unknown(vec![
            "sort_order",
            "continuation_token",
            "meta.a[eq]",
            "filters",
            "x",
        ]),
        style(),
        any::<Index>(),
    )
        .prop_map(|(page, per_page, creator, unknown, style, order)| V1Draft {
            page,
            per_page,
            creator,
            unknown,
            style,
            order,
        })
}

/// Queries of the v1 list (`GET .../images/v1`) the API accepts, without the `?` (possibly
/// empty): any subset of `page`, `per_page` and `creator` in any order, integers within the
/// schema's bounds (each bound as often as the values between, sometimes with leading zeros; a
/// page far past the end now and then), now and then a parameter the API ignores. Spaces are
/// written `+` or `%20`.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(32), |(query in strategies::valid_list_v1_query())| {
///     prop_assert!(check_request(Operation::ListV1, &Request::query(&query)).is_ok());
/// });
/// ```
pub fn valid_list_v1_query() -> impl Strategy<Value = String> {
    v1_draft().prop_map(|draft| draft.render())
}

/// Queries of the v1 list the API refuses, each labelled with the one rule it breaks (one of
/// [`InvalidRule::LIST_V1`]); apart from that rule the query is valid.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(32), |((query, rule) in strategies::invalid_list_v1_query())| {
///     let errors = check_request(Operation::ListV1, &Request::query(&query)).unwrap_err();
///     prop_assert_eq!(errors.len(), 1);
///     prop_assert_eq!(errors[0].rule.as_str(), rule.name());
/// });
/// ```
pub fn invalid_list_v1_query() -> impl Strategy<Value = (String, InvalidRule)> {
    labelled(InvalidRule::LIST_V1, list_v1_query_breaking)
}

/// Queries of the v1 list that break `rule` and nothing else (see [`invalid_list_v1_query`]):
/// a value below the schema's minimum or above its maximum, by the smallest margin as often as
/// by a larger one, or no integer at all.
///
/// # Panics
/// If `rule` is not a rule of the v1 list (not in [`InvalidRule::LIST_V1`]).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::strategies::{list_v1_query_breaking, InvalidRule};
/// use cloudflare_images_mock::Operation;
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let query = list_v1_query_breaking(InvalidRule::ListV1PageInvalid)
///     .new_tree(&mut TestRunner::default())
///     .unwrap()
///     .current();
/// let errors = check_request(Operation::ListV1, &Request::query(&query)).unwrap_err();
/// assert_eq!(errors[0].rule, "list_v1_page_invalid");
/// ```
pub fn list_v1_query_breaking(rule: InvalidRule) -> BoxedStrategy<String> {
    let (min, max) = v1_per_page();
    let bad = match rule {
        InvalidRule::ListV1PageInvalid => integer_out_of(page_min(), None),
        InvalidRule::ListV1PerPageInvalid => integer_out_of(min, Some(max)),
        other => panic!(
            "{other:?} is a rule of {}, not of the v1 list",
            other.operation()
        ),
    };
    (v1_draft(), bad)
        .prop_map(move |(mut draft, bad)| {
            match rule {
                InvalidRule::ListV1PageInvalid => draft.page = Some(bad),
                _ => draft.per_page = Some(bad),
            }
            draft.render()
        })
        .boxed()
}

/// Each of `rules`, broken by `breaking(rule)`, with its label.
fn labelled(
    rules: &'static [InvalidRule],
    breaking: fn(InvalidRule) -> BoxedStrategy<String>,
) -> impl Strategy<Value = (String, InvalidRule)> {
    Union::new(
        rules
            .iter()
            .map(move |&rule| breaking(rule).prop_map(move |query| (query, rule)).boxed()),
    )
}

// ---- v2 ------------------------------------------------------------------------------------

/// A metadata filter `meta.<field>[<op>]=<value>`; `op` `None` is a filter without brackets.
#[derive(Debug, Clone)]
struct Filter {
    field: Vec<String>,
    op: Option<String>,
    value: String,
}

impl Filter {
    fn param(&self, style: Style) -> Param {
        let field: Vec<String> = self.field.iter().map(|s| style.encode(s)).collect();
        let mut key = format!("meta.{}", field.join("."));
        if let Some(op) = &self.op {
            key.push_str(&style.bracket('['));
            key.push_str(&style.encode(op));
            key.push_str(&style.bracket(']'));
        }
        Param {
            key,
            value: self.value.clone(),
        }
    }
}

/// A field path of `depth` segments, none empty (and none holding `.`, which separates them, or
/// a bracket).
fn field(depth: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(text(1..=8, ".[]"), depth)
}

/// A value `op` takes: a number for a numeric operator, a boolean for the boolean one, any text
/// otherwise; a list of 1 to `values` of them for a list operator.
fn value_for(op: &str, values: usize) -> BoxedStrategy<String> {
    let item = if numeric_operators().iter().any(|n| n == op) {
        number().boxed()
    } else if op == boolean_operator() {
        select(booleans()).boxed()
    } else if is_list(op) {
        text(0..=12, "|").boxed()
    } else {
        text(0..=12, "").boxed()
    };
    if is_list(op) {
        proptest::collection::vec(item, 1..=values)
            .prop_map(|items| items.join("|"))
            .boxed()
    } else {
        item
    }
}

/// A filter the schema accepts.
fn valid_filter() -> impl Strategy<Value = Filter> {
    (field(1..=max_depth()), select(operators())).prop_flat_map(|(field, op)| {
        value_for(&op, max_values()).prop_map(move |value| Filter {
            field: field.clone(),
            op: Some(op.clone()),
            value,
        })
    })
}

/// A v2 query being built.
#[derive(Debug, Clone)]
struct V2Draft {
    per_page: Option<String>,
    sort_order: Option<String>,
    creator: Option<String>,
    continuation_token: Option<String>,
    unknown: Vec<(String, String)>,
    filters: Vec<Filter>,
    style: Style,
    order: Index,
}

impl V2Draft {
    fn render(&self) -> String {
        let style = self.style;
        let mut params: Vec<Param> = [
            ("per_page", &self.per_page),
            ("sort_order", &self.sort_order),
            ("creator", &self.creator),
            ("continuation_token", &self.continuation_token),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some(Param::plain(style, key, value.clone()?)))
        .chain(
            self.unknown
                .iter()
                .map(|(key, value)| Param::plain(style, key, value.clone())),
        )
        .chain(self.filters.iter().map(|filter| filter.param(style)))
        .collect();
        rotate(&mut params, self.order);
        render(style, &params)
    }

    /// `self` with `filter` among its filters, at `at`, keeping their number within the
    /// schema's maximum.
    fn with_filter(mut self, filter: Filter, at: Index) -> V2Draft {
        self.filters.truncate(max_filters() - 1);
        let at = at.index(self.filters.len() + 1);
        self.filters.insert(at, filter);
        self
    }
}

/// A continuation token the mock could have issued (the images after it, if any, are listed).
fn issued_token() -> impl Strategy<Value = String> {
    (0..4_000_000_000_000i64, text(1..=16, "")).prop_map(|(uploaded_ms, id)| {
        Cursor {
            uploaded_ms,
            id: id.into(),
        }
        .token()
    })
}

fn v2_draft() -> impl Strategy<Value = V2Draft> {
    let (min, max) = v2_per_page();
    (
        proptest::option::of(integer_in(min, max)),
        proptest::option::of(select(sort_orders())),
        proptest::option::of(creator()),
        prop_oneof![6 => Just(None), 1 => issued_token().prop_map(Some)],
        // `page` belongs to the v1 list only; `filters` is never read from a parameter.
        unknown(vec!["page", "filters", "x"]),
        proptest::collection::vec(valid_filter(), 0..=max_filters()),
        style(),
        any::<Index>(),
    )
        .prop_map(
            |(
                per_page,
                sort_order,
                creator,
                continuation_token,
                unknown,
                filters,
                style,
                order,
            )| {
                V2Draft {
                    per_page,
                    sort_order,
                    creator,
                    continuation_token,
                    unknown,
                    filters,
                    style,
                    order,
                }
            },
        )
}

/// Queries of the v2 list (`GET .../images/v2`) the API accepts, without the `?` (possibly
/// empty): any subset of `per_page`, `sort_order`, `creator` and (rarely) a
/// `continuation_token` the mock could have issued, and up to the schema's maximum of metadata
/// filters: every operator of the schema, fields nested up to the schema's depth, numbers as the
/// schema's pattern spells them for the numeric operators, the schema's booleans for
/// `eq:boolean`, up to the schema's number of values for the list operators. Brackets are
/// sometimes percent-encoded and spaces written `+` or `%20`; the parameters come in any order.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(32), |(query in strategies::valid_list_v2_query())| {
///     prop_assert!(check_request(Operation::ListV2, &Request::query(&query)).is_ok());
/// });
/// ```
pub fn valid_list_v2_query() -> impl Strategy<Value = String> {
    v2_draft().prop_map(|draft| draft.render())
}

/// Queries of the v2 list the API refuses, each labelled with the one rule it breaks (one of
/// [`InvalidRule::LIST_V2`]); apart from that rule the query is valid.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(32), |((query, rule) in strategies::invalid_list_v2_query())| {
///     let errors = check_request(Operation::ListV2, &Request::query(&query)).unwrap_err();
///     prop_assert_eq!(errors.len(), 1);
///     prop_assert_eq!(errors[0].rule.as_str(), rule.name());
/// });
/// ```
pub fn invalid_list_v2_query() -> impl Strategy<Value = (String, InvalidRule)> {
    labelled(InvalidRule::LIST_V2, list_v2_query_breaking)
}

/// Queries of the v2 list that break `rule` and nothing else (see [`invalid_list_v2_query`]).
///
/// # Panics
/// If `rule` is not a rule of the v2 list (not in [`InvalidRule::LIST_V2`]).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::strategies::{list_v2_query_breaking, InvalidRule};
/// use cloudflare_images_mock::Operation;
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let query = list_v2_query_breaking(InvalidRule::ListV2TooManyFilters)
///     .new_tree(&mut TestRunner::default())
///     .unwrap()
///     .current();
/// let errors = check_request(Operation::ListV2, &Request::query(&query)).unwrap_err();
/// assert_eq!(errors[0].rule, "list_v2_too_many_filters");
/// ```
pub fn list_v2_query_breaking(rule: InvalidRule) -> BoxedStrategy<String> {
    let with_filter = |filters: BoxedStrategy<Filter>| {
        (v2_draft(), filters, any::<Index>())
            .prop_map(|(draft, filter, at)| draft.with_filter(filter, at).render())
            .boxed()
    };
    let any_op = || select(operators());
    match rule {
        InvalidRule::ListV2PerPageInvalid => {
            let (min, max) = v2_per_page();
            (v2_draft(), integer_out_of(min, Some(max)))
                .prop_map(|(mut draft, bad)| {
                    draft.per_page = Some(bad);
                    draft.render()
                })
                .boxed()
        }
        InvalidRule::ListV2SortOrderInvalid => {
            let near_misses = select(vec!["ASC", "Desc", "", "ascending", "1", " asc", "desc "])
                .prop_map(str::to_owned);
            let bad = prop_oneof![near_misses, text(0..=8, "")]
                .prop_filter("an order of the schema", |order| {
                    !sort_orders().contains(order)
                });
            (v2_draft(), bad)
                .prop_map(|(mut draft, bad)| {
                    draft.sort_order = Some(bad);
                    draft.render()
                })
                .boxed()
        }
        InvalidRule::ListV2TooManyFilters => (v2_draft(), margin(16))
            .prop_flat_map(|(draft, over)| {
                proptest::collection::vec(valid_filter(), max_filters() + over).prop_map(
                    move |filters| {
                        let mut draft = draft.clone();
                        draft.filters = filters;
                        draft.render()
                    },
                )
            })
            .boxed(),
        InvalidRule::ListV2FilterOperatorUnsupported => {
            let near_misses = select(vec![
                "not-eq",
                "ne",
                "",
                "EQ",
                "Eq",
                "eq:text",
                "gt:string",
                "in:boolean",
                "like",
                "eq:",
                ":number",
                "=",
                "eq:number:number",
                "gte ",
                "contains",
            ])
            .prop_map(|op| Some(op.to_owned()));
            let op = prop_oneof![
                4 => near_misses,
                2 => text(0..=8, "[]").prop_map(Some),
                1 => Just(None),
            ]
            .prop_filter("an operator of the schema", |op| {
                op.as_ref().is_none_or(|op| !operators().contains(op))
            });
            with_filter(
                (field(1..=max_depth()), op, text(0..=12, "|"))
                    .prop_map(|(field, op, value)| Filter { field, op, value })
                    .boxed(),
            )
        }
        InvalidRule::ListV2FilterTooDeep => with_filter(
            (
                margin(max_depth() * 2)
                    .prop_flat_map(|over| field(max_depth() + over..=max_depth() + over)),
                any_op(),
            )
                .prop_flat_map(|(field, op)| {
                    value_for(&op, max_values()).prop_map(move |value| Filter {
                        field: field.clone(),
                        op: Some(op.clone()),
                        value,
                    })
                })
                .boxed(),
        ),
        InvalidRule::ListV2FilterFieldEmpty => with_filter(
            (field(0..=max_depth() - 1), any::<Index>(), any_op())
                .prop_flat_map(|(mut field, at, op)| {
                    let at = at.index(field.len() + 1);
                    field.insert(at, String::new());
                    value_for(&op, max_values()).prop_map(move |value| Filter {
                        field: field.clone(),
                        op: Some(op.clone()),
                        value,
                    })
                })
                .boxed(),
        ),
        InvalidRule::ListV2FilterTooManyValues => {
            let list_ops: Vec<String> = operators().into_iter().filter(|op| is_list(op)).collect();
            with_filter(
                (field(1..=max_depth()), select(list_ops), margin(32))
                    .prop_flat_map(|(field, op, over)| {
                        let item = if numeric_operators().contains(&op) {
                            number().boxed()
                        } else {
                            text(0..=6, "|").boxed()
                        };
                        proptest::collection::vec(item, max_values() + over).prop_map(
                            move |items| Filter {
                                field: field.clone(),
                                op: Some(op.clone()),
                                value: items.join("|"),
                            },
                        )
                    })
                    .boxed(),
            )
        }
        InvalidRule::ListV2FilterValueNotNumber => with_filter(
            (field(1..=max_depth()), select(numeric_operators()))
                .prop_flat_map(|(field, op)| {
                    let values = if is_list(&op) {
                        (
                            proptest::collection::vec(number(), 0..max_values()),
                            not_a_number(),
                            any::<Index>(),
                        )
                            .prop_map(|(mut items, bad, at)| {
                                let at = at.index(items.len() + 1);
                                items.insert(at, bad);
                                items.join("|")
                            })
                            .boxed()
                    } else {
                        not_a_number().boxed()
                    };
                    values.prop_map(move |value| Filter {
                        field: field.clone(),
                        op: Some(op.clone()),
                        value,
                    })
                })
                .boxed(),
        ),
        InvalidRule::ListV2FilterValueNotBoolean => {
            let near_misses = select(vec!["True", "FALSE", "1", "0", "yes", "", "t", " true"])
                .prop_map(str::to_owned);
            let bad = prop_oneof![near_misses, text(0..=8, "")]
                .prop_filter("a boolean of the schema", |value| {
                    !booleans().contains(value)
                });
            with_filter(
                (field(1..=max_depth()), bad)
                    .prop_map(|(field, value)| Filter {
                        field,
                        op: Some(boolean_operator()),
                        value,
                    })
                    .boxed(),
            )
        }
        InvalidRule::ListV2ContinuationTokenNotIssued => {
            // A token holding a character that is no hex digit, or of an odd number of them, or
            // whose text has no `:`: the mock issues none of these.
            let hex = |text: String| text.bytes().map(|b| format!("{b:02x}")).collect::<String>();
            let bad = prop_oneof![
                Just(String::new()),
                text(1..=24, "0123456789abcdefABCDEF").prop_map(|t| format!("{t}0")),
                text(0..=12, ":").prop_map(move |t| format!("{}0", hex(t))),
                text(0..=12, ":").prop_map(move |t| hex(t) + "zz"),
            ];
            (v2_draft(), bad)
                .prop_map(|(mut draft, bad)| {
                    draft.continuation_token = Some(bad);
                    draft.render()
                })
                .boxed()
        }
        other => panic!(
            "{other:?} is a rule of {}, not of the v2 list",
            other.operation()
        ),
    }
}
