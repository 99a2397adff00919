//! Closing the host (issue 11): what an unprivileged host user, or a container, must not
//! reach — the data root, the nsbox binary, the host's kernel keyring.

mod common;

use common::{stderr, Env};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A missing tool fails the test under CI and skips it elsewhere.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is required under CI"
        );
        eprintln!("skipping: {tool} not installed");
    }
    found
}

/// Run `args` as `nobody` (no groups); true if it succeeded.
fn as_nobody(args: &[&str]) -> bool {
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(args)
        .output()
        .expect("spawn setpriv");
    out.status.success()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Poll `cond` until it holds, failing after 10 s.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn only_container(env: &Env) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(env.root().join("containers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "one container: {dirs:?}");
    dirs.remove(0)
}

#[test]
fn data_root_is_closed_to_unprivileged_users() {
    if !have("setpriv") {
        return;
    }
    let env = Env::with_busybox();
    assert_eq!(mode(env.root()), 0o710, "a new data root is 0710");
    // A setuid copy of busybox in the container's upper dir, and a secret in its config.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "s",
        "-e",
        "SECRET=hunter2",
        "busybox",
        "sh",
        "-c",
        "cp /bin/busybox /suid && chmod 4755 /suid && echo logged && sleep 1000",
    ]);
    let dir = only_container(&env);
    let upper_suid = dir.join("upper/suid");
    wait_for("the setuid file", || upper_suid.exists());
    wait_for("the log line", || {
        std::fs::read_to_string(dir.join("container.log")).is_ok_and(|l| l.contains("logged"))
    });
    let layers: Vec<PathBuf> = std::fs::read_dir(env.root().join("overlay"))
        .unwrap()
        .map(|e| e.unwrap().path().join("diff/bin/busybox"))
        .filter(|p| p.exists())
        .collect();
    assert!(!layers.is_empty(), "busybox is in a layer");

    for f in ["config.json", "state.json", "container.log", "attach.sock"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f} is 0600");
    }
    let root = env.root().to_str().unwrap().to_string();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    assert!(!as_nobody(&["ls", &root]), "nobody lists the data root");
    for f in ["config.json", "state.json", "container.log"] {
        assert!(!as_nobody(&["cat", &s(&dir.join(f))]), "nobody reads {f}");
    }
    for p in [
        upper_suid.clone(),
        dir.join("merged/suid"),
        layers[0].clone(),
    ] {
        assert!(
            !as_nobody(&["stat", &s(&p)]),
            "nobody reaches {}",
            p.display()
        );
    }
    env.ok(&["rm", "-f", "s"]);

    // A root left open (by an older nsbox) is closed on the next command.
    std::fs::set_permissions(env.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.ok(&["ps", "-a"]);
    assert_eq!(
        mode(env.root()),
        0o710,
        "an existing data root is closed again"
    );
    let out = env.nsbox(&["ps"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Host keyctl and its libraries, mounted into a busybox container, run through the
/// dynamic loader (busybox has none of its own).
const KEYCTL_MOUNTS: [&str; 4] = [
    "-v",
    "/usr/lib/x86_64-linux-gnu:/k/lib:ro",
    "-v",
    "/usr/bin/keyctl:/k/keyctl:ro",
];
const KEYCTL_IN: &str = "/k/lib/ld-linux-x86-64.so.2 --library-path /k/lib /k/keyctl";

#[test]
fn containers_get_a_session_keyring_of_their_own() {
    if !have("keyctl") || !Path::new("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").exists() {
        return;
    }
    let env = Env::with_busybox();
    let nsbox = common::NSBOX;
    let mounts = KEYCTL_MOUNTS.join(" ");
    // Docker's seccomp profile refuses keyctl; this is about the keyring when it is allowed.
    let unconfined = "--security-opt seccomp=unconfined";
    // In a fresh host session keyring (so the test does not touch the caller's): a host key
    // the container must not read, a run and an exec that try, and a key added inside.
    let script = format!(
        r#"set -u
id=$(keyctl add user nsbox-host-key topsecret @s) || exit 90
"{nsbox}" run -d --name k {unconfined} {mounts} busybox sleep 1000 >/dev/null || exit 91
"{nsbox}" exec k sh -c '{KEYCTL_IN} print '$id' && echo RUN-READ; {KEYCTL_IN} add user nsbox-inner v @s >/dev/null; {KEYCTL_IN} rdescribe @s' 
"{nsbox}" run --rm {unconfined} {mounts} busybox sh -c '{KEYCTL_IN} print '$id' && echo INIT-READ; {KEYCTL_IN} rdescribe @s; {KEYCTL_IN} add user nsbox-inner2 v @s >/dev/null'
"{nsbox}" rm -f k >/dev/null
echo HOST; keyctl list @s
"#
    );
    let out = Command::new("keyctl")
        .args(["session", "-", "sh", "-c", &script])
        .env("NSBOX_ROOT", env.root())
        .output()
        .expect("spawn keyctl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "script failed: {text}");
    assert!(
        !text.contains("RUN-READ") && !text.contains("INIT-READ"),
        "{text}"
    );
    assert!(!text.contains("topsecret"), "the host key leaked: {text}");
    let (inside, host) = text.split_once("HOST").expect("host part");
    assert_eq!(
        inside.matches("keyring;0;0;").count(),
        2,
        "exec and run describe their session keyring: {text}"
    );
    assert!(
        inside.contains("_ses."),
        "the container's own keyring: {text}"
    );
    assert!(host.contains("nsbox-host-key"), "{text}");
    assert!(
        !host.contains("nsbox-inner"),
        "a key added inside reached the host: {text}"
    );
}

/// Open `path` for writing (appending nothing): the error, if any.
fn open_for_write(path: &str) -> Option<std::io::Error> {
    std::fs::OpenOptions::new().append(true).open(path).err()
}

/// The pid of the host process whose command line is exactly `cmdline` (args joined by ' ').
fn pid_of(cmdline: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        (args.join(" ") == cmdline).then_some(pid)
    })
}

fn ppid_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn nsbox_code_in_containers_runs_from_a_sealed_binary() {
    let env = Env::with_busybox();
    let before = std::fs::metadata(common::NSBOX).unwrap();
    // --init's pid 1 is nsbox code: the container tries to write its binary.
    let out = env.nsbox(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "echo pwned >> /proc/1/exe && echo WROTE-INIT; exit 0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !common::stdout(&out).contains("WROTE"),
        "the container wrote /proc/1/exe"
    );
    assert!(stderr(&out).contains("/proc/1/exe"), "{}", stderr(&out));

    // exec's helper (in the container's namespaces) and the monitor, from the host as root.
    env.ok(&[
        "run", "-d", "--name", "c", "--init", "busybox", "sleep", "1000",
    ]);
    env.ok(&["exec", "-d", "c", "sleep", "4321"]);
    let mut sleeper = None;
    wait_for("the exec'd process", || {
        sleeper = pid_of("sleep 4321");
        sleeper.is_some()
    });
    let helper = ppid_of(sleeper.unwrap_or_default());
    let init = pid_of("sleep 1000").map(ppid_of).expect("the tiny init");
    let monitor = ppid_of(init);
    // The attack keeps a handle on the binary and writes once nothing executes it any more.
    let mut held = Vec::new();
    for (what, pid) in [
        ("exec helper", helper),
        ("tiny init", init),
        ("monitor", monitor),
    ] {
        let exe = format!("/proc/{pid}/exe");
        held.push((what, std::fs::File::open(&exe).unwrap()));
        let link = std::fs::read_link(&exe).unwrap();
        assert_ne!(
            link,
            Path::new(common::NSBOX),
            "the {what} runs the binary on disk"
        );
        let err = open_for_write(&exe);
        assert!(
            err.is_some(),
            "the {what}'s binary ({}) is writable",
            link.display()
        );
    }
    env.ok(&["rm", "-f", "c"]);
    wait_for("the exec'd process to go", || {
        pid_of("sleep 4321").is_none()
    });
    for (what, f) in &held {
        let fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(f));
        assert!(
            open_for_write(&fd).is_some(),
            "the {what}'s binary is writable once it has exited"
        );
    }
    let after = std::fs::metadata(common::NSBOX).unwrap();
    assert_eq!(
        (before.len(), before.modified().unwrap()),
        (after.len(), after.modified().unwrap()),
        "the nsbox binary on disk changed"
    );
}
