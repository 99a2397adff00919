//! The device filter of cgroup v2. v1 has a `devices` controller that takes the spec's
//! `linux.resources.devices` as allow/deny lines; v2 has none: without a
//! BPF_PROG_TYPE_CGROUP_DEVICE program on the cgroup, CAP_MKNOD and a `/dev` without
//! `nodev` let container root open any device (e.g. a `mknod`-made /dev/kmsg).
//!
//! As runc (`libcontainer/cgroups/devices/ebpf_linux.go`), crun (`src/libcrun/ebpf.c`) and
//! youki (`libcgroups/src/v2/devices`) do, we compile the rules into a small program and
//! attach it to the container's cgroup (BPF_F_ALLOW_MULTI) before its process runs. The
//! kernel calls it on every open and mknod of a device with `struct bpf_cgroup_dev_ctx
//! { u32 access_type; u32 major; u32 minor; }` (type in the low 16 bits, access in the
//! high); it returns 1 to allow, 0 to refuse (EPERM).
//!
//! The rules keep the OCI (and v1) meaning: the last rule that matches decides, and with
//! no match the access is allowed (a fresh v1 cgroup allows all; specs start with
//! "deny a *:* rwm"). So the program checks them last to first and returns at the first
//! match. An allow rule matches when it grants every access asked for; a deny rule when it
//! denies any of them.
//!
//! ```text
//!  r2 = type   r3 = access   r4 = major   r5 = minor
//!  per rule, last first:  if r2 != type goto next; r1 = r3 & acc; if r1 != r3 goto next;
//!                         if r4 != major goto next; if r5 != minor goto next; return allow
//!  return 1
//! ```

use super::CgroupError;
use crate::explain;
use crate::runtime::sys;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::AsFd;
use std::path::Path;

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One rule, as the program sees it. `None`: any.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub allow: bool,
    pub typ: Option<i32>,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: i32,
}

impl Rule {
    /// None for rules a device filter ignores (fifos).
    pub fn from_spec(d: &LinuxDeviceCgroup) -> Option<Rule> {
        let typ = match d.typ() {
            None | Some(LinuxDeviceType::A) => None,
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some(DEV_CHAR),
            Some(LinuxDeviceType::B) => Some(DEV_BLOCK),
            Some(LinuxDeviceType::P) => return None,
        };
        let access = match d.access().as_deref() {
            None | Some("") => ACC_ALL,
            Some(a) => a.chars().fold(0, |acc, c| {
                acc | match c {
                    'r' => ACC_READ,
                    'w' => ACC_WRITE,
                    'm' => ACC_MKNOD,
                    _ => 0,
                }
            }),
        };
        Some(Rule {
            allow: d.allow(),
            typ,
            major: d.major().filter(|m| *m >= 0),
            minor: d.minor().filter(|m| *m >= 0),
            access,
        })
    }

    /// An allow rule for a char device the runtime itself puts in /dev (-1: any minor).
    pub fn runtime_char(major: i64, minor: i64) -> Rule {
        Rule {
            allow: true,
            typ: Some(DEV_CHAR),
            major: Some(major),
            minor: (minor >= 0).then_some(minor),
            access: ACC_ALL,
        }
    }
}

/// The rules of `res`, then (like v1 in resources.rs, and runc) an allow for each node
/// the runtime itself creates in /dev. None without device rules.
pub fn rules(res: &oci_spec::runtime::LinuxResources) -> Vec<Rule> {
    let spec: Vec<Rule> = res
        .devices()
        .iter()
        .flatten()
        .filter_map(Rule::from_spec)
        .collect();
    if spec.is_empty() {
        return spec;
    }
    let runtime = super::resources::RUNTIME_DEVICES
        .iter()
        .map(|(major, minor)| Rule::runtime_char(*major, *minor));
    spec.into_iter().chain(runtime).collect()
}

/// The few eBPF instructions the program needs (registers r0..r5, 32-bit loads and ALU).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Insn {
    /// dst = *(u32 *)(src + off)
    LdxW {
        dst: u8,
        src: u8,
        off: i16,
    },
    /// dst = (u32)dst & imm
    And32 {
        dst: u8,
        imm: i32,
    },
    /// dst = (u32)dst >> imm
    Rsh32 {
        dst: u8,
        imm: i32,
    },
    /// dst = (u32)src
    Mov32Reg {
        dst: u8,
        src: u8,
    },
    /// dst = imm
    Mov64 {
        dst: u8,
        imm: i32,
    },
    /// if dst != imm goto pc + 1 + off
    JneImm {
        dst: u8,
        imm: i32,
        off: i16,
    },
    /// if dst != src goto pc + 1 + off
    JneReg {
        dst: u8,
        src: u8,
        off: i16,
    },
    /// if dst == imm goto pc + 1 + off
    JeqImm {
        dst: u8,
        imm: i32,
        off: i16,
    },
    Exit,
}

