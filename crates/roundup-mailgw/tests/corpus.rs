//! The messages of tests/corpus, each with what the gateway must read
//! from it. tests/python_crosscheck.rs checks the same files against
//! Roundup 2.6 itself; the values here were taken from that comparison.

use std::path::PathBuf;

use roundup_mailgw::{
    parse_content, parse_message, parse_subject, Address, BodyOptions, ContentOptions, HtmlToText,
    IgnoreReason, MailError, ParsedMail, Pgp, SubjectOptions, YesNoNew,
};

fn raw(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_with(name: &str, opts: BodyOptions) -> Result<ParsedMail, MailError> {
    parse_message(&raw(name), &opts)
}

fn read(name: &str) -> ParsedMail {
    read_with(name, BodyOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A message without a usable body: the error carries the rest of it.
fn read_bodyless(name: &str, opts: BodyOptions) -> ParsedMail {
    match read_with(name, opts) {
        Err(MailError::NoTextPart(mail)) => *mail,
        other => panic!("{name}: expected NoTextPart, got {other:?}"),
    }
}

fn addr(name: &str, email: &str) -> Address {
    Address {
        name: name.into(),
        email: email.into(),
    }
}

/// (name, type, data) of the files, data as lossy text for readability.
fn files(mail: &ParsedMail) -> Vec<(&str, &str, String)> {
    mail.attachments
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.mime_type.as_str(),
                String::from_utf8_lossy(&a.data).into_owned(),
            )
        })
        .collect()
}

const HTML: BodyOptions = BodyOptions {
    ignore_alternatives: false,
    unpack_rfc822: false,
    convert_htmltotext: HtmlToText::Dehtml,
};
const IGNORE_ALTERNATIVES: BodyOptions = BodyOptions {
    ignore_alternatives: true,
    unpack_rfc822: false,
    convert_htmltotext: HtmlToText::None,
};
const UNPACK: BodyOptions = BodyOptions {
    ignore_alternatives: false,
    unpack_rfc822: true,
    convert_htmltotext: HtmlToText::None,
};

#[test]
fn plain_utf8_with_signature() {
    let mail = read("01_plain_utf8.eml");
    assert_eq!(mail.from, Some(addr("Ann Example", "ann@example.com")));
    assert_eq!(
        mail.to,
        [
            addr("Issue Tracker", "issues@example.org"),
            addr("Doe, John", "john@example.net")
        ]
    );
    assert_eq!(mail.cc, [addr("", "bob@example.com")]);
    assert_eq!(mail.subject, "[issue42] Printer on fire");
    assert_eq!(
        mail.message_id.as_deref(),
        Some("<20240102090000.4711@example.com>")
    );
    assert_eq!(mail.date, Some(1_704_186_000));
    assert_eq!(
        mail.header("return-path"),
        Some("<ann@example.com>"),
        "any header can be read"
    );
    assert!(mail
        .body
        .starts_with("The printer in room 3 is on fire – again.\n"));
    assert!(mail.attachments.is_empty());
    // The signature goes when quotes are stripped (Roundup's defaults keep
    // quotes but always drop a trailing signature).
    let (summary, content) = parse_content(&mail.body, &ContentOptions::default(), true);
    assert_eq!(summary, "The printer in room 3 is on fire – again.");
    assert_eq!(
        content,
        "The printer in room 3 is on fire – again.\nPlease send someone with an extinguisher."
    );
}

#[test]
fn alternative_keeps_html_as_file() {
    let mail = read("02_alternative.eml");
    assert_eq!(mail.from, Some(addr("Bob", "bob@example.com")));
    assert_eq!(mail.body, "It would be nice to export issues as CSV.\n");
    assert!(mail.html_seen);
    assert!(!mail.body_from_html);
    assert_eq!(
        files(&mail),
        [(
            "unnamed",
            "text/html",
            "<html><body><p>It would be nice to export issues as <b>CSV</b>.</p></body></html>\n"
                .to_string()
        )]
    );
    // ignore_alternatives drops the HTML
    let mail = read_with("02_alternative.eml", IGNORE_ALTERNATIVES).unwrap();
    assert!(mail.attachments.is_empty());
}

