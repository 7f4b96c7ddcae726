//! Bounded memory: 300 distinct files of 9.5 MiB (2.78 GiB in all) uploaded to a mock with a
//! 256 MiB memory budget keep the process's peak RSS near the budget, spill the rest to a
//! temporary directory, serve every file back exact, and leave no directory behind.
//!
//! Peak RSS (`VmHWM`) is a figure of the whole process, and `cargo test` runs the tests of this
//! binary in threads of one process: the test therefore runs its workload in a child process of
//! its own (this same test binary, this one test, `--exact`), where nothing else allocates.

#![cfg(target_os = "linux")]

use std::time::Instant;

use cloudflare_images_mock::MockImages;

use crate::helpers::{client, file_part, png, TOKEN};

const FILES: usize = 300;
/// 9.5 MiB: under the 10 MiB upload limit.
const FILE_LEN: usize = (9 << 20) + (1 << 19);
const BUDGET: u64 = 256 << 20;
/// What the process may hold beyond its baseline and the budget: the upload in flight (the
/// client's body, the server's copy of it while it is parsed), a blob read back, buffers.
const SLACK: u64 = 64 << 20;

const CHILD: &str = "CLOUDFLARE_IMAGES_MOCK_MEMORY_TEST_CHILD";
const NAME: &str = "memory::uploads_of_2_8_gib_stay_within_the_memory_budget";

#[test]
fn uploads_of_2_8_gib_stay_within_the_memory_budget() {
    if std::env::var_os(CHILD).is_some() {
        return workload();
    }
    // Arrange: this test alone, in a process of its own.
    let started = Instant::now();
    let exe = std::env::current_exe().expect("the test binary");

    // Act
    let output = std::process::Command::new(exe)
        .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs");

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "the workload failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the child did not run the test:\n{stdout}"
    );
    eprintln!(
        "memory test: {:.1} s in all, child process included",
        started.elapsed().as_secs_f64()
    );
}

/// A field of `/proc/self/status` in bytes (`VmHWM`, `VmRSS`).
fn status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable: {line}"));
    kib * 1024
}

/// File `i`: a valid PNG header (a size of its own), padded to 9.5 MiB with bytes particular to
/// the file: a 4 KiB block drawn from the file number, repeated, each copy stamped with the file
/// and block numbers.
fn body(i: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(FILE_LEN);
    fill(&mut out, i);
    out
}

/// Writes file `i` into `out` (emptied first): the memory of `out` is reused.
fn fill(out: &mut Vec<u8>, i: usize) {
    out.clear();
    out.extend_from_slice(&png(64 + i as u32, 48));
    let header = out.len();
    out.resize(FILE_LEN, 0);
    let mut block = [0u8; 4096];
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for word in block.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    for (n, chunk) in out[header..].chunks_mut(block.len()).enumerate() {
        let len = chunk.len();
        chunk.copy_from_slice(&block[..len]);
        let stamp = ((i as u64) << 32 | n as u64).to_le_bytes();
        let m = len.min(stamp.len());
        chunk[..m].copy_from_slice(&stamp[..m]);
    }
}

const MIB: f64 = (1 << 20) as f64;

fn workload() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // Arrange
        let mock = MockImages::builder().memory_budget(BUDGET).start().await;
        let http = client();
        // The process before any file: the test harness, the runtime, the mock's thread.
        let baseline = status("VmHWM").max(status("VmRSS"));
        let started = Instant::now();

        // Act: upload every file, generated just before it is sent and dropped once sent; no
        // file is kept: each is generated again, from its number, to be compared with its blob.
        // (An XXH3 digest of each, kept instead, costs more than generating the file again in
        // a debug build: ~0.1 s against ~0.05 s per file.)
        let mut uploaded = Vec::with_capacity(FILES);
        let mut spill_dir_during = None;
        for i in 0..FILES {
            let bytes = body(i);
            let form = reqwest::multipart::Form::new()
                .part("file", file_part(bytes, &format!("f{i}.png"), "image/png"));
            let response = http
                .post(mock.upload_url())
                .bearer_auth(TOKEN)
                .multipart(form)
                .send()
                .await
                .expect("the mock answers");
            let status = response.status().as_u16();
            let answer: serde_json::Value = response.json().await.expect("JSON");
            assert_eq!(status, 200, "file {i}: {answer}");
            let id = answer["result"]["id"].as_str().expect("an id").to_owned();
            uploaded.push(id);
            if i == FILES / 2 {
                spill_dir_during = mock.storage().spill_dir;
            }
        }
        let upload_time = started.elapsed();
        let peak_after_uploads = status("VmHWM");
        let storage = mock.storage();

        // ...and read every file back over HTTP.
        let read_started = Instant::now();
        let mut expected = Vec::with_capacity(FILE_LEN);
        for (i, id) in uploaded.iter().enumerate() {
            let response = http
                .get(format!("{}/{id}/blob", mock.upload_url()))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("the mock answers");
            assert_eq!(response.status(), 200, "file {i}");
            assert_eq!(response.headers()["content-type"], "image/png");
            let bytes = response.bytes().await.expect("a whole blob");
            assert_eq!(bytes.len(), FILE_LEN, "file {i}");
            fill(&mut expected, i);
            assert!(bytes == expected, "file {i} ({id}) came back different");
        }
        let read_time = read_started.elapsed();
        let peak = status("VmHWM");

        // Assert
        let total = (FILES * FILE_LEN) as u64;
        // The peak RSS of this process, from its start to the last blob read back, is at most
        // the process's own before the first file (baseline: VmHWM, or VmRSS if larger, right
        // after the mock started) + the memory budget (256 MiB) + 64 MiB of slack:
        //     VmHWM_end <= baseline + BUDGET + SLACK
        let limit = baseline + BUDGET + SLACK;
        eprintln!(
            "memory test: {FILES} files of {:.1} MiB ({:.2} GiB) uploaded in {:.1} s \
             ({:.0} MiB/s), read back in {:.1} s; baseline {:.1} MiB, peak RSS after uploads \
             {:.1} MiB, peak RSS {:.1} MiB (limit {:.1} MiB = baseline + {} MiB budget + {} MiB); \
             {:.1} MiB in memory, {:.1} MiB on disk",
            FILE_LEN as f64 / MIB,
            total as f64 / MIB / 1024.0,
            upload_time.as_secs_f64(),
            total as f64 / MIB / upload_time.as_secs_f64(),
            read_time.as_secs_f64(),
            baseline as f64 / MIB,
            peak_after_uploads as f64 / MIB,
            peak as f64 / MIB,
            limit as f64 / MIB,
            BUDGET >> 20,
            SLACK >> 20,
            storage.in_memory as f64 / MIB,
            storage.on_disk as f64 / MIB,
        );
        assert!(
            peak <= limit,
            "peak RSS {:.1} MiB over {:.1} MiB (baseline {:.1} MiB + budget + slack)",
            peak as f64 / MIB,
            limit as f64 / MIB,
            baseline as f64 / MIB
        );
        assert!(storage.in_memory <= BUDGET, "{storage:?}");
        assert_eq!(storage.in_memory + storage.on_disk, total, "{storage:?}");
        assert_eq!(storage.last_error, None);
        let dir = storage.spill_dir.expect("the mock spilled");
        assert_eq!(spill_dir_during.as_ref(), Some(&dir), "one directory");
        assert!(dir.is_dir(), "{} exists while the mock runs", dir.display());
        assert_eq!(mock.images().len(), FILES);

        drop(mock);
        assert!(
            !dir.exists(),
            "{} is removed when the mock is dropped",
            dir.display()
        );
    });
}
