//! Makes plotters' SVG output smaller without changing what it draws: a run of consecutive
//! markers (`circle`, `rect`, `polygon` on lines of their own) that share their style moves
//! that style onto one `<g>` around them. Only inherited presentation attributes move (`fill`,
//! `stroke`, `stroke-width`); `opacity`, which is not inherited, moves only when it is `1`
//! (then it is dropped: 1 is its initial value). Anything else stays as written.

/// Attributes that set where a marker is and how big: they stay on the element.
const GEOMETRY: &[&str] = &["cx", "cy", "r", "x", "y", "width", "height", "points"];
/// Inherited attributes a group may carry for its children.
const INHERITED: &[&str] = &["fill", "stroke", "stroke-width"];
/// A run shorter than this is left as it is (a group would not pay for itself).
const MIN_RUN: usize = 4;

/// One marker line split into its tag, geometry and shared style.
struct Marker<'a> {
    tag: &'a str,
    geometry: Vec<(&'a str, &'a str)>,
    style: Vec<(&'a str, &'a str)>,
}

/// Parses `<tag a="v" .../>` (one element, nothing else on the line); None when the line is
/// not a marker whose every attribute is geometry or movable style.
fn marker(line: &str) -> Option<Marker<'_>> {
    let body = line.strip_prefix('<')?.strip_suffix("/>")?;
    let (tag, mut rest) = body.split_once(' ')?;
    if !matches!(tag, "circle" | "rect" | "polygon") {
        return None;
    }
    let (mut geometry, mut style) = (Vec::new(), Vec::new());
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let (name, after) = rest.split_once("=\"")?;
        let (value, after) = after.split_once('"')?;
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') {
            return None;
        }
        if GEOMETRY.contains(&name) {
            geometry.push((name, value));
        } else if INHERITED.contains(&name) {
            style.push((name, value));
        } else if name == "opacity" && value == "1" {
            // Initial value: dropping it changes nothing.
        } else {
            return None;
        }
        rest = after;
    }
    Some(Marker {
        tag,
        geometry,
        style,
    })
}

fn write_attrs(out: &mut String, attrs: &[(&str, &str)]) {
    for (n, v) in attrs {
        out.push(' ');
        out.push_str(n);
        out.push_str("=\"");
        out.push_str(v);
        out.push('"');
    }
}

/// The compacted SVG text (see the module documentation).
pub fn compact(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len() / 2);
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].strip_suffix('\n').unwrap_or(lines[i]);
        let Some(first) = marker(line) else {
            out.push_str(lines[i]);
            i += 1;
            continue;
        };
        let mut run = vec![first];
        let mut j = i + 1;
        while j < lines.len() {
            let next = lines[j].strip_suffix('\n').unwrap_or(lines[j]);
            match marker(next) {
                Some(m) if m.style == run[0].style && lines[j - 1].ends_with('\n') => {
                    run.push(m);
                    j += 1;
                }
                _ => break,
            }
        }
        if run.len() < MIN_RUN {
            for l in &lines[i..j] {
                out.push_str(l);
            }
        } else {
            out.push_str("<g");
            write_attrs(&mut out, &run[0].style);
            out.push_str(">\n");
            for m in &run {
                out.push('<');
                out.push_str(m.tag);
                write_attrs(&mut out, &m.geometry);
                out.push_str("/>\n");
            }
            out.push_str("</g>");
            // Keep the line ending of the run's last line.
            if lines[j - 1].ends_with('\n') {
                out.push('\n');
            }
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::compact;

    const C: &str = r##"<circle cx="84" cy="364" r="2" opacity="1" fill="#0072B2" stroke="none" stroke-width="1"/>"##;

    #[test]
    fn groups_a_run_of_markers_of_one_style() {
        let mut text = String::from("<svg>\n");
        for i in 0..5 {
            text += &C.replace("cy=\"364\"", &format!("cy=\"{i}\""));
            text += "\n";
        }
        text += r##"<rect x="1" y="2" width="4" height="4" opacity="1" fill="#D55E00" stroke="none"/>"##;
        text += "\n</svg>\n";
        let out = compact(&text);
        assert_eq!(
            out,
            "<svg>\n<g fill=\"#0072B2\" stroke=\"none\" stroke-width=\"1\">\n\
             <circle cx=\"84\" cy=\"0\" r=\"2\"/>\n<circle cx=\"84\" cy=\"1\" r=\"2\"/>\n\
             <circle cx=\"84\" cy=\"2\" r=\"2\"/>\n<circle cx=\"84\" cy=\"3\" r=\"2\"/>\n\
             <circle cx=\"84\" cy=\"4\" r=\"2\"/>\n</g>\n\
             <rect x=\"1\" y=\"2\" width=\"4\" height=\"4\" opacity=\"1\" fill=\"#D55E00\" stroke=\"none\"/>\n</svg>\n"
        );
    }

    #[test]
    fn leaves_what_it_cannot_move_alone() {
        // Opacity other than 1 is not inherited by a group's children: never moved.
        let faded = C.replace("opacity=\"1\"", "opacity=\"0.6\"");
        let text = format!("{faded}\n{faded}\n{faded}\n{faded}\n{faded}\n");
        assert_eq!(compact(&text), text);
        // Text, lines and short runs stay as written; so does input that is not plotters'.
        let other =
            format!("<text x=\"1\">\nok\n</text>\n{C}\n{C}\n<line x1=\"1\"/>\n<circle cx=\"1 />\n");
        assert_eq!(compact(&other), other);
        assert_eq!(compact(""), "");
        assert_eq!(compact(C), C);
    }
}
