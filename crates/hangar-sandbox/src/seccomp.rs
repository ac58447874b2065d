//! The sandbox's seccomp deny-list as a hand-built classic BPF program. Owns which system
//! calls are refused and how; installing it is `sys::install_seccomp_filter`.
//!
//! Why a deny-list: the sandbox must run arbitrary developer tools (compilers, package
//! managers, debuggers), so everything is allowed except calls that reach kernel surfaces a
//! sandbox never needs (mounts, modules, kexec, BPF, perf, keyrings, handle-based opens) or
//! that would create a new user namespace (where dropped capabilities come back).

/// `AUDIT_ARCH_*` of the architecture this binary was built for.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARG0_LOW: u32 = 16;

/// System calls refused with `EPERM`.
pub const DENIED_SYSCALLS: &[(&str, libc::c_long)] = &[
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("reboot", libc::SYS_reboot),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("setns", libc::SYS_setns),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("acct", libc::SYS_acct),
    ("quotactl", libc::SYS_quotactl),
    ("syslog", libc::SYS_syslog),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    #[cfg(target_arch = "x86_64")]
    ("iopl", libc::SYS_iopl),
    #[cfg(target_arch = "x86_64")]
    ("ioperm", libc::SYS_ioperm),
];

fn statement(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Builds the filter. Layout: arch check, x32 check, one `jeq` per denied call jumping to a
/// shared `EPERM` return, `clone3` → `ENOSYS` (its flags are behind a pointer, so libc falls
/// back to `clone`, whose flags we can see), `clone`/`unshare` with `CLONE_NEWUSER` → `EPERM`.
pub fn deny_list_program() -> Vec<libc::sock_filter> {
    let denied: Vec<u32> = DENIED_SYSCALLS.iter().map(|&(_, nr)| nr as u32).collect();
    // Instruction indexes of the shared tail, computed from the body's length.
    let body_start = 4usize;
    // x32 check, one jump per denied call, clone3, unshare, clone.
    let body_len = 1 + denied.len() + 3;
    let allow_at = body_start + body_len;
    let check_flags_at = allow_at + 1;
    let eperm_at = check_flags_at + 3;
    let enosys_at = eperm_at + 1;
    let offset = |from: usize, to: usize| -> u8 { (to - from - 1) as u8 };

    let mut program = vec![
        statement(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, AUDIT_ARCH, 1, 0),
        statement(RET_K, RET_KILL_PROCESS),
        statement(LD_W_ABS, OFFSET_NR),
    ];
    // x32 system calls (bit 30) on x86_64 bypass the numbers below; refuse them all.
    program.push(jump(JGE_K, 0x4000_0000, offset(program.len(), eperm_at), 0));
    for nr in denied {
        program.push(jump(JEQ_K, nr, offset(program.len(), eperm_at), 0));
    }
    program.push(jump(
        JEQ_K,
        libc::SYS_clone3 as u32,
        offset(program.len(), enosys_at),
        0,
    ));
    program.push(jump(
        JEQ_K,
        libc::SYS_unshare as u32,
        offset(program.len(), check_flags_at),
        0,
    ));
    program.push(jump(
        JEQ_K,
        libc::SYS_clone as u32,
        offset(program.len(), check_flags_at),
        0,
    ));
    debug_assert_eq!(program.len(), allow_at);
    program.push(statement(RET_K, RET_ALLOW));
    program.push(statement(LD_W_ABS, OFFSET_ARG0_LOW));
    program.push(jump(
        JSET_K,
        libc::CLONE_NEWUSER as u32,
        offset(program.len(), eperm_at),
        0,
    ));
    program.push(statement(RET_K, RET_ALLOW));
    debug_assert_eq!(program.len(), eperm_at);
    program.push(statement(RET_K, RET_ERRNO | libc::EPERM as u32));
    program.push(statement(RET_K, RET_ERRNO | libc::ENOSYS as u32));
    program
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_fits_classic_bpf_jump_range_and_ends_with_returns() {
        let program = deny_list_program();
        assert!(program.len() < 255, "jump offsets are u8");
        let last = program.last().unwrap();
        assert_eq!(last.code, RET_K);
        assert_eq!(last.k, RET_ERRNO | libc::ENOSYS as u32);
    }

    #[test]
    fn every_jump_lands_inside_the_program() {
        let program = deny_list_program();
        for (index, instruction) in program.iter().enumerate() {
            if instruction.code & 0x07 == libc::BPF_JMP as u16 {
                assert!(index + 1 + (instruction.jt as usize) < program.len());
                assert!(index + 1 + (instruction.jf as usize) < program.len());
            }
        }
    }
}
