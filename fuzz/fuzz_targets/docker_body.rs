#![no_main]
//! Docker Engine API bodies read as Go's encoding/json reads them, every body type.
use libfuzzer_sys::fuzz_target;
use portcullis_sources::{docker_api, docker_wire};

fuzz_target!(|data: &[u8]| {
    let origin = portcullis_model::Origin::default();
    if let Ok(v) = docker_wire::create_request(data) {
        let d = docker_api::create_deployment(&v, docker_api::Shape::Request, None, origin.clone());
        portcullis_fuzz::judge(&[d]);
    }
    if let Ok(v) = docker_wire::service_spec(data) {
        portcullis_fuzz::judge(&[docker_api::service_deployment(&v, origin.clone())]);
    }
    if let Ok(v) = docker_wire::exec_config(data) {
        portcullis_fuzz::judge(&[docker_api::exec_deployment(&v, "c", origin.clone())]);
    }
    if let Ok(v) = docker_wire::volume_create(data) {
        portcullis_fuzz::judge(&[docker_api::volume_deployment(&v, origin.clone())]);
    }
    if let Ok(v) = docker_wire::plugin_privileges(data) {
        portcullis_fuzz::judge(&[docker_api::plugin_deployment("r", None, &v, origin.clone())]);
    }
    if let Ok(v) = docker_wire::plugin_settings(data) {
        portcullis_fuzz::judge(&[docker_api::plugin_settings_deployment("p", &v, origin)]);
    }
});
