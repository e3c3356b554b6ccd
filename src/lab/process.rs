//! Processes a lab or a test starts (daemons in a target namespace, a
//! scanner or Prometheus in the scanner namespace) are stopped by pid when
//! their guard is dropped, so a failing assertion or a panic leaves none
//! running behind the namespace it was started in. One guard for all of
//! them, so the stop sequence (SIGTERM, a bounded wait, then SIGKILL) and
//! its care about reused pids live in one place.
use std::io;
use std::ops::{Deref, DerefMut};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// A child process, stopped by pid when dropped: SIGTERM, then SIGKILL
/// if it has not exited within `grace`. Derefs to the [`Child`] for
/// `id`, `try_wait`, `wait` and `kill`.
pub struct StopOnDrop {
    // `None` only after `wait_with_output` took the child.
    child: Option<Child>,
    grace: Duration,
}

impl StopOnDrop {
    pub fn new(child: Child, grace: Duration) -> Self {
        StopOnDrop { child: Some(child), grace }
    }

    /// Waits for it to exit by itself and collects its piped output; the
    /// child is no longer guarded while this blocks (it is being reaped).
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        self.child.take().expect("the child is present until taken here").wait_with_output()
    }
}

impl Deref for StopOnDrop {
    type Target = Child;

    fn deref(&self) -> &Child {
        self.child.as_ref().expect("the child is present until wait_with_output")
    }
}

impl DerefMut for StopOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the child is present until wait_with_output")
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let Some(child) = self.child.as_mut() else { return };
        // Reaped already (it exited, and was waited for), or not ours to
        // wait for any more (an error: ECHILD when something else reaped
        // it): its pid may have been reused by now, so it is not signalled.
        match child.try_wait() {
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => return,
        }
        // SAFETY: signalling our own child by its pid; it is not reaped yet,
        // so the pid is still its own.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let until = Instant::now() + self.grace;
        while Instant::now() < until {
            match child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Ok(Some(_)) | Err(_) => return,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn alive(pid: u32) -> bool {
        // A zombie still has a /proc entry; a reaped process has none.
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn dropping_stops_a_process_that_honours_sigterm() {
        let guard = StopOnDrop::new(Command::new("sleep").arg("60").stdin(Stdio::null()).spawn().expect("sleep runs"), Duration::from_secs(10));
        let pid = guard.id();
        let start = Instant::now();
        drop(guard);
        assert!(!alive(pid), "pid {pid} still exists after the drop");
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}: SIGTERM should end sleep at once", start.elapsed());
    }

    #[test]
    fn dropping_kills_a_process_that_ignores_sigterm_after_the_grace() {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("sleep");
        cmd.arg("60").stdin(Stdio::null());
        // SAFETY: only async-signal-safe `signal` between fork and exec; an
        // ignored signal stays ignored across exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                Ok(())
            })
        };
        let guard = StopOnDrop::new(cmd.spawn().expect("sleep runs"), Duration::from_millis(300));
        let pid = guard.id();
        let start = Instant::now();
        drop(guard);
        assert!(!alive(pid), "pid {pid} still exists after the drop");
        assert!(start.elapsed() >= Duration::from_millis(300), "stopped before the grace ended ({:?}): SIGTERM was not ignored", start.elapsed());
    }

    #[test]
    fn wait_with_output_collects_what_the_child_printed() {
        let child = Command::new("echo").arg("lab").stdout(Stdio::piped()).spawn().expect("echo runs");
        let out = StopOnDrop::new(child, Duration::from_secs(10)).wait_with_output().expect("echo ends");
        assert!(out.status.success());
        assert_eq!(out.stdout, b"lab\n");
    }
}
