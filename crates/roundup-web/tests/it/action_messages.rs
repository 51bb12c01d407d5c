//! The status and error messages of the web actions in the tracker's
//! language, side by side with Roundup 2.6: a classic home with
//! `[tracker] language = de` and Roundup's German and English catalogs in
//! its `locale/`, copied before anything is done so that Roundup 2.6's
//! roundup-server and ours each serve their own copy of the same tracker.
//! The same requests go to both (forms posted with a `@csrf` token taken
//! from the form page each server rendered) and the messages each shows
//! (classic's `ok-message` and `error-message` paragraphs) are compared:
//! failed login, new issue, edit, retire, refused forms, searches with
//! an invalid number and date, saved-query clash, password reset and
//! registration errors. Roundup words some of these with the request's
//! translator (German here) and some with its module-level `_`, the
//! process's locale (English here); both must come out the same.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use roundup_testkit::Roundup26;
use roundup_web::server::ServerSettings;

use crate::server_support::*;

/// One server's view of the tracker: its base URL and the browser's
/// session cookie there.
struct Side {
    name: &'static str,
    base: String,
    cookie: Option<String>,
}

/// What a request showed: its status, and the messages of the page
/// (after following a redirect).
#[derive(Debug, PartialEq)]
struct Shown {
    status: u16,
    messages: Vec<String>,
}

impl Side {
    fn origin(&self) -> String {
        self.base.split('/').take(3).collect::<Vec<_>>().join("/")
    }

    async fn get_raw(&self, path: &str) -> reqwest::Response {
        let mut rb = http().get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            rb = rb.header("Cookie", c);
        }
        rb.send()
            .await
            .unwrap_or_else(|e| panic!("{}: GET {path}: {e}", self.name))
    }

    async fn page(&self, path: &str) -> String {
        self.get_raw(path).await.text().await.unwrap()
    }

    /// POST a form as a browser on the tracker's pages would.
    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut rb = http()
            .post(format!("{}{path}", self.base))
            .header("Referer", &self.base)
            .header("Origin", self.origin())
            .form(fields);
        if let Some(c) = &self.cookie {
            rb = rb.header("Cookie", c);
        }
        rb.send()
            .await
            .unwrap_or_else(|e| panic!("{}: POST {path}: {e}", self.name))
    }

    /// The messages a response shows, following one redirect (as a
    /// browser would, with the session cookie).
    async fn shown(&self, resp: reqwest::Response) -> Shown {
        let status = resp.status().as_u16();
        if status == 302 {
            let to = location(&resp);
            let path = to
                .strip_prefix(&self.base)
                .unwrap_or_else(|| panic!("{}: redirected off the tracker: {to}", self.name))
                .to_string();
            let page = self.page(&path).await;
            return Shown {
                status,
                messages: messages(&page),
            };
        }
        let page = resp.text().await.unwrap();
        Shown {
            status,
            messages: messages(&page),
        }
    }

    async fn get(&self, path: &str) -> Shown {
        let resp = self.get_raw(path).await;
        self.shown(resp).await
    }

    /// Fetch the form page `form`, then post `fields` to `to` with the
    /// `@csrf` token that page carries.
    async fn post(&self, form: &str, to: &str, fields: &[(&str, &str)]) -> Shown {
        let page = self.page(form).await;
        let token = scrape_csrf(&page)
            .unwrap_or_else(|| panic!("{}: no @csrf on {form}:\n{page}", self.name));
        let mut all = fields.to_vec();
        all.push(("@csrf", &token));
        let resp = self.post_raw(to, &all).await;
        self.shown(resp).await
    }
}

/// The messages of a page of classic's: each `error-message` paragraph,
/// and the `ok-message` paragraph without its "clear this message" link;
/// as text, whitespace collapsed.
fn messages(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (class, kind) in [("error-message", "error"), ("ok-message", "ok")] {
        let mut rest = page;
        while let Some(i) = rest.find(&format!("class=\"{class}\"")) {
            let after = &rest[i..];
            let Some(open) = after.find('>') else { break };
            let body = &after[open + 1..];
            let end = body.find("</p>").unwrap_or(body.len());
            let mut inner = body[..end].to_string();
            if let Some(a) = inner.find("<a ") {
                let close = inner[a..].find("</a>").map_or(inner.len(), |j| a + j + 4);
                inner.replace_range(a..close, "");
            }
            let text = strip_tags(&inner);
            let text = html_unescape(&text)
                .replace("&#34;", "\"")
                .replace("&#x22;", "\"");
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push(format!("{kind}: {text}"));
            rest = &body[end..];
        }
    }
    out
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(ch),
            _ => {}
        }
    }
    out
}

