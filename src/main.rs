//! The `polyfeed` binary: choose and tune the allocators, parse the command line, run,
//! turn the result into an exit code. Everything else lives in the library.

/// The binary's allocator: jemalloc ([`MALLOC_CONF`], [`keep_freed_memory`]).
/// With glibc's, the `cpu` threads of a cold poll (one more than the
/// cores, beside the async runtime's threads) queued for the locks of its
/// per-core arenas: over half of their sleeps were waits for the
/// allocator, they kept 1.5 of 2 cores busy, and about one poll in three
/// or four ran 30-40 % longer while the threads handed the locks back and
/// forth. jemalloc's per-thread caches take most allocations without a
/// lock (BENCHMARKS.md, session 19). SQLite's own allocations stay with
/// glibc (the crate's symbols are prefixed).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts, before `main`:
/// - an arena per CPU, used by the threads running on it (its default,
///   four per core, held 107 MiB at the peak of a cold poll of 1,000 feeds
///   against 91);
/// - allocations of 256 KiB and more from the arena that gives its pages
///   back at once (its default is 8 MiB): feed bodies, and the rendered
///   feeds of the publish after a poll, where a cold poll peaks;
/// - freed pages given back at once, until a cycle has a feed to read
///   ([`keep_freed_memory`]): a poll of unchanged feeds peaked at 27-29 MiB
///   with jemalloc's ten seconds, 24-25 MiB without (glibc: the same).
///
/// `_RJEM_MALLOC_CONF` in the environment is read after these and wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
// SAFETY: jemalloc reads this symbol as a `const char *` to a
// NUL-terminated string: `Option<&c_char>` has that layout, and the string
// is a static C literal.
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: Option<&'static libc::c_char> =
    Some(unsafe { &*c"percpu_arena:percpu,oversize_threshold:262144,dirty_decay_ms:0".as_ptr() });

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    polyfeed::pipeline::set_memory_release(release_free_memory);
    polyfeed::pipeline::set_bulk_work(keep_freed_memory);
    polyfeed::cli::main()
}

/// From the first feed a cycle reads: jemalloc's arenas keep freed pages
/// for reuse for about ten seconds (its default) instead of giving them
/// back at once; the arena of large allocations still gives them back at
/// once. Commands that read no feed (`publish`, `stories`, `serve` that
/// does not poll) keep giving pages back at once. Reading, features and storing allocate and free much; giving
/// every freed page back cost a cold poll of 1,000 feeds 50 % more system
/// time, and one of 10,000 4 % more wall time (BENCHMARKS.md, session 19).
/// Not when the user set jemalloc's options.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_memory() {
    if std::env::var_os("_RJEM_MALLOC_CONF").is_some() {
        return;
    }
    let ms: libc::ssize_t = 10_000;
    let set = |name: &std::ffi::CStr| {
        // SAFETY: writes one `ssize_t` option through jemalloc's control
        // interface, which checks the name and the size; an arena not yet
        // made refuses it and takes the new default when made.
        unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                (&raw const ms).cast_mut().cast(),
                std::mem::size_of::<libc::ssize_t>(),
            )
        }
    };
    set(c"arenas.dirty_decay_ms");
    // The automatic arenas only (`opt.narenas`, not `arenas.narenas`,
    // which counts the arena of large allocations too: that one keeps
    // giving its pages back at once).
    let mut arenas: libc::c_uint = 0;
    let mut len = std::mem::size_of::<libc::c_uint>();
    // SAFETY: reads one `unsigned` through jemalloc's control interface,
    // into a variable of that size.
    let read = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"opt.narenas".as_ptr(),
            (&raw mut arenas).cast(),
            &raw mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if read != 0 {
        return;
    }
    for i in 0..arenas {
        if let Ok(name) = std::ffi::CString::new(format!("arena.{i}.dirty_decay_ms")) {
            set(&name);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// glibc gives threads that allocate at once arenas of their own, up to
/// eight per core, and memory freed in one arena serves only that arena:
/// a cold poll, whose fetch, parse and store threads each allocate and free
/// a share of every feed, peaked at 119 MiB with the default and at 107 with
/// one arena per core (84 instead of 104 on the synthetic farm), at the same
/// speed (BENCHMARKS.md, "Memory of a cold poll"). That was before
/// jemalloc took Rust's allocations; glibc now serves SQLite's (page
/// caches, statements) on the same threads. `MALLOC_ARENA_MAX` or a glibc
/// tunable set by the user wins.
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

/// Gives the free pages of every glibc arena, and the freed pages jemalloc
/// keeps for reuse, back to the system: called by a cycle before story
/// assignment, whose thread allocates in one arena while the others keep
/// what the fetch phase freed in them (BENCHMARKS.md, session 18), and
/// before the publish after it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_free_memory() {
    // SAFETY: malloc_trim takes each arena's lock itself and only returns
    // free pages to the system; no allocation is moved.
    unsafe {
        libc::malloc_trim(0);
    }
    // Every arena's unused dirty pages: `arena.<i>.purge` with `i` =
    // `MALLCTL_ARENAS_ALL` (4096 in jemalloc's header; the crate does not
    // export it).
    // SAFETY: a jemalloc control call that takes and gives no value; it
    // only returns unused pages to the system.
    unsafe {
        let none = std::ptr::null_mut();
        tikv_jemalloc_sys::mallctl(c"arena.4096.purge".as_ptr(), none, std::ptr::null_mut(), none, 0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}
