//! gettext's `Plural-Forms` rule: a C expression over `n` giving the
//! index of the plural form (`n != 1`, `n%10==1 && n%100!=11 ? 0 : ...`).

/// A compiled `plural=` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Plural {
    N,
    Num(u64),
    Not(Box<Plural>),
    Bin(Op, Box<Plural>, Box<Plural>),
    If(Box<Plural>, Box<Plural>, Box<Plural>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Default for Plural {
    /// Germanic languages' rule, gettext's default: `n != 1`.
    fn default() -> Self {
        Plural::Bin(Op::Ne, Box::new(Plural::N), Box::new(Plural::Num(1)))
    }
}

impl Plural {
    /// The rule of a catalog header's `Plural-Forms: nplurals=2;
    /// plural=n != 1;` line; `Ok(None)` when the header has none.
    pub fn from_header(header: &str) -> Result<Option<Plural>, String> {
        for line in header.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("plural-forms") {
                continue;
            }
            for part in value.split(';') {
                if let Some((k, expr)) = part.split_once('=') {
                    if k.trim() == "plural" {
                        return Plural::parse(expr).map(Some);
                    }
                }
            }
        }
        Ok(None)
    }

    pub fn parse(text: &str) -> Result<Plural, String> {
        let mut p = Parser {
            toks: tokens(text)?,
            pos: 0,
        };
        let e = p.ternary()?;
        if p.pos != p.toks.len() {
            return Err(format!(
                "unexpected {:?} in plural rule {text:?}",
                p.toks[p.pos]
            ));
        }
        Ok(e)
    }

    /// The form index for `n`.
    pub fn eval(&self, n: u64) -> u64 {
        match self {
            Plural::N => n,
            Plural::Num(v) => *v,
            Plural::Not(e) => u64::from(e.eval(n) == 0),
            Plural::If(c, a, b) => {
                if c.eval(n) != 0 {
                    a.eval(n)
                } else {
                    b.eval(n)
                }
            }
            Plural::Bin(op, a, b) => {
                let (x, y) = (a.eval(n), b.eval(n));
                match op {
                    Op::Or => u64::from(x != 0 || y != 0),
                    Op::And => u64::from(x != 0 && y != 0),
                    Op::Eq => u64::from(x == y),
                    Op::Ne => u64::from(x != y),
                    Op::Lt => u64::from(x < y),
                    Op::Le => u64::from(x <= y),
                    Op::Gt => u64::from(x > y),
                    Op::Ge => u64::from(x >= y),
                    Op::Add => x.wrapping_add(y),
                    Op::Sub => x.wrapping_sub(y),
                    Op::Mul => x.wrapping_mul(y),
                    // a rule dividing by zero picks the first form
                    Op::Div => x.checked_div(y).unwrap_or(0),
                    Op::Rem => x.checked_rem(y).unwrap_or(0),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    N,
    Num(u64),
    Sym(&'static str),
}

fn tokens(text: &str) -> Result<Vec<Tok>, String> {
    const SYMS: &[&str] = &[
        "||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", "(",
        ")",
    ];
    let mut out = Vec::new();
    let mut rest = text.trim().trim_end_matches(';');
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c == 'n' {
            out.push(Tok::N);
            rest = &rest[1..];
        } else if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let v = rest[..end]
                .parse()
                .map_err(|_| format!("number too large in plural rule {text:?}"))?;
            out.push(Tok::Num(v));
            rest = &rest[end..];
        } else if let Some(s) = SYMS.iter().find(|s| rest.starts_with(**s)) {
            out.push(Tok::Sym(s));
            rest = &rest[s.len()..];
        } else {
            return Err(format!("unexpected {c:?} in plural rule {text:?}"));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

const LEVELS: &[&[(&str, Op)]] = &[
    &[("||", Op::Or)],
    &[("&&", Op::And)],
    &[("==", Op::Eq), ("!=", Op::Ne)],
    &[("<", Op::Lt), ("<=", Op::Le), (">", Op::Gt), (">=", Op::Ge)],
    &[("+", Op::Add), ("-", Op::Sub)],
    &[("*", Op::Mul), ("/", Op::Div), ("%", Op::Rem)],
];

impl Parser {
    fn eat(&mut self, sym: &str) -> bool {
        if matches!(self.toks.get(self.pos), Some(Tok::Sym(s)) if *s == sym) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ternary(&mut self) -> Result<Plural, String> {
        let cond = self.binary(0)?;
        if !self.eat("?") {
            return Ok(cond);
        }
        let a = self.ternary()?;
        if !self.eat(":") {
            return Err("plural rule: '?' without ':'".into());
        }
        let b = self.ternary()?;
        Ok(Plural::If(Box::new(cond), Box::new(a), Box::new(b)))
    }

    fn binary(&mut self, level: usize) -> Result<Plural, String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        'outer: loop {
            for (sym, op) in LEVELS[level] {
                if self.eat(sym) {
                    let right = self.binary(level + 1)?;
                    left = Plural::Bin(*op, Box::new(left), Box::new(right));
                    continue 'outer;
                }
            }
            return Ok(left);
        }
    }

    fn unary(&mut self) -> Result<Plural, String> {
        if self.eat("!") {
            return Ok(Plural::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let e = self.ternary()?;
            if !self.eat(")") {
                return Err("plural rule: '(' without ')'".into());
            }
            return Ok(e);
        }
        match self.toks.get(self.pos).cloned() {
            Some(Tok::N) => {
                self.pos += 1;
                Ok(Plural::N)
            }
            Some(Tok::Num(v)) => {
                self.pos += 1;
                Ok(Plural::Num(v))
            }
            Some(t) => Err(format!("plural rule: unexpected {t:?}")),
            None => Err("plural rule ends early".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_of_real_catalogs() {
        let ru = Plural::parse(
            "n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2",
        )
        .unwrap();
        let forms: Vec<u64> = [1, 2, 5, 11, 21, 22, 25, 111, 112]
            .iter()
            .map(|n| ru.eval(*n))
            .collect();
        assert_eq!(forms, vec![0, 1, 2, 2, 0, 1, 2, 2, 2]);
        let fr = Plural::parse("n>1").unwrap();
        assert_eq!((fr.eval(0), fr.eval(1), fr.eval(2)), (0, 0, 1));
        assert_eq!(Plural::parse(" 0 ").unwrap().eval(7), 0);
        assert_eq!(Plural::default().eval(1), 0);
        assert_eq!(Plural::default().eval(3), 1);
        assert_eq!(Plural::parse("!(n == 1)").unwrap().eval(1), 0);
    }

    #[test]
    fn header_line_and_errors() {
        let h =
            "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n";
        assert_eq!(Plural::from_header(h).unwrap().unwrap().eval(2), 1);
        assert_eq!(Plural::from_header("Language: de\n").unwrap(), None);
        let e = Plural::parse("n ? 1").unwrap_err();
        assert!(e.contains("':'"), "{e}");
        assert!(Plural::parse("n $ 2").unwrap_err().contains("'$'"));
        assert!(Plural::parse("(n").is_err());
        assert_eq!(Plural::parse("n / 0").unwrap().eval(4), 0);
    }
}