#[test]
fn mixed_with_binary_attachments() {
    let mail = read("03_mixed_attachments.eml");
    assert_eq!(mail.body, "See the attached report and screenshot.\n");
    assert_eq!(mail.attachments.len(), 2);
    let pdf = &mail.attachments[0];
    assert_eq!(
        (pdf.name.as_str(), pdf.mime_type.as_str()),
        ("report.pdf", "application/pdf")
    );
    assert_eq!(
        pdf.data,
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    );
    let png = &mail.attachments[1];
    assert_eq!(
        (png.name.as_str(), png.mime_type.as_str()),
        ("unnamed", "image/png")
    );
    assert_eq!(&png.data[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(png.data.len(), 29);
}

#[test]
fn html_only_is_refused_or_converted() {
    let mail = read_bodyless("04_html_only.eml", BodyOptions::default());
    assert_eq!(mail.subject, "Broken login page");
    assert_eq!(mail.from, Some(addr("Dave Outlook", "dave@example.com")));
    assert_eq!(mail.attachments[0].mime_type, "text/html");
    let err = read_with("04_html_only.eml", BodyOptions::default()).unwrap_err();
    assert!(err.is_usage_error());
    assert!(
        err.to_string().contains("convert_htmltotext"),
        "the error says why: {err}"
    );

    let mail = read_with("04_html_only.eml", HTML).unwrap();
    assert!(mail.body_from_html);
    // Roundup's dehtml: a <p> starts a line, a <br> adds nothing
    assert_eq!(
        mail.body,
        "\n\nHello,\nthe login page shows \"Error 500\" & nothing else.\nRegards,Dave\n"
    );
    // the HTML is still stored
    assert_eq!(files(&mail)[0].1, "text/html");
}

#[test]
fn base64_body() {
    let mail = read("05_base64_body.eml");
    assert_eq!(
        mail.body,
        "Base64 encoded body with ümlauts.\nSecond line.\n"
    );
}

#[test]
fn quoted_printable_latin1_and_encoded_words() {
    let mail = read("06_quoted_printable_latin1.eml");
    assert_eq!(mail.subject, "Problème d'accès");
    assert_eq!(
        mail.from,
        Some(addr("François Maître", "francois@example.fr"))
    );
    assert!(mail
        .body
        .starts_with("Café crème costs 3 £ = cheap. This line is deliberately long"));
    // the soft line break is gone
    assert_eq!(mail.body.lines().count(), 1);
}

#[test]
fn latin1_8bit_body_and_raw_header_bytes() {
    let mail = read("07_latin1_8bit.eml");
    assert_eq!(mail.body, "Schöne Grüße, die Straße ist gesperrt.\n");
    // An encoded word and raw Latin-1 bytes in one header.
    assert_eq!(mail.subject, "Grüße aus München");
    assert_eq!(mail.from, Some(addr("Jörg", "joerg@example.de")));
}

#[test]
fn windows_1252() {
    let mail = read("08_windows1252.eml");
    assert_eq!(mail.subject, "“Smart” quotes cost €20");
    assert_eq!(mail.body, "He said “it’s broken” – and it costs €50.\n");
}

#[test]
fn shift_jis_and_iso_2022_jp() {
    let mail = read("09_shift_jis.eml");
    assert_eq!(mail.subject, "障害報告");
    assert_eq!(mail.from, Some(addr("山田", "yamada@example.jp")));
    assert_eq!(mail.body, "プリンターが壊れました。\n");
}

#[test]
fn forwarded_message_is_one_file_or_unpacked() {
    let mail = read("10_rfc822_attached.eml");
    assert_eq!(mail.body, "Forwarding the complaint below.\n");
    assert_eq!(mail.attachments.len(), 1);
    let fwd = &mail.attachments[0];
    assert_eq!(fwd.name, "Your product broke.eml");
    assert_eq!(fwd.mime_type, "message/rfc822");
    let text = String::from_utf8(fwd.data.clone()).unwrap();
    assert!(text.starts_with("From: customer@example.net\nTo: support@example.com\n"));
    assert!(text.contains("It broke after one day."));

    let mail = read_with("10_rfc822_attached.eml", UNPACK).unwrap();
    assert_eq!(mail.body, "Forwarding the complaint below.\n");
    let unpacked = files(&mail);
    assert_eq!(unpacked.len(), 2);
    assert_eq!(
        unpacked[0],
        (
            "unnamed",
            "text/plain",
            "It broke after one day.\n".to_string()
        )
    );
    assert_eq!((unpacked[1].0, unpacked[1].1), ("broken.jpg", "image/jpeg"));
    assert_eq!(&mail.attachments[1].data[..4], b"\xff\xd8\xff\xe0");
}

#[test]
fn outlook_reply_loses_the_original() {
    let mail = read("11_outlook_reply.eml");
    assert_eq!(mail.subject, "RE: [issue12] VPN drops every hour");
    assert_eq!(
        mail.in_reply_to.as_deref(),
        Some("<1704186000.12.issue12@example.org>")
    );
    assert_eq!(mail.references, ["<1704186000.12.issue12@example.org>"]);
    assert_eq!(
        mail.header("thread-topic"),
        Some("[issue12] VPN drops every hour")
    );
    let (summary, content) = parse_content(&mail.body, &ContentOptions::default(), false);
    assert_eq!(summary, "I updated the client to 5.2, the problem is gone.");
    assert_eq!(
        content,
        "I updated the client to 5.2, the problem is gone.\n\nHarry"
    );
    let subject = parse_subject(
        &mail.subject,
        &SubjectOptions::default(),
        &["issue", "msg", "user"],
    )
    .unwrap();
    assert_eq!(subject.prefix.as_deref(), Some("RE:"));
    assert_eq!(subject.designator().as_deref(), Some("issue12"));
    assert_eq!(subject.title, "VPN drops every hour");
}

#[test]
fn gmail_reply_quotes() {
    let mail = read("12_gmail_reply.eml");
    assert_eq!(mail.from, Some(addr("Ivy Gmail", "ivy@gmail.example")));
    assert_eq!(
        mail.message_id.as_deref(),
        Some("<CAF=abc123@mail.gmail.example>")
    );
    assert_eq!(mail.date, Some(1_704_266_142));
    let mut strip = ContentOptions::default();
    strip.keep_quoted_text = YesNoNew::No;
    let (summary, content) = parse_content(&mail.body, &strip, false);
    assert_eq!(summary, "Same here, since Monday.");
    // Gmail puts a blank line after "... wrote:", so that line is a
    // section of its own and Roundup keeps it (checked with
    // roundup.mailgw.parseContent).
    assert_eq!(
        content,
        "Same here, since Monday.\n\nOn Tue, Jan 2, 2024 at 10:00 AM Tracker \
         <issues@example.org> wrote:"
    );
    // With the default (keep quotes) the quote stays.
    let (_, content) = parse_content(&mail.body, &ContentOptions::default(), false);
    assert!(content.contains("> The VPN drops every hour."));
}

#[test]
fn malformed_headers_are_read_leniently() {
    let mail = read("13_malformed_headers.eml");
    // The broken encoded word stays as written.
    assert_eq!(mail.subject, "broken encoded word =?bogus?x?zz?= end");
    // An unclosed quote leaves only a name.
    assert_eq!(
        mail.from,
        Some(addr("Unclosed quote <broken@example.com>", ""))
    );
    assert_eq!(mail.to, [addr("", "issues@example.org")]);
    assert_eq!(mail.message_id.as_deref(), Some("<mal@example.com>"));
    assert_eq!(mail.date, None, "an invalid date is no date");
    assert_eq!(mail.header("x-weird"), Some("spaced value"));
    assert_eq!(mail.body, "Body of the malformed message.\n");
}

#[test]
fn empty_body_is_a_body() {
    let mail = read("14_empty_body.eml");
    assert_eq!(mail.subject, "[issue3] nothing to say");
    assert_eq!(mail.body, "");
    assert_eq!(
        parse_content("", &ContentOptions::default(), false),
        (String::new(), String::new())
    );
}

#[test]
fn garbage_8bit_headers() {
    let mail = read("15_garbage_8bit_headers.eml");
    assert_eq!(mail.subject, "Grüße ÿþ aus Köln");
    assert_eq!(mail.from, Some(addr("Käthe Müller", "kaethe@example.de")));
    assert_eq!(mail.header("x-mailer"), Some("Ancient€Mailer 1.0"));
    assert_eq!(mail.body, "plain ascii body\n");
}

#[test]
fn pgp_signature_is_not_a_file() {
    let mail = read("16_pgp_signed.eml");
    assert_eq!(mail.pgp, Pgp::Signed);
    assert_eq!(mail.body, "The fix works for me.\n");
    assert!(mail.attachments.is_empty());
}

#[test]
fn alternative_inside_mixed() {
    let mail = read("17_alternative_in_mixed.eml");
    assert_eq!(mail.body, "The button is misplaced, see screenshot.\n");
    let names: Vec<_> = mail.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["unnamed", "shot.gif"]);
    // Only the HTML alternative is dropped, not the mixed part's image.
    let mail = read_with("17_alternative_in_mixed.eml", IGNORE_ALTERNATIVES).unwrap();
    let names: Vec<_> = mail.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["shot.gif"]);
}

