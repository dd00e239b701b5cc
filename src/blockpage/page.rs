//! The block page's HTML: built-in English and Vietnamese templates, or
//! one operator template, rendered with minijinja.
//!
//! minijinja is used for both, so the built-in pages and an operator's
//! page behave alike: templates are HTML-escaped automatically (every
//! value — the Host header, the list description — passes through the
//! escaper unless a template says `|safe`), undefined variables are an
//! error, and an operator template is compiled and test-rendered when the
//! configuration is loaded, so a broken file is refused with the template
//! error before anything is served.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Largest operator template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;

const OPERATOR: &str = "operator.html";

/// Where the built-in pages take `templates/style.css`.
const STYLE_SLOT: &str = "/* style.css */";

/// The variables a template may use, named in the error for an unknown one.
pub const VARIABLES: &[&str] = &[
    "host",
    "list",
    "description",
    "order_id",
    "summary",
    "authority_url",
    "appeal",
    "lang",
];

/// A page language the built-in templates are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (the default).
    En,
    /// Vietnamese.
    Vi,
}

impl Lang {
    /// BCP 47 tag, for `Content-Language` and the template's `lang`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Vi => "vi",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Lang::En => "en.html",
            Lang::Vi => "vi.html",
        }
    }
}

/// Choose the page language from an `Accept-Language` value (RFC 9110
/// section 12.5.4): the highest q-value among `vi` and `en` (a range
/// matches its subtags: `vi-VN`), `*` standing for English; ties go to the
/// earlier range; `q=0` rules a language out. English when nothing
/// matches or the header is absent or malformed.
pub fn negotiate(header: Option<&str>) -> Lang {
    let Some(h) = header else {
        return Lang::En;
    };
    let mut best: Option<(u16, Lang)> = None;
    for item in h.split(',').take(32) {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim();
        let mut q = 1000u16;
        for p in parts {
            if let Some(v) = p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")) {
                q = parse_q(v).unwrap_or(0);
            }
        }
        let primary = range.split('-').next().unwrap_or("");
        let lang = if primary.eq_ignore_ascii_case("vi") {
            Lang::Vi
        } else if primary.eq_ignore_ascii_case("en") || primary == "*" {
            Lang::En
        } else {
            continue;
        };
        if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map_or(Lang::En, |(_, l)| l)
}

/// A q-value as thousandths (`0.8` -> 800); None when malformed.
fn parse_q(v: &str) -> Option<u16> {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut f = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        f += u16::from(b - b'0') * [100, 10, 1][i];
    }
    if whole == 1000 && f > 0 {
        return None;
    }
    Some(whole + f)
}

/// What a page says about one blocked request.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// The blocked host as requested (validated, lower case).
    pub host: String,
    /// The list's name.
    pub list: String,
    /// The list's `description` (empty when unset).
    pub description: String,
    /// The list's `order_id` (empty when unset).
    pub order_id: String,
    /// The EDE extra text DNS answers carry for this list.
    pub summary: String,
}

/// The template's variables: [`Facts`] plus the page-wide texts (one
/// flat struct: serde's `flatten` would go through a map per request).
#[derive(Serialize)]
struct Context<'a> {
    host: &'a str,
    list: &'a str,
    description: &'a str,
    order_id: &'a str,
    summary: &'a str,
    authority_url: &'a str,
    appeal: &'a str,
    lang: &'static str,
}

/// Compiled templates plus the page-wide texts.
#[derive(Debug, Clone)]
pub struct Page {
    env: Environment<'static>,
    operator: bool,
    authority_url: String,
    appeal: String,
}

