//! Shell command lines, parsed the way a shell reads them: words with quotes, pipelines,
//! `;`/`&&`/`||` lists, `$( … )`, `` ` … ` `` and `<( … )` substitutions (kept as scripts of
//! their own), redirections. Wrappers (`sudo`, `env`, `nohup`, `timeout`, `busybox`, full
//! paths, `.exe`) unwrap to the tool that really runs. Shared by the payload detectors and
//! the command-line sources.

pub const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"];

/// The script an argv runs: the `-c` body for a shell, else the words joined.
pub fn script_of(argv: &[&str]) -> Option<String> {
    if argv.is_empty() {
        return None;
    }
    let (name, rest) = unwrap(argv);
    if SHELLS.contains(&name) {
        let mut it = rest.iter().skip_while(|a| **a == "sh" && name == "busybox");
        let mut body = Vec::new();
        let mut after_c = false;
        for a in it.by_ref() {
            if after_c {
                if *a == "--" && body.is_empty() {
                    continue;
                }
                body.push(*a);
                // The words after the body are $0, $1…: not code.
                break;
            }
            if a.starts_with('-') && !a.starts_with("--") && a.contains('c') {
                after_c = true;
            }
        }
        if let Some(b) = body.first() {
            return Some((*b).to_string());
        }
    }
    Some(argv.join(" "))
}

