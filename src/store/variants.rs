//! The account's variants: what an image's delivery URLs are made of.
//!
//! A new account has the recorded `public` variant (`scale-down`, 1366 × 768, metadata `none`);
//! [`MockImagesBuilder::variants`](crate::MockImagesBuilder::variants) names others, created
//! with the same options.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::Number;

/// A variant definition, in the key order of the recorded answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Variant {
    pub(crate) id: String,
    pub(crate) options: VariantOptions,
    #[serde(rename = "neverRequireSignedURLs")]
    pub(crate) never_require_signed_urls: bool,
}

/// How a variant resizes: checked by `schemas/variant.schema.json` before it gets here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct VariantOptions {
    pub(crate) fit: String,
    pub(crate) width: Number,
    pub(crate) height: Number,
    pub(crate) metadata: String,
}

impl VariantOptions {
    /// The options of the `public` variant of a new account, as recorded.
    fn public() -> VariantOptions {
        VariantOptions {
            fit: "scale-down".to_owned(),
            width: Number::from(1366),
            height: Number::from(768),
            metadata: "none".to_owned(),
        }
    }
}

/// The variants of one mock, in the order they were created.
#[derive(Debug)]
pub(crate) struct Variants {
    all: Mutex<All>,
}

#[derive(Debug)]
struct All {
    variants: Vec<Variant>,
    /// Their names, rebuilt on each change: every answer with an image reads them.
    names: Arc<[String]>,
}

impl All {
    fn changed(&mut self) {
        self.names = self.variants.iter().map(|v| v.id.clone()).collect();
    }
}

/// The variant is not there.
#[derive(Debug)]
pub(crate) struct Missing;

/// Why a variant cannot be created.
#[derive(Debug)]
pub(crate) enum Refused {
    /// A variant of that name exists.
    Exists,
    /// The account has as many variants as it may.
    Limit,
}

impl Variants {
    /// Variants of these names, each with the options of the recorded `public` variant.
    pub(crate) fn new(names: &[String]) -> Variants {
        let variants = names
            .iter()
            .map(|name| Variant {
                id: name.clone(),
                options: VariantOptions::public(),
                never_require_signed_urls: false,
            })
            .collect();
        let mut all = All {
            variants,
            names: Arc::new([]),
        };
        all.changed();
        Variants {
            all: Mutex::new(all),
        }
    }

    fn lock(&self) -> MutexGuard<'_, All> {
        self.all.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every variant.
    pub(crate) fn all(&self) -> Vec<Variant> {
        self.lock().variants.clone()
    }

    /// The names of every variant, in order: an image's `variants` URLs.
    pub(crate) fn names(&self) -> Arc<[String]> {
        Arc::clone(&self.lock().names)
    }

    /// The variant called `id`.
    pub(crate) fn get(&self, id: &str) -> Option<Variant> {
        self.lock().variants.iter().find(|v| v.id == id).cloned()
    }

    /// Creates a variant, unless its name is taken or the account has `limit` already.
    pub(crate) fn create(&self, variant: Variant, limit: usize) -> Result<Variant, Refused> {
        let mut all = self.lock();
        if all.variants.iter().any(|v| v.id == variant.id) {
            return Err(Refused::Exists);
        }
        if all.variants.len() >= limit {
            return Err(Refused::Limit);
        }
        all.variants.push(variant.clone());
        all.changed();
        Ok(variant)
    }

    /// Replaces the options (and, when given, `neverRequireSignedURLs`) of the variant `id`.
    pub(crate) fn update(
        &self,
        id: &str,
        options: VariantOptions,
        never_require_signed_urls: Option<bool>,
    ) -> Result<Variant, Missing> {
        let mut all = self.lock();
        let variant = all
            .variants
            .iter_mut()
            .find(|v| v.id == id)
            .ok_or(Missing)?;
        variant.options = options;
        if let Some(never) = never_require_signed_urls {
            variant.never_require_signed_urls = never;
        }
        Ok(variant.clone())
    }

    /// Deletes the variant `id`.
    pub(crate) fn delete(&self, id: &str) -> Result<(), Missing> {
        let mut all = self.lock();
        let before = all.variants.len();
        all.variants.retain(|v| v.id != id);
        if all.variants.len() == before {
            return Err(Missing);
        }
        all.changed();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(id: &str) -> Variant {
        Variant {
            id: id.to_owned(),
            options: VariantOptions::public(),
            never_require_signed_urls: false,
        }
    }

    #[test]
    fn create_get_update_delete_with_duplicates_and_the_limit_refused() {
        let variants = Variants::new(&["public".to_owned()]);
        assert_eq!(*variants.names(), ["public".to_owned()]);
        assert!(matches!(
            variants.create(named("public"), 100),
            Err(Refused::Exists)
        ));
        variants.create(named("thumb"), 100).unwrap();
        assert!(matches!(
            variants.create(named("hero"), 2),
            Err(Refused::Limit)
        ));
        let mut options = VariantOptions::public();
        options.fit = "cover".to_owned();
        let updated = variants
            .update("thumb", options.clone(), Some(true))
            .unwrap();
        assert_eq!(
            (
                updated.options.fit.as_str(),
                updated.never_require_signed_urls
            ),
            ("cover", true)
        );
        let kept = variants
            .update("thumb", VariantOptions::public(), None)
            .unwrap();
        assert!(kept.never_require_signed_urls, "not given: unchanged");
        assert!(variants.update("nope", options, None).is_err());
        variants.delete("public").unwrap();
        assert!(variants.delete("public").is_err());
        assert_eq!(*variants.names(), ["thumb".to_owned()]);
        assert_eq!(variants.get("thumb").unwrap().options.fit, "scale-down");
    }

    #[test]
    fn the_public_variant_serialises_as_recorded() {
        let json = serde_json::to_string(&named("public")).unwrap();
        assert_eq!(
            json,
            r#"{"id":"public","options":{"fit":"scale-down","width":1366,"height":768,"metadata":"none"},"neverRequireSignedURLs":false}"#
        );
    }
}
