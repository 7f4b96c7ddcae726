//! TEMPORARY stub (replaced by the schema-driven parser of the `params` branch).
#![allow(dead_code)]
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::schema::catalogue_error;

pub(crate) struct ImageUpdate {
    pub(crate) creator: Option<String>,
    pub(crate) metadata: Option<Map<String, Value>>,
    pub(crate) require_signed_urls: Option<bool>,
}

pub(crate) fn image_update(body: &[u8]) -> Result<ImageUpdate, Vec<ApiError>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        vec![catalogue_error(
            "body_unreadable",
            &[("detail", &e.to_string())],
        )]
    })?;
    Ok(ImageUpdate {
        creator: value
            .get("creator")
            .and_then(Value::as_str)
            .map(str::to_owned),
        metadata: value.get("metadata").and_then(Value::as_object).cloned(),
        require_signed_urls: value.get("requireSignedURLs").and_then(Value::as_bool),
    })
}

pub(crate) struct ListV1 {
    pub(crate) page: u64,
    pub(crate) per_page: u64,
    pub(crate) creator: Option<String>,
}

fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect()
}

pub(crate) fn list_v1(query: Option<&str>) -> Result<ListV1, Vec<ApiError>> {
    let mut list = ListV1 {
        page: 1,
        per_page: 1000,
        creator: None,
    };
    for (k, v) in pairs(query) {
        match k.as_str() {
            "page" => list.page = v.parse().unwrap_or(1),
            "per_page" => list.per_page = v.parse().unwrap_or(1000),
            "creator" => list.creator = Some(v),
            _ => {}
        }
    }
    Ok(list)
}

pub(crate) enum SortOrder {
    Asc,
    Desc,
}

pub(crate) struct MetaFilter;

impl MetaFilter {
    pub(crate) fn matches(&self, _meta: &Map<String, Value>) -> bool {
        true
    }
}

pub(crate) struct ListV2 {
    pub(crate) continuation_token: Option<String>,
    pub(crate) per_page: u64,
    pub(crate) sort_order: SortOrder,
    pub(crate) creator: Option<String>,
    pub(crate) filters: Vec<MetaFilter>,
}

pub(crate) fn list_v2(query: Option<&str>) -> Result<ListV2, Vec<ApiError>> {
    let mut list = ListV2 {
        continuation_token: None,
        per_page: 1000,
        sort_order: SortOrder::Desc,
        creator: None,
        filters: Vec::new(),
    };
    for (k, v) in pairs(query) {
        match k.as_str() {
            "per_page" => list.per_page = v.parse().unwrap_or(1000),
            "continuation_token" => list.continuation_token = Some(v),
            "sort_order" if v == "asc" => list.sort_order = SortOrder::Asc,
            "creator" => list.creator = Some(v),
            _ => {}
        }
    }
    Ok(list)
}
