//! JSON records from a stream, without reading the stream whole.
//!
//! What people hand over is rarely JSON lines: `jq .` over a log (one pretty-printed object
//! after another), `jq -s` (an array, compact or pretty), `kubectl get … -o json` (a `List`
//! with `items`), an audit `EventList`. A byte scanner (strings, escapes and nesting, no
//! parse) cuts such a stream into its records:
//! - each top-level value is a record — unless it is an array, whose elements are, or an
//!   object with an `items` array (a `List`/`EventList` wrapper), whose items are;
//! - a record over `cap` bytes is reported with its size and skipped without being held;
//! - text that is not JSON at the top level is reported and skipped to the next line.
//!
//! Memory is one record at a time, whatever the size of the stream.

use std::io::BufRead;

/// What the scanner found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A complete record and the 1-based line it starts on.
    Record { line: usize, text: String },
    /// A record larger than the cap (bytes), skipped.
    TooLarge { line: usize, bytes: u64 },
    /// Something that is not a JSON record: where, and why.
    Invalid { line: usize, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Between top-level values.
    Top,
    /// Inside a top-level array whose elements are records.
    TopArray,
    /// Inside a wrapper object's `items` array.
    Items,
    /// Skipping the rest of a wrapper object after its items.
    WrapperTail,
}

/// Cuts a stream into [`Piece`]s.
pub struct JsonRecords<R> {
    reader: R,
    s: Scan,
}

/// The scanner's state, apart from the reader so a buffered chunk can be scanned in place.
struct Scan {
    cap: usize,
    line: usize,
    frame: Frame,
    /// The record being read: its text (unless over the cap), start line, bytes, depth.
    buf: Vec<u8>,
    start_line: usize,
    bytes: u64,
    depth: usize,
    in_string: bool,
    escaped: bool,
    collecting: bool,
    /// A top-level object that may turn out to be a wrapper: the key being read at its
    /// first level, and whether the next string there is a key.
    top_object: bool,
    key: Vec<u8>,
    reading_key: bool,
    expect_key: bool,
    pending_items: bool,
    wrapper_depth: usize,
    done: bool,
}

impl<R: BufRead> JsonRecords<R> {
    pub fn new(reader: R, cap: usize) -> JsonRecords<R> {
        JsonRecords {
            reader,
            s: Scan::new(cap),
        }
    }
}

impl Scan {
    fn new(cap: usize) -> Scan {
        Scan {
            cap: cap.max(1),
            line: 1,
            frame: Frame::Top,
            buf: Vec::new(),
            start_line: 1,
            bytes: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            collecting: false,
            top_object: false,
            key: Vec::new(),
            reading_key: false,
            expect_key: false,
            pending_items: false,
            wrapper_depth: 0,
            done: false,
        }
    }

    fn start(&mut self, b: u8, top_object: bool) {
        self.collecting = true;
        self.buf.clear();
        self.buf.push(b);
        self.bytes = 1;
        self.start_line = self.line;
        self.depth = usize::from(matches!(b, b'{' | b'['));
        self.in_string = b == b'"';
        self.escaped = false;
        self.top_object = top_object;
        self.expect_key = top_object;
        self.reading_key = false;
        self.key.clear();
        self.pending_items = false;
    }

    fn finish(&mut self) -> Piece {
        self.collecting = false;
        let piece = if self.bytes > self.cap as u64 {
            Piece::TooLarge {
                line: self.start_line,
                bytes: self.bytes,
            }
        } else {
            Piece::Record {
                line: self.start_line,
                text: String::from_utf8_lossy(&self.buf).into_owned(),
            }
        };
        self.buf.clear();
        piece
    }

