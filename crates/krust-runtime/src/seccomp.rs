//! seccompProfile `RuntimeDefault`: a deny-list, written in the OCI `linux.seccomp` form into
//! the container's `config.json` and compiled to a BPF program (`filter.rs`) that the
//! container's process loads before it runs. Everything is allowed but the system calls
//! that Docker's and containerd's default profiles keep from containers (kernel modules,
//! kexec, clock and swap changes, keyrings, BPF, perf, reboot, old and obscure calls), which
//! fail with EPERM.

pub(crate) mod filter;

use serde_json::{Value, json};

/// A system call's name and its numbers in the three x86 ABIs (x86-64, i386, x32; `None`
/// where the ABI has no such call), from the kernel's `asm/unistd_64.h`, `unistd_32.h` and
/// `unistd_x32.h` (x32's without its `0x40000000` bit).
pub(crate) type Syscall = (&'static str, Option<u32>, Option<u32>, Option<u32>);

/// System calls a `RuntimeDefault` container may not make.
pub(crate) const DENIED: &[Syscall] = &[
    ("acct", Some(163), Some(51), Some(163)),
    ("add_key", Some(248), Some(286), Some(248)),
    ("bpf", Some(321), Some(357), Some(321)),
    ("clock_adjtime", Some(305), Some(343), Some(305)),
    ("clock_settime", Some(227), Some(264), Some(227)),
    ("create_module", Some(174), Some(127), None),
    ("delete_module", Some(176), Some(129), Some(176)),
    ("finit_module", Some(313), Some(350), Some(313)),
    ("get_kernel_syms", Some(177), Some(130), None),
    ("get_mempolicy", Some(239), Some(275), Some(239)),
    ("init_module", Some(175), Some(128), Some(175)),
    ("ioperm", Some(173), Some(101), Some(173)),
    ("iopl", Some(172), Some(110), Some(172)),
    ("kcmp", Some(312), Some(349), Some(312)),
    ("kexec_file_load", Some(320), None, Some(320)),
    ("kexec_load", Some(246), Some(283), Some(528)),
    ("keyctl", Some(250), Some(288), Some(250)),
    ("lookup_dcookie", Some(212), Some(253), Some(212)),
    ("mbind", Some(237), Some(274), Some(237)),
    ("move_pages", Some(279), Some(317), Some(533)),
    ("nfsservctl", Some(180), Some(169), None),
    ("open_by_handle_at", Some(304), Some(342), Some(304)),
    ("perf_event_open", Some(298), Some(336), Some(298)),
    ("pivot_root", Some(155), Some(217), Some(155)),
    ("process_vm_readv", Some(310), Some(347), Some(539)),
    ("process_vm_writev", Some(311), Some(348), Some(540)),
    ("query_module", Some(178), Some(167), None),
    ("quotactl", Some(179), Some(131), Some(179)),
    ("reboot", Some(169), Some(88), Some(169)),
    ("request_key", Some(249), Some(287), Some(249)),
    ("set_mempolicy", Some(238), Some(276), Some(238)),
    ("settimeofday", Some(164), Some(79), Some(164)),
    ("stime", None, Some(25), None),
    ("swapoff", Some(168), Some(115), Some(168)),
    ("swapon", Some(167), Some(87), Some(167)),
    ("_sysctl", Some(156), Some(149), None),
    ("syslog", Some(103), Some(103), Some(103)),
    ("uselib", Some(134), Some(86), None),
    ("userfaultfd", Some(323), Some(374), Some(323)),
    ("ustat", Some(136), Some(62), Some(136)),
    ("vm86", None, Some(166), None),
    ("vm86old", None, Some(113), None),
    ("adjtimex", Some(159), Some(124), Some(159)),
];

/// The profile.
pub fn runtime_default() -> Value {
    let names: Vec<&str> = DENIED.iter().map(|(name, ..)| *name).collect();
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{
            "names": names,
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::DENIED;

    /// The numbers above against the kernel headers, where this host has them.
    #[test]
    fn the_denied_system_calls_have_the_numbers_of_the_kernel_headers() {
        let dir = std::path::Path::new("/usr/include/x86_64-linux-gnu/asm");
        let Ok(headers) = ["unistd_64.h", "unistd_32.h", "unistd_x32.h"]
            .map(|f| std::fs::read_to_string(dir.join(f)))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
        else {
            return; // no linux-libc-dev here
        };
        let number = |header: &str, name: &str| {
            header.lines().find_map(|line| {
                let rest = line.strip_prefix("#define __NR_")?;
                let (n, value) = rest.split_once(char::is_whitespace)?;
                (n == name).then(|| {
                    let value = value.trim().replace("(__X32_SYSCALL_BIT + ", "");
                    value.trim_end_matches(')').trim().parse::<u32>().unwrap()
                })
            })
        };
        for (name, x86_64, i386, x32) in DENIED {
            assert_eq!(number(&headers[0], name), *x86_64, "{name} on x86-64");
            assert_eq!(number(&headers[1], name), *i386, "{name} on i386");
            assert_eq!(number(&headers[2], name), *x32, "{name} on x32");
        }
    }
}
