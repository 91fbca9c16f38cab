//! A deny-list seccomp profile compiled to classic BPF, the program the kernel runs on each
//! system call (`Documentation/userspace-api/seccomp_filter.rst`), as libseccomp would
//! compile the same profile for the three x86 ABIs: the architecture checked first (any
//! other is killed, libseccomp's default for an architecture the profile does not name),
//! then the call's number against the ABI's denied numbers, each answered `ERRNO(errno)`;
//! anything else is allowed. x32 calls arrive on the x86-64 architecture with bit 30 set.

/// One BPF instruction, laid out as the kernel's `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instruction {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;

/// `struct seccomp_data`: the call's number, then its architecture.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// The program denying `names` (from `super::DENIED`) with `errno`; a name the table does
/// not know is an error.
pub fn compile(names: &[String], errno: u16) -> Result<Vec<Instruction>, String> {
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        let row = super::DENIED
            .iter()
            .find(|(n, ..)| n == name)
            .ok_or_else(|| format!("seccomp: unknown system call {name:?}"))?;
        rows.push(row);
    }
    let x86_64: Vec<u32> = rows.iter().filter_map(|r| r.1).collect();
    let i386: Vec<u32> = rows.iter().filter_map(|r| r.2).collect();
    let x32: Vec<u32> = rows
        .iter()
        .filter_map(|r| r.3)
        .map(|n| n | X32_SYSCALL_BIT)
        .collect();
    let deny = RET_ERRNO | u32::from(errno);

    // Each block: the number's checks, then allow. Jumps between blocks use `ja`, whose
    // offset is 32 bits (a conditional jump's reaches only 255 instructions).
    let block = |numbers: &[u32]| {
        let mut out = Vec::with_capacity(numbers.len() * 2 + 1);
        for &n in numbers {
            out.push(jump(JMP_JEQ_K, n, 0, 1));
            out.push(ret(deny));
        }
        out.push(ret(RET_ALLOW));
        out
    };
    let (x86_64, x32, i386) = (block(&x86_64), block(&x32), block(&i386));

    let mut program = vec![
        load(ARCH_OFFSET),
        jump(JMP_JEQ_K, AUDIT_ARCH_X86_64, 0, 1),
        ja(3), // to the x86-64 block
        jump(JMP_JEQ_K, AUDIT_ARCH_I386, 0, 1),
        ja((3 + x86_64.len() + 1 + x32.len()) as u32), // to the i386 block
        ret(RET_KILL_PROCESS),
        // The x86-64 architecture: x32 calls have bit 30 set.
        load(NR_OFFSET),
        jump(JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
        ja(x86_64.len() as u32), // to the x32 block
    ];
    program.extend(x86_64);
    program.extend(x32);
    program.push(load(NR_OFFSET)); // the i386 architecture
    program.extend(i386);
    Ok(program)
}

fn load(offset: u32) -> Instruction {
    Instruction {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: offset,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction { code, jt, jf, k }
}

fn ja(offset: u32) -> Instruction {
    Instruction {
        code: JMP_JA,
        jt: 0,
        jf: 0,
        k: offset,
    }
}

fn ret(k: u32) -> Instruction {
    Instruction {
        code: RET_K,
        jt: 0,
        jf: 0,
        k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program as the kernel would on one call (the instructions it uses only).
    fn run(program: &[Instruction], arch: u32, nr: u32) -> u32 {
        let mut pc = 0usize;
        let mut a = 0u32;
        loop {
            let i = program[pc];
            pc += 1;
            match i.code {
                LD_W_ABS if i.k == NR_OFFSET => a = nr,
                LD_W_ABS if i.k == ARCH_OFFSET => a = arch,
                JMP_JA => pc += i.k as usize,
                JMP_JEQ_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
                JMP_JGE_K => pc += usize::from(if a >= i.k { i.jt } else { i.jf }),
                RET_K => return i.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    fn names() -> Vec<String> {
        super::super::DENIED
            .iter()
            .map(|(n, ..)| n.to_string())
            .collect()
    }

    #[test]
    fn denied_calls_fail_with_the_errno_in_every_abi_and_others_are_allowed() {
        let program = compile(&names(), 1).unwrap();
        let eperm = RET_ERRNO | 1;
        // swapon: 167 on x86-64 and x32, 87 on i386.
        assert_eq!(run(&program, AUDIT_ARCH_X86_64, 167), eperm);
        assert_eq!(
            run(&program, AUDIT_ARCH_X86_64, 167 | X32_SYSCALL_BIT),
            eperm
        );
        assert_eq!(run(&program, AUDIT_ARCH_I386, 87), eperm);
        // process_vm_readv has a number of its own on x32.
        assert_eq!(
            run(&program, AUDIT_ARCH_X86_64, 539 | X32_SYSCALL_BIT),
            eperm
        );
        assert_eq!(run(&program, AUDIT_ARCH_X86_64, 310), eperm);
        // read (0 on x86-64 and x32, 3 on i386), execve (59, 11) and i386's 168 (poll;
        // swapon's number elsewhere is nothing denied there) pass.
        for (arch, nr) in [
            (AUDIT_ARCH_X86_64, 0),
            (AUDIT_ARCH_X86_64, X32_SYSCALL_BIT),
            (AUDIT_ARCH_X86_64, 59),
            (AUDIT_ARCH_I386, 3),
            (AUDIT_ARCH_I386, 11),
            (AUDIT_ARCH_I386, 168),
        ] {
            assert_eq!(run(&program, arch, nr), RET_ALLOW, "{arch:#x} {nr}");
        }
        // Another architecture is killed.
        assert_eq!(run(&program, 0xc000_00b7, 0), RET_KILL_PROCESS);
    }

    #[test]
    fn every_denied_number_is_denied_and_only_those() {
        let program = compile(&names(), 1).unwrap();
        for (arch, column, bit) in [
            (AUDIT_ARCH_X86_64, 1, 0),
            (AUDIT_ARCH_I386, 2, 0),
            (AUDIT_ARCH_X86_64, 3, X32_SYSCALL_BIT),
        ] {
            let denied: Vec<u32> = super::super::DENIED
                .iter()
                .filter_map(|r| [r.1, r.2, r.3][column - 1])
                .collect();
            for nr in 0..600 {
                let verdict = run(&program, arch, nr | bit);
                let want = if denied.contains(&nr) {
                    RET_ERRNO | 1
                } else {
                    RET_ALLOW
                };
                assert_eq!(verdict, want, "arch {arch:#x} number {nr}");
            }
        }
    }

    #[test]
    fn an_unknown_name_is_refused() {
        let err = compile(&["no_such_call".into()], 1).unwrap_err();
        assert_eq!(err, "seccomp: unknown system call \"no_such_call\"");
    }
}
