//! Feeds arbitrary input through the mock's parse and validation pipeline
//! (`conformance::check_upload`: the code the server runs on every upload body); see `input.rs`
//! for how an input is read.
#![no_main]

mod input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| input::run(data));
