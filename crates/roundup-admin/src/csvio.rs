//! The CSV dialect of Roundup's export files.
//!
//! Roundup writes its export with Python's `csv` module: the "excel"
//! dialect with `:` as the delimiter and `\n` ending each record. A field
//! is put in double quotes only when it holds the delimiter, a quote or a
//! line break; quotes inside are doubled. Cells are Python literals (see
//! [`roundup_core::pyrepr::repr_export`]), so quoting happens for dates
//! never but for most strings that contain a colon.

use std::io::{self, BufRead, Write};

/// Append one record to `out`.
pub fn write_record<W: Write, S: AsRef<str>>(out: &mut W, fields: &[S]) -> io::Result<()> {
    let mut line = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(':');
        }
        let f = f.as_ref();
        if f.contains([':', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&f.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(f);
        }
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// Reads records one at a time, remembering on which line each began.
pub struct Reader<R> {
    input: R,
    /// Line number (1-based) of the next line to read.
    next_line: usize,
    buf: String,
    bytes: u64,
}

/// A malformed record: the line it starts on and what is wrong.
#[derive(Debug)]
pub struct ReadError {
    pub line: usize,
    pub reason: String,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Reader<R> {
        Reader {
            input,
            next_line: 1,
            buf: String::new(),
            bytes: 0,
        }
    }

    /// How many bytes have been read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    fn read_line(&mut self) -> Result<bool, ReadError> {
        self.buf.clear();
        match self.input.read_line(&mut self.buf) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.next_line += 1;
                self.bytes += n as u64;
                Ok(true)
            }
            Err(e) => Err(ReadError {
                line: self.next_line,
                reason: format!("cannot read: {e}"),
            }),
        }
    }

    /// The next record and the line it starts on; `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<(usize, Vec<String>)>, ReadError> {
        let mut rec = Record::default();
        Ok(self
            .read_record(&mut rec)?
            .map(|line| (line, rec.iter().map(str::to_string).collect())))
    }

    /// Read the next record into `rec` (reusing its memory); returns the
    /// line it starts on, `None` at the end.
    pub fn read_record(&mut self, rec: &mut Record) -> Result<Option<usize>, ReadError> {
        rec.text.clear();
        rec.spans.clear();
        let start = self.next_line;
        if !self.read_line()? {
            return Ok(None);
        }
        // Most lines hold no quote: then fields are just what lies
        // between the delimiters.
        if !self.buf.contains('"') {
            let line = match self.buf.strip_suffix('\n') {
                Some(l) => l.strip_suffix('\r').unwrap_or(l),
                None => &self.buf,
            };
            rec.text.push_str(line);
            let mut from = 0;
            for (i, b) in line.bytes().enumerate() {
                if b == b':' {
                    rec.spans.push((from, i));
                    from = i + 1;
                }
            }
            rec.spans.push((from, line.len()));
            return Ok(Some(start));
        }
        let mut field_start = 0;
        let mut quoted = false;
        // Whether the current field started with a quote and so may hold
        // delimiters and line breaks.
        let mut in_quotes = false;
        loop {
            let line = std::mem::take(&mut self.buf);
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                if in_quotes {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            rec.text.push('"');
                        } else {
                            in_quotes = false;
                        }
                    } else {
                        rec.text.push(c);
                    }
                    continue;
                }
                match c {
                    '"' if rec.text.len() == field_start && !quoted => {
                        quoted = true;
                        in_quotes = true;
                    }
                    ':' => {
                        rec.spans.push((field_start, rec.text.len()));
                        field_start = rec.text.len();
                        quoted = false;
                    }
                    '\n' => {}
                    '\r' if chars.peek() == Some(&'\n') => {}
                    other => rec.text.push(other),
                }
            }
            // Keep the buffer's memory for the next line.
            self.buf = line;
            if !in_quotes {
                break;
            }
            if !self.read_line()? {
                return Err(ReadError {
                    line: start,
                    reason: "a quoted field is not closed before the end of the file".into(),
                });
            }
        }
        rec.spans.push((field_start, rec.text.len()));
        Ok(Some(start))
    }
}

/// The fields of one record, in one buffer that the next record reuses.
#[derive(Debug, Default)]
pub struct Record {
    text: String,
    /// Start and end of each field in `text`.
    spans: Vec<(usize, usize)>,
}

impl Record {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the record has no fields (only before the first read).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Field `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.spans.get(i).map(|&(a, b)| &self.text[a..b])
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.spans.iter().map(|&(a, b)| &self.text[a..b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(fields: &[&str]) -> String {
        let mut out = Vec::new();
        write_record(&mut out, fields).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(written(&["'1'", "None", "[]"]), "'1':None:[]\n");
        assert_eq!(
            written(&["'a:b'", "\"{'x': 1}\""]),
            "\"'a:b'\":\"\"\"{'x': 1}\"\"\"\n"
        );
    }

    #[test]
    fn reads_back_what_it_writes_with_line_numbers() {
        let mut text = Vec::new();
        write_record(&mut text, &["h1", "h2"]).unwrap();
        write_record(&mut text, &["'a:b'", "x\ny"]).unwrap();
        write_record(&mut text, &["\"q\"", ""]).unwrap();
        let mut r = Reader::new(&text[..]);
        assert_eq!(
            r.next_record().unwrap().unwrap(),
            (1, vec!["h1".into(), "h2".into()])
        );
        assert_eq!(
            r.next_record().unwrap().unwrap(),
            (2, vec!["'a:b'".into(), "x\ny".into()])
        );
        assert_eq!(
            r.next_record().unwrap().unwrap(),
            (4, vec!["\"q\"".into(), "".into()])
        );
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn lines_without_quotes_split_as_quoted_ones_do() {
        let mut r = Reader::new(&b"a:b\r\n:x\r:\n\nlast\r"[..]);
        let mut next = || r.next_record().unwrap().unwrap();
        assert_eq!(next(), (1, vec!["a".into(), "b".into()]));
        assert_eq!(next(), (2, vec!["".into(), "x\r".into(), "".into()]));
        assert_eq!(next(), (3, vec!["".into()]));
        assert_eq!(next(), (4, vec!["last\r".into()]));
        assert!(r.next_record().unwrap().is_none());
        // The same lines with a quoted field in front take the long way.
        let mut r = Reader::new(&b"\"q\":b\r\n\"q\":x\r:\n"[..]);
        assert_eq!(
            r.next_record().unwrap().unwrap(),
            (1, vec!["q".into(), "b".into()])
        );
        assert_eq!(
            r.next_record().unwrap().unwrap(),
            (2, vec!["q".into(), "x\r".into(), "".into()])
        );
    }

    #[test]
    fn unterminated_quote_names_its_line() {
        let mut r = Reader::new(&b"a:b\n\"open:x\nmore\n"[..]);
        r.next_record().unwrap();
        let e = r.next_record().unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("not closed"));
    }
}
