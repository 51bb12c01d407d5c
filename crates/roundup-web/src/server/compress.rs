//! HTTP response compression as Roundup does it (admin_guide "Configuring
//! Compression"): zstd, then brotli, then gzip; nothing under 100 bytes;
//! not for already-compressed types; precompressed `@@file` siblings.
//!
//! Roundup ignores `q` values. Here a `q=0` refuses an encoding, and among
//! the acceptable ones a higher `q` wins; equal `q` values (the usual case,
//! browsers send none) keep Roundup's zstd > br > gzip order.

use std::io::Write;

/// A content coding this server produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Zstd,
    Br,
    Gzip,
}

impl Encoding {
    /// The token in `Accept-Encoding` / `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Zstd => "zstd",
            Encoding::Br => "br",
            Encoding::Gzip => "gzip",
        }
    }

    /// The suffix of a precompressed sibling file (`style.css.gzip`).
    pub fn file_suffix(self) -> &'static str {
        self.token()
    }
}

/// Below this size nothing is compressed.
pub const MIN_SIZE: usize = 100;

/// Types that are compressed already.
pub const PRECOMPRESSED_TYPES: &[&str] = &["image/png", "image/jpeg"];

/// Acceptable encodings in order of preference.
pub fn acceptable(accept_encoding: Option<&str>) -> Vec<Encoding> {
    let Some(header) = accept_encoding else {
        return Vec::new();
    };
    let mut found: Vec<(Encoding, f32, usize)> = Vec::new();
    let mut star: Option<f32> = None;
    for part in header.split(',') {
        let mut bits = part.split(';');
        let name = bits.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for p in bits {
            if let Some(v) = p.trim().strip_prefix("q=") {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        let enc = match name.as_str() {
            "zstd" => Encoding::Zstd,
            "br" => Encoding::Br,
            "gzip" | "x-gzip" => Encoding::Gzip,
            "*" => {
                star = Some(q);
                continue;
            }
            _ => continue,
        };
        found.retain(|(e, _, _)| *e != enc);
        let rank = [Encoding::Zstd, Encoding::Br, Encoding::Gzip]
            .iter()
            .position(|e| *e == enc)
            .unwrap_or(3);
        found.push((enc, q, rank));
    }
    if let Some(q) = star {
        for (rank, enc) in [Encoding::Zstd, Encoding::Br, Encoding::Gzip]
            .into_iter()
            .enumerate()
        {
            if !found.iter().any(|(e, _, _)| *e == enc) {
                found.push((enc, q, rank));
            }
        }
    }
    found.retain(|(_, q, _)| *q > 0.0);
    found.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.2.cmp(&b.2))
    });
    found.into_iter().map(|(e, _, _)| e).collect()
}

/// Compress `data`; `None` when the encoder failed (then send it as is).
pub fn compress(enc: Encoding, data: &[u8]) -> Option<Vec<u8>> {
    match enc {
        Encoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(5));
            e.write_all(data).ok()?;
            e.finish().ok()
        }
        Encoding::Br => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
                w.write_all(data).ok()?;
                w.flush().ok()?;
            }
            Some(out)
        }
        Encoding::Zstd => zstd::bulk::compress(data, 3).ok(),
    }
}

/// Whether a response of this type and size may be compressed on the fly.
pub fn worth_compressing(content_type: Option<&str>, len: usize) -> bool {
    if len < MIN_SIZE {
        return false;
    }
    let base = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    !PRECOMPRESSED_TYPES.contains(&base.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_order_and_q_values() {
        use Encoding::*;
        assert_eq!(
            acceptable(Some("gzip, deflate, br, zstd")),
            vec![Zstd, Br, Gzip]
        );
        assert_eq!(acceptable(Some("gzip")), vec![Gzip]);
        assert_eq!(acceptable(Some("br;q=0, gzip")), vec![Gzip]);
        assert_eq!(acceptable(Some("gzip;q=1.0, zstd;q=0.5")), vec![Gzip, Zstd]);
        assert_eq!(acceptable(Some("identity")), Vec::<Encoding>::new());
        assert_eq!(acceptable(Some("*")), vec![Zstd, Br, Gzip]);
        assert_eq!(acceptable(None), Vec::<Encoding>::new());
    }

    #[test]
    fn round_trips() {
        let data = "hello roundup ".repeat(50);
        let gz = compress(Encoding::Gzip, data.as_bytes()).unwrap();
        let mut d = flate2::read::GzDecoder::new(&gz[..]);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut d, &mut s).unwrap();
        assert_eq!(s, data);
        let z = compress(Encoding::Zstd, data.as_bytes()).unwrap();
        assert_eq!(zstd::bulk::decompress(&z, 10_000).unwrap(), data.as_bytes());
        let b = compress(Encoding::Br, data.as_bytes()).unwrap();
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &b[..], &mut out).unwrap();
        assert_eq!(out, data.as_bytes());
        assert!(!worth_compressing(Some("text/html"), 99));
        assert!(!worth_compressing(Some("image/png"), 1000));
        assert!(worth_compressing(Some("text/html; charset=utf-8"), 1000));
    }
}
