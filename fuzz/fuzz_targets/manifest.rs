#![no_main]
//! Manifest reading (YAML streams, JSON, JSON streams) and the pack over what it makes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let batch = portcullis_sources::manifest::read(text, "fuzz.yaml");
    portcullis_fuzz::judge(&batch.deployments);
});
