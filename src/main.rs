//! The `polyfeed` binary: parse the command line, run, turn the result into
//! an exit code. Everything else lives in the library.

fn main() -> std::process::ExitCode {
    polyfeed::cli::main()
}
