//! Feeds arbitrary input to a real mock, in process, as the JSON bodies, forms, path names and
//! queries of the operations beyond the upload (variants, signing keys, direct creator uploads,
//! image updates, delivery URLs); see `bodies_input.rs` for how an input is read.
#![no_main]

mod bodies_input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bodies_input::run(data);
});
