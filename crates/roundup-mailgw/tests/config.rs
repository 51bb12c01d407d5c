//! The options read from a tracker's configuration.

use std::path::Path;

use roundup_core::config::Config;
use roundup_mailgw::{
    parse_content, BodyOptions, ContentMatch, ContentOptions, HtmlToText, ParsingMode,
    SubjectOptions, YesNoNew,
};

#[test]
fn defaults_are_roundups() {
    let config = Config::defaults(Path::new("/nonexistent/tracker"));
    assert_eq!(
        SubjectOptions::from_config(&config).unwrap(),
        SubjectOptions::default()
    );
    assert_eq!(
        BodyOptions::from_config(&config).unwrap(),
        BodyOptions::default()
    );
    let content = ContentOptions::from_config(&config).unwrap();
    assert_eq!(content.keep_quoted_text, YesNoNew::Yes);
    assert_eq!(content.leave_body_unchanged, YesNoNew::No);
    assert_eq!(
        SubjectOptions::default().content_match().unwrap(),
        ContentMatch::Always
    );
}

#[test]
fn configured_values_are_used() {
    let ini = "[mailgw]\n\
        keep_quoted_text = new\n\
        leave_body_unchanged = no\n\
        default_class = bug\n\
        subject_prefix_parsing = loose\n\
        subject_suffix_parsing = none\n\
        subject_suffix_delimiters = {}\n\
        subject_content_match = creation + 2w\n\
        ignore_alternatives = yes\n\
        unpack_rfc822 = yes\n\
        convert_htmltotext = dehtml\n\
        sign_re = ^~~$\n";
    let config = Config::from_ini_text(Path::new("/nonexistent/tracker"), ini).unwrap();
    let subject = SubjectOptions::from_config(&config).unwrap();
    assert_eq!(subject.default_class, "bug");
    assert_eq!(subject.subject_prefix_parsing, ParsingMode::Loose);
    assert_eq!(subject.subject_suffix_parsing, ParsingMode::None);
    assert_eq!(subject.subject_suffix_delimiters, "{}");
    assert_eq!(
        subject.content_match().unwrap(),
        ContentMatch::Creation("+ 2w".into())
    );
    assert_eq!(
        BodyOptions::from_config(&config).unwrap(),
        BodyOptions {
            ignore_alternatives: true,
            unpack_rfc822: true,
            convert_htmltotext: HtmlToText::Dehtml,
        }
    );
    let content = ContentOptions::from_config(&config).unwrap();
    assert_eq!(content.keep_quoted_text, YesNoNew::New);
    // the configured signature marker is used
    let (_, kept) = parse_content("text\n\n~~\nsig line\n", &content, false);
    assert_eq!(kept, "text");
    let (_, kept) = parse_content("text\n\n-- \nsig line\n", &content, false);
    assert_eq!(kept, "text\n\n-- \nsig line\n");
}
