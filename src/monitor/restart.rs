//! `--restart`: Docker's restart policies, applied by the monitor when pid 1 exits.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    #[default]
    No,
    /// Restart after a non-zero exit, at most this many times (0: no limit).
    OnFailure(u32),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// `no`, `on-failure[:N]`, `always`, `unless-stopped`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid restart policy: {s}");
        Ok(match s.split_once(':') {
            None | Some((_, "")) => match s.trim_end_matches(':') {
                "no" | "" => RestartPolicy::No,
                "on-failure" => RestartPolicy::OnFailure(0),
                "always" => RestartPolicy::Always,
                "unless-stopped" => RestartPolicy::UnlessStopped,
                _ => return Err(bad()),
            },
            Some(("on-failure", n)) => {
                RestartPolicy::OnFailure(n.parse().map_err(|_| bad())?)
            }
            Some(_) => {
                return Err(format!(
                    "invalid restart policy: {s}: maximum retry count can only be used with 'on-failure'"
                ))
            }
        })
    }

    /// Docker's name (`HostConfig.RestartPolicy.Name`) and retry count.
    pub fn docker(self) -> (&'static str, u32) {
        match self {
            RestartPolicy::No => ("no", 0),
            RestartPolicy::OnFailure(n) => ("on-failure", n),
            RestartPolicy::Always => ("always", 0),
            RestartPolicy::UnlessStopped => ("unless-stopped", 0),
        }
    }

    /// Whether pid 1's exit with `code` after `restarts` restarts calls for another run.
    /// A container stopped or killed by the user is never restarted.
    pub fn should_restart(self, code: i32, restarts: u32, manually_stopped: bool) -> bool {
        if manually_stopped {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || restarts < max),
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_decide() {
        assert_eq!(RestartPolicy::parse("no"), Ok(RestartPolicy::No));
        assert_eq!(
            RestartPolicy::parse("on-failure:3"),
            Ok(RestartPolicy::OnFailure(3))
        );
        assert_eq!(
            RestartPolicy::parse("on-failure"),
            Ok(RestartPolicy::OnFailure(0))
        );
        assert_eq!(RestartPolicy::parse("always"), Ok(RestartPolicy::Always));
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("always:3").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
        let of = RestartPolicy::OnFailure(2);
        assert!(of.should_restart(1, 0, false));
        assert!(of.should_restart(1, 1, false));
        assert!(!of.should_restart(1, 2, false));
        assert!(!of.should_restart(0, 0, false));
        assert!(RestartPolicy::Always.should_restart(0, 100, false));
        assert!(!RestartPolicy::Always.should_restart(0, 0, true));
        assert!(!RestartPolicy::No.should_restart(1, 0, false));
    }
}
