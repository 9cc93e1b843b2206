//! Conditions compiled for the judging pass.
//!
//! Every rule is judged against every container and nearly always found false; only the
//! rules that fire are evaluated again by the tree interpreter (`engine::interpreter::eval`), which
//! records their evidence. Judging therefore gets a form of its own: the shapes the pack is
//! made of (`field == "text"`, `field in list`, `field startswith list`, `field matches`,
//! `field exists`, `not`, `and`, `or`) read the field and compare in place — no value is built for the
//! literal side, nothing asks whether to record, and a named list is one packed block of
//! text rather than a heap string per item. Any other shape is judged by the interpreter.
//! `engine::tests::checks_judge_as_the_interpreter` holds both to the same findings over
//! every fixture.

use crate::expr::{CmpOp, Lit, Node};
use crate::fields::{Field, Val};

/// A condition in its judging form.
#[derive(Debug, Clone)]
pub(crate) enum Check {
    Const(bool),
    /// `field`: the field is truthy.
    Truthy(Field),
    /// `field exists`: neither null nor an empty list.
    Exists(Field),
    /// `field == literal`, `field != literal`.
    Eq(Field, Scalar),
    Ne(Field, Scalar),
    /// `field in …` / `field intersects …`: some item of the field equals some literal item.
    In(Field, Texts),
    StartsWith(Field, Texts),
    EndsWith(Field, Texts),
    /// `field matches "re"`: a text, or some item of a list, matches.
    Matches(Field, regex::Regex),
    Not(Box<Check>),
    And(Box<[Check]>),
    Or(Box<[Check]>),
    /// Everything else: the interpreter's answer.
    Tree(Box<Node>),
}

impl Check {
    pub(crate) fn compile(n: &Node) -> Check {
        match n {
            Node::Lit(l) => Check::Const(lit_truthy(l)),
            Node::Field(f) => Check::Truthy(*f),
            Node::Exists(inner) => match &**inner {
                Node::Field(f) => Check::Exists(*f),
                _ => Check::Tree(Box::new(n.clone())),
            },
            Node::Not(inner) => Check::Not(Box::new(Check::compile(inner))),
            Node::And(items) => Check::And(items.iter().map(Check::compile).collect()),
            Node::Or(items) => Check::Or(items.iter().map(Check::compile).collect()),
            Node::Cmp(op, l, r) => match (&**l, &**r) {
                (Node::Field(f), Node::Lit(lit)) => {
                    cmp(*op, *f, lit).unwrap_or_else(|| Check::Tree(Box::new(n.clone())))
                }
                _ => Check::Tree(Box::new(n.clone())),
            },
            Node::Matches(inner, re) => match &**inner {
                Node::Field(f) => Check::Matches(*f, re.clone()),
                _ => Check::Tree(Box::new(n.clone())),
            },
            Node::Call(..) => Check::Tree(Box::new(n.clone())),
        }
    }

    /// Whether this check leans on the interpreter anywhere.
    #[cfg(test)]
    pub(crate) fn uses_tree(&self) -> bool {
        match self {
            Check::Tree(_) => true,
            Check::Not(c) => c.uses_tree(),
            Check::And(cs) | Check::Or(cs) => cs.iter().any(Check::uses_tree),
            _ => false,
        }
    }
}

fn lit_truthy(l: &Lit) -> bool {
    match l {
        Lit::Bool(b) => *b,
        Lit::Int(i) => *i != 0,
        Lit::Str(s) => !s.is_empty(),
        Lit::List(l) => !l.is_empty(),
    }
}

fn cmp(op: CmpOp, f: Field, lit: &Lit) -> Option<Check> {
    Some(match op {
        CmpOp::Eq => Check::Eq(f, Scalar::of(lit)?),
        CmpOp::Ne => Check::Ne(f, Scalar::of(lit)?),
        CmpOp::In | CmpOp::Intersects => Check::In(f, Texts::of(lit)),
        CmpOp::StartsWith => Check::StartsWith(f, Texts::of(lit)),
        CmpOp::EndsWith => Check::EndsWith(f, Texts::of(lit)),
        CmpOp::Contains | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => return None,
    })
}

/// A scalar literal, with the integer a text literal reads as worked out once.
#[derive(Debug, Clone)]
pub(crate) enum Scalar {
    Bool(bool),
    Int(i64),
    Str { text: Box<str>, int: Option<i64> },
}

impl Scalar {
    fn of(l: &Lit) -> Option<Scalar> {
        Some(match l {
            Lit::Bool(b) => Scalar::Bool(*b),
            Lit::Int(i) => Scalar::Int(*i),
            Lit::Str(s) => Scalar::Str {
                text: s.as_str().into(),
                int: s.parse().ok(),
            },
            Lit::List(_) => return None,
        })
    }

    /// `engine::interpreter::scalar_eq(value, literal)`.
    pub(crate) fn equals(&self, v: &Val<'_>) -> bool {
        match (v, self) {
            (Val::Bool(x), Scalar::Bool(y)) => x == y,
            (Val::Int(x), Scalar::Int(y)) => x == y,
            (Val::Str(x), Scalar::Str { text, .. }) => **x == **text,
            (Val::Int(x), Scalar::Str { int, .. }) => *int == Some(*x),
            (Val::Str(x), Scalar::Int(y)) => x.parse::<i64>().ok() == Some(*y),
            _ => false,
        }
    }
}

/// A literal's items packed into one block of text: a list is scanned without touching a
/// heap string per item. A lone scalar is a one-item list (as the interpreter reads it).
#[derive(Debug, Clone)]
pub(crate) struct Texts {
    text: Box<str>,
    ends: Box<[usize]>,
}

impl Texts {
    fn of(l: &Lit) -> Texts {
        let mut text = String::new();
        let mut ends = Vec::new();
        let mut push = |item: &str| {
            text.push_str(item);
            ends.push(text.len());
        };
        match l {
            Lit::List(items) => items.iter().for_each(|s| push(s)),
            Lit::Str(s) => push(s),
            Lit::Bool(b) => push(&b.to_string()),
            Lit::Int(i) => push(&i.to_string()),
        }
        Texts {
            text: text.into(),
            ends: ends.into(),
        }
    }

    pub(crate) fn any(&self, f: impl Fn(&str) -> bool) -> bool {
        let mut start = 0;
        self.ends.iter().any(|&end| {
            let item = self.text.get(start..end).unwrap_or_default();
            start = end;
            f(item)
        })
    }

    pub(crate) fn contains(&self, s: &str) -> bool {
        let mut start = 0;
        self.ends.iter().any(|&end| {
            let hit = end - start == s.len() && self.text.get(start..end) == Some(s);
            start = end;
            hit
        })
    }
}

/// Whether some item of `v` satisfies `pred` (a text as itself, a list by its items, a
/// number or boolean as it prints; null never) — the interpreter's `filter_list`.
pub(crate) fn any_item(v: &Val<'_>, pred: impl Fn(&str) -> bool) -> bool {
    match v {
        Val::Null => false,
        Val::Str(s) => pred(s),
        Val::List(items) => items.iter().any(|s| pred(s)),
        other => pred(&other.display()),
    }
}
