//! Deserializing a config file while collecting *every* type error and
//! unknown key, not just the first.
//!
//! serde stops at the first bad value, so an operator with three typos
//! would need three edit-and-retry rounds. Here the document is parsed once
//! into a spanned tree; then deserialization is retried, each time removing
//! the key the last error pointed at (its span locates it in the tree) and
//! recording a [`Problem`] with the key's dotted path and line. A bad key
//! then falls back to its default, so the rest of the file is still checked.
//! Unknown keys are still refused (`deny_unknown_fields`): they are simply
//! one more kind of error collected this way.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

use super::Problem;

/// Most errors collected before giving up (each round removes one key, so
/// this also bounds the work on a hostile file).
const MAX_ERRORS: usize = 200;

/// What [`deserialize_collecting`] found.
pub(crate) struct Collected<T> {
    /// The value with every bad key removed (defaults in their place);
    /// `None` when an error could not be tied to a key.
    pub value: Option<T>,
    /// One problem per bad key, in file order.
    pub problems: Vec<Problem>,
    /// True when whole array elements were dropped: array indices seen by
    /// later validation then no longer match the file, so the caller
    /// should not report validation problems by index.
    pub shifted: bool,
}

/// Parse `text` as TOML (a syntax error is returned as is: the document
/// has no tree to recover from) and deserialize it into `T`, collecting
/// every error.
pub(crate) fn deserialize_collecting<T: DeserializeOwned>(
    text: &str,
) -> Result<Collected<T>, toml::de::Error> {
    let mut root = DeTable::parse(text)?;
    // (offset in the file, problem): sorted at the end, since serde meets
    // keys in map order, not file order.
    let mut problems: Vec<(usize, Problem)> = Vec::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    // Original indices already removed from each array (keyed by the
    // array's original path), so later paths name the file's indices.
    let mut removed: HashMap<String, Vec<usize>> = HashMap::new();
    while problems.len() < MAX_ERRORS {
        let de = toml::de::Deserializer::from(root.clone());
        let err = match T::deserialize(de) {
            Ok(v) => {
                return Ok(Collected {
                    value: Some(v),
                    problems: in_file_order(problems),
                    shifted: !removed.is_empty(),
                })
            }
            Err(e) => e,
        };
        let message = err.message().trim_end().to_string();
        let line = err.span().map(|s| line_of(text, s.start));
        let at = |key: String| Problem {
            key,
            reason: match line {
                Some(l) => format!("line {l}: {message}"),
                None => message.clone(),
            },
        };
        let Some(span) = err.span() else {
            problems.push((usize::MAX, at("(file)".into())));
            break;
        };
        let mut path = Vec::new();
        if !locate(root.get_ref(), &span, &mut path) {
            problems.push((span.start, at("(file)".into())));
            break;
        }
        let key = original_path(&path, &removed);
        if !seen.insert(format!("{key}\0{message}")) {
            // The same error again: removing its key did not help (a shape
            // this walk does not know). It is reported already; stop.
            break;
        }
        // `name = 5` is reported as a bad `name`; the "missing field
        // `name`" that follows its removal says nothing new.
        let redundant =
            missing_field(&message).is_some_and(|f| reported.contains(&format!("{key}.{f}")));
        if !redundant {
            problems.push((span.start, at(key.clone())));
        }
        reported.insert(key);
        if let Some((Step::Index(i), parent)) = path.split_last() {
            let orig = original_path(parent, &removed);
            let list = removed.entry(orig).or_default();
            list.push(original_index(*i, list));
            list.sort_unstable();
        }
        remove(root.get_mut(), &path);
    }
    Ok(Collected {
        value: None,
        problems: in_file_order(problems),
        shifted: true,
    })
}

fn in_file_order(mut problems: Vec<(usize, Problem)>) -> Vec<Problem> {
    problems.sort_by_key(|(offset, _)| *offset);
    problems.into_iter().map(|(_, p)| p).collect()
}

/// One step of a path into the tree.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The deepest key or array element whose key or value span covers
/// `span`, appended to `path`.
fn locate(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<Step>) -> bool {
    for (k, v) in table.iter() {
        if contains(&k.span(), span) {
            path.push(Step::Key(k.get_ref().to_string()));
            return true;
        }
        if contains(&v.span(), span) {
            path.push(Step::Key(k.get_ref().to_string()));
            locate_value(v.get_ref(), span, path);
            return true;
        }
    }
    // Dotted or header-defined tables can span less than their contents:
    // look inside every sub-table as well.
    for (k, v) in table.iter() {
        let mut sub = vec![Step::Key(k.get_ref().to_string())];
        if locate_value(v.get_ref(), span, &mut sub) {
            path.extend(sub);
            return true;
        }
    }
    false
}

