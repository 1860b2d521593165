//! A safe, short excerpt of a response body for error messages: the text of an HTML page or of
//! plain text, without markup, control or invisible characters.

/// How many bytes of a body [`body_excerpt`] looks at, at most.
pub(crate) const EXCERPT_SCAN_LIMIT: usize = 4096;

/// How many characters [`body_excerpt`] returns, at most (the last one may be `…`).
pub(crate) const EXCERPT_MAX_CHARS: usize = 120;

/// A short, printable excerpt of an error body: an HTML page (a proxy's or an API's error page)
/// or plain text (JSON included). For error messages.
///
/// Looks at the first [`EXCERPT_SCAN_LIMIT`] bytes only. Drops tags, comments and the content
/// of `script`, `style` and similar elements; decodes the common entities; turns control
/// characters into spaces and drops invisible formatting characters (bidi overrides,
/// zero-width spaces), so the excerpt cannot rewrite a terminal; collapses whitespace; and
/// keeps at most [`EXCERPT_MAX_CHARS`] characters. `None` for a body with no text in that
/// window, or one that looks binary (a NUL byte, or mostly invalid UTF-8).
///
/// The excerpt is the server's text: a caller that knows secrets the body could echo (a
/// token in the URL) masks them in the result, as for any response text.
///
pub(crate) fn body_excerpt(body: &[u8]) -> Option<String> {
    let window = &body[..body.len().min(EXCERPT_SCAN_LIMIT)];
    if window.contains(&0) {
        return None;
    }
    let text = String::from_utf8_lossy(window);
    let (chars, invalid) = text.chars().fold((0usize, 0usize), |(n, bad), c| {
        (n + 1, bad + usize::from(c == char::REPLACEMENT_CHARACTER))
    });
    // One replacement may just be a character cut by the window's end.
    if invalid > 1 && invalid * 4 > chars {
        return None;
    }
    let visible = strip_markup(&text);
    // Whitespace collapsed, one character past the limit at most.
    let mut out = String::new();
    let mut len = 0;
    'words: for word in visible.split_whitespace() {
        if len > 0 {
            out.push(' ');
            len += 1;
        }
        for c in word.chars() {
            out.push(c);
            len += 1;
            if len > EXCERPT_MAX_CHARS {
                break 'words;
            }
        }
    }
    if len > EXCERPT_MAX_CHARS {
        if let Some((cut, _)) = out.char_indices().nth(EXCERPT_MAX_CHARS - 1) {
            out.truncate(cut);
        }
        let kept = out.trim_end().len();
        out.truncate(kept);
        out.push('…');
    }
    (!out.is_empty()).then_some(out)
}

/// Elements whose content is not text to show.
const HIDDEN_ELEMENTS: [&str; 5] = ["script", "style", "noscript", "template", "svg"];

/// The text of an HTML (or plain text) document, tags and comments replaced by spaces.
fn strip_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        match c {
            '<' => {
                if let Some(comment) = after.strip_prefix("!--") {
                    rest = comment.find("-->").map_or("", |i| &comment[i + 3..]);
                    out.push(' ');
                } else if after.starts_with(|n: char| n.is_ascii_alphabetic() || "/!?".contains(n))
                {
                    let closing = after.starts_with('/');
                    let name: String = after
                        .trim_start_matches('/')
                        .chars()
                        .take_while(|n| n.is_ascii_alphanumeric() || *n == '-')
                        .map(|n| n.to_ascii_lowercase())
                        .collect();
                    let (tag, tail) = split_tag(after);
                    rest = tail;
                    if !closing && !tag.ends_with('/') && HIDDEN_ELEMENTS.contains(&name.as_str()) {
                        rest = skip_element(rest, &name);
                    }
                    out.push(' ');
                } else {
                    out.push('<');
                    rest = after;
                }
            }
            '&' => {
                let (decoded, used) = entity(rest);
                push_safe(&mut out, decoded);
                rest = &rest[used..];
            }
            c => {
                push_safe(&mut out, c);
                rest = after;
            }
        }
    }
    out
}

/// Splits `after` (what follows a tag's `<`) into the tag up to its `>` and what follows it.
/// A `>` inside a quoted attribute value does not end the tag.
fn split_tag(after: &str) -> (&str, &str) {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in after.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '>' => return (&after[..i], &after[i + 1..]),
            None if (c == '"' || c == '\'') && prev == '=' => quote = Some(c),
            None => {}
        }
        if !c.is_whitespace() {
            prev = c;
        }
    }
    (after, "")
}

/// What follows the end tag of `name` in `rest` (the element's content); `""` when it is
/// not closed within the window.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    // ASCII lowercasing keeps every byte offset.
    let lower = rest.to_ascii_lowercase();
    match lower.find(&format!("</{name}")) {
        Some(i) => split_tag(&rest[i + 1..]).1,
        None => "",
    }
}

