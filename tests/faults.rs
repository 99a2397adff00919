//! Fault injection: kill -9 at random points of commands that write the data root, a data
//! root that runs out of space, and output nobody reads. After each fault a later command
//! sweeps, and then nothing is left behind (no scratch entries, no mounts, no stray dirs)
//! and every object still listed is whole. (`run` under kill -9 is another suite's.)

mod common;

use common::{stderr, stdout, Env};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small xorshift PRNG: "random" kill points, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn new(what: &str) -> Self {
        let seed = std::env::var("NSBOX_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
                    | 1
            });
        eprintln!("{what}: NSBOX_FAULT_SEED={seed}");
        Rng(seed)
    }

    /// A delay in 0..max_ms milliseconds.
    fn delay(&mut self, max_ms: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(self.0 % (max_ms * 1000).max(1))
    }
}

/// Start `nsbox args`, SIGKILL it after `after` (if still running), reap it (with a deadline).
/// Whether it finished first or was killed, the data root must stay consistent.
fn kill_after(env: &Env, args: &[&str], after: Duration) -> bool {
    let mut child = env
        .cmd()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nsbox");
    let deadline = Instant::now() + after;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            eprintln!("nsbox {args:?}: {st} before {after:?}");
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.kill();
    let st = common::wait_child(&mut child, 30);
    // Killed, or it had just finished: either way a fault point.
    eprintln!("nsbox {args:?}: {st} after {after:?}");
    true
}

/// After a later command swept: no scratch entries, no mounts.
fn assert_swept(env: &Env, what: &str) {
    assert_eq!(
        env.entries("tmp"),
        Vec::<String>::new(),
        "{what}: scratch left"
    );
    assert_eq!(env.mounts(), Vec::<String>::new(), "{what}: mounts left");
}

/// Every listed image is whole: inspect works and it runs.
fn assert_images_whole(env: &Env, what: &str) {
    for id in env.ok(&["images", "-q"]).lines() {
        env.ok(&["image", "inspect", id]);
        let out = env.nsbox(&["run", "--rm", id, "true"]);
        assert!(
            out.status.success(),
            "{what}: listed image {id} does not run: {}",
            stderr(&out)
        );
    }
}

/// Every listed volume is whole: inspect works, its _data dir is there.
fn assert_volumes_whole(env: &Env, what: &str) {
    for name in env.ok(&["volume", "ls", "-q"]).lines() {
        env.ok(&["volume", "inspect", name]);
        let data = env.root().join("volumes").join(name).join("_data");
        assert!(data.is_dir(), "{what}: volume {name} has no _data");
    }
    // Nothing half-made besides the listed ones.
    let listed: Vec<String> = env
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect();
    for e in env.entries("volumes") {
        assert!(listed.contains(&e), "{what}: stray volumes/{e}");
    }
}

/// The NAMES column of `ps -a`.
fn names(env: &Env) -> Vec<String> {
    env.ok(&["ps", "-a"])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last().map(String::from))
        .collect()
}

const ROUNDS: usize = 6;

#[test]
fn kill_9_during_load_leaves_whole_images_or_none() {
    let env = Env::new();
    let archive = common::busybox_archive();
    let mut rng = Rng::new("load");
    for round in 0..ROUNDS {
        let d = rng.delay(150);
        kill_after(&env, &["load", "-q", "-i", archive.to_str().unwrap()], d);
        env.ok(&["images"]); // opens the store: sweeps
        let what = format!("load round {round} killed after {d:?}");
        assert_swept(&env, &what);
        assert_images_whole(&env, &what);
        let _ = env.nsbox(&["rmi", "-f", "busybox"]);
    }
    env.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    assert_images_whole(&env, "after a clean load");
}

#[test]
fn kill_9_during_commit_leaves_whole_images_or_none() {
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "c",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/blob bs=64k count=16 2>/dev/null; echo hi > /hi",
    ]);
    let mut rng = Rng::new("commit");
    for round in 0..ROUNDS {
        let d = rng.delay(600);
        let tag = format!("snap:{round}");
        kill_after(&env, &["commit", "c", &tag], d);
        env.ok(&["images"]);
        let what = format!("commit round {round} killed after {d:?}");
        assert_swept(&env, &what);
        assert_images_whole(&env, &what);
    }
    env.ok(&["commit", "c", "snap:last"]);
    assert_eq!(env.ok(&["run", "--rm", "snap:last", "cat", "/hi"]), "hi\n");
    env.ok(&["rm", "c"]);
}

