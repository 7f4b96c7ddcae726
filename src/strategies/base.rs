//! The draft every invalid upload starts from, shared by the generators of each kind of rule
//! (`invalid` for the form's fields, `files` for the file, `transport` for the body), so that
//! none of them depends on another.

use proptest::prelude::*;

use super::draft::Draft;
use super::valid::valid_draft;

/// The draft every invalid value starts from: a valid upload, without a file at the size limit.
pub(super) fn base() -> impl Strategy<Value = Draft> {
    valid_draft(false)
}
