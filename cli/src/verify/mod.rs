//! `cloudflare-images-mock verify`: sends the crate's catalogue of labelled cases to a target
//! (the real API, or another mock) and the same cases to an in-process mock, and says, case by
//! case, whether the two answer alike (status, error codes, messages, envelope shape).
//!
//! It lives in the binary so that library users never compile it: [`catalogue`] (the cases,
//! drawn from the library's strategies), [`client`] (sending, credentials, `Retry-After`),
//! [`pace`] (the rate limit), [`compare`] (what of two answers is compared), [`report`] (text,
//! JSON, progress), [`record`] (`--record`: the target's answers as fixtures) and [`run`] (the command: safety checks, the run, the cleanup).

mod catalogue;
mod client;
mod compare;
mod pace;
mod record;
mod report;
mod run;

pub(crate) use run::{run, VerifyArgs};