    /// Feed one byte of a record being collected; `Some` when the record ends with it.
    fn collect(&mut self, b: u8) -> Option<Piece> {
        self.bytes += 1;
        if self.bytes <= self.cap as u64 {
            self.buf.push(b);
        } else if !self.buf.is_empty() {
            self.buf = Vec::new();
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.reading_key {
                    self.reading_key = false;
                }
            } else if self.reading_key && self.key.len() < 16 {
                self.key.push(b);
            }
            if self.depth == 0 {
                // A top-level string record ends with its closing quote.
                return (!self.in_string).then(|| self.finish());
            }
            return None;
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.top_object && self.depth == 1 && self.expect_key {
                    self.reading_key = true;
                    self.key.clear();
                    self.expect_key = false;
                }
            }
            b':' if self.top_object && self.depth == 1 => {
                self.pending_items = self.key == b"items";
            }
            b',' if self.top_object && self.depth == 1 => self.expect_key = true,
            b'{' | b'[' => {
                if b == b'[' && self.top_object && self.depth == 1 && self.pending_items {
                    // A wrapper: its items are the records. What was read of the wrapper
                    // (kind, apiVersion, metadata) is dropped.
                    self.collecting = false;
                    self.buf.clear();
                    self.frame = Frame::Items;
                    self.wrapper_depth = 2;
                    self.pending_items = false;
                    return None;
                }
                self.pending_items = false;
                self.depth += 1;
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Some(self.finish());
                }
            }
            b if b.is_ascii_whitespace() => {}
            _ => {
                if self.top_object && self.depth == 1 {
                    self.pending_items = false;
                }
                if self.depth == 0 && !is_scalar_byte(b) {
                    // The end of a bare scalar record (`1`, `true`) at this delimiter.
                    self.buf.pop();
                    return Some(self.finish());
                }
            }
        }
        if self.depth == 0 && b.is_ascii_whitespace() {
            self.buf.pop();
            return Some(self.finish());
        }
        None
    }
}

impl<R: BufRead> JsonRecords<R> {
    /// Skip text that is not JSON up to the next line.
    fn skip_line(&mut self) -> std::io::Result<()> {
        let mut junk = Vec::new();
        self.reader.read_until(b'\n', &mut junk)?;
        if junk.ends_with(b"\n") {
            self.s.line += 1;
        }
        Ok(())
    }

