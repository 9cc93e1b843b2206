//! Manifest files: multi-document YAML, JSON and JSON streams.
//!
//! Documents are split the way kubectl's `YAMLReader` splits them: a line that is `---`
//! followed only by spaces or a comment ends a document. Splitting ourselves (rather than
//! letting the YAML parser do it) gives every document its starting line and lets one
//! broken document fail alone.

use crate::go_json::Raw;
use crate::{Batch, SourceError, compose, k8s, value};
use portcullis_model::Origin;
use serde_json::Value;

/// Files larger than this are refused with a located error rather than read: the API
/// server's own request limit is 3 MiB, so a bigger "manifest" is an accident or an attack.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One document of a file, with its 1-based starting line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Document<'a> {
    pub line: usize,
    pub text: &'a str,
}

/// Split YAML text at `---` separator lines. Documents with no content (only blank lines
/// and comments) are dropped.
pub fn split_documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if is_separator(line) {
            push_doc(&mut docs, &text[start..offset], start_line);
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    push_doc(&mut docs, &text[start..], start_line);
    docs
}

fn is_separator(line: &str) -> bool {
    line.strip_prefix("---").is_some_and(|rest| {
        let rest = rest.trim();
        rest.is_empty() || rest.starts_with('#')
    })
}

fn push_doc<'a>(docs: &mut Vec<Document<'a>>, text: &'a str, line: usize) {
    let has_content = text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "..."
    });
    if has_content {
        // Start the document at its first line with content, so that line 1 of the text
        // is `line` and parser positions translate by simple addition.
        let mut skip_bytes = 0;
        let mut skipped = 0;
        for l in text.split_inclusive('\n') {
            let t = l.trim();
            if !(t.is_empty() || t.starts_with('#')) {
                break;
            }
            skip_bytes += l.len();
            skipped += 1;
        }
        docs.push(Document {
            line: line + skipped,
            text: &text[skip_bytes..],
        });
    }
}

/// Read every document of a manifest file into deployments and located errors.
/// `kind` names the source in each deployment's origin (`manifest`).
pub fn read(text: &str, file: &str) -> Batch {
    let mut batch = Batch::default();
    // kubectl strips a byte-order mark (editors on Windows write one).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        read_json(text, file, &mut batch);
    } else {
        for (index, doc) in split_documents(text).into_iter().enumerate() {
            batch.documents += 1;
            match parse_yaml(doc.text) {
                Ok(v) => dispatch(&v, doc.text, file, doc.line, index, &mut batch),
                Err((line, column, message)) => batch.errors.push(SourceError {
                    file: file.to_string(),
                    line: doc.line + line.saturating_sub(1),
                    column,
                    field: None,
                    message,
                }),
            }
        }
    }
    batch
}

/// Parse one YAML document into a JSON value. Errors carry a 1-based line relative to the
/// document.
pub fn parse_yaml(text: &str) -> Result<Value, (usize, Option<usize>, String)> {
    // YAML 1.1 scalars, as kubectl's sigs.k8s.io/yaml reads them: `010` is 8.
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line() as usize, Some(l.column() as usize)))
            .unwrap_or((1, None));
        // The library's message repeats the location and may quote a snippet over several
        // lines; the first line is the reason.
        (
            line.max(1),
            col,
            format!("invalid YAML: {}", reason(&e.to_string())),
        )
    })
}

/// The reason part of a parser message: the first line, without the `error: line N
/// column M:` prefix the library repeats (the location is reported separately).
pub fn reason(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let rest = match first.strip_prefix("line ") {
        Some(r) => r.split_once(": ").map_or(first, |(_, m)| m),
        None => first,
    };
    rest.to_string()
}

/// A JSON document, a JSON array of them, or a stream of either. A key given twice is
/// refused: kubectl keeps the last value, but the API server (a `curl` of the same file)
/// merges a repeated object into the first — two consumers, two objects. A syntax error
/// ends that document only: reading resumes at the next line that opens a document.
fn read_json(text: &str, file: &str, batch: &mut Batch) {
    let mut offset = 0usize;
    let mut index = 0usize;
    while offset < text.len() {
        let rest = &text[offset..];
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Raw>();
        loop {
            let start = stream.byte_offset();
            let line = line_of(text, offset + start + leading_ws(&rest[start..]));
            match stream.next() {
                None => return,
                Some(Ok(raw)) => {
                    if let Some(key) = raw.first_repeated_key() {
                        batch.documents += 1;
                        batch.errors.push(SourceError {
                            file: file.to_string(),
                            line,
                            column: None,
                            field: Some(key),
                            message: "key given twice: kubectl keeps the last value, the API server merges a repeated object into the first; refused rather than judge one of two objects".into(),
                        });
                        index += 1;
                        continue;
                    }
                    let v = raw.into_value();
                    let items: Vec<&Value> = match &v {
                        Value::Array(items) => items.iter().collect(),
                        other => vec![other],
                    };
                    for item in items {
                        batch.documents += 1;
                        dispatch(item, "", file, line, index, batch);
                        index += 1;
                    }
                }
                Some(Err(e)) => {
                    batch.documents += 1;
                    index += 1;
                    let err_line = line_of(text, offset) + e.line().saturating_sub(1);
                    batch
                        .errors
                        .push(SourceError::json(file, err_line, "invalid JSON", &e));
                    // Resume at the next line (after the error's) that starts a document.
                    let after_error = offset + nth_line_offset(rest, e.line());
                    match next_document_start(text, after_error) {
                        Some(next) if next > offset => {
                            offset = next;
                            break;
                        }
                        _ => return,
                    }
                }
            }
        }
    }
}