#[test]
fn second_text_part_is_a_file_in_utf8() {
    let mail = read("18_two_text_parts.eml");
    assert_eq!(mail.body, "Here is my configuration.\n");
    // RFC 2231 file name; ISO-8859-1 quoted-printable content stored as UTF-8.
    assert_eq!(
        files(&mail),
        [(
            "réglages serveur.ini",
            "text/plain",
            "[server]\nname = café\n".to_string()
        )]
    );
}

#[test]
fn digest_entries() {
    let mail = read("19_digest.eml");
    assert_eq!(mail.body, "Two messages this week.\n");
    let names: Vec<_> = mail.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["First digest entry.eml", "Second digest entry.eml"]);
    assert!(mail
        .attachments
        .iter()
        .all(|a| a.mime_type == "message/rfc822"));
    let mail = read_with("19_digest.eml", UNPACK).unwrap();
    assert_eq!(
        files(&mail),
        [
            ("unnamed", "text/plain", "first\n".to_string()),
            ("unnamed", "text/plain", "second\n".to_string())
        ]
    );
}

#[test]
fn no_charset_falls_back_to_latin1() {
    let mail = read("20_no_charset_latin1.eml");
    assert_eq!(mail.body, "Café au lait, naïve résumé.\n");
    assert_eq!(mail.message_id, None);
}

