//! Nothing: the package is its benchmark, `benches/throughput.rs`.
