#![no_main]
//! A Compose file (services, extends, named volumes) read as a document of its own.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(v) = portcullis_sources::manifest::parse_yaml(text) else {
        return;
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let origin = portcullis_model::Origin {
        kind: "compose".into(),
        file: "/nonexistent/compose.yaml".into(),
        ..Default::default()
    };
    portcullis_sources::compose::read(&v, text, &origin, &mut out, &mut errors);
    portcullis_fuzz::judge(&out);
});
