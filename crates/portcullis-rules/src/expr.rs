//! The condition language: Falco's shape (fields, lists, macros, `and`/`or`/`not`,
//! `in`/`intersects`/`contains`/`startswith`/`exists`), typed and compiled once.
//!
//! ```text
//! expr    := or
//! or      := and (("or" | "||") and)*
//! and     := unary (("and" | "&&") unary)*
//! unary   := ("not" | "!") unary | compare
//! compare := operand [op operand] | operand "exists"
//! op      := "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "intersects"
//!          | "contains" | "startswith" | "endswith" | "matches"
//! operand := field | name | literal | "[" literal, … "]" | func "(" expr, … ")" | "(" expr ")"
//! ```
//!
//! A bare `name` is a macro (expanded in place) or a list (a list literal). Fields are
//! resolved to [`Field`]s at compile time, so evaluation is a match on an enum, not a
//! string lookup; regexes compile once.

use crate::fields::{Field, Scope};
use crate::functions::Func;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Op(&'static str),
}

/// A compile error with the 0-based character offset inside the condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at column {})", self.message, self.offset + 1)
    }
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        offset,
        message: message.into(),
    })
}

pub fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((pos, Tok::LParen));
                i += 1
            }
            ')' => {
                out.push((pos, Tok::RParen));
                i += 1
            }
            '[' => {
                out.push((pos, Tok::LBracket));
                i += 1
            }
            ']' => {
                out.push((pos, Tok::RBracket));
                i += 1
            }
            ',' => {
                out.push((pos, Tok::Comma));
                i += 1
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err(pos, "unterminated string"),
                        Some((_, '\\')) => {
                            if let Some((_, n)) = chars.get(i + 1) {
                                s.push(*n);
                            }
                            i += 2;
                        }
                        Some((_, ch)) if *ch == quote => {
                            i += 1;
                            break;
                        }
                        Some((_, ch)) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((pos, Tok::Str(s)));
            }
            '=' | '!' | '<' | '>' | '&' | '|' => {
                let next = chars.get(i + 1).map(|(_, c)| *c);
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => ("==", 2),
                    ('=', _) => ("==", 1),
                    ('!', Some('=')) => ("!=", 2),
                    ('!', _) => ("not", 1),
                    ('<', Some('=')) => ("<=", 2),
                    ('<', _) => ("<", 1),
                    ('>', Some('=')) => (">=", 2),
                    ('>', _) => (">", 1),
                    ('&', Some('&')) => ("and", 2),
                    ('|', Some('|')) => ("or", 2),
                    _ => return err(pos, format!("unexpected character {c:?}")),
                };
                out.push((pos, Tok::Op(op)));
                i += len;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|(_, d)| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while chars.get(i).is_some_and(|(_, d)| d.is_ascii_digit()) {
                    i += 1;
                }
                let text: String = chars[start..i].iter().map(|(_, c)| *c).collect();
                match text.parse() {
                    Ok(n) => out.push((pos, Tok::Int(n))),
                    Err(_) => return err(pos, format!("bad number {text}")),
                }
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|(_, d)| d.is_alphanumeric() || "_.".contains(*d))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().map(|(_, c)| *c).collect();
                let tok = match word.as_str() {
                    "and" => Tok::Op("and"),
                    "or" => Tok::Op("or"),
                    "not" => Tok::Op("not"),
                    "in" => Tok::Op("in"),
                    "intersects" => Tok::Op("intersects"),
                    "contains" => Tok::Op("contains"),
                    "startswith" => Tok::Op("startswith"),
                    "endswith" => Tok::Op("endswith"),
                    "matches" => Tok::Op("matches"),
                    "exists" => Tok::Op("exists"),
                    _ => Tok::Ident(word),
                };
                out.push((pos, tok));
            }
            other => return err(pos, format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

/// Literal values.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Bool(bool),
    Int(i64),
    Str(String),
    /// Items kept as the values rules compare with, so a list is read in place.
    List(Vec<Cow<'static, str>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Intersects,
    Contains,
    StartsWith,
    EndsWith,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Node {
    Lit(Lit),
    Field(Field),
    Call(Func, Vec<Node>),
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    Matches(Box<Node>, regex::Regex),
    Exists(Box<Node>),
}

/// What a condition may refer to by bare name.
pub struct Names<'a> {
    pub lists: &'a HashMap<String, Vec<String>>,
    pub macros: &'a HashMap<String, String>,
}

pub struct Compiler<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    names: &'a Names<'a>,
    scope: Scope,
    /// Macro names being expanded, to refuse recursion.
    stack: Vec<String>,
    end: usize,
}

