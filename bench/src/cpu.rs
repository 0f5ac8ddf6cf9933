//! CPU time from Linux's /proc: of this process, of a process tree (the server under test and
//! its children), and of the whole machine, so that reports can say who used the cores.

/// Linux reports CPU time in clock ticks of 1/100 s to user space.
pub const TICKS_PER_SECOND: f64 = 100.0;

/// Parent pid and user + system CPU ticks from the text of a /proc/PID/stat file.
pub fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    // Fields after the parenthesised command name start at field 3: ppid is field 4, utime and
    // stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().take(13).collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// User + system CPU seconds of this process.
pub fn cpu_seconds() -> Option<f64> {
    let (_, ticks) = parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    #[expect(clippy::cast_precision_loss, reason = "tick counts are far below 2^52")]
    Some(ticks as f64 / TICKS_PER_SECOND)
}

/// Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. Busy is user +
/// nice + system time, what processes use; interrupt time (loopback networking), steal and idle
/// are in the total only.
pub fn machine_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal (guest time is included in user).
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let total: u64 = ticks.iter().sum();
    let busy: u64 = ticks.iter().take(3).sum();
    #[expect(clippy::cast_precision_loss, reason = "tick counts are far below 2^52")]
    Some((
        busy as f64 / TICKS_PER_SECOND,
        total as f64 / TICKS_PER_SECOND,
    ))
}

/// User + system CPU seconds of process `root` and its live descendants (e.g. uvicorn's
/// workers).
pub fn tree_cpu_seconds(root: u32) -> Option<f64> {
    let mut procs = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((ppid, ticks)) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            procs.push((pid, ppid, ticks));
        }
    }
    if !procs.iter().any(|&(pid, _, _)| pid == root) {
        return None;
    }
    let mut tree = vec![root];
    let mut ticks = 0;
    while let Some(parent) = tree.pop() {
        for &(pid, ppid, t) in &procs {
            if pid == parent {
                ticks += t;
            }
            if ppid == parent {
                tree.push(pid);
            }
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "tick counts are far below 2^52")]
    Some(ticks as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_even_with_odd_command_names() {
        let stat = "4242 (uvicorn: (worker) 1) S 4200 4242 4200 0 -1 4194560 2500 0 0 0 \
                    731 58 0 0 20 0 3 0 1234 567890 1234 18446744073709551615";
        assert_eq!(parse_stat(stat), Some((4200, 789)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reads_own_cpu_time() {
        assert!(cpu_seconds().is_some_and(|s| s >= 0.0));
        assert!(tree_cpu_seconds(std::process::id()).is_some());
        let (busy, total) = machine_cpu_seconds().unwrap();
        assert!(busy <= total);
    }
}