#[test]
fn kill_9_during_volume_create_and_rm_leaves_whole_volumes() {
    let env = Env::with_busybox();
    let mut rng = Rng::new("volume");
    for round in 0..ROUNDS {
        let name = format!("v{round}");
        let d = rng.delay(10);
        kill_after(&env, &["volume", "create", &name], d);
        env.ok(&["volume", "ls"]); // opens the volume store: sweeps
        let what = format!("volume create {name} killed after {d:?}");
        assert_swept(&env, &what);
        assert_volumes_whole(&env, &what);
    }
    // Fill one so that rm has something to remove.
    env.ok(&["volume", "create", "full"]);
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "full:/d",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 200 ]; do echo $i > /d/f$i; i=$((i+1)); done",
    ]);
    for name in env
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect::<Vec<_>>()
    {
        let d = rng.delay(30);
        kill_after(&env, &["volume", "rm", &name], d);
        env.ok(&["volume", "ls"]);
        let what = format!("volume rm {name} killed after {d:?}");
        assert_swept(&env, &what);
        assert_volumes_whole(&env, &what);
    }
    for name in env
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect::<Vec<_>>()
    {
        env.ok(&["volume", "rm", &name]);
    }
    assert_eq!(env.entries("volumes"), Vec::<String>::new());
    assert_swept(&env, "after rm");
}

#[test]
fn kill_9_during_rename_keeps_one_name_per_container() {
    let env = Env::with_busybox();
    env.ok(&["run", "--name", "n0", "busybox", "true"]);
    let mut rng = Rng::new("rename");
    let mut current = "n0".to_string();
    for round in 1..=ROUNDS {
        let next = format!("n{round}");
        let d = rng.delay(10);
        kill_after(&env, &["rename", &current, &next], d);
        let what = format!("rename {current} -> {next} killed after {d:?}");
        // Exactly one container, known by exactly one name, which resolves.
        let names = names(&env);
        assert_eq!(names.len(), 1, "{what}: {names:?}");
        assert!(
            names[0] == next || names[0] == current,
            "{what}: {}",
            names[0]
        );
        current = names[0].clone();
        env.ok(&["inspect", &current]);
    }
    env.ok(&["rm", &current]);
    env.assert_no_containers();
}

/// Found by the test above: a rename killed between reserving the new name and saving the
/// state left `names/<new>` pointing at the container for good. Now the next listing
/// frees whichever name the container's state does not carry.
#[test]
fn kill_9_during_rename_frees_the_name_it_did_not_take() {
    let env = Env::with_busybox();
    env.ok(&["run", "--name", "n0", "busybox", "true"]);
    let mut rng = Rng::new("rename names");
    let mut current = "n0".to_string();
    for round in 1..=ROUNDS {
        let next = format!("n{round}");
        let d = rng.delay(10);
        kill_after(&env, &["rename", &current, &next], d);
        current = names(&env).remove(0);
        env.ok(&["ps", "-a"]);
        let reserved = env.entries("names");
        assert_eq!(
            reserved,
            [current.clone()],
            "after {d:?}: names/ holds {reserved:?}"
        );
    }
    env.ok(&["rm", &current]);
}

/// A data root on a small tmpfs: ENOSPC comes early. Unmounted on drop, before the Env's
/// own check runs.
struct SmallRoot {
    env: Env,
}

impl SmallRoot {
    fn new(size: &str) -> Self {
        let env = Env::new();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0710"),
                "tmpfs",
            ])
            .arg(env.root())
            .status()
            .expect("mount(8)");
        assert!(st.success(), "mount tmpfs on {}", env.root().display());
        SmallRoot { env }
    }

    /// Fill what is left with a file, so the next write fails with ENOSPC.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.env.root().join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        // Tail bytes below one block.
        while f.write_all(&[0u8; 512]).is_ok() {}
    }

    fn unfill(&self) {
        let _ = std::fs::remove_file(self.env.root().join("filler"));
    }
}

