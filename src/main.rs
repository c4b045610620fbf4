//! The `bitplan` binary: parse arguments, run one command, turn the outcome into an exit code.
//! Everything it does lives in the library; this file and `cli/` only decide what the user sees.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
