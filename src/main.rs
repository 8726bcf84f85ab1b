//! The `h2o` binary: see [`h2o::cli`].

fn main() -> std::process::ExitCode {
    h2o::cli::main()
}