/// The character an entity at the start of `rest` stands for, and its length in bytes;
/// a lone `&` when it is none this knows.
fn entity(rest: &str) -> (char, usize) {
    let end = rest
        .char_indices()
        .take(12)
        .find(|&(_, c)| c == ';')
        .map(|(i, _)| i);
    let decoded = end.and_then(|end| {
        let name = &rest[1..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            "lsquo" => '\u{2018}',
            "rsquo" => '\u{2019}',
            "ldquo" => '\u{201C}',
            "rdquo" => '\u{201D}',
            "ndash" => '\u{2013}',
            "mdash" => '\u{2014}',
            "hellip" => '\u{2026}',
            "copy" => '\u{A9}',
            _ => {
                let number = name.strip_prefix('#')?;
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse().ok()?,
                };
                char::from_u32(code)?
            }
        };
        Some((c, end + 1))
    });
    decoded.unwrap_or(('&', 1))
}

/// Pushes `c`, a control character as a space; drops characters that change how text
/// shows without showing themselves (and the replacement character).
fn push_safe(out: &mut String, c: char) {
    match c {
        c if c.is_control() => out.push(' '),
        '\u{FFFD}' | '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' => {}
        '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' => {}
        c => out.push(c),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn html_page_text() {
        let page = b"<html><head><title>403 Forbidden</title><style>h1{color:red}</style></head>\
                     <body><h1>Forbidden</h1><p>You don&#39;t have permission.</p></body></html>";
        assert_eq!(
            body_excerpt(page).as_deref(),
            Some("403 Forbidden Forbidden You don't have permission.")
        );
    }

    /// A 403 page as an edge in front of the REST API serves it (shape of Wix's error pages:
    /// head with styles and a script, the status in the body).
    pub(crate) const WIX_403_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex, nofollow">
  <title>403 Forbidden | Wix.com</title>
  <link rel="icon" href="https://www.wix.com/favicon.ico" type="image/x-icon">
  <style>
    body{margin:0;font-family:"Helvetica Neue",Helvetica,Arial,sans-serif;color:#20303c;background:#fff}
    .error-page{display:flex;align-items:center;justify-content:center;min-height:100vh}
    h1{font-size:48px;font-weight:300;margin:0 0 12px} .code{color:#116dff}
    p{font-size:16px;line-height:24px} a[href^="https"]>span{text-decoration:underline}
  </style>
  <script>window.__ERROR_PAGE__={"status":403,"requestId":"1718112233.4455667788","html":"<p>not text</p>"};</script>
</head>
<body>
  <!-- error-page: permission denied for wixapis.com <b>hidden</b> -->
  <div class="error-page" data-hook="error-page" data-title="a > b">
    <div>
      <h1><span class="code">403</span> Forbidden</h1>
      <p>You don&rsquo;t have permission to access this resource.</p>
      <p>Request ID: 1718112233.4455667788</p>
      <noscript><img src="https://frog.wix.com/bt?src=11&amp;evid=403" alt=""></noscript>
    </div>
  </div>
  <script src="https://static.parastorage.com/services/error-page/1.0.0/app.bundle.min.js"></script>
</body>
</html>
"#;

    #[test]
    fn html_403_page() {
        let body = WIX_403_PAGE.as_bytes();
        let excerpt = body_excerpt(body).unwrap();
        assert_eq!(
            excerpt,
            "403 Forbidden | Wix.com 403 Forbidden You don\u{2019}t have permission to access \
             this resource. Request ID: 1718112233.4455667\u{2026}"
        );
        assert_eq!(excerpt.chars().count(), EXCERPT_MAX_CHARS);
        for hidden in [
            "<",
            "font-family",
            "__ERROR_PAGE__",
            "not text",
            "hidden",
            "frog",
        ] {
            assert!(!excerpt.contains(hidden), "{hidden} in {excerpt}");
        }
    }

    #[test]
    fn html_page_with_a_long_head_shows_its_title() {
        let page = format!(
            "<html><head><title>Error 403 &mdash; Access denied</title><script>{}</script>\
             </head><body><h1>Forbidden</h1></body></html>",
            "var a = 1;".repeat(1000)
        );
        assert_eq!(
            body_excerpt(page.as_bytes()).as_deref(),
            Some("Error 403 \u{2014} Access denied")
        );
    }

    #[test]
    fn plain_text_bodies() {
        let body = b"upstream connect error or disconnect/reset before headers.\r\n\treset reason: connection failure\n";
        assert_eq!(
            body_excerpt(body).as_deref(),
            Some(
                "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
            )
        );
        assert_eq!(
            body_excerpt(b"a < b and c > d, x<3").as_deref(),
            Some("a < b and c > d, x<3")
        );
        assert_eq!(
            body_excerpt(br#"{"error": "nope"}"#).as_deref(),
            Some(r#"{"error": "nope"}"#)
        );
    }

    #[test]
    fn nothing_to_show() {
        for body in [
            &b""[..],
            b"   \r\n\t ",
            b"<html><head></head><body></body></html>",
            b"<!-- only a comment -->",
            b"<script>alert(1)</script>",
            b"\x00\x01binary",
            b"\xff\xfe\x80\x81\x82\x83garbage\xc0\xc1",
            b"\xe2\x80\x8b\xe2\x80\xae",
        ] {
            assert_eq!(
                body_excerpt(body),
                None,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn control_and_invisible_characters_are_neutralized() {
        let body = "\x1b[31mred\x1b[0m \u{202E}evil\u{202C} zero\u{200B}width \x07bell\u{7f}";
        let excerpt = body_excerpt(body.as_bytes()).unwrap();
        assert_eq!(excerpt, "[31mred [0m evil zerowidth bell");
        assert!(!excerpt.chars().any(|c| c.is_control()));
        // Entities cannot smuggle them in either.
        assert_eq!(
            body_excerpt(b"a&#27;[2Jb&#x202E;c&#0;d").as_deref(),
            Some("a [2Jbc d")
        );
    }

    #[test]
    fn entities() {
        assert_eq!(
            body_excerpt(
                b"&amp; &lt;b&gt; &quot;q&quot; &#39;s&apos; &#x41;&#66; &nbsp;x &hellip;"
            )
            .as_deref(),
            Some("& <b> \"q\" 's' AB x \u{2026}")
        );
        assert_eq!(
            body_excerpt(b"&bogus; & &#xZZ; &#99999999; &amp").as_deref(),
            Some("&bogus; & &#xZZ; &#99999999; &amp")
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let words = "lorem ipsum dolor ".repeat(100);
        let excerpt = body_excerpt(words.as_bytes()).unwrap();
        assert_eq!(excerpt.chars().count(), EXCERPT_MAX_CHARS);
        assert!(excerpt.ends_with('…'));
        assert!(excerpt.starts_with("lorem ipsum dolor lorem"));
        assert!(!excerpt.contains("  "));
        // A cut right after a word leaves no space before the mark.
        let exact = format!("{} tail", "x".repeat(EXCERPT_MAX_CHARS - 1));
        assert_eq!(
            body_excerpt(exact.as_bytes()).unwrap(),
            format!("{}…", "x".repeat(EXCERPT_MAX_CHARS - 1))
        );
        let fits = "y".repeat(EXCERPT_MAX_CHARS);
        assert_eq!(body_excerpt(fits.as_bytes()).unwrap(), fits);
        let one_word = "z".repeat(10_000);
        let excerpt = body_excerpt(one_word.as_bytes()).unwrap();
        assert_eq!(excerpt.chars().count(), EXCERPT_MAX_CHARS);
        // Multi-byte text, cut by the scan window in the middle of a character.
        let accents = format!("x{}", "é".repeat(3000));
        let excerpt = body_excerpt(accents.as_bytes()).unwrap();
        assert_eq!(excerpt.chars().count(), EXCERPT_MAX_CHARS);
        assert!(!excerpt.contains('\u{FFFD}'));
    }

    #[test]
    fn only_the_start_is_looked_at() {
        let mut body = b"<p>status 403</p>".to_vec();
        body.extend(std::iter::repeat_n(b' ', EXCERPT_SCAN_LIMIT));
        body.extend(b"SECRET-TAIL");
        assert_eq!(body_excerpt(&body).as_deref(), Some("status 403"));
        // A large body costs no more than its first few KB.
        let big = vec![b'<'; 8 * 1024 * 1024];
        assert_eq!(
            body_excerpt(&big),
            Some(format!("{}…", "<".repeat(EXCERPT_MAX_CHARS - 1)))
        );
    }

    #[test]
    fn broken_markup_is_safe() {
        for body in [
            "<p>open comment <!-- never closed <b>x</b>",
            "<div title=\"a>b\">quoted</div>",
            "<script>never closed",
            "<style/>after",
            "<<<>>>",
            "<a href='x",
            "text & more &",
            "</",
            "<!",
            "&#",
        ] {
            let _ = body_excerpt(body.as_bytes());
        }
        assert_eq!(
            body_excerpt(b"<p>open comment <!-- never closed <b>x</b>").as_deref(),
            Some("open comment")
        );
        assert_eq!(
            body_excerpt(b"<div title=\"a>b\">quoted</div>").as_deref(),
            Some("quoted")
        );
        assert_eq!(body_excerpt(b"<style/>after").as_deref(), Some("after"));
        assert_eq!(body_excerpt(b"<SCRIPT>x</Script >y").as_deref(), Some("y"));
    }

    #[test]
    fn every_prefix_of_the_page_is_safe() {
        let body = WIX_403_PAGE.as_bytes();
        for end in 0..=body.len() {
            if let Some(excerpt) = body_excerpt(&body[..end]) {
                assert!(excerpt.chars().count() <= EXCERPT_MAX_CHARS);
                assert!(!excerpt.chars().any(char::is_control));
            }
        }
    }
}
