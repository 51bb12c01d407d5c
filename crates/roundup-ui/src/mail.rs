//! Mail the web UI sends itself: registration and password-reset
//! messages. They are composed and delivered by the tracker's mailer
//! (`roundup-mail`: SMTP per `[mail]`, or the `[mail] debug` file) right
//! away, as Roundup does, so that a failure can be shown to the user.
//!
//! A tracker with neither `[mail] host` nor `[mail] debug` set cannot
//! send mail: the message then goes whole into the server's log with a
//! line saying it was not sent, so that the administrator can pass it on,
//! and the action goes on as if it had been sent.

use roundup_core::mail::{MailSetup, PlainMail};

/// Send a plain-text message from the tracker; `Err` is shown to the user.
pub fn send(mail: &MailSetup, to: &[&str], subject: &str, body: &str) -> Result<(), String> {
    let to: Vec<String> = to
        .iter()
        .filter(|a| !a.trim().is_empty())
        .map(|a| a.to_string())
        .collect();
    if to.is_empty() {
        return Err("No email address is known for this user, so no mail can be sent.".into());
    }
    let envelope = mail
        .mailer
        .compose_plain(&PlainMail {
            to,
            subject: subject.to_string(),
            body: body.to_string(),
            author: None,
            attachments: Vec::new(),
        })
        .map_err(|e| e.to_string())?;
    if !mail.mailer.configured() {
        roundup_core::errln!(
            "roundup-server: {}: no mail server is configured (set [mail] host, or [mail] debug to record mail in a file); \
             the following message to {} was NOT sent:\n{}",
            mail.settings.tracker_name,
            envelope.recipients.join(", "),
            envelope.message.replace("\r\n", "\n")
        );
        return Ok(());
    }
    mail.mailer
        .deliver(&envelope)
        .map_err(|e| format!("Error: {e}"))
}
