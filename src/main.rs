//! The `polyfeed` binary: tune the allocator, parse the command line, run,
//! turn the result into an exit code. Everything else lives in the library.

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    polyfeed::pipeline::set_memory_release(release_free_memory);
    polyfeed::cli::main()
}

/// glibc gives threads that allocate at once arenas of their own, up to
/// eight per core, and memory freed in one arena serves only that arena:
/// a cold poll, whose fetch, parse and store threads each allocate and free
/// a share of every feed, peaked at 119 MiB with the default and at 107 with
/// one arena per core (84 instead of 104 on the synthetic farm), at the same
/// speed (BENCHMARKS.md, "Memory of a cold poll"). `MALLOC_ARENA_MAX` or a
/// glibc tunable set by the user wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    let tuned = std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var_os("GLIBC_TUNABLES").is_some_and(|t| t.to_string_lossy().contains("arena_max"));
    if tuned {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
    let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets an allocator parameter (glibc takes its own
    // lock); it runs first thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// Gives the free pages of every glibc arena back to the system: called by
/// a cycle before story assignment, whose thread allocates in one arena
/// while the others keep what the fetch phase freed in them (BENCHMARKS.md,
/// session 18).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_free_memory() {
    // SAFETY: malloc_trim takes each arena's lock itself and only returns
    // free pages to the system; no allocation is moved.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}
