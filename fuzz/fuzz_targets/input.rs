//! How a fuzz input becomes a request checked by the mock's pipeline. Shared by the fuzz target
//! and by the test that replays the corpus in the normal suite (`tests/it/fuzz_corpus.rs`).
//!
//! The first byte picks how the rest is read:
//! - even: `<content type>\n<body>`, both arbitrary: hostile headers and bodies;
//! - odd: a list of parts separated by `\xff`, each `<name>\xfe<filename>\xfe<content>`
//!   (filename empty for a text part), framed into a well-formed multipart body, so the fuzzer
//!   spends its time in the form, metadata, image and schema code rather than in framing.

use cloudflare_images_mock::conformance::check_upload;

/// Runs one input through `check_upload`; any panic is a finding.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let content_type = String::from_utf8_lossy(&rest[..split]);
        let body = rest.get(split + 1..).unwrap_or_default();
        let _ = check_upload(&content_type, body);
    } else {
        let boundary = "fuzzboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::with_capacity(rest.len() + 256);
        for part in rest.split(|&b| b == 0xff) {
            let mut fields = part.splitn(3, |&b| b == 0xfe);
            let name = String::from_utf8_lossy(fields.next().unwrap_or_default());
            let filename = String::from_utf8_lossy(fields.next().unwrap_or_default());
            let content = fields.next().unwrap_or_default();
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let name = name.replace(['"', '\r', '\n'], "_");
            if filename.is_empty() {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
            } else {
                let filename = filename.replace(['"', '\r', '\n'], "_");
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
            }
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let _ = check_upload(&format!("multipart/form-data; boundary={boundary}"), &body);
    }
}
