//! The `parley-bench` binary; the program is [`parley_bench::main`].

use std::process::ExitCode;

fn main() -> ExitCode {
    parley_bench::main(std::env::args_os())
}