/// Compile `src` for a rule of `scope`.
pub fn compile(src: &str, scope: Scope, names: &Names<'_>) -> Result<Node, ExprError> {
    compile_nested(src, scope, names, Vec::new())
}

fn compile_nested(
    src: &str,
    scope: Scope,
    names: &Names<'_>,
    stack: Vec<String>,
) -> Result<Node, ExprError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return err(0, "empty condition");
    }
    let mut c = Compiler {
        toks,
        pos: 0,
        names,
        scope,
        stack,
        end: src.len(),
    };
    let node = c.or()?;
    if let Some((p, t)) = c.toks.get(c.pos) {
        return err(*p, format!("unexpected {t:?} after a complete expression"));
    }
    Ok(node)
}

impl Compiler<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(p, _)| *p)
    }
    fn bump(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }
    fn expect(&mut self, want: Tok) -> Result<(), ExprError> {
        let at = self.here();
        match self.bump() {
            Some(t) if t == want => Ok(()),
            Some(t) => err(at, format!("expected {want:?}, found {t:?}")),
            None => err(at, format!("expected {want:?}, found the end")),
        }
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Op("or")) {
            self.bump();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Or(items)
        })
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let mut items = vec![self.unary()?];
        while self.peek() == Some(&Tok::Op("and")) {
            self.bump();
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::And(items)
        })
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if self.peek() == Some(&Tok::Op("not")) {
            self.bump();
            return Ok(Node::Not(Box::new(self.unary()?)));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Node, ExprError> {
        let left = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Op(op)) if !matches!(*op, "and" | "or" | "not") => *op,
            _ => return Ok(left),
        };
        let at = self.here();
        self.bump();
        if op == "exists" {
            return Ok(Node::Exists(Box::new(left)));
        }
        let right = self.operand()?;
        if op == "matches" {
            let Node::Lit(Lit::Str(pattern)) = right else {
                return err(at, "matches takes a string literal pattern");
            };
            return match regex::Regex::new(&pattern) {
                Ok(re) => Ok(Node::Matches(Box::new(left), re)),
                Err(e) => err(at, format!("bad regex: {e}")),
            };
        }
        let cmp = match op {
            "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "in" => CmpOp::In,
            "intersects" => CmpOp::Intersects,
            "contains" => CmpOp::Contains,
            "startswith" => CmpOp::StartsWith,
            "endswith" => CmpOp::EndsWith,
            other => return err(at, format!("unknown operator {other}")),
        };
        if matches!(cmp, CmpOp::In | CmpOp::Intersects)
            && !matches!(
                right,
                Node::Lit(Lit::List(_)) | Node::Field(_) | Node::Call(..)
            )
        {
            return err(at, format!("{op} needs a list on its right"));
        }
        Ok(Node::Cmp(cmp, Box::new(left), Box::new(right)))
    }

    fn operand(&mut self) -> Result<Node, ExprError> {
        let at = self.here();
        match self.bump() {
            Some(Tok::LParen) => {
                let inner = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(inner)
            }
            Some(Tok::Str(s)) => Ok(Node::Lit(Lit::Str(s))),
            Some(Tok::Int(n)) => Ok(Node::Lit(Lit::Int(n))),
            Some(Tok::LBracket) => {
                let mut items = Vec::new();
                if self.peek() == Some(&Tok::RBracket) {
                    self.bump();
                    return Ok(Node::Lit(Lit::List(items)));
                }
                loop {
                    let at = self.here();
                    match self.bump() {
                        Some(Tok::Str(s)) | Some(Tok::Ident(s)) => items.push(Cow::Owned(s)),
                        Some(Tok::Int(n)) => items.push(Cow::Owned(n.to_string())),
                        _ => return err(at, "a list holds strings or numbers"),
                    }
                    match self.bump() {
                        Some(Tok::Comma) => continue,
                        Some(Tok::RBracket) => break,
                        _ => return err(self.here(), "expected , or ] in list"),
                    }
                }
                Ok(Node::Lit(Lit::List(items)))
            }
            Some(Tok::Ident(name)) => self.name(name, at),
            Some(t) => err(at, format!("unexpected {t:?}")),
            None => err(at, "unexpected end of condition"),
        }
    }

    fn name(&mut self, name: String, at: usize) -> Result<Node, ExprError> {
        match name.as_str() {
            "true" => return Ok(Node::Lit(Lit::Bool(true))),
            "false" => return Ok(Node::Lit(Lit::Bool(false))),
            _ => {}
        }
        if self.peek() == Some(&Tok::LParen) {
            let Some(func) = Func::by_name(&name) else {
                return err(at, format!("unknown function {name}()"));
            };
            self.bump();
            let mut args = Vec::new();
            if self.peek() != Some(&Tok::RParen) {
                loop {
                    args.push(self.or()?);
                    if self.peek() == Some(&Tok::Comma) {
                        self.bump();
                    } else {
                        break;
                    }
                }
            }
            self.expect(Tok::RParen)?;
            if let Err(m) = func.check_args(&args) {
                return err(at, format!("{name}(): {m}"));
            }
            if func.needs_container() && self.scope != Scope::Container {
                return err(at, format!("{name}() needs scope: container"));
            }
            return Ok(Node::Call(func, args));
        }
        if let Some(field) = Field::by_name(&name) {
            if !self.scope.allows(field.scope()) {
                return err(
                    at,
                    format!(
                        "field {name} needs scope: {} (this rule's scope is {})",
                        field.scope().as_str(),
                        self.scope.as_str()
                    ),
                );
            }
            return Ok(Node::Field(field));
        }
        if let Some(items) = self.names.lists.get(&name) {
            return Ok(Node::Lit(Lit::List(
                items.iter().cloned().map(Cow::Owned).collect(),
            )));
        }
        if let Some(body) = self.names.macros.get(&name) {
            if self.stack.contains(&name) {
                return err(at, format!("macro {name} refers to itself"));
            }
            let mut stack = self.stack.clone();
            stack.push(name.clone());
            return compile_nested(body, self.scope, self.names, stack).map_err(|e| ExprError {
                offset: at,
                message: format!("in macro {name}: {e}"),
            });
        }
        let hint = Field::suggest(&name)
            .map(|s| format!(" (did you mean {s}?)"))
            .unwrap_or_default();
        err(
            at,
            format!("unknown name {name}: not a field, list or macro{hint}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> (HashMap<String, Vec<String>>, HashMap<String, String>) {
        let mut lists = HashMap::new();
        lists.insert("caps".to_string(), vec!["SYS_ADMIN".to_string()]);
        let mut macros = HashMap::new();
        macros.insert("priv".to_string(), "container.privileged".to_string());
        macros.insert("loop".to_string(), "loop".to_string());
        (lists, macros)
    }

    #[test]
    fn compiles_and_reports_positions() {
        let (lists, macros) = names();
        let n = Names {
            lists: &lists,
            macros: &macros,
        };
        assert!(
            compile(
                "priv and container.cap_add intersects caps",
                Scope::Container,
                &n
            )
            .is_ok()
        );
        assert!(compile("pod.host_pid or not (pod.host_ipc)", Scope::Pod, &n).is_ok());
        let e = compile("pod.host_pid and container.privileged", Scope::Pod, &n).unwrap_err();
        assert_eq!(e.offset, 17);
        assert!(e.message.contains("needs scope: container"));
        let e = compile("container.privilegd", Scope::Container, &n).unwrap_err();
        assert!(
            e.message.contains("did you mean container.privileged"),
            "{e}"
        );
        assert!(
            compile("loop", Scope::Pod, &n)
                .unwrap_err()
                .message
                .contains("itself")
        );
        assert!(compile("pod.host_pid pod.host_ipc", Scope::Pod, &n).is_err());
        assert!(compile("target.kind matches '('", Scope::Event, &n).is_err());
        assert!(compile("'unterminated", Scope::Event, &n).is_err());
    }
}
