//! The fuzz targets' inputs, replayed in the normal suite: the committed seeds and corpus (and any
//! crash reproducer added to it), and arbitrary bytes from proptest, through the same
//! `fuzz/fuzz_targets/input.rs` (target `upload`) and `bodies_input.rs` (target `bodies`, a real
//! mock in process) the fuzzer runs, and through a real server.

use proptest::prelude::*;

#[path = "../../fuzz/fuzz_targets/input.rs"]
mod input;

#[path = "../../fuzz/fuzz_targets/bodies_input.rs"]
mod bodies_input;

/// The number of cases: `default`, or `CF_IMAGES_MOCK_PROPTEST_CASES` when set.
fn cases(default: u32) -> u32 {
    crate::helpers::proptest_cases(default)
}

/// The hand-made seeds of a target (`fuzz/seeds/<target>`, valid requests of every shape) or the
/// corpus the fuzzer grew from them (`fuzz/corpus/<target>`, minimised with `cargo fuzz cmin`).
fn inputs_of(target: &str, dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/fuzz/{dir}/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let bytes = std::fs::read(&path).expect("a corpus file");
            (path.display().to_string(), bytes)
        })
        .collect();
    inputs.sort();
    inputs
}

/// The seeds or the corpus of the `upload` target.
fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    inputs_of("upload", dir)
}

#[test]
fn the_seeds_and_the_corpus_replay_without_a_panic() {
    let seeds = inputs("seeds");
    let corpus = inputs("corpus");
    assert!(seeds.len() >= 7, "only {} seeds", seeds.len());
    assert!(
        corpus.len() >= 1000,
        "only {} inputs in the corpus",
        corpus.len()
    );
    for (name, bytes) in seeds.into_iter().chain(corpus) {
        let outcome = std::panic::catch_unwind(|| input::run(&bytes));
        assert!(outcome.is_ok(), "{name} panics");
    }
}

#[test]
fn the_seed_uploads_are_valid_ones() {
    // The seeds are meant to start the fuzzer from accepted uploads: check that they still are.
    use cloudflare_images_mock::conformance::check_upload;
    for (name, bytes) in inputs("seeds") {
        if name.ends_with("json-body") || bytes.first() != Some(&0) {
            continue;
        }
        let split = bytes.iter().position(|&b| b == b'\n').unwrap();
        let content_type = std::str::from_utf8(&bytes[1..split]).unwrap();
        if let Err(errors) = check_upload(content_type, &bytes[split + 1..]) {
            panic!("{name} is refused: {errors:?}");
        }
    }
}

#[test]
fn the_bodies_seeds_and_corpus_get_real_answers_from_a_real_mock() {
    let seeds = inputs_of("bodies", "seeds");
    let corpus = inputs_of("bodies", "corpus");
    assert!(seeds.len() >= 20, "only {} seeds", seeds.len());
    assert!(
        corpus.len() >= 500,
        "only {} inputs in the corpus",
        corpus.len()
    );
    // `run` checks each answer: a status below 500, the official shape for an operation.
    for (name, bytes) in seeds.into_iter().chain(corpus) {
        let outcome = std::panic::catch_unwind(|| bodies_input::run(&bytes));
        assert!(outcome.is_ok(), "{name} panics");
    }
}

#[test]
fn the_bodies_seeds_are_accepted_requests() {
    // The seeds are meant to start the fuzzer from requests the mock accepts (but those named
    // `refused-...`, kept for their shape): a request that creates a named resource may find it
    // there already (409), from another replay.
    let created_by_name = ["variant-create", "direct-v1", "direct-v2"];
    for (name, bytes) in inputs_of("bodies", "seeds") {
        let status = bodies_input::run(&bytes).expect("a seed is not empty");
        let file = name.rsplit('/').next().unwrap_or_default();
        if file.starts_with("refused-") {
            assert!((400..500).contains(&status), "{name} is answered {status}");
            continue;
        }
        let may_exist = created_by_name
            .iter()
            .any(|prefix| file.starts_with(prefix));
        assert!(
            status == 200 || (may_exist && status == 409),
            "{name} is answered {status}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1000)))]

    #[test]
    fn arbitrary_bytes_get_real_answers_from_a_real_mock(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        bodies_input::run(&data);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_pipeline(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        input::run(&data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_bodies_get_an_envelope_from_a_real_server() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mock = cloudflare_images_mock::MockImages::start().await;
    let client = reqwest::Client::new();
    let mut runner = TestRunner::deterministic();
    let strategy = (
        prop_oneof![
            Just("multipart/form-data; boundary=B".to_owned()),
            "[ -~]{0,60}",
        ],
        proptest::collection::vec(any::<u8>(), 0..1024),
    );
    let cases = cases(200);
    for _ in 0..cases {
        let (content_type, body) = strategy.new_tree(&mut runner).unwrap().current();
        let response = client
            .post(mock.upload_url())
            .bearer_auth("t")
            .header("content-type", content_type.clone())
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer to {content_type:?} {body:?}: {e}"));
        let status = response.status().as_u16();
        let text = response.bytes().await.unwrap();
        assert!(
            (400..500).contains(&status),
            "{status} for {content_type:?} {body:?}"
        );
        cloudflare_images_mock::conformance::check_response(
            cloudflare_images_mock::Operation::Upload,
            status,
            &text,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
    }
    assert_eq!(
        mock.requests().len(),
        cases as usize,
        "every request is in the journal"
    );
}
