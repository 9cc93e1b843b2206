#![no_main]
//! Every log format `hunt` reads: the first byte picks one (or detection), the rest is
//! the file, read in order through the pipeline with stage merging and linking, then judged.
use libfuzzer_sys::fuzz_target;
use portcullis_sources::{formats, pipeline};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = formats::REGISTRY.get(usize::from(pick)).copied();
    let batch = pipeline::read_all(text, "fuzz.log", format);
    portcullis_fuzz::judge(&batch.deployments);
});