#[test]
fn html_before_text_alternative() {
    let mail = read("21_html_before_text.eml");
    assert_eq!(mail.body, "Plain version\n");
    assert_eq!(mail.attachments[0].mime_type, "text/html");
    // With conversion on the plain text still wins, the HTML is a file.
    let mail = read_with("21_html_before_text.eml", HTML).unwrap();
    assert_eq!(mail.body, "Plain version\n");
    assert!(!mail.body_from_html);
    assert_eq!(files(&mail).len(), 1);
}

#[test]
fn only_an_attachment() {
    let mail = read_bodyless("22_only_attachment.eml", BodyOptions::default());
    assert_eq!(mail.subject, "[issue9] screenshot");
    // RFC 2047 in the Content-Type name parameter
    assert_eq!(
        (
            mail.attachments[0].name.as_str(),
            mail.attachments[0].mime_type.as_str()
        ),
        ("Bildschirmfoto über.png", "image/png")
    );
    assert!(!mail.html_seen);
    let err = read_with("22_only_attachment.eml", HTML).unwrap_err();
    assert!(!err.to_string().contains("convert_htmltotext"), "{err}");
}

#[test]
fn autoreply_is_ignored() {
    let mail = read("23_autoreply.eml");
    // Precedence is checked before Auto-Submitted, as in Roundup.
    assert_eq!(mail.ignore_reason(), Some(IgnoreReason::Bulk));
    assert!(!mail.ignore_reason().unwrap().is_loop());
}

#[test]
fn delivery_report() {
    let mail = read("24_dsn_report.eml");
    assert_eq!(
        mail.from,
        Some(addr("Mail Delivery System", "MAILER-DAEMON@example.org"))
    );
    assert!(mail.body.starts_with("I'm sorry to have to inform you"));
    // The delivery-status part is dropped, the returned headers kept.
    assert_eq!(files(&mail).len(), 1);
    assert_eq!(mail.attachments[0].mime_type, "text/rfc822-headers");
}

#[test]
fn multipart_without_boundary() {
    let mail = read_bodyless("25_multipart_no_boundary.eml", BodyOptions::default());
    assert_eq!(
        files(&mail),
        [(
            "unnamed",
            "multipart/mixed",
            "there is no boundary, so this is not really multipart\n".to_string()
        )]
    );
}

