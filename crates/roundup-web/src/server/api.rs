//! `/rest/...` and `/xmlrpc` of a served tracker: the HTTP request turned
//! into an API request for `roundup-api`, the caller established, and the
//! answer turned back into a reply. The UI and the APIs do not know each
//! other; this is where the server puts them side by side (a browser's
//! web session is accepted by the APIs through the UI's
//! [`client::session_user`]).

use roundup_api::rest::{self, Api, ApiAuth, ApiRequest, Frontend};
use roundup_api::xmlrpc;
use roundup_ui::client;
use roundup_ui::reply::{Incoming, Reply};

use super::site::Site;

/// `/rest/...` and `/xmlrpc`: the caller is whoever the API's own
/// credentials (Basic, with the verified-credential cache, or a JWT) name,
/// else the user of the session cookie, else anonymous.
pub fn handle(site: &Site, inc: &Incoming) -> Reply {
    let db = match site.served.pool.get("1") {
        Ok(db) => db,
        Err(e) => return Reply::text(500, &format!("tracker error: {e}")),
    };
    let to_reply = |r: rest::ApiResponse| {
        let mut reply = Reply::new(r.status);
        for (k, v) in r.headers {
            reply.headers.push((k, v));
        }
        reply.body = r.body;
        reply
    };
    let api = Api {
        tracker: &site.served.tracker,
        state: &site.api,
        otks: &site.served.otks,
    };
    let frontend = if inc.path == "xmlrpc" {
        Frontend::Xmlrpc
    } else {
        Frontend::Rest
    };
    let auth = match rest::authenticate(&api, &db, &inc.headers, frontend) {
        Err(resp) => return to_reply(resp),
        Ok(Some(auth)) => auth,
        Ok(None) => match client::session_user(&site.ui, inc, &db) {
            Some(uid) => ApiAuth::User(uid),
            None => ApiAuth::Anonymous,
        },
    };
    let mut query = Vec::new();
    for (k, v) in form_urlencoded::parse(inc.query.as_bytes()) {
        query.push((k.into_owned(), v.into_owned()));
    }
    let base = client::base_url(&site.ui, inc);
    let path = inc
        .path
        .strip_prefix("rest")
        .unwrap_or(&inc.path)
        .to_string();
    let req = ApiRequest {
        method: inc.method.clone(),
        path,
        query,
        headers: inc.headers.clone(),
        body: inc.body.clone(),
        base,
    };
    let resp = match frontend {
        Frontend::Xmlrpc => xmlrpc::handle(&api, &db, &auth, &req),
        _ => rest::handle(&api, &db, &auth, &req),
    };
    to_reply(resp)
}
