//! The mock's domain state: the images it stores and their bytes.
//!
//! - `images`: every image record, in upload order and by upload time, with its custom id.
//! - `keys`: the signing keys of delivery URLs.
//! - `variants`: the account's variants.
//! - `bytes`: the bytes of each image, in memory up to a budget and in a temporary directory
//!   past it, so that nothing uploaded is lost and memory stays bounded.

pub(crate) mod bytes;
mod images;
mod keys;
mod variants;

pub(crate) use images::{Cursor, DraftRefused, Store};
pub use images::{Storage, StoredImage};
pub(crate) use keys::{Key, Keys};
pub(crate) use variants::{Refused, Variant, VariantOptions, Variants};