    fn next_piece(&mut self) -> std::io::Result<Option<Piece>> {
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                self.s.done = true;
                if self.s.collecting && self.s.bytes > self.s.cap as u64 {
                    self.s.collecting = false;
                    return Ok(Some(Piece::TooLarge {
                        line: self.s.start_line,
                        bytes: self.s.bytes,
                    }));
                }
                if self.s.collecting {
                    self.s.collecting = false;
                    return Ok(Some(Piece::Invalid {
                        line: self.s.start_line,
                        message: format!(
                            "truncated JSON: the record that starts here ends with the file ({} bytes read)",
                            self.s.bytes
                        ),
                    }));
                }
                if self.s.frame != Frame::Top {
                    return Ok(Some(Piece::Invalid {
                        line: self.s.line,
                        message: "truncated JSON: an array or list is not closed".into(),
                    }));
                }
                return Ok(None);
            }
            let n = chunk.len();
            let mut i = 0;
            while i < n {
                let b = chunk[i];
                i += 1;
                if b == b'\n' {
                    self.s.line += 1;
                }
                if self.s.collecting {
                    if let Some(p) = self.s.collect(b) {
                        self.reader.consume(i);
                        return Ok(Some(p));
                    }
                    continue;
                }
                match self.s.frame {
                    Frame::Top => match b {
                        b'[' => self.s.frame = Frame::TopArray,
                        b'{' => self.s.start(b, true),
                        b if b.is_ascii_whitespace() || b == b',' => {}
                        0xEF | 0xBB | 0xBF if self.s.line == 1 => {} // a byte-order mark
                        _ => {
                            self.reader.consume(i);
                            let line = self.s.line;
                            if b != b'\n' {
                                self.skip_line()?;
                            }
                            return Ok(Some(Piece::Invalid {
                                line,
                                message: "not JSON here: skipped to the next line".into(),
                            }));
                        }
                    },
                    Frame::TopArray | Frame::Items => match b {
                        b']' => {
                            self.s.frame = if self.s.frame == Frame::Items {
                                self.s.wrapper_depth = 1;
                                Frame::WrapperTail
                            } else {
                                Frame::Top
                            };
                        }
                        b if b.is_ascii_whitespace() || b == b',' => {}
                        b => self.s.start(b, false),
                    },
                    Frame::WrapperTail => {
                        // The rest of the wrapper after its items: skipped, not kept.
                        if self.s.in_string {
                            if self.s.escaped {
                                self.s.escaped = false;
                            } else if b == b'\\' {
                                self.s.escaped = true;
                            } else if b == b'"' {
                                self.s.in_string = false;
                            }
                        } else {
                            match b {
                                b'"' => self.s.in_string = true,
                                b'{' | b'[' => self.s.wrapper_depth += 1,
                                b'}' | b']' => {
                                    self.s.wrapper_depth = self.s.wrapper_depth.saturating_sub(1);
                                    if self.s.wrapper_depth == 0 {
                                        self.s.frame = Frame::Top;
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
            self.reader.consume(n);
        }
    }
}

fn is_scalar_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

impl<R: BufRead> Iterator for JsonRecords<R> {
    type Item = std::io::Result<Piece>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.s.done {
            return None;
        }
        self.next_piece().transpose()
    }
}

/// Is this text JSON that is not JSON lines — a pretty-printed value, an array, a
/// wrapper — so that it must be read as records rather than line by line?
pub fn needs_records(head: &str) -> bool {
    let head = head.trim_start_matches('\u{feff}');
    let Some(first) = head.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return false;
    };
    if first.starts_with('[') {
        return true;
    }
    first.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(first).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, cap: usize) -> Vec<Piece> {
        JsonRecords::new(text.as_bytes(), cap)
            .map(|p| p.expect("io"))
            .collect()
    }

    fn records(text: &str) -> Vec<(usize, serde_json::Value)> {
        pieces(text, 1 << 20)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Record { line, text } => {
                    Some((line, serde_json::from_str(&text).expect("record is JSON")))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn pretty_objects_arrays_and_wrappers() {
        // jq . over a log: one pretty object after another.
        let jq = "{\n  \"a\": 1,\n  \"s\": \"x}]{\\\"\"\n}\n{\n  \"a\": 2\n}\n";
        assert_eq!(
            records(jq),
            vec![
                (1, serde_json::json!({"a": 1, "s": "x}]{\""})),
                (5, serde_json::json!({"a": 2}))
            ]
        );
        // jq -s: an array, pretty or compact.
        let arr = "[\n  {\"a\": 1},\n  {\n    \"a\": [2, {\"b\": 3}]\n  }\n]\n";
        assert_eq!(records(arr).len(), 2);
        assert_eq!(records(arr)[1].0, 3);
        assert_eq!(records("[{\"a\":1},{\"a\":2}]").len(), 2);
        // A List / EventList wrapper: its items, wherever `items` sits.
        let list = "{\n  \"kind\": \"EventList\",\n  \"metadata\": {\"items\": 5},\n  \"items\": [\n    {\"auditID\": \"1\"},\n    {\"auditID\": \"2\"}\n  ],\n  \"tail\": {\"x\": [1]}\n}\n{\"after\": true}\n";
        let got = records(list);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], (5, serde_json::json!({"auditID": "1"})));
        assert_eq!(got[2].1, serde_json::json!({"after": true}));
        // An object with an `items` field that is not an array is itself a record.
        assert_eq!(records("{\"items\": 3, \"b\": [1]}").len(), 1);
    }

    #[test]
    fn oversized_truncated_and_junk_are_reported() {
        let big = format!("{{\"a\": \"{}\"}}\n{{\"b\": 1}}\n", "x".repeat(5000));
        let p = pieces(&big, 1000);
        assert!(
            matches!(p[0], Piece::TooLarge { line: 1, bytes } if bytes > 5000),
            "{p:?}"
        );
        assert!(matches!(&p[1], Piece::Record { line: 2, .. }));
        let p = pieces("{\"a\": 1}\nnot json\n{\"b\": 2}\n{\"c\": ", 1 << 20);
        assert!(matches!(&p[1], Piece::Invalid { line: 2, .. }), "{p:?}");
        assert!(matches!(&p[2], Piece::Record { line: 3, .. }), "{p:?}");
        assert!(matches!(&p[3], Piece::Invalid { line: 4, .. }), "{p:?}");
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn which_texts_need_records() {
        assert!(needs_records("{\n  \"a\": 1\n}\n"));
        assert!(needs_records("[{\"a\":1}]"));
        assert!(needs_records("\u{feff}[\n"));
        assert!(!needs_records("{\"a\":1}\n{\"a\":2}\n"));
        assert!(!needs_records("type=EXECVE msg=audit(1.2:3): argc=1\n"));
    }
}
