//! Outgoing mail for registration and password reset.
//!
//! This build has no SMTP transport yet. As in Roundup, when `[mail]
//! debug` names a file, messages are appended to it instead of being
//! sent (the demo tracker is set up this way). Without it the message
//! goes whole into the server's log (standard error), with a line saying
//! it was not sent, so that the administrator can pass it on; the action
//! goes on as if it had been sent (a registration shows its "check your
//! mail" page and keeps the one-time key for the link in the message).

use std::io::Write;

use crate::settings::WebSettings;

/// Send (or record) a plain-text message; `Err` is shown to the user.
pub fn send(settings: &WebSettings, to: &[&str], subject: &str, body: &str) -> Result<(), String> {
    let to: Vec<&str> = to
        .iter()
        .copied()
        .filter(|a| !a.trim().is_empty())
        .collect();
    if to.is_empty() {
        return Err("No email address is known for this user, so no mail can be sent.".into());
    }
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let message = format!(
        "From: {from}\nTo: {to}\nSubject: {subject}\nDate: {date}\nContent-Type: text/plain; charset=utf-8\nX-Roundup-Name: {name}\n\n{body}\n",
        from = settings.tracker_email,
        to = to.join(", "),
        name = settings.tracker_name,
    );
    let Some(path) = &settings.mail_debug else {
        eprintln!(
            "roundup-server: {}: this server has no mail transport (set [mail] debug in config.ini to record mail in a file); \
             the following message to {} was NOT sent:\n{message}",
            settings.tracker_name,
            to.join(", ")
        );
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("Cannot record outgoing mail in {}: {e}", path.display()))?;
    f.write_all(message.as_bytes())
        .map_err(|e| format!("Cannot record outgoing mail in {}: {e}", path.display()))?;
    Ok(())
}
