//! Messages on standard output and standard error that never panic.
//!
//! `std`'s `println!`/`eprintln!` panic when the stream is a closed pipe
//! (as in `roundup-demo | head -2`); long-running servers and commands
//! write through [`out`] and [`err`] instead, usually by the
//! [`outln!`](crate::outln) and [`errln!`](crate::errln) macros. A write
//! that fails is dropped and the program goes on.

use std::io::Write;

/// Write one line to standard output; failures are ignored.
pub fn out(args: std::fmt::Arguments<'_>) {
    let mut w = std::io::stdout().lock();
    let _ = w.write_fmt(args).and_then(|()| w.write_all(b"\n"));
    let _ = w.flush();
}

/// Write one line to standard error; failures are ignored.
pub fn err(args: std::fmt::Arguments<'_>) {
    let mut w = std::io::stderr().lock();
    let _ = w.write_fmt(args).and_then(|()| w.write_all(b"\n"));
}

/// `println!` that never panics (see [`console`](crate::console)).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::console::out(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (see [`console`](crate::console)).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::console::err(format_args!($($arg)*))
    };
}
