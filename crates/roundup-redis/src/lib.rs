//! Session and one-time-key stores in Redis (`[sessiondb] backend = redis`).
//!
//! As in Roundup, each record is one Redis string under `<store>:<key>`
//! (`session:…`, `otk:…`) that Redis itself expires (EXPIREAT), and the
//! record's `__timestamp` value is its expiry time. Roundup stores the
//! dict with Python's `marshal`; this store writes the dict as a Python
//! literal (the format of the SQL stores) and so does not share records
//! with a Python Roundup using the same Redis database.

use roundup_core::pyrepr::PyValue;
use roundup_core::sessions::{
    now, record_from_repr, record_to_repr, KeyStore, Record, StoreKind, WEEK,
};
use roundup_core::{Error, Result};

/// One of the two stores in a Redis database.
pub struct RedisKeyStore {
    kind: StoreKind,
    url: String,
    client: redis::Client,
    conn: Option<redis::Connection>,
}

impl std::fmt::Debug for RedisKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeyStore")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .finish()
    }
}

/// Drop the query parameters Python's redis client understands but this
/// one does not (e.g. `health_check_interval`), keeping `db`/`protocol`.
fn clean_url(url: &str) -> String {
    match url.split_once('?') {
        None => url.to_string(),
        Some((base, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| {
                    let k = kv.split('=').next().unwrap_or("");
                    matches!(k, "db" | "protocol")
                })
                .collect();
            if kept.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{}", kept.join("&"))
            }
        }
    }
}

fn redact(url: &str) -> String {
    // Hide a password in messages: redis://user:secret@host -> redis://user:***@host
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((u, _)) => format!("{}{u}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl RedisKeyStore {
    /// Connect to the Redis server at `url` (Roundup's `redis_url`).
    pub fn open(url: &str, kind: StoreKind) -> Result<RedisKeyStore> {
        let client = redis::Client::open(clean_url(url))
            .map_err(|e| Error::Config(format!("[sessiondb] redis_url {}: {e}", redact(url))))?;
        let mut store = RedisKeyStore {
            kind,
            url: redact(url),
            client,
            conn: None,
        };
        store.connection()?;
        Ok(store)
    }

    fn connection(&mut self) -> Result<&mut redis::Connection> {
        if self.conn.is_none() {
            let c = self.client.get_connection().map_err(|e| {
                Error::connection(format!("connecting to redis at {}: {e}", self.url))
            })?;
            self.conn = Some(c);
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(Error::connection("redis connection unavailable")),
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}:{key}", self.kind.name())
    }

    fn run<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd, what: &str) -> Result<T> {
        let url = self.url.clone();
        let conn = self.connection()?;
        match cmd.query::<T>(conn) {
            Ok(v) => Ok(v),
            Err(e) => {
                // Reconnect next time (the server may have restarted).
                self.conn = None;
                let msg = format!("redis at {url}: {what}: {e}");
                Err(if e.is_io_error() || e.is_connection_dropped() {
                    Error::connection(msg)
                } else if e.is_timeout() {
                    Error::busy(msg)
                } else {
                    Error::storage(msg)
                })
            }
        }
    }

    fn expiry_of(record: &Record) -> Option<f64> {
        match record.get("__timestamp") {
            Some(PyValue::Float(f)) => Some(*f),
            Some(PyValue::Int(i)) => Some(*i as f64),
            _ => None,
        }
    }
}

impl KeyStore for RedisKeyStore {
    fn kind(&self) -> StoreKind {
        self.kind
    }

    fn get_all(&mut self, key: &str) -> Result<Option<Record>> {
        let name = self.name(key);
        let v: Option<String> = self.run(redis::cmd("GET").arg(&name), "reading a record")?;
        match v {
            Some(text) => Ok(Some(record_from_repr(self.kind, key, &text)?)),
            None => Ok(None),
        }
    }

    fn set(&mut self, key: &str, values: Record, expires: Option<f64>) -> Result<()> {
        let mut record = self.get_all(key)?.unwrap_or_default();
        let kept = Self::expiry_of(&record);
        record.extend(values);
        let expiry = expires.or(kept).unwrap_or_else(|| now() + WEEK);
        record.insert("__timestamp".into(), PyValue::Float(expiry));
        let name = self.name(key);
        let text = record_to_repr(&record);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(&name)
            .arg(text)
            .ignore()
            .cmd("EXPIREAT")
            .arg(&name)
            .arg(expiry as i64)
            .ignore();
        let url = self.url.clone();
        let conn = self.connection()?;
        if let Err(e) = pipe.query::<()>(conn) {
            self.conn = None;
            return Err(Error::storage(format!(
                "redis at {url}: writing a record: {e}"
            )));
        }
        Ok(())
    }

    fn exists(&mut self, key: &str) -> Result<bool> {
        let name = self.name(key);
        let n: i64 = self.run(redis::cmd("EXISTS").arg(&name), "checking a key")?;
        Ok(n > 0)
    }

    fn destroy(&mut self, key: &str) -> Result<()> {
        let name = self.name(key);
        let _: i64 = self.run(redis::cmd("DEL").arg(&name), "deleting a record")?;
        Ok(())
    }

    fn touch(&mut self, key: &str) -> Result<()> {
        let Some(record) = self.get_all(key)? else {
            return Ok(());
        };
        let t = now();
        // The stored stamp is the expiry; renew once it is a minute old.
        let due = Self::expiry_of(&record).is_none_or(|exp| t > exp + 60.0 - WEEK);
        if due {
            self.set(key, Record::new(), Some(t + WEEK))?;
        }
        Ok(())
    }

    fn clean(&mut self) -> Result<()> {
        // Redis expires keys itself.
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<String>> {
        let pattern = format!("{}:*", self.kind.name());
        let names: Vec<String> = self.run(redis::cmd("KEYS").arg(&pattern), "listing keys")?;
        let prefix = format!("{}:", self.kind.name());
        Ok(names
            .into_iter()
            .filter_map(|n| n.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }

    fn clear(&mut self) -> Result<()> {
        for k in self.keys()? {
            self.destroy(&k)?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_cleaning_and_redaction() {
        assert_eq!(
            clean_url("redis://localhost:6379/0?health_check_interval=2"),
            "redis://localhost:6379/0"
        );
        assert_eq!(clean_url("redis://h/1?db=2&x=1"), "redis://h/1?db=2");
        assert_eq!(redact("redis://u:pw@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact("redis://h:1/0"), "redis://h:1/0");
    }
}