fn session_of(resp: &reqwest::Response, side: &str) -> String {
    session_cookie(resp).unwrap_or_else(|| panic!("{side}: no session cookie after login"))
}

/// A classic home as Roundup 2.6 installs it, in German, with a Number
/// property on issues (classic has none, and the search action checks
/// numbers), web at `port`.
fn german_home(r: &Roundup26, home: &Path, port: u16) {
    let h = home.to_str().unwrap();
    r.admin(&[
        "-i",
        h,
        "install",
        "classic",
        "sqlite",
        &format!(
            "mail_domain=example.com,mail_host=localhost,mail_debug=mail-debug.txt,password_pbkdf2_default_rounds=1000,tracker_web=http://127.0.0.1:{port}/t/"
        ),
    ]);
    let schema = home.join("schema.py");
    let text = std::fs::read_to_string(&schema).unwrap();
    let with_number = text.replacen(
        "status=Link(\"status\"))",
        "status=Link(\"status\"),\n                estimate=Number())",
        1,
    );
    assert_ne!(text, with_number, "classic's issue class changed");
    std::fs::write(&schema, with_number).unwrap();
    r.admin(&["-i", h, "initialise", "secret"]);
    roundup_testkit::set_config_option(home, "tracker", "language", "de");
    roundup_testkit::put_roundup_catalogs(home, &["de", "en"]);
}

/// One step's outcome on both servers, and what Roundup's must show
/// (so that the comparison is not of two empty pages).
struct Step {
    label: &'static str,
    roundup: Shown,
    ours: Shown,
    expect: Option<&'static str>,
}

