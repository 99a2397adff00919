//! Interactive mode through a real pseudo-terminal: the test opens a pty, starts
//! `nsbox run -it` (or `exec -it`) with the pty's slave as its stdin/stdout/stderr and
//! controlling terminal, types into the master and reads what the container draws.
//!
//! The pty is opened here (nix's openpty) so that the test keeps the slave: it sets the
//! window size before nsbox starts and compares the slave's termios before and after.
//! rexpect's `spawn_stream` does the expect side (timeouts, buffer in the error message).

mod common;

use common::{stderr, stdout, Env, NSBOX};
use nix::pty::{openpty, Winsize};
use nix::sys::termios::{tcgetattr, LocalFlags, Termios};
use rexpect::session::{spawn_stream, StreamSession};
use std::fs::File;
use std::io::Write;
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Every expect and every wait gives up after this long.
const TIMEOUT: Duration = Duration::from_secs(10);
/// busybox sh's prompt for root in `/`.
const PROMPT: &str = "/ # ";

/// An Env with busybox whose drop first force-removes every container it still has (so a
/// failed test leaves no container, monitor or mount), then runs Env's own mount check.
struct Sandbox {
    env: Env,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox {
            env: Env::with_busybox(),
        }
    }
}

impl Deref for Sandbox {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let out = self.env.nsbox(&["ps", "-aq"]);
        for id in stdout(&out).split_whitespace() {
            let _ = self.env.nsbox(&["rm", "-f", id]);
        }
    }
}

/// nsbox running on a pty of ours. Dropping it kills nsbox if it is still running.
struct Tty {
    child: Child,
    s: StreamSession<File>,
    master: OwnedFd,
    slave: OwnedFd,
}

