//! The `parley-bench` binary; the program is [`parley_bench::main`], which
//! `parley bench` runs too.

use std::process::ExitCode;

fn main() -> ExitCode {
    parley_bench::main(std::env::args_os())
}