/// The tool that really runs and its arguments, past wrappers and paths.
pub fn unwrap<'a, 'b>(argv: &'b [&'a str]) -> (&'a str, &'b [&'a str]) {
    match command_index(argv) {
        Some(i) => (base_name(argv[i]), &argv[i + 1..]),
        None => ("", &[]),
    }
}

/// Where the real command stands in `argv`, past wrappers (see [`unwrap`]).
fn command_index<S: AsRef<str>>(argv: &[S]) -> Option<usize> {
    let mut i = 0;
    loop {
        let word = argv.get(i)?.as_ref();
        // Leading VAR=value assignments.
        if word.contains('=') && !word.starts_with('-') && !word.contains('/') {
            i += 1;
            continue;
        }
        let name = base_name(word);
        match name {
            "sudo" | "doas" | "nohup" | "exec" | "nice" | "setsid" | "stdbuf" | "time"
            | "command" | "env" => {
                i += 1;
                while let Some(a) = argv.get(i).map(AsRef::as_ref) {
                    if a.starts_with('-') || (name == "env" && a.contains('=')) {
                        // `sudo -u user`, `nice -n 5`: options with a value.
                        let takes_value = matches!(a, "-u" | "-g" | "-n" | "-i" | "-C" | "-U");
                        i += if takes_value { 2 } else { 1 };
                    } else {
                        break;
                    }
                }
            }
            "timeout" => {
                i += 1;
                while argv.get(i).is_some_and(|a| a.as_ref().starts_with('-')) {
                    i += 1;
                }
                i += 1; // the duration
            }
            "busybox"
                if argv
                    .get(i + 1)
                    .is_some_and(|a| !a.as_ref().starts_with('-')) =>
            {
                i += 1
            }
            _ => return Some(i),
        }
    }
}

pub fn base_name(word: &str) -> &str {
    word.get(base_range(word)).unwrap_or_default()
}

/// Where [`base_name`] sits in `word`: past the last path separator, before `.exe`.
fn base_range(word: &str) -> std::ops::Range<usize> {
    let start = word.rfind(['/', '\\']).map_or(0, |i| i + 1);
    let end = if word.get(start..).is_some_and(|w| w.ends_with(".exe")) {
        word.len() - 4
    } else {
        word.len()
    };
    start..end
}

/// A simple command inside a pipeline.
#[derive(Debug, Clone, Default)]
pub struct Cmd {
    pub words: Vec<String>,
    /// Which word is the tool (past wrappers), and where its base name sits in it: found
    /// once when the command is parsed, read by every detector.
    tool: Option<(usize, std::ops::Range<usize>)>,
}

impl Cmd {
    pub fn new(words: Vec<String>) -> Cmd {
        let mut c = Cmd { words, tool: None };
        c.locate();
        c
    }

    fn locate(&mut self) {
        self.tool =
            command_index(&self.words).and_then(|i| Some((i, base_range(self.words.get(i)?))));
    }

    /// The tool that runs and its arguments, read in place.
    pub fn name_and_args(&self) -> (&str, &[String]) {
        match &self.tool {
            Some((i, name)) => (
                self.words
                    .get(*i)
                    .and_then(|w| w.get(name.clone()))
                    .unwrap_or_default(),
                self.words.get(i + 1..).unwrap_or_default(),
            ),
            None => ("", &[]),
        }
    }
}

/// A parsed script: pipelines (each a list of commands joined by `|`), and the scripts of
/// its substitutions.
#[derive(Debug, Default)]
pub struct Parsed {
    pub pipelines: Vec<Vec<Cmd>>,
    pub subs: Vec<String>,
}

/// Marks where a substitution stood inside a word: `SUB_MARK` followed by its index.
pub const SUB_MARK: &str = "\u{1}SUB";

pub fn parse(script: &str) -> Parsed {
    // Most start commands are plain words (`-c /etc/envoy.yaml`, `nginx -g …`): with no
    // quote, escape, substitution, operator or redirection there is nothing to parse but
    // the spaces between words.
    if !script.contains(['\'', '"', '\\', '`', '|', '&', ';', '\n', '<', '>'])
        && !script.contains("$(")
    {
        let words: Vec<String> = script.split_whitespace().map(str::to_string).collect();
        return Parsed {
            pipelines: if words.is_empty() {
                Vec::new()
            } else {
                vec![vec![Cmd::new(words)]]
            },
            subs: Vec::new(),
        };
    }
    parse_shell(script)
}

/// The shell grammar itself (see [`parse`]).
fn parse_shell(script: &str) -> Parsed {
    let mut p = Parsed::default();
    let chars: Vec<char> = script.chars().collect();
    let mut pipeline: Vec<Cmd> = Vec::new();
    let mut cmd = Cmd::default();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    let flush_word = |word: &mut String, in_word: &mut bool, cmd: &mut Cmd| {
        if *in_word {
            cmd.words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        word.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    if chars[i] == '$' && chars.get(i + 1) == Some(&'(') {
                        let (sub, next) = balanced(&chars, i + 2);
                        word.push_str(&format!("{SUB_MARK}{}", p.subs.len()));
                        p.subs.push(sub);
                        i = next;
                        continue;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.get(i + 1)
                    && *n != '\n'
                {
                    word.push(*n);
                }
                i += 2;
            }
            '$' | '<' if chars.get(i + 1) == Some(&'(') => {
                in_word = true;
                let (sub, next) = balanced(&chars, i + 2);
                word.push_str(&format!("{SUB_MARK}{}", p.subs.len()));
                p.subs.push(sub);
                i = next;
            }
            '`' => {
                in_word = true;
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && chars[j] != '`' {
                    j += 1;
                }
                word.push_str(&format!("{SUB_MARK}{}", p.subs.len()));
                p.subs
                    .push(chars[start..j.min(chars.len())].iter().collect());
                i = j + 1;
            }
            '|' | '&' | ';' | '\n' => {
                flush_word(&mut word, &mut in_word, &mut cmd);
                let double = chars.get(i + 1) == Some(&c);
                if c == '|' && !double {
                    pipeline.push(std::mem::take(&mut cmd));
                } else if c == '&' && !double && i > 0 && matches!(chars[i - 1], '>' | '<') {
                    // `2>&1`: part of a redirection, not a separator.
                    word.push('&');
                    in_word = true;
                    i += 1;
                    continue;
                } else {
                    pipeline.push(std::mem::take(&mut cmd));
                    p.pipelines.push(std::mem::take(&mut pipeline));
                }
                i += if double { 2 } else { 1 };
            }
            '>' | '<' => {
                flush_word(&mut word, &mut in_word, &mut cmd);
                let mut op = String::from(c);
                while matches!(chars.get(i + op.len()), Some('>' | '&')) {
                    op.push(chars[i + op.len()]);
                }
                i += op.len();
                cmd.words.push(op);
            }
            c if c.is_whitespace() => {
                flush_word(&mut word, &mut in_word, &mut cmd);
                i += 1;
            }
            c => {
                in_word = true;
                word.push(c);
                i += 1;
            }
        }
    }
    flush_word(&mut word, &mut in_word, &mut cmd);
    pipeline.push(cmd);
    p.pipelines.push(pipeline);
    for pl in &mut p.pipelines {
        pl.retain(|c| !c.words.is_empty());
        pl.iter_mut().for_each(Cmd::locate);
    }
    p.pipelines.retain(|pl| !pl.is_empty());
    p
}

/// Text up to the `)` that closes a `$(` / `<(` opened before `start`.
fn balanced(chars: &[char], start: usize) -> (String, usize) {
    let mut depth = 1;
    let mut j = start;
    let mut quote: Option<char> = None;
    while j < chars.len() {
        let c = chars[j];
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return (chars[start..j].iter().collect(), j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    (chars[start..].iter().collect(), chars.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The plain-words shortcut reads a script exactly as the shell grammar does —
        /// including the scripts it must leave to the grammar (operators, quotes, `$(`).
        #[test]
        fn plain_words_read_as_the_grammar_reads_them(
            plain in "[a-z0-9 \\t/.=:$(é\u{a0}-]{0,30}",
            special in proptest::option::of(proptest::sample::select(
                vec!['\'', '"', '\\', '`', '|', '&', ';', '\n', '<', '>', ')'],
            )),
            at in 0usize..31,
        ) {
            let mut script = plain;
            if let Some(c) = special {
                let at = script.char_indices().map(|(i, _)| i).nth(at).unwrap_or(script.len());
                script.insert(at, c);
            }
            prop_assert_eq!(
                format!("{:?}", parse(&script)),
                format!("{:?}", parse_shell(&script))
            );
        }
    }

    proptest! {
        /// The base name: past the last `/` or `\\`, without `.exe`.
        #[test]
        fn base_names(word in "[a-z./\\\\é]{0,12}(\\.exe)?") {
            let w = word.rsplit(['/', '\\']).next().unwrap_or(&word);
            prop_assert_eq!(base_name(&word), w.strip_suffix(".exe").unwrap_or(w));
        }
    }

    #[test]
    fn commands_know_their_tool() {
        let p =
            parse("sudo -u root /usr/bin/curl.exe -s http://x | env A=1 C:\\\\bin\\\\sh.exe -c id");
        let tools: Vec<(&str, usize)> = p.pipelines[0]
            .iter()
            .map(|c| c.name_and_args())
            .map(|(n, a)| (n, a.len()))
            .collect();
        assert_eq!(tools, [("curl", 2), ("sh", 2)]);
    }

    #[test]
    fn plain_words_split_on_any_whitespace() {
        let p = parse("  nginx\t-g 'x'");
        assert_eq!(p.pipelines[0][0].words, ["nginx", "-g", "x"]);
        let p = parse("-c /etc/envoy/envoy.yaml");
        assert_eq!(p.pipelines[0][0].words, ["-c", "/etc/envoy/envoy.yaml"]);
        assert!(parse(" \t").pipelines.is_empty());
    }
}
