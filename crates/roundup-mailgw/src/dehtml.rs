//! HTML to text the way Roundup's `dehtml` converter does it, on
//! html5ever's tokenizer.
//!
//! Roundup's converter is deliberately plain: it keeps the text between
//! tags as it is (character references resolved, white space untouched),
//! starts a new line at every `<p>`, drops what is inside `<script>` and
//! `<style>`, and of several white-space-only runs of text in a row keeps
//! only the first. No other markup changes the text: a `<br>` or a `<div>`
//! adds nothing, so line breaks come from the source's own. A tracker that
//! used Roundup's gateway gets the same message text here.
//!
//! A "run of text" is everything between two pieces of markup (a tag, a
//! comment, a doctype), as Python's `HTMLParser` hands it over.
//! `[mailgw] convert_htmltotext` values `beautifulsoup` and `justhtml`
//! select libraries Roundup imports when they are installed and falls
//! back to `dehtml` when they are not; this converter serves all three.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// The text of an HTML document (or fragment), per Roundup's `dehtml`.
pub fn html_to_text(html: &str) -> String {
    let sink = Collector::default();
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(&mark_carriage_returns(html)));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let state = tokenizer.sink.state.into_inner();
    state.text
}

// The HTML standard's tokenizer turns CR LF and a lone CR into LF before
// anything else; Python's parser keeps them, and so does Roundup's text.
// Each one becomes LF followed by a mark (a noncharacter, which real mail
// does not contain), and the text gets the CR back. The mark comes after
// the LF so that the LF still ends a tag name where Outlook breaks a long
// tag over lines; a mark inside markup is ignored with the markup.
const CRLF_MARK: char = '\u{FDD0}';
const CR_MARK: char = '\u{FDD1}';

fn mark_carriage_returns(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    let mut chars = html.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\r' {
            out.push(c);
        } else if chars.peek() == Some(&'\n') {
            chars.next();
            out.push('\n');
            out.push(CRLF_MARK);
        } else {
            out.push('\n');
            out.push(CR_MARK);
        }
    }
    out
}

fn restore_carriage_returns(run: &str) -> String {
    let mut out = String::with_capacity(run.len());
    let mut chars = run.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\n', Some(&CRLF_MARK)) => {
                chars.next();
                out.push_str("\r\n");
            }
            ('\n', Some(&CR_MARK)) => {
                chars.next();
                out.push('\r');
            }
            (CRLF_MARK | CR_MARK, _) => {}
            _ => out.push(c),
        }
    }
    out
}

#[derive(Default)]
struct State {
    text: String,
    /// The run of text being collected (flushed at the next markup).
    run: String,
    /// Inside `<script>` or `<style>`.
    skipping: bool,
    /// The last run kept was white space only.
    last_blank: bool,
}

impl State {
    fn flush(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let run = std::mem::take(&mut self.run);
        if self.skipping {
            return;
        }
        let run = restore_carriage_returns(&run);
        if run.chars().all(python_space) {
            if self.last_blank {
                return;
            }
            self.last_blank = true;
        } else {
            self.last_blank = false;
        }
        self.text.push_str(&run);
    }
}

/// Python's `str.isspace` for one character: Unicode white space plus
/// the ASCII information separators.
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[derive(Default)]
struct Collector {
    state: RefCell<State>,
}

impl TokenSink for Collector {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.state.borrow_mut();
        match token {
            Token::CharacterTokens(chars) => st.run.push_str(&chars),
            Token::NullCharacterToken => st.run.push('\0'),
            Token::TagToken(tag) => {
                st.flush();
                let name: &str = &tag.name;
                let raw = matches!(name, "script" | "style");
                match tag.kind {
                    TagKind::StartTag => {
                        if name == "p" {
                            st.text.push('\n');
                        }
                        if raw {
                            st.skipping = !tag.self_closing;
                            if !tag.self_closing {
                                // Python's parser reads both as raw text
                                // up to the matching end tag.
                                return TokenSinkResult::RawData(RawKind::Rawtext);
                            }
                        }
                    }
                    TagKind::EndTag => {
                        if raw {
                            st.skipping = false;
                        }
                    }
                }
            }
            Token::CommentToken(_) | Token::DoctypeToken(_) | Token::EOFToken => st.flush(),
            Token::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn paragraphs_start_lines_and_markup_adds_nothing() {
        assert_eq!(
            html_to_text("<p>one</p><p>two<br>three</p>"),
            "\none\ntwothree"
        );
        assert_eq!(
            html_to_text("a &amp; b &quot;c&quot; &#8217;"),
            "a & b \"c\" \u{2019}"
        );
    }

    #[test]
    fn script_and_style_are_dropped() {
        assert_eq!(
            html_to_text("<style>p {x:1}</style>A<script>if (a<b) {}</script>B<script/>C"),
            "ABC"
        );
        assert_eq!(html_to_text("<STYLE>p</STYLE>x"), "x");
    }

    #[test]
    fn blank_runs_in_a_row_are_kept_once() {
        assert_eq!(html_to_text("a<b>\n</b><i>\n\n</i><u> </u>z"), "a\nz");
        assert_eq!(html_to_text("a<b>\n</b>y<i>\n</i>z"), "a\ny\nz");
        // markup that is not a tag breaks runs too
        assert_eq!(html_to_text("a<!-- c -->\n<!-- d -->\n<!-- e -->b"), "a\nb");
        assert_eq!(html_to_text("a<!-- c -->\n<!-- d -->\nb"), "a\n\nb");
    }

    #[test]
    fn carriage_returns_stay_in_text_and_not_in_tags() {
        assert_eq!(
            html_to_text("<p\r\nclass=x>a\r\nb\rc</p\r\n>\r\n"),
            "\na\r\nb\rc\r\n"
        );
        assert_eq!(html_to_text("<style\r\nx>p</style\r\n>A<p\r>B"), "A\nB");
    }
}
