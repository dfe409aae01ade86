//! `results.json` as highlighted, pretty-printed HTML, plus the list of sub-results that are not
//! valid (so a page can name the failing checkers before the wall of JSON).

use serde_json::{Map, Value};

use crate::store::Verdict;

/// A checker result (an object with a `valid?` key) that is not `true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flagged {
    /// Keys from the top of `results.json`, joined with `/` (e.g. `independent/3/linear`).
    pub path: String,
    /// The `id` of the anchor placed at that object in the rendered HTML.
    pub anchor: String,
    /// [`Verdict::Invalid`] or [`Verdict::Unknown`].
    pub verdict: Verdict,
}

/// The rendered JSON and what was found on the way.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// HTML (already escaped) for the inside of a `<pre>`.
    pub html: String,
    /// Sub-results whose `valid?` is false come first, then the unknown ones; each group in
    /// document order. The top level itself is not listed.
    pub flagged: Vec<Flagged>,
    /// Every distinct string under any `anomaly-types` key, in order of appearance.
    pub anomaly_types: Vec<String>,
}

/// An open container: its remaining items, how many were written, and the key or index by
/// which it was reached.
enum Frame<'a> {
    Obj(std::vec::IntoIter<(&'a String, &'a Value)>, usize, String),
    Arr(std::slice::Iter<'a, Value>, usize, String),
}

impl Frame<'_> {
    fn seg(&self) -> &str {
        match self {
            Frame::Obj(_, _, s) | Frame::Arr(_, _, s) => s,
        }
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn scalar(v: &Value, class: Option<&str>, out: &mut String) {
    let class = class.unwrap_or(match v {
        Value::String(_) => "s",
        Value::Number(_) => "n",
        Value::Bool(_) => "b",
        _ => "z",
    });
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    let text = serde_json::to_string(v).unwrap_or_default();
    escape(&text, out);
    out.push_str("</span>");
}

fn valid_class(v: &Value) -> &'static str {
    match Verdict::of_valid(Some(v)) {
        Verdict::Valid => "good",
        Verdict::Invalid => "bad",
        _ => "unk",
    }
}

struct Walk<'a> {
    out: String,
    stack: Vec<Frame<'a>>,
    invalid: Vec<Flagged>,
    unknown: Vec<Flagged>,
    anomaly_types: Vec<String>,
}

impl<'a> Walk<'a> {
    /// Writes `v` (the value of `key`, reached by segment `seg`); containers are pushed.
    fn open(&mut self, v: &'a Value, key: Option<&str>, seg: String) {
        if key == Some("anomaly-types") {
            for t in v.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !self.anomaly_types.iter().any(|x| x == t) {
                    self.anomaly_types.push(t.to_string());
                }
            }
        }
        match v {
            Value::Array(items) if items.iter().all(is_scalar) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    scalar(item, None, &mut self.out);
                }
                self.out.push(']');
            }
            Value::Array(items) => {
                self.out.push('[');
                self.stack.push(Frame::Arr(items.iter(), 0, seg));
            }
            Value::Object(map) if map.is_empty() => self.out.push_str("{}"),
            Value::Object(map) => self.open_object(map, seg),
            _ if key == Some("valid?") => scalar(v, Some(valid_class(v)), &mut self.out),
            _ => scalar(v, None, &mut self.out),
        }
    }

    /// The keys from the top down to a child reached by `seg` (the root frame has none).
    fn path_to(&self, seg: &str) -> String {
        let mut parts: Vec<&str> = self.stack.iter().skip(1).map(Frame::seg).collect();
        parts.push(seg);
        parts.join("/")
    }

    fn open_object(&mut self, map: &'a Map<String, Value>, seg: String) {
        if let (Some(valid), false) = (map.get("valid?"), self.stack.is_empty()) {
            let verdict = Verdict::of_valid(Some(valid));
            if verdict != Verdict::Valid {
                let path = self.path_to(&seg);
                let anchor = format!("r{}", self.invalid.len() + self.unknown.len());
                self.out.push_str("<span class=\"anchor\" id=\"");
                self.out.push_str(&anchor);
                self.out.push_str("\"></span>");
                let flag = Flagged {
                    path,
                    anchor,
                    verdict,
                };
                match verdict {
                    Verdict::Invalid => self.invalid.push(flag),
                    _ => self.unknown.push(flag),
                }
            }
        }
        self.out.push('{');
        // `valid?` first, as Jepsen prints it; the rest in the map's order.
        let mut entries: Vec<(&String, &Value)> = Vec::with_capacity(map.len());
        entries.extend(map.iter().filter(|(k, _)| *k == "valid?"));
        entries.extend(map.iter().filter(|(k, _)| *k != "valid?"));
        self.stack.push(Frame::Obj(entries.into_iter(), 0, seg));
    }

    fn key(&mut self, k: &str, v: &Value) {
        let hot = matches!(
            k,
            "anomaly-types" | "anomalies" | "errors" | "lost" | "duplicated"
        ) && match v {
            Value::Array(a) => !a.is_empty(),
            Value::Object(m) => !m.is_empty(),
            Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
            _ => false,
        };
        self.out.push_str(if hot {
            "<span class=\"k hot\">"
        } else {
            "<span class=\"k\">"
        });
        escape(&serde_json::to_string(k).unwrap_or_default(), &mut self.out);
        self.out.push_str("</span>: ");
    }

    /// Advances the top frame by one item; `false` when the stack is empty.
    fn step(&mut self) -> bool {
        let depth = self.stack.len();
        let Some(top) = self.stack.last_mut() else {
            return false;
        };
        let next = match top {
            Frame::Obj(it, n, _) => it.next().map(|(k, v)| {
                *n += 1;
                (*n, Some(k.as_str()), v, k.clone())
            }),
            Frame::Arr(it, n, _) => it.next().map(|v| {
                *n += 1;
                (*n, None, v, (*n - 1).to_string())
            }),
        };
        match next {
            Some((n, key, v, child)) => {
                if n > 1 {
                    self.out.push(',');
                }
                self.out.push('\n');
                indent(&mut self.out, depth);
                if let Some(k) = key {
                    self.key(k, v);
                }
                self.open(v, key, child);
            }
            None => {
                let close = match top {
                    Frame::Obj(..) => '}',
                    Frame::Arr(..) => ']',
                };
                self.out.push('\n');
                indent(&mut self.out, depth - 1);
                self.out.push(close);
                self.stack.pop();
            }
        }
        true
    }
}

