#![no_main]
//! Command-line analysis: a logged line split as Linux and as Windows log it, then every
//! tool's grammar (docker, kubectl, ctr, curl to the socket…).
use libfuzzer_sys::fuzz_target;
use portcullis_model::Deployment;
use portcullis_sources::{cmdline, process};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let base = Deployment::default();
    for windows in [false, true] {
        let argv = process::split_command_line(line, windows);
        let out = cmdline::analyze(&argv, &base);
        portcullis_fuzz::judge(&out);
    }
    // NUL-separated argv, as auditd's EXECVE and ECS process.args give it.
    let argv: Vec<String> = line.split('\0').map(str::to_string).collect();
    portcullis_fuzz::judge(&cmdline::analyze(&argv, &base));
});