fn locate_value(v: &DeValue<'_>, span: &Range<usize>, path: &mut Vec<Step>) -> bool {
    match v {
        DeValue::Table(t) => locate(t, span, path),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                if contains(&item.span(), span) {
                    path.push(Step::Index(i));
                    locate_value(item.get_ref(), span, path);
                    return true;
                }
            }
            for (i, item) in a.iter().enumerate() {
                let mut sub = vec![Step::Index(i)];
                if locate_value(item.get_ref(), span, &mut sub) {
                    path.extend(sub);
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

/// The index in the file of what is now element `i`, given the original
/// indices already removed from the same array (sorted).
fn original_index(i: usize, removed: &[usize]) -> usize {
    let mut orig = i;
    for r in removed {
        if *r <= orig {
            orig += 1;
        }
    }
    orig
}

/// `server.listen[1]`-style path naming the file's own indices.
fn original_path(path: &[Step], removed: &HashMap<String, Vec<usize>>) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => {
                let gone = removed.get(&out).map(Vec::as_slice).unwrap_or(&[]);
                out.push_str(&format!("[{}]", original_index(*i, gone)));
            }
        }
    }
    out
}

fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

/// Remove what `path` names from the tree.
fn remove(table: &mut DeTable<'_>, path: &[Step]) {
    let Some((Step::Key(k), rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        table.remove(k.as_str());
        return;
    }
    if let Some(v) = table.get_mut(k.as_str()) {
        remove_in(v, rest);
    }
}

fn remove_in(v: &mut Spanned<DeValue<'_>>, path: &[Step]) {
    match (v.get_mut(), path.split_first()) {
        (DeValue::Table(t), Some(_)) => remove(t, path),
        (DeValue::Array(a), Some((Step::Index(i), rest))) => {
            if rest.is_empty() {
                // DeArray has no `remove`: rebuild it without element i.
                let mut kept = DeArray::new();
                for (j, item) in a.iter().enumerate() {
                    if j != *i {
                        kept.push(item.clone());
                    }
                }
                *a = kept;
            } else if let Some(item) = a.get_mut(*i) {
                remove_in(item, rest);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Doc {
        a: Section,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Section {
        n: u16,
        s: String,
        v: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
        #[serde(default)]
        size: u8,
    }

    fn keys(text: &str) -> (Vec<String>, Option<Doc>) {
        let c = deserialize_collecting::<Doc>(text).expect("syntax");
        (c.problems.into_iter().map(|p| p.key).collect(), c.value)
    }

    #[test]
    fn every_bad_key_is_named_once() {
        let (k, v) = keys(
            "[a]\nn = \"x\"\ns = 3\nbogus = 1\nv = [\"ok\", 5]\n[[items]]\nname = 1\n[[items]]\nname = \"b\"\nsize = 300\n",
        );
        assert_eq!(
            k,
            vec![
                "a.n",
                "a.s",
                "a.bogus",
                "a.v[1]",
                "items[0].name",
                "items[1].size"
            ]
        );
        let v = v.expect("value after removals");
        assert_eq!(v.a.v, vec!["ok"]);
        assert_eq!(v.items.len(), 1);
        assert_eq!((v.items[0].name.as_str(), v.items[0].size), ("b", 0));
    }

    #[test]
    fn problems_carry_the_line() {
        let c = deserialize_collecting::<Doc>("[a]\n\n\nn = -1\n").expect("syntax");
        assert_eq!(c.problems.len(), 1);
        assert!(
            c.problems[0].reason.starts_with("line 4: "),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn indices_stay_those_of_the_file() {
        let (k, _) = keys("[a]\nv = [1, \"ok\", 2, 3]\n");
        assert_eq!(k, vec!["a.v[0]", "a.v[2]", "a.v[3]"]);
    }

    #[test]
    fn a_good_document_has_no_problems() {
        let c = deserialize_collecting::<Doc>("[a]\nn = 1\n").expect("syntax");
        assert!(c.problems.is_empty() && !c.shifted);
        assert_eq!(c.value.expect("value").a.n, 1);
    }

    #[test]
    fn syntax_errors_are_returned_as_such() {
        assert!(deserialize_collecting::<Doc>("[a\n").is_err());
    }
}