impl Page {
    /// Compile the built-in templates, or `operator` (the template file's
    /// text) instead, and render each once with sample values. The error
    /// is minijinja's, with line and reason.
    pub fn new(
        operator: Option<String>,
        authority_url: &str,
        appeal: &str,
    ) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let is_operator = operator.is_some();
        match operator {
            Some(src) => env.add_template_owned(OPERATOR, src)?,
            None => {
                // The shared stylesheet is spliced in once here rather
                // than `{% include %}`d, which would cost a template
                // lookup and a frame on every render.
                for (lang, src) in [
                    (Lang::En, include_str!("templates/en.html")),
                    (Lang::Vi, include_str!("templates/vi.html")),
                ] {
                    env.add_template_owned(
                        lang.template(),
                        src.replace(STYLE_SLOT, include_str!("templates/style.css")),
                    )?;
                }
            }
        }
        let page = Self {
            env,
            operator: is_operator,
            authority_url: authority_url.to_string(),
            appeal: appeal.to_string(),
        };
        let sample = Facts {
            host: "blocked.example".into(),
            list: "list".into(),
            description: "description".into(),
            order_id: "order".into(),
            summary: "summary".into(),
        };
        for lang in [Lang::En, Lang::Vi] {
            page.render(&sample, lang)?;
        }
        Ok(page)
    }

    /// The page for one blocked request.
    pub fn render(&self, facts: &Facts, lang: Lang) -> Result<String, minijinja::Error> {
        let name = if self.operator {
            OPERATOR
        } else {
            lang.template()
        };
        self.env.get_template(name)?.render(Context {
            host: &facts.host,
            list: &facts.list,
            description: &facts.description,
            order_id: &facts.order_id,
            summary: &facts.summary,
            authority_url: &self.authority_url,
            appeal: &self.appeal,
            lang: lang.tag(),
        })
    }

    /// The authority URL (for the `Link` header).
    pub fn authority_url(&self) -> &str {
        &self.authority_url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(description: &str) -> Facts {
        Facts {
            host: "bad.example".into(),
            list: "court".into(),
            description: description.into(),
            order_id: "17/2024".into(),
            summary: String::new(),
        }
    }

    #[test]
    fn accept_language_weighs_q_values() {
        for (h, want) in [
            (None, Lang::En),
            (Some(""), Lang::En),
            (Some("vi"), Lang::Vi),
            (Some("vi-VN,vi;q=0.9,en;q=0.8"), Lang::Vi),
            (Some("en-US,en;q=0.9,vi;q=0.8"), Lang::En),
            (Some("fr, vi;q=0.5"), Lang::Vi),
            (Some("en;q=0.2, VI;q=0.7"), Lang::Vi),
            (Some("vi;q=0, en"), Lang::En),
            (Some("vi;q=0"), Lang::En),
            (Some("de"), Lang::En),
            (Some("*;q=0.9, vi;q=0.95"), Lang::Vi),
            (Some("vi;q=1.5"), Lang::En),
            (Some("vi;q=0.5, en;q=0.5"), Lang::Vi),
            (Some("vietnamese"), Lang::En),
        ] {
            assert_eq!(negotiate(h), want, "{h:?}");
        }
    }

    #[test]
    fn values_are_escaped_in_built_in_pages() {
        let p = Page::new(None, "https://a.example/?x=1&y=2", "Write to <court>").expect("page");
        let html = p
            .render(&facts("<script>alert(1)</script>"), Lang::En)
            .expect("render");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&lt;court&gt;"));
        assert!(html.contains("x=1&amp;y=2"));
        assert!(html.contains("17/2024") || html.contains("17&#x2f;2024"));
        let vi = p.render(&facts("d"), Lang::Vi).expect("render");
        assert!(vi.contains("lang=\"vi\""));
        for page in [&html, &vi] {
            assert!(page.contains("border-top: 6px solid"), "stylesheet missing");
            assert!(!page.contains(STYLE_SLOT));
        }
    }

    #[test]
    fn operator_templates_are_checked_and_escaped() {
        let p = Page::new(
            Some("<p>{{ host }} {{ description }} {{ lang }}</p>".into()),
            "https://a.example/",
            "",
        )
        .expect("page");
        let html = p.render(&facts("a<b"), Lang::Vi).expect("render");
        assert_eq!(html, "<p>bad.example a&lt;b vi</p>");
        let err = Page::new(Some("{{ host ".into()), "", "").expect_err("syntax");
        assert!(err.to_string().contains("operator.html:1"), "{err}");
        let err = Page::new(Some("{{ no_such_value }}".into()), "", "").expect_err("undefined");
        assert!(err.to_string().contains("undefined"), "{err}");
    }
}