impl Insn {
    /// `struct bpf_insn`: code, dst_reg:4 | src_reg:4, off, imm (little endian).
    pub fn encode(self) -> u64 {
        let (code, dst, src, off, imm): (u8, u8, u8, i16, i32) = match self {
            Insn::LdxW { dst, src, off } => (0x61, dst, src, off, 0), // LDX | MEM | W
            Insn::And32 { dst, imm } => (0x54, dst, 0, 0, imm),       // ALU | AND | K
            Insn::Rsh32 { dst, imm } => (0x74, dst, 0, 0, imm),       // ALU | RSH | K
            Insn::Mov32Reg { dst, src } => (0xbc, dst, src, 0, 0),    // ALU | MOV | X
            Insn::Mov64 { dst, imm } => (0xb7, dst, 0, 0, imm),       // ALU64 | MOV | K
            Insn::JneImm { dst, imm, off } => (0x55, dst, 0, off, imm), // JMP | JNE | K
            Insn::JneReg { dst, src, off } => (0x5d, dst, src, off, 0), // JMP | JNE | X
            Insn::JeqImm { dst, imm, off } => (0x15, dst, 0, off, imm), // JMP | JEQ | K
            Insn::Exit => (0x95, 0, 0, 0, 0),                         // JMP | EXIT
        };
        code as u64
            | (((dst & 0xf) | ((src & 0xf) << 4)) as u64) << 8
            | (off as u16 as u64) << 16
            | (imm as u32 as u64) << 32
    }
}

/// The program for `rules` (in spec order: the last one that matches decides).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    use Insn::*;
    let mut prog = vec![
        LdxW {
            dst: 2,
            src: 1,
            off: 0,
        },
        And32 {
            dst: 2,
            imm: 0xffff,
        },
        LdxW {
            dst: 3,
            src: 1,
            off: 0,
        },
        Rsh32 { dst: 3, imm: 16 },
        LdxW {
            dst: 4,
            src: 1,
            off: 4,
        },
        LdxW {
            dst: 5,
            src: 1,
            off: 8,
        },
    ];
    for rule in rules.iter().rev() {
        // Conditions jump to the end of the block; their offsets are set once it is built.
        let mut block: Vec<Insn> = Vec::new();
        if let Some(t) = rule.typ {
            block.push(JneImm {
                dst: 2,
                imm: t,
                off: 0,
            });
        }
        if rule.access != ACC_ALL {
            block.push(Mov32Reg { dst: 1, src: 3 });
            block.push(And32 {
                dst: 1,
                imm: rule.access,
            });
            block.push(if rule.allow {
                JneReg {
                    dst: 1,
                    src: 3,
                    off: 0,
                } // asks for more than the rule grants
            } else {
                JeqImm {
                    dst: 1,
                    imm: 0,
                    off: 0,
                } // asks for none of what it denies
            });
        }
        if let Some(m) = rule.major {
            block.push(JneImm {
                dst: 4,
                imm: m as i32,
                off: 0,
            });
        }
        if let Some(m) = rule.minor {
            block.push(JneImm {
                dst: 5,
                imm: m as i32,
                off: 0,
            });
        }
        block.push(Mov64 {
            dst: 0,
            imm: rule.allow as i32,
        });
        block.push(Exit);
        let len = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            let to_end = (len - i - 1) as i16;
            match insn {
                JneImm { off, .. } | JneReg { off, .. } | JeqImm { off, .. } => *off = to_end,
                _ => {}
            }
        }
        let unconditional = len == 2;
        prog.extend(block);
        // A rule that matches everything ends the program: the verifier refuses dead code.
        if unconditional {
            return prog;
        }
    }
    prog.push(Mov64 { dst: 0, imm: 1 });
    prog.push(Exit);
    prog
}