impl Drop for SmallRoot {
    fn drop(&mut self) {
        // Whatever a failed test left mounted below, then the tmpfs itself.
        for m in common::mounts_under(self.env.root()).iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

/// A failure on a full disk: one line, a real failure code, nothing left.
fn assert_clean_failure(env: &Env, what: &str, out: &std::process::Output) {
    eprintln!(
        "{what} on a full disk: {} {}",
        out.status,
        stderr(out).trim()
    );
    if out.status.success() {
        return;
    }
    let err = stderr(out);
    assert_ne!(out.status.code(), Some(101), "{what}: panicked: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: not one line: {err:?}");
    assert!(err.starts_with("nsbox: "), "{what}: {err:?}");
    // Mounts are the root's own tmpfs only.
    let mounts = env.mounts();
    assert!(
        mounts.iter().all(|m| Path::new(m) == env.root()),
        "{what}: mounts left {mounts:?}"
    );
}

#[test]
fn a_full_data_root_fails_cleanly() {
    if !common::require_tool("mount") {
        return;
    }
    // load: too small for the image at all.
    let small = SmallRoot::new("1m");
    let env = &small.env;
    let out = env.nsbox(&[
        "load",
        "-q",
        "-i",
        common::busybox_archive().to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "busybox fits in 1 MiB?");
    assert_clean_failure(env, "load", &out);
    env.ok(&["images"]);
    assert_eq!(
        env.entries("tmp"),
        Vec::<String>::new(),
        "load: scratch left"
    );
    assert_eq!(
        env.ok(&["images", "-q"]),
        "",
        "a half-loaded image is listed"
    );
    drop(small);

    // volume create / run / commit with the image in and the disk then filled.
    let small = SmallRoot::new("24m");
    let env = &small.env;
    env.ok(&[
        "load",
        "-q",
        "-i",
        common::busybox_archive().to_str().unwrap(),
    ]);
    env.ok(&["run", "--name", "c", "busybox", "sh", "-c", "echo hi > /hi"]);
    small.fill();

    let out = env.nsbox(&["volume", "create", "vol"]);
    assert_clean_failure(env, "volume create", &out);
    env.ok(&["volume", "ls"]);
    assert_volumes_whole(env, "volume create on a full disk");

    let out = env.nsbox(&["run", "--rm", "busybox", "sh", "-c", "echo x > /x"]);
    assert_clean_failure(env, "run", &out);
    assert_eq!(names(env), ["c"], "run on a full disk left a container");

    let out = env.nsbox(&["commit", "c", "snap:1"]);
    assert_clean_failure(env, "commit", &out);
    env.ok(&["images"]);
    assert_eq!(
        env.entries("tmp"),
        Vec::<String>::new(),
        "commit: scratch left"
    );

    // With space again, everything listed is whole and works.
    small.unfill();
    assert_images_whole(env, "after ENOSPC");
    assert_volumes_whole(env, "after ENOSPC");
    env.ok(&["commit", "c", "snap:2"]);
    assert_eq!(env.ok(&["run", "--rm", "snap:2", "cat", "/hi"]), "hi\n");
    env.ok(&["rm", "c"]);
    assert_eq!(env.entries("containers"), Vec::<String>::new());
}

#[test]
fn nobody_reading_our_output_is_not_a_failure() {
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "c",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    let chatty = "i=0; while [ $i -lt 3000 ]; do echo line $i; echo err $i >&2; i=$((i+1)); done";
    for args in [
        &["ps", "-a"][..],
        &["inspect", "c"],
        &["images"],
        &["logs", "c"],
        &["run", "--rm", "busybox", "sh", "-c", chatty],
        &["run", "--rm", "--explain", "busybox", "sh", "-c", chatty],
    ] {
        let child = env
            .cmd()
            .args(args)
            .stdout(common::closed_pipe())
            .stderr(common::closed_pipe())
            .spawn()
            .unwrap();
        let out = common::output_within(child, 60);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
    env.ok(&["rm", "c"]);
    env.assert_no_containers();
    assert_eq!(stdout(&env.nsbox(&["ps", "-aq"])), "");
}
