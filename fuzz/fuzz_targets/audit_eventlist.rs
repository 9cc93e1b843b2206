#![no_main]
//! The audit webhook's body: an EventList (or one event), through the correlator.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(records) = portcullis_sources::k8s_audit::parse_line(text, "audit-webhook", 0) else {
        return;
    };
    let mut c = portcullis_sources::k8s_audit::Correlator::new(64);
    let mut out = Vec::new();
    let ids: Vec<String> = records.iter().filter_map(|r| r.audit_id.clone()).collect();
    for r in records {
        c.push(r, &mut out);
    }
    for id in &ids {
        c.release(id, &mut out);
    }
    c.forget(&ids);
    c.finish(&mut out);
    portcullis_fuzz::judge(&out);
});