fn winsize(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// A fresh pty pair of this size (the test keeps both ends).
fn pty(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let p = openpty(&winsize(rows, cols), None).expect("openpty");
    (p.master, p.slave)
}

impl Tty {
    /// Start `nsbox ARGS` on a new 24x80 pty.
    fn spawn(env: &Env, args: &[&str]) -> Tty {
        let (master, slave) = pty(24, 80);
        Tty::spawn_on(env, args, master, slave)
    }

    /// Start `nsbox ARGS` in a new session whose controlling terminal is `slave`.
    fn spawn_on(env: &Env, args: &[&str], master: OwnedFd, slave: OwnedFd) -> Tty {
        let fd = |f: &OwnedFd| Stdio::from(f.try_clone().expect("dup pty slave"));
        let mut cmd = Command::new(NSBOX);
        cmd.env("NSBOX_ROOT", env.root())
            .args(args)
            .stdin(fd(&slave))
            .stdout(fd(&slave))
            .stderr(fd(&slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn nsbox on the pty");
        let reader = File::from(master.try_clone().expect("dup pty master"));
        let writer = File::from(master.try_clone().expect("dup pty master"));
        let s = spawn_stream(reader, writer, Some(TIMEOUT.as_millis() as u64));
        Tty {
            child,
            s,
            master,
            slave,
        }
    }

    /// Read until `needle` appears; panic with what was read otherwise.
    fn expect(&mut self, needle: &str) -> String {
        match self.s.exp_string(needle) {
            Ok(before) => before,
            Err(e) => panic!("waiting for {needle:?}: {e}"),
        }
    }

    /// Read until `re` matches; returns (text before, matched text).
    fn expect_re(&mut self, re: &str) -> (String, String) {
        match self.s.exp_regex(re) {
            Ok(r) => r,
            Err(e) => panic!("waiting for /{re}/: {e}"),
        }
    }

    fn prompt(&mut self) -> String {
        self.expect(PROMPT)
    }

    /// Type raw bytes (control characters included) into the terminal.
    fn type_raw(&mut self, s: &str) {
        self.s.send(s).expect("write to pty master");
        self.s.flush().expect("flush pty master");
    }

    /// Type a line and press Enter (a terminal sends CR).
    fn line(&mut self, s: &str) {
        self.type_raw(&format!("{s}\r"));
    }

    /// Set the terminal's window size, as a terminal emulator does on resize.
    fn resize(&self, rows: u16, cols: u16) {
        let ws = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads the winsize we pass.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }

    fn termios(&self) -> Termios {
        tcgetattr(self.slave.as_fd()).expect("tcgetattr on the slave")
    }

    /// Wait for nsbox to exit; panic (after killing it) if it takes longer than TIMEOUT.
    fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("wait for nsbox") {
                return st;
            }
            if start.elapsed() > TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("nsbox did not exit within {TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Run `stty size` in the shell and return what it printed ("ROWS COLS").
fn stty_size(t: &mut Tty) -> String {
    t.line("stty size; echo size-done");
    t.expect("stty size; echo size-done");
    let (_, m) = t.expect_re(r"\d+ \d+\r\nsize-done");
    t.prompt();
    m.split("\r\n").next().unwrap().to_string()
}

#[test]
fn prompt_and_command_output() {
    let env = Sandbox::new();
    let mut t = Tty::spawn(&env, &["run", "-it", "--rm", "busybox", "sh"]);
    t.prompt();
    t.line("echo hello-$((1+2))");
    t.expect("echo hello-$((1+2))"); // the echo of what was typed
    t.expect("hello-3\r\n");
    t.prompt();
    t.line("exit");
    assert_eq!(t.wait().code(), Some(0));
}

#[test]
fn ctrl_c_interrupts_the_foreground_command_and_the_shell_survives() {
    let env = Sandbox::new();
    let mut t = Tty::spawn(&env, &["run", "-it", "--rm", "busybox", "sh"]);
    t.prompt();
    // The quotes keep the echo of the typed line from matching "started".
    t.line("echo st''arted; sleep 100");
    t.expect("started\r\n");
    t.type_raw("\x03");
    t.prompt(); // sleep 100 would hold the prompt back far longer than TIMEOUT
    t.line("echo rc=$?");
    t.expect("rc=130\r\n");
    t.prompt();
    t.line("echo al''ive");
    t.expect("alive\r\n");
    t.prompt();
    t.line("exit");
    assert_eq!(t.wait().code(), Some(0));
}

#[test]
fn initial_window_size_is_copied() {
    let env = Sandbox::new();
    let (master, slave) = pty(30, 90);
    let mut t = Tty::spawn_on(
        &env,
        &["run", "-it", "--rm", "busybox", "sh"],
        master,
        slave,
    );
    t.prompt();
    assert_eq!(stty_size(&mut t), "30 90");
    t.line("exit");
    assert_eq!(t.wait().code(), Some(0));
}

#[test]
fn resize_reaches_the_container() {
    let env = Sandbox::new();
    let mut t = Tty::spawn(&env, &["run", "-it", "--rm", "busybox", "sh"]);
    t.prompt();
    assert_eq!(stty_size(&mut t), "24 80");
    t.resize(40, 100);
    // SIGWINCH and the typed line race inside nsbox; allow the size a few tries to land.
    let mut seen = Vec::new();
    for _ in 0..20 {
        let size = stty_size(&mut t);
        if size == "40 100" {
            break;
        }
        seen.push(size);
        std::thread::sleep(Duration::from_millis(100));
    }
    if !seen.is_empty() {
        eprintln!("stty size before the resize landed: {seen:?}");
    }
    assert!(
        seen.len() < 20,
        "the container's pty never got 40x100: {seen:?}"
    );
    t.line("exit");
    assert_eq!(t.wait().code(), Some(0));
}

#[test]
fn exit_status_is_nsbox_exit_status() {
    let env = Sandbox::new();
    let mut t = Tty::spawn(&env, &["run", "-it", "--rm", "busybox", "sh"]);
    t.prompt();
    t.line("exit 3");
    assert_eq!(t.wait().code(), Some(3));
}

#[test]
fn terminal_is_raw_while_attached_and_restored_after() {
    let env = Sandbox::new();
    let (master, slave) = pty(24, 80);
    let before = tcgetattr(slave.as_fd()).unwrap();
    assert!(before
        .local_flags
        .contains(LocalFlags::ICANON | LocalFlags::ECHO));
    let mut t = Tty::spawn_on(
        &env,
        &["run", "-it", "--rm", "busybox", "sh"],
        master,
        slave,
    );
    t.prompt();
    let during = t.termios();
    assert!(
        !during
            .local_flags
            .intersects(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG),
        "raw mode while attached: {:?}",
        during.local_flags
    );
    t.line("exit 0");
    assert_eq!(t.wait().code(), Some(0));
    assert_eq!(t.termios(), before, "termios restored after exit");
}

/// Detach from `--name NAME busybox sh` with KEYS; nsbox exits 0, the container runs on,
/// the terminal is as before.
fn detach_with(extra: &[&str], keys: &str) {
    let env = Sandbox::new();
    let (master, slave) = pty(24, 80);
    let before = tcgetattr(slave.as_fd()).unwrap();
    let mut args = vec!["run", "-it", "--name", "det"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh"]);
    let mut t = Tty::spawn_on(&env, &args, master, slave);
    t.prompt();
    t.line("echo be''fore");
    t.expect("before\r\n");
    t.prompt();
    t.type_raw(keys);
    let st = t.wait();
    assert_eq!(st.code(), Some(0), "detach ends nsbox with 0");
    assert_eq!(t.termios(), before, "termios restored after detach");

    let id = env.ok(&["inspect", "-f", "{{.Id}}", "det"]);
    let id = id.trim();
    let ps = env.ok(&["ps", "-q"]);
    let listed: Vec<&str> = ps.split_whitespace().collect();
    assert_eq!(listed.len(), 1, "ps -q: {ps:?}");
    assert!(id.starts_with(listed[0]), "ps -q lists det ({id}): {ps:?}");
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.Running}}", "det"])
            .trim(),
        "true"
    );
    let rm = env.nsbox(&["rm", "-f", "det"]);
    assert!(rm.status.success(), "rm -f det: {}", stderr(&rm));
    assert_eq!(env.ok(&["ps", "-aq"]).trim(), "", "det is gone");
}

#[test]
fn ctrl_p_ctrl_q_detaches() {
    detach_with(&[], "\x10\x11");
}

#[test]
fn custom_detach_keys_detach() {
    detach_with(&["--detach-keys", "ctrl-a,x"], "\x01x");
}

#[test]
fn lone_ctrl_p_is_passed_through() {
    let env = Sandbox::new();
    let mut t = Tty::spawn(&env, &["run", "-it", "--name", "det", "busybox", "sh"]);
    t.prompt();
    // The container's pty is canonical: `read` gets Ctrl-P and 'a' as ordinary bytes.
    t.line("read x; printf %s \"$x\" | od -An -tx1");
    t.expect("od -An -tx1");
    t.type_raw("\x10a\r");
    t.expect_re(r"10 +61");
    t.prompt();
    t.line("echo al''ive");
    t.expect("alive\r\n");
    t.prompt();
    assert_eq!(t.child.try_wait().unwrap(), None, "nsbox still attached");
    t.line("exit 0");
    assert_eq!(t.wait().code(), Some(0));
}

#[test]
fn exec_it_into_a_detached_container() {
    let env = Sandbox::new();
    let out = env.nsbox(&["run", "-d", "--name", "ex", "busybox", "sleep", "60"]);
    assert!(out.status.success(), "run -d: {}", stderr(&out));
    let mut t = Tty::spawn(&env, &["exec", "-it", "ex", "sh"]);
    t.prompt();
    t.line("echo pid=$$");
    let (_, m) = t.expect_re(r"pid=\d+");
    assert_ne!(m, "pid=1", "exec's shell is not the container's pid 1");
    t.prompt();
    t.line("exit 5");
    assert_eq!(t.wait().code(), Some(5));
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.State.Running}}", "ex"])
            .trim(),
        "true",
        "the container outlives the exec"
    );
    drop(t);
    let rm = env.nsbox(&["rm", "-f", "ex"]);
    assert!(rm.status.success(), "rm -f ex: {}", stderr(&rm));
}