/// Renders a results document. Each object's `valid?` comes first; arrays of scalars stay on
/// one line (a counter's reads, a set's lost elements); `valid?` values are coloured; non-empty
/// `anomalies`/`anomaly-types`/`errors`/`lost`/`duplicated` keys are marked hot.
pub fn render(value: &Value) -> Rendered {
    let mut walk = Walk {
        out: String::new(),
        stack: Vec::new(),
        invalid: Vec::new(),
        unknown: Vec::new(),
        anomaly_types: Vec::new(),
    };
    walk.open(value, None, String::new());
    while walk.step() {}
    let mut flagged = walk.invalid;
    flagged.extend(walk.unknown);
    Rendered {
        html: walk.out,
        flagged,
        anomaly_types: walk.anomaly_types,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flags_invalid_then_unknown_in_document_order() {
        let doc = json!({
            "valid?": false,
            "perf": {"valid?": true},
            "stats": {"valid?": "unknown"},
            "elle": {"valid?": false, "anomaly-types": ["G1c", "G-single"]},
            "independent": {"3": {"valid?": false, "anomaly-types": ["G1c"]}}
        });
        let r = render(&doc);
        let paths: Vec<_> = r
            .flagged
            .iter()
            .map(|f| (f.path.as_str(), f.verdict))
            .collect();
        assert_eq!(
            paths,
            [
                ("elle", Verdict::Invalid),
                ("independent/3", Verdict::Invalid),
                ("stats", Verdict::Unknown)
            ]
        );
        assert_eq!(r.anomaly_types, ["G1c", "G-single"]);
        assert!(r.html.contains("<span class=\"anchor\" id=\"r1\"></span>{"));
        assert!(r.html.contains(
            "<span class=\"k\">&quot;valid?&quot;</span>: <span class=\"bad\">false</span>"
        ));
    }

    #[test]
    fn layout_and_escaping() {
        let doc = json!({"a": [1, 2], "b": [{"x": "<i>"}], "c": {}});
        let r = render(&doc);
        let expected = "{\n  <span class=\"k\">&quot;a&quot;</span>: [<span class=\"n\">1</span>, \
<span class=\"n\">2</span>],\n  <span class=\"k\">&quot;b&quot;</span>: [\n    {\n      \
<span class=\"k\">&quot;x&quot;</span>: <span class=\"s\">&quot;&lt;i&gt;&quot;</span>\n    }\n  ],\n  \
<span class=\"k\">&quot;c&quot;</span>: {}\n}";
        assert_eq!(r.html, expected);
        assert!(r.flagged.is_empty());
    }

    #[test]
    fn valid_comes_first_in_each_object() {
        let r = render(&json!({"a": 1, "valid?": true, "z": {"b": 2, "valid?": false}}));
        let keys: Vec<&str> = r
            .html
            .match_indices("&quot;")
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|p| &r.html[p[0] + 6..p[1]])
            .collect();
        assert_eq!(keys, ["valid?", "a", "z", "valid?", "b"]);
        assert_eq!(r.flagged[0].path, "z");
    }

    #[test]
    fn deep_nesting_uses_no_recursion() {
        let mut v = json!(1);
        for _ in 0..3_000 {
            v = Value::Array(vec![v, json!(0)]);
        }
        let r = render(&v);
        assert_eq!(r.html.matches('[').count(), 3_000);
        // Dropping a deeply nested Value is itself recursive in serde_json; leak it instead.
        std::mem::forget(v);
    }
}