#[tokio::test(flavor = "multi_thread")]
async fn roundup26_action_messages_match_in_german() {
    let Some(r) = Roundup26::find() else { return };
    let work = r.workdir();
    let rhome = work.path().join("roundup");
    let ohome = work.path().join("ours");
    let rport = roundup_testkit::free_port();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let oport = listener.local_addr().unwrap().port();
    german_home(&r, &rhome, rport);
    let st = Command::new("cp")
        .args(["-a", rhome.to_str().unwrap(), ohome.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success(), "copy of the home");
    roundup_testkit::set_config_option(
        &ohome,
        "tracker",
        "web",
        &format!("http://127.0.0.1:{oport}/t/"),
    );
    roundup_testkit::give_to_rt(&rhome);
    roundup_testkit::give_to_rt(&ohome);

    let _roundup = r.start_server(work.path(), &rhome, rport);
    let served = serve_homes(
        r.workdir(),
        listener,
        vec![("t".to_string(), ohome.clone())],
        ServerSettings::default(),
    );
    let mut sides = [
        Side {
            name: "Roundup",
            base: format!("http://127.0.0.1:{rport}/t/"),
            cookie: None,
        },
        Side {
            name: "ours",
            base: served.base(),
            cookie: None,
        },
    ];
    let mut steps: Vec<Step> = Vec::new();
    macro_rules! both {
        ($label:expr, $expect:expr, |$s:ident| $body:expr) => {{
            let roundup = {
                let $s = &sides[0];
                $body
            };
            let ours = {
                let $s = &sides[1];
                $body
            };
            steps.push(Step {
                label: $label,
                roundup,
                ours,
                expect: $expect,
            });
        }};
    }

    // -- anonymous: a failed login, a login action sent with GET
    both!("failed login", Some("Ungültiger Benutzername"), |s| {
        s.post(
            "",
            "",
            &[
                ("__login_name", "admin"),
                ("__login_password", "wrong"),
                ("@action", "login"),
            ],
        )
        .await
    });
    both!("login sent with GET", Some("Ungültige Anforderung"), |s| {
        s.get("?@action=login&__login_name=admin").await
    });
    both!(
        "login without a name",
        Some("Benutzername notwendig"),
        |s| {
            s.post("", "", &[("__login_password", "x"), ("@action", "login")])
                .await
        }
    );

    // -- log in as admin on both
    for side in sides.iter_mut() {
        let page = side.page("").await;
        let token = scrape_csrf(&page).expect("the login form's @csrf");
        let resp = side
            .post_raw(
                "",
                &[
                    ("__login_name", "admin"),
                    ("__login_password", "secret"),
                    ("@action", "login"),
                    ("@csrf", &token),
                ],
            )
            .await;
        side.cookie = Some(session_of(&resp, side.name));
    }

    // -- new issue: refused, then created
    both!(
        "new issue, required property missing",
        Some("Fehler: Die Eigenschaft \"Priorität\""),
        |s| {
            s.post(
                "issue?@template=item",
                "issue",
                &[
                    ("title", "Drucker brennt"),
                    ("@required", "title,priority"),
                    ("@action", "new"),
                    ("@template", "item"),
                ],
            )
            .await
        }
    );
    // an auditor's refusal: Roundup words this `Error: %s` with its
    // module-level `_` (English here), unlike the parser's above
    both!(
        "new user, refused by the auditor",
        Some("Error: Email address syntax is invalid"),
        |s| {
            s.post(
                "user?@template=item",
                "user",
                &[
                    ("username", "kaputt"),
                    ("address", "keine adresse"),
                    ("@action", "new"),
                    ("@template", "item"),
                ],
            )
            .await
        }
    );
    both!(
        "new issue",
        Some("Der Eintrag \"issue1\" wurde erstellt"),
        |s| {
            s.post(
                "issue?@template=item",
                "issue",
                &[
                    ("title", "Drucker brennt"),
                    ("priority", "bug"),
                    ("@note", "Es raucht."),
                    ("@action", "new"),
                    ("@template", "item"),
                ],
            )
            .await
        }
    );

    // -- edit it: the property changed is named in German too (one:
    // Roundup lists several in the order of a Python set of the form's
    // names, which changes from one process to the next)
    both!(
        "edit issue",
        Some("Eigenschaft \"Titel\" bei \"issue 1\" bearbeitet"),
        |s| {
            let page = s.page("issue1").await;
            let last = field_value(&page, "@lastactivity").expect("@lastactivity");
            s.post(
                "issue1",
                "issue1",
                &[
                    ("title", "Drucker brennt nicht mehr"),
                    ("@lastactivity", &last),
                    ("@action", "edit"),
                    ("@template", "item"),
                ],
            )
            .await
        }
    );
    both!(
        "edit issue, required property missing",
        Some("Die Eigenschaft \"Priorität\" muss"),
        |s| {
            s.post(
                "issue1",
                "issue1",
                &[
                    ("title", "Drucker"),
                    ("@required", "priority"),
                    ("@action", "edit"),
                    ("@template", "item"),
                ],
            )
            .await
        }
    );
    both!(
        "edit user, passwords differ",
        Some("Die beiden Passwortfelder stimmen nicht überein"),
        |s| {
            s.post(
                "user1",
                "user1",
                &[
                    ("password", "neu1"),
                    ("@confirm@password", "neu2"),
                    ("@action", "edit"),
                    ("@template", "item"),
                ],
            )
            .await
        }
    );
    both!(
        "edit user, refused by the auditor",
        Some("Fehler bei der Bearbeitung: Email address syntax is invalid"),
        |s| {
            s.post(
                "user1",
                "user1",
                &[
                    ("address", "keine adresse"),
                    ("@action", "edit"),
                    ("@template", "item"),
                ],
            )
            .await
        }
    );
    both!(
        "show action, not an id",
        Some("\"abc\" ist keine ID (issue ID wird erwartet)"),
        |s| s.get("?@action=show&@type=issue&@number=abc").await
    );

    // -- searches
    both!("search, invalid number", Some("Invalid number: abc"), |s| {
        s.get("issue?@action=search&estimate=abc&@columns=id,title")
            .await
    });
    both!("search, invalid date", None, |s| {
        s.get("issue?@action=search&activity=notadate&@columns=id,title")
            .await
    });
    both!("search, saved as a query", None, |s| {
        s.get("issue?@action=search&estimate=1&@queryname=Meine&@columns=id,title")
            .await
    });
    both!(
        "search, a query of that name exists",
        Some("You already own a query named 'Meine'"),
        |s| {
            s.get("issue?@action=search&estimate=2&@queryname=Meine&@columns=id,title")
                .await
        }
    );

    // -- retire: the issue, then the admin user (refused)
    both!("retire issue", Some("Issue 1 wurde gelöscht"), |s| {
        s.post("issue1", "issue1", &[("@action", "retire")]).await
    });
    both!(
        "retire admin",
        Some("Sie können den Administrator oder den Gast-Benutzer nicht löschen"),
        |s| s.post("user1", "user1", &[("@action", "retire")]).await
    );

    // -- anonymous again: password reset and registration
    for side in sides.iter_mut() {
        side.cookie = None;
    }
    both!(
        "password reset, unknown name",
        Some("Benutzername unbekannt"),
        |s| {
            s.post(
                "user?@template=forgotten",
                "user",
                &[
                    ("username", "niemand"),
                    ("@action", "passrst"),
                    ("@template", "forgotten"),
                ],
            )
            .await
        }
    );
    both!(
        "password reset, no name or address",
        Some("Sie müssen einen Benutzernamen oder eine E-Mail-Adresse angeben"),
        |s| {
            s.post(
                "user?@template=forgotten",
                "user",
                &[("@action", "passrst"), ("@template", "forgotten")],
            )
            .await
        }
    );
    both!(
        "registration, too quick",
        Some("Responding to form too quickly."),
        |s| {
            let page = s.page("user?@template=register").await;
            let opaque = field_value(&page, "opaqueregister").expect("opaqueregister");
            s.post(
                "user?@template=register",
                "user",
                &[
                    ("username", "neuling"),
                    ("password", "geheim1"),
                    ("@confirm@password", "geheim1"),
                    ("address", "neuling@example.com"),
                    ("opaqueregister", &opaque),
                    ("@action", "register"),
                    ("@template", "register"),
                ],
            )
            .await
        }
    );
    // the registration forms of both, answered after Roundup's
    // registration delay (4 seconds)
    let mut forms = Vec::new();
    for side in &sides {
        let page = side.page("user?@template=register").await;
        let token = scrape_csrf(&page).expect("the registration form's @csrf");
        let opaque = field_value(&page, "opaqueregister").expect("opaqueregister");
        forms.push((token, opaque));
    }
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let mut shown = Vec::new();
    for (side, (token, opaque)) in sides.iter().zip(&forms) {
        let resp = side
            .post_raw(
                "user",
                &[
                    ("username", "neuling"),
                    ("password", "geheim1"),
                    ("@confirm@password", "geheim2"),
                    ("address", "neuling@example.com"),
                    ("opaqueregister", opaque),
                    ("@action", "register"),
                    ("@template", "register"),
                    ("@csrf", token),
                ],
            )
            .await;
        shown.push(side.shown(resp).await);
    }
    let ours = shown.pop().unwrap();
    let roundup = shown.pop().unwrap();
    steps.push(Step {
        label: "registration, passwords differ",
        roundup,
        ours,
        expect: Some("Fehler: Die beiden Passwortfelder stimmen nicht überein"),
    });
    served.stop().await;

    let mut failures = Vec::new();
    let mut table = String::from("\naction messages in German, Roundup 2.6 / ours\n");
    for step in &steps {
        let same = step.roundup == step.ours;
        table.push_str(&format!(
            "  {:40} {:4} {} {:?}\n",
            step.label,
            step.roundup.status,
            if same { "same " } else { "DIFFERS" },
            step.roundup.messages
        ));
        if !same {
            table.push_str(&format!(
                "  {:40} {:4} ours  {:?}\n",
                "", step.ours.status, step.ours.messages
            ));
            failures.push(format!(
                "{}: Roundup {} {:?}, ours {} {:?}",
                step.label,
                step.roundup.status,
                step.roundup.messages,
                step.ours.status,
                step.ours.messages
            ));
        }
        match step.expect {
            Some(e) if !step.roundup.messages.iter().any(|m| m.contains(e)) => {
                failures.push(format!(
                    "{}: Roundup's page does not say {e:?}: {:?}",
                    step.label, step.roundup.messages
                ))
            }
            None if !step.roundup.messages.is_empty() => failures.push(format!(
                "{}: Roundup's page has messages: {:?}",
                step.label, step.roundup.messages
            )),
            _ => {}
        }
    }
    eprintln!("{table}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
