//! The last steps before sandbox code runs: rlimits, `no_new_privs`, a reduced capability
//! set and the seccomp deny-list. Used by the init agent and by `sandbox exec` joins, so both
//! run under exactly the same restrictions. Owns the policy (which capabilities stay).

use crate::protocol::Rlimits;
use crate::{seccomp, sys};

/// Capabilities kept inside the sandbox (all relative to its own user namespace): what
/// package managers and ordinary root-in-a-container work needs. Everything else, notably
/// `SYS_ADMIN`, `NET_ADMIN`, `NET_RAW`, `SYS_PTRACE`, `MKNOD` and `DAC_READ_SEARCH`, is
/// dropped from the bounding set and from the process.
pub const KEPT_CAPABILITIES: &[(u32, &str)] = &[
    (0, "CHOWN"),
    (1, "DAC_OVERRIDE"),
    (3, "FOWNER"),
    (4, "FSETID"),
    (5, "KILL"),
    (6, "SETGID"),
    (7, "SETUID"),
    (8, "SETPCAP"),
    (10, "NET_BIND_SERVICE"),
    (18, "SYS_CHROOT"),
    (29, "AUDIT_WRITE"),
    (31, "SETFCAP"),
];

/// Highest capability number we try to drop when the kernel does not say.
const FALLBACK_LAST_CAPABILITY: u32 = 63;

/// Core dumps are off: they would write unbounded files at surprising places.
const RLIMIT_CORE_BYTES: u64 = 0;

pub fn kept_capability_mask() -> u64 {
    KEPT_CAPABILITIES
        .iter()
        .fold(0, |mask, &(cap, _)| mask | (1u64 << cap))
}

fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(FALLBACK_LAST_CAPABILITY)
}

/// Applies every restriction, in an order where each step still has the privilege it
/// needs. Returns the name of the step that failed.
pub fn apply(rlimits: &Rlimits) -> Result<(), (&'static str, std::io::Error)> {
    apply_rlimits(rlimits).map_err(|e| ("rlimits", e))?;
    sys::set_no_new_privs().map_err(|e| ("no_new_privs", e))?;
    // Read before capabilities go: /proc stays readable, but be independent of that.
    let last = last_capability();
    let keep = kept_capability_mask();
    for cap in 0..=last.min(63) {
        if keep & (1u64 << cap) == 0 {
            sys::drop_bounding_capability(cap).map_err(|e| ("capability bounding set", e))?;
        }
    }
    sys::clear_ambient_capabilities().map_err(|e| ("ambient capabilities", e))?;
    sys::set_capabilities(keep).map_err(|e| ("capabilities", e))?;
    sys::install_seccomp_filter(&seccomp::deny_list_program()).map_err(|e| ("seccomp", e))?;
    Ok(())
}

fn apply_rlimits(rlimits: &Rlimits) -> std::io::Result<()> {
    // Raising a hard limit needs privilege in the initial user namespace, which the sandbox
    // does not have: never ask for more than the current hard limit.
    let (_, nofile_hard) = sys::rlimit(libc::RLIMIT_NOFILE)?;
    let nofile = rlimits.nofile.min(nofile_hard);
    sys::set_rlimit(libc::RLIMIT_NOFILE, nofile, nofile)?;
    sys::set_rlimit(libc::RLIMIT_CORE, RLIMIT_CORE_BYTES, RLIMIT_CORE_BYTES)?;
    if let Some(fsize) = rlimits.fsize {
        let (_, fsize_hard) = sys::rlimit(libc::RLIMIT_FSIZE)?;
        let fsize = fsize.min(fsize_hard);
        sys::set_rlimit(libc::RLIMIT_FSIZE, fsize, fsize)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_capabilities_are_not_kept() {
        let mask = kept_capability_mask();
        for (cap, name) in [
            (21, "SYS_ADMIN"),
            (12, "NET_ADMIN"),
            (13, "NET_RAW"),
            (19, "SYS_PTRACE"),
            (27, "MKNOD"),
            (2, "DAC_READ_SEARCH"),
        ] {
            assert_eq!(mask & (1 << cap), 0, "{name} must be dropped");
        }
    }
}
