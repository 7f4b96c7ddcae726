//! What comes in with an upload, before the store: the multipart stream read under limits
//! (`multipart`), the file received while it arrives (`file`), the image probed from its bytes
//! (`image`), a `url` fetched (`fetch`), and the form turned into the instance the upload
//! schema checks (`form`).

pub(crate) mod fetch;
pub(crate) mod file;
pub(crate) mod form;
pub(crate) mod image;
pub(crate) mod multipart;
