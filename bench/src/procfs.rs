//! What Linux's `/proc` tells about a process and the machine.
//!
//! CPU time comes from `/proc/<pid>/task/<tid>/schedstat`, whose first field is the time the
//! thread spent on a CPU in **nanoseconds** (the scheduler's own accounting), rather than from
//! `utime + stime` in `/proc/<pid>/stat`, which counts clock ticks (10 ms at `USER_HZ` = 100) —
//! too coarse for a round of a few hundred milliseconds of CPU. Threads are summed one by one,
//! so a thread that starts during a round counts fully and one that exits loses only what it
//! ran after the first snapshot (tokio's idle blocking threads).

use std::collections::HashMap;
use std::fs;
use std::io;

/// CPU time per thread of a process: tid → nanoseconds on CPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuSnapshot(pub HashMap<u32, u64>);

impl CpuSnapshot {
    /// Reads every thread of `pid`.
    pub fn read(pid: u32) -> io::Result<CpuSnapshot> {
        let dir = format!("/proc/{pid}/task");
        let mut threads = HashMap::new();
        for entry in fs::read_dir(&dir).map_err(|e| with_path(e, &dir))? {
            let entry = entry.map_err(|e| with_path(e, &dir))?;
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            // A thread may exit between the listing and the read: skip it.
            if let Ok(text) = fs::read_to_string(entry.path().join("schedstat"))
                && let Some(ns) = parse_schedstat(&text)
            {
                threads.insert(tid, ns);
            }
        }
        if threads.is_empty() {
            return Err(io::Error::other(format!(
                "no readable schedstat under {dir}"
            )));
        }
        Ok(CpuSnapshot(threads))
    }

    /// Nanoseconds spent on CPU since `before`, by the threads alive now.
    pub fn since(&self, before: &CpuSnapshot) -> u64 {
        self.0
            .iter()
            .map(|(tid, ns)| ns.saturating_sub(before.0.get(tid).copied().unwrap_or(0)))
            .sum()
    }
}

/// The first field of a `schedstat` line (`<ns on cpu> <ns waiting> <timeslices>`).
pub fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// `VmHWM` (peak resident set size) of `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> io::Result<u64> {
    status_kib(pid, "VmHWM")
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, …), in KiB.
pub fn status_kib(pid: u32, name: &str) -> io::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).map_err(|e| with_path(e, &path))?;
    status_field_kib(&text, name).ok_or_else(|| io::Error::other(format!("no {name} in {path}")))
}

/// A `Name:   1234 kB` field of `/proc/<pid>/status`.
pub fn status_field_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Where the numbers were taken.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Machine {
    /// Logical CPUs this process may use.
    pub nproc: usize,
    /// `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
    /// Total memory, MiB.
    pub mem_total_mib: u64,
    /// The 1-minute load average when the run started (other work on the machine).
    pub load_average_1m: f64,
}

impl Machine {
    /// Reads what `/proc` says; unknown fields stay empty (never fails).
    pub fn detect() -> Machine {
        let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            mem_total_mib: status_field_kib(&read("/proc/meminfo"), "MemTotal").unwrap_or(0) / 1024,
            load_average_1m: read("/proc/loadavg")
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0),
        }
    }
}

/// Today's date (UTC) as `YYYY-MM-DD` and the time as `HH:MM:SSZ`, from the system clock.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn with_path(e: io::Error, path: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_fields() {
        assert_eq!(parse_schedstat("123456 789 10\n"), Some(123_456));
        assert_eq!(parse_schedstat(""), None);
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    4321 kB\n";
        assert_eq!(status_field_kib(status, "VmHWM"), Some(4321));
        assert_eq!(status_field_kib(status, "VmRSS"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let a = CpuSnapshot::read(me).unwrap();
        // Busy for 50 ms of wall time (the kernel adds to the on-CPU time at ticks and
        // switches, so a short loop in a release build can show nothing yet).
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        std::hint::black_box(x);
        let b = CpuSnapshot::read(me).unwrap();
        assert!(b.since(&a) > 0);
        assert!(peak_rss_kib(me).unwrap() > 0);
        assert!(status_kib(me, "VmRSS").unwrap() > 0);
        assert!(status_kib(me, "VmNope").is_err());
        let delta = CpuSnapshot([(1, 10), (2, 5)].into()).since(&CpuSnapshot([(1, 4)].into()));
        assert_eq!(delta, 11);
    }
}
