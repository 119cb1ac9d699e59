//! A plugin's README as HTML a page can show: CommonMark (with tables and
//! strikethrough) by `pulldown-cmark`, then cleaned by `ammonia`'s
//! allow-list over a real HTML5 parser.
//!
//! What an author writes is hostile until cleaned: raw HTML in Markdown
//! passes through the renderer, so everything the sanitiser does not allow
//! is dropped — `<script>`, `<style>`, `<iframe>`, forms, every `on*`
//! attribute, `style`, and links whose scheme is not `http`, `https` or
//! `mailto` (`javascript:`, `data:`, `vbscript:` ...). Images are not
//! fetched from anywhere: a remote image would tell a third party who reads
//! the page, so each image becomes its alt text (the registry proxies no
//! images). The page's Content-Security-Policy forbids inline script and
//! remote images as well, so a sanitiser bug alone does not open a hole.

use std::collections::HashSet;
use std::path::Path;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The most README text a page renders; a longer README is cut there and
/// says so, which keeps a plugin page small whatever the author ships.
pub(crate) const MAX_README_BYTES: usize = 64 * 1024;

/// `markdown` as sanitised HTML.
pub(crate) fn render(markdown: &str) -> String {
    let (text, cut) = if markdown.len() > MAX_README_BYTES {
        let mut end = MAX_README_BYTES;
        while !markdown.is_char_boundary(end) {
            end -= 1;
        }
        (&markdown[..end], true)
    } else {
        (markdown, false)
    };
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    // An image becomes its alt text in brackets (the events between its
    // start and end); nothing is fetched.
    let events = Parser::new_ext(text, options).map(|event| {
        if matches!(event, Event::Start(Tag::Image { .. })) {
            Event::Text("[image: ".into())
        } else if matches!(event, Event::End(TagEnd::Image)) {
            Event::Text("]".into())
        } else {
            event
        }
    });
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    let mut clean = sanitiser().clean(&html).to_string();
    if cut {
        clean.push_str("<p><em>(The README is longer; the rest is in the package.)</em></p>");
    }
    clean
}

/// ammonia's defaults (a conservative allow-list of formatting tags and
/// attributes, `rel="noopener noreferrer"` on links) narrowed further:
/// three URL schemes, no images, and `nofollow` so a README cannot lend
/// the registry's standing to a link.
fn sanitiser() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .rm_tags(["img"])
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tags(["input"]);
    builder
}

/// The README a package carries (`README.md` first, then any top-level
/// file named `README*`), cut to what a page renders; empty without one.
pub(crate) fn readme_in(unpacked: &Path) -> Result<String, crate::error::RegistryError> {
    let mut names: Vec<String> = std::fs::read_dir(unpacked)
        .map_err(crate::error::io("read", unpacked))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.to_ascii_uppercase().starts_with("README"))
        .collect();
    names.sort_by_key(|n| (n != "README.md", n.clone()));
    let Some(name) = names.first() else {
        return Ok(String::new());
    };
    let bytes = std::fs::read(unpacked.join(name))
        .map_err(crate::error::io("read", &unpacked.join(name)))?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if text.len() > MAX_README_BYTES {
        let mut end = MAX_README_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("\n\n…");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders() {
        let html = render("# Title\n\nSome *text* and a [link](https://example.org).\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>text</em>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.org" rel="noopener noreferrer nofollow">"#),
            "{html}"
        );
    }

    #[test]
    fn script_event_attributes_and_javascript_links_are_removed() {
        let html = render(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
             [click](javascript:alert(3)) <a href=\"JaVaScRiPt:alert(4)\" onclick=\"alert(5)\">x</a>\n\n\
             <div onmouseover=\"alert(6)\" style=\"position:fixed\">hover</div>\n\n\
             <iframe src=\"https://evil.example\"></iframe><svg><script>alert(7)</script></svg>\n",
        );
        let lower = html.to_lowercase();
        for needle in [
            "<script",
            "onerror",
            "onclick",
            "onmouseover",
            "javascript:",
            "<iframe",
            "style=",
            "<img",
            "alert(1)",
        ] {
            assert!(!lower.contains(needle), "`{needle}` survived in {html}");
        }
        assert!(html.contains("hover"), "text is kept: {html}");
    }

    #[test]
    fn images_become_their_alt_text() {
        let html = render("![a tracking pixel](https://tracker.example/p.png)");
        assert!(!html.contains("tracker.example"), "{html}");
        assert!(html.contains("[image: a tracking pixel]"), "{html}");
    }

    #[test]
    fn a_long_readme_is_cut_on_a_character_boundary() {
        let html = render(&"é".repeat(super::MAX_README_BYTES));
        assert!(html.contains("The README is longer"));
    }
}