/// Load the program for `rules` and attach it to the cgroup directory `dir`. Nothing to do
/// without rules. Once attached it lives as long as the cgroup: no fd is kept.
pub fn attach(dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    if rules.is_empty() {
        return Ok(());
    }
    let prog = program(rules);
    let insns: Vec<u64> = prog.iter().map(|i| i.encode()).collect();
    let err = |what: &str| {
        let what = format!("{what} ({})", dir.display());
        move |e| CgroupError::Io(what, e)
    };
    let fd = sys::bpf_prog_load(
        sys::BPF_PROG_TYPE_CGROUP_DEVICE,
        sys::BPF_CGROUP_DEVICE,
        &insns,
        "nsbox_devices",
    )
    .map_err(err("load the device filter"))?;
    let cg = std::fs::File::open(dir).map_err(err("open the cgroup"))?;
    sys::bpf_prog_attach(
        cg.as_fd(),
        fd.as_fd(),
        sys::BPF_CGROUP_DEVICE,
        sys::BPF_F_ALLOW_MULTI,
    )
    .map_err(err("attach the device filter"))?;
    explain::step("devices", || {
        format!(
            "cgroup v2 device filter: {} rules as a {}-instruction BPF_PROG_TYPE_CGROUP_DEVICE \
             program, attached to {} (BPF_F_ALLOW_MULTI)",
            rules.len(),
            prog.len(),
            dir.display()
        )
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a program of our instruction subset, as the kernel would.
    fn run(prog: &[Insn], typ: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [(access as u32) << 16 | typ as u32, major, minor];
        let mut r = [0u64; 6];
        let mut pc = 0usize;
        let jump = |pc: usize, off: i16| (pc as isize + 1 + off as isize) as usize;
        loop {
            match prog[pc] {
                Insn::LdxW { dst, off, .. } => r[dst as usize] = ctx[off as usize / 4] as u64,
                Insn::And32 { dst, imm } => {
                    r[dst as usize] = (r[dst as usize] as u32 & imm as u32) as u64
                }
                Insn::Rsh32 { dst, imm } => {
                    r[dst as usize] = (r[dst as usize] as u32 >> imm) as u64
                }
                Insn::Mov32Reg { dst, src } => r[dst as usize] = r[src as usize] as u32 as u64,
                Insn::Mov64 { dst, imm } => r[dst as usize] = imm as i64 as u64,
                Insn::JneImm { dst, imm, off } if r[dst as usize] != imm as i64 as u64 => {
                    pc = jump(pc, off);
                    continue;
                }
                Insn::JneReg { dst, src, off } if r[dst as usize] != r[src as usize] => {
                    pc = jump(pc, off);
                    continue;
                }
                Insn::JeqImm { dst, imm, off } if r[dst as usize] == imm as i64 as u64 => {
                    pc = jump(pc, off);
                    continue;
                }
                Insn::Exit => return r[0],
                _ => {}
            }
            pc += 1;
        }
    }

    fn docker_defaults() -> Vec<Rule> {
        let deny_all = Rule {
            allow: false,
            typ: None,
            major: None,
            minor: None,
            access: ACC_ALL,
        };
        let mknod = |t| Rule {
            allow: true,
            typ: Some(t),
            major: None,
            minor: None,
            access: ACC_MKNOD,
        };
        vec![
            deny_all,
            mknod(DEV_CHAR),
            mknod(DEV_BLOCK),
            Rule::runtime_char(1, 3),
            Rule::runtime_char(136, -1),
        ]
    }

    #[test]
    fn last_matching_rule_decides() {
        let p = program(&docker_defaults());
        let rw = ACC_READ | ACC_WRITE;
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, DEV_CHAR, rw, 136, 7), 1, "a pty slave");
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 1, 11), 0, "/dev/kmsg");
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 1, 11), 1, "mknod is allowed");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 0, "a disk");
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 1);
        assert_eq!(p.last(), Some(&Insn::Exit));
        assert_eq!(
            p[p.len() - 2],
            Insn::Mov64 { dst: 0, imm: 0 },
            "deny-all ends it"
        );
    }

    #[test]
    fn access_subsets_and_denials() {
        let rules = vec![
            Rule {
                allow: true,
                typ: Some(DEV_CHAR),
                major: Some(1),
                minor: Some(3),
                access: ACC_READ,
            },
            Rule {
                allow: false,
                typ: None,
                major: Some(1),
                minor: None,
                access: ACC_WRITE,
            },
        ];
        let p = program(&rules);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 3), 1);
        assert_eq!(
            run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3),
            0,
            "write is denied last"
        );
        assert_eq!(
            run(&p, DEV_CHAR, ACC_READ, 5, 0),
            1,
            "no match: allowed, as v1"
        );
    }

    #[test]
    fn spec_rules_convert() {
        let d = oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rw")
            .build()
            .unwrap();
        assert_eq!(
            Rule::from_spec(&d),
            Some(Rule {
                allow: true,
                typ: Some(DEV_CHAR),
                major: Some(1),
                minor: Some(3),
                access: ACC_READ | ACC_WRITE
            })
        );
    }

    #[test]
    fn encoding_matches_the_kernel_layout() {
        // r2 = *(u32 *)(r1 + 4): code 0x61, dst 2, src 1, off 4.
        assert_eq!(
            Insn::LdxW {
                dst: 2,
                src: 1,
                off: 4
            }
            .encode(),
            0x0000_0000_0004_1261
        );
        // if r4 != 136 goto +3
        assert_eq!(
            Insn::JneImm {
                dst: 4,
                imm: 136,
                off: 3
            }
            .encode(),
            0x0000_0088_0003_0455
        );
        assert_eq!(Insn::Exit.encode(), 0x95);
    }

    #[test]
    fn the_kernel_verifier_accepts_the_program() {
        let insns: Vec<u64> = program(&docker_defaults())
            .iter()
            .map(|i| i.encode())
            .collect();
        match sys::bpf_prog_load(
            sys::BPF_PROG_TYPE_CGROUP_DEVICE,
            sys::BPF_CGROUP_DEVICE,
            &insns,
            "nsbox_test",
        ) {
            Ok(_) => {}
            Err(e)
                if e.raw_os_error() == Some(libc::EPERM)
                    || e.raw_os_error() == Some(libc::ENOSYS) =>
            {
                eprintln!("skipping: no bpf(2) here: {e}");
            }
            Err(e) => panic!("the verifier refused the program: {e}"),
        }
    }
}
