#![no_main]
//! The admission webhook's reader: AdmissionReview bytes → deployments (typed fast path and
//! the Value fallback), then judged.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(deployments) = portcullis_sources::admission_review::review_deployments(data) {
        portcullis_fuzz::judge(&deployments);
    }
});