#[test]
fn later_plain_alternative_wins() {
    let mail = read("26_alternative_two_plain.eml");
    assert_eq!(mail.body, "second alternative, the better one\n");
    assert_eq!(
        files(&mail),
        [("unnamed", "text/plain", "first alternative\n".to_string())]
    );
    let mail = read_with("26_alternative_two_plain.eml", IGNORE_ALTERNATIVES).unwrap();
    assert!(mail.attachments.is_empty());
}

#[test]
fn folded_crlf_headers() {
    let mail = read("27_folded_crlf_subject.eml");
    assert_eq!(
        mail.subject,
        "Re: [issue77] a very long subject line that was folded by the mailer and has ümlauts \
         split over two words"
    );
    assert_eq!(mail.message_id.as_deref(), Some("<folded@example.com>"));
    assert_eq!(mail.in_reply_to.as_deref(), Some("<parent@example.org>"));
    assert_eq!(mail.body, "folded\r\n");
    let subject = parse_subject(&mail.subject, &SubjectOptions::default(), &["issue"]).unwrap();
    assert_eq!(subject.nodeid.as_deref(), Some("77"));
    assert_eq!(
        subject.title,
        "a very long subject line that was folded by the mailer and has ümlauts split over two words"
    );
}

#[test]
fn html_part_of_mixed_converted() {
    let mail = read_bodyless(
        "28_html_only_alternative_in_mixed.eml",
        BodyOptions::default(),
    );
    assert!(mail.html_seen);
    let mail = read_with("28_html_only_alternative_in_mixed.eml", HTML).unwrap();
    assert_eq!(mail.body, "Only HTML heresecond line\n");
    assert!(mail.body_from_html);
    let types: Vec<_> = mail
        .attachments
        .iter()
        .map(|a| a.mime_type.as_str())
        .collect();
    assert_eq!(types, ["text/html", "text/csv"]);
}

/// Every corpus file, cut short at every length and with bytes flipped,
/// must give a result or an error, never a panic.
#[test]
fn damaged_messages_do_not_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        for opts in [BodyOptions::default(), HTML, UNPACK, IGNORE_ALTERNATIVES] {
            for cut in (0..data.len()).step_by(7) {
                let _ = parse_message(&data[..cut], &opts);
            }
            let mut flipped = data.clone();
            for i in (0..flipped.len()).step_by(13) {
                flipped[i] ^= 0xa5;
            }
            let _ = parse_message(&flipped, &opts);
            checked += 1;
        }
    }
    assert!(checked >= 80);
}

/// Byte soup under MIME headers (HTML conversion on, so the converter
/// sees it too) must not panic either.
#[test]
fn random_bytes_do_not_panic() {
    let heads = [
        "Content-Type: text/html; charset=utf-8\n\n",
        "Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n",
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n\n",
        "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n",
        "Subject: =?utf-8?b?",
        "",
    ];
    let alphabet: &[u8] = b"<>/&;#x!-=?\"' \n\r\tabpbrscriptstyle\xc3\xa9\xff\x00--b";
    let mut state: u64 = 0x0123_4567_89ab_cdef;
    for round in 0..3000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let len = (state >> 40) as usize % 200;
        let mut data = heads[round % heads.len()].as_bytes().to_vec();
        for _ in 0..len {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            data.push(alphabet[(state >> 33) as usize % alphabet.len()]);
        }
        let _ = parse_message(&data, &HTML);
        let _ = parse_message(&data, &UNPACK);
    }
}

/// Random subjects and bodies made of the characters the rules look at.
#[test]
fn random_subjects_and_bodies_do_not_panic() {
    let alphabet: Vec<char> = "[]{}\"'=;,+- \t\r\nReFwd:issue12user>|-- .!?ä漢\u{a0}"
        .chars()
        .collect();
    let options = SubjectOptions::default();
    let keep = ContentOptions::default();
    let mut strip = ContentOptions::default();
    strip.keep_quoted_text = YesNoNew::No;
    let mut state: u64 = 0xfeed_f00d_dead_beef;
    for _ in 0..2000 {
        let mut text = String::new();
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        for _ in 0..(state >> 40) as usize % 60 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            text.push(alphabet[(state >> 33) as usize % alphabet.len()]);
        }
        let _ = parse_subject(&text, &options, &["issue", "user"]);
        let _ = parse_content(&text, &strip, false);
        let _ = parse_content(&text, &keep, true);
    }
}