/// The byte offset where 1-based line `n` of `s` ends (the start of line `n + 1`).
fn nth_line_offset(s: &str, n: usize) -> usize {
    s.split_inclusive('\n').take(n.max(1)).map(str::len).sum()
}

/// The first line at or after `from` that begins (in column 1) with `{` or `[`.
fn next_document_start(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    for l in text[from.min(text.len())..].split_inclusive('\n') {
        if l.starts_with('{') || l.starts_with('[') {
            return Some(at);
        }
        at += l.len();
    }
    None
}

fn leading_ws(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Route one parsed document: Kubernetes object, Compose file, or an error.
fn dispatch(v: &Value, doc_text: &str, file: &str, line: usize, index: usize, batch: &mut Batch) {
    let origin = |kind: &str| Origin {
        kind: kind.to_string(),
        file: file.to_string(),
        line,
        document: index,
        record_id: None,
    };
    let Some(map) = v.as_object() else {
        batch.errors.push(SourceError::at(
            file,
            line,
            format!("document is {}, not an object", value::type_name(v)),
        ));
        return;
    };
    if map.contains_key("kind") || map.contains_key("apiVersion") {
        k8s::object_to_deployments(
            v,
            &origin("manifest"),
            &mut batch.deployments,
            &mut batch.errors,
            "",
        );
    } else if compose::looks_like_compose(v) {
        compose::read(
            v,
            doc_text,
            &origin("compose"),
            &mut batch.deployments,
            &mut batch.errors,
        );
    }
    // Anything else (a Helm values file, a CI config) is not a deployment: counted, not
    // reported.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_kubectl() {
        let text = "# head\n---\na: 1\n--- # c\nb: 2\n---x\n---\n\n# only comment\n---\n\nc: 3\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].line, 3);
        assert_eq!(docs[1].line, 5);
        assert!(docs[1].text.contains("---x"));
        assert_eq!(docs[2].line, 12);
    }

    #[test]
    fn yaml_errors_are_located_and_batch_continues() {
        let text = "kind: Pod\nspec: {containers: [{name: a, image: x}]}\n---\nkind: Pod\nspec: [unclosed\n---\n- 1\n---\nkind: Pod\nspec:\n  containers:\n  - name: b\n    image: y\n";
        let b = read(text, "f.yaml");
        assert_eq!(b.documents, 4);
        assert_eq!(b.deployments.len(), 2);
        assert_eq!(b.errors.len(), 2, "{:?}", b.errors);
        assert!(b.errors[0].line >= 4, "{:?}", b.errors[0]);
        assert_eq!(b.errors[1].line, 7);
        assert!(b.errors[1].message.contains("not an object"));
    }

    #[test]
    fn json_kind_zero_is_a_field_error() {
        let b = read(
            "{\"kind\": 0}\n{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"b\"}]}}\n",
            "t.json",
        );
        assert_eq!(b.errors.len(), 1);
        assert_eq!(b.errors[0].field.as_deref(), Some("kind"));
        assert_eq!(b.errors[0].line, 1);
        assert_eq!(b.deployments.len(), 1);
        assert_eq!(b.deployments[0].origin.line, 2);
    }

    #[test]
    fn json_streams_bom_and_repeated_keys() {
        // A byte-order mark is not a reason to read nothing.
        let b = read(
            "\u{feff}{\"kind\":\"Pod\",\"spec\":{\"hostPID\":true,\"containers\":[{\"name\":\"a\",\"image\":\"b\"}]}}\n",
            "bom.json",
        );
        assert_eq!(
            (b.deployments.len(), b.errors.len()),
            (1, 0),
            "{:?}",
            b.errors
        );
        // A bad first document does not hide the next ones.
        let b = read(
            "{\"kind\":\"Pod\",bad}\n{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"b\"}]}}\n{\n  \"kind\": \"Pod\",\n  \"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"d\"}]}\n}\n",
            "stream.json",
        );
        assert_eq!(b.errors.len(), 1, "{:?}", b.errors);
        assert_eq!(b.errors[0].line, 1);
        assert_eq!(b.deployments.len(), 2);
        assert_eq!(b.deployments[1].origin.line, 3);
        // A key given twice is refused, located, and the rest of the stream is read.
        let b = read(
            "{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"b\",\"securityContext\":{\"privileged\":true},\"securityContext\":{}}]}}\n{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"b\"}]}}\n",
            "dup.json",
        );
        assert_eq!(b.errors.len(), 1, "{:?}", b.errors);
        assert_eq!(
            b.errors[0].field.as_deref(),
            Some("spec.containers[0].securityContext")
        );
        assert_eq!(b.deployments.len(), 1);
    }

    #[test]
    fn yaml_1_1_booleans_count() {
        let b = read(
            "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: b\n    securityContext:\n      privileged: yes\n",
            "p.yaml",
        );
        let pod = b.deployments[0].pod.as_ref().expect("pod");
        assert_eq!(pod.containers[0].security_context.privileged, Some(true));
    }
}