#[test]
fn interactive_tty_needs_a_terminal() {
    let env = Sandbox::new();
    // stdin is /dev/null (Env::cmd), then a pipe.
    let out = env.nsbox(&["run", "-it", "--rm", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("the input device is not a TTY"),
        "{}",
        stderr(&out)
    );
    let mut child = env
        .cmd()
        .args(["run", "-it", "--rm", "busybox", "true"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"echo hi\n").ok();
    let out = common::output_within(child, 30);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("the input device is not a TTY"),
        "{}",
        stderr(&out)
    );
    // Docker checks the terminal before it creates anything; `--rm` must not leave a
    // container (or its overlay mount) behind either way.
    let ps = env.ok(&["ps", "-a"]);
    assert_eq!(
        ps.lines().count(),
        1,
        "run -it --rm without a TTY left containers behind (mounts: {:?}):\n{ps}",
        env.mounts()
    );
}

#[test]
fn tty_without_interactive_works_without_a_terminal() {
    let env = Sandbox::new();
    let out = env.nsbox(&["run", "-t", "--rm", "busybox", "tty"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let path = text.trim_end_matches(['\r', '\n']);
    let n = path
        .strip_prefix("/dev/pts/")
        .unwrap_or_else(|| panic!("{text:?}"));
    assert!(
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()),
        "{text:?}"
    );
}

#[test]
fn vi_draws_the_full_screen_and_quits() {
    let env = Sandbox::new();
    let mut t = Tty::spawn(&env, &["run", "-it", "--rm", "busybox", "sh"]);
    t.prompt();
    t.line("vi /tmp/x");
    t.expect("vi /tmp/x");
    // vi clears the screen, draws a "~" on every row past the (empty) file, and names
    // the file on its status line (in whichever order it likes).
    let (a, b) = t.expect_re(r"(?s)~.*/tmp/x|/tmp/x.*~");
    t.line(":q");
    let c = t.prompt();
    let screen = format!("{a}{b}{c}");
    let tildes = screen.matches('~').count();
    assert!(
        tildes >= 20,
        "a ~ on most of 24 rows, got {tildes}: {screen:?}"
    );
    t.line("echo back-$((2*3))");
    t.expect("back-6\r\n");
    t.prompt();
    t.line("exit");
    assert_eq!(t.wait().code(), Some(0));
}
