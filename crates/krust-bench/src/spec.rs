//! The promised numbers: the targets table of the repository's `SPECIFICATION.md`, compiled
//! in, and the verdicts the benchmarks print and exit with.

use std::fmt;

/// The specification the targets are read from.
const SPECIFICATION: &str = include_str!("../../../SPECIFICATION.md");

/// Which side of its bound a measurement must fall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The measurement must be at least the value (`≥`).
    AtLeast,
    /// The measurement must be at most the value (`≤`).
    AtMost,
}

/// One target of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Its id, such as `scheduler.pods-per-second`.
    pub id: String,
    /// The side of the value a measurement must fall.
    pub bound: Bound,
    /// The bound itself.
    pub value: f64,
    /// The unit of the value (`ratio`, `pods/s`, `MiB`).
    pub unit: String,
}

impl Target {
    /// Whether `measured` keeps the promise.
    pub fn met_by(&self, measured: f64) -> bool {
        match self.bound {
            Bound::AtLeast => measured >= self.value,
            Bound::AtMost => measured <= self.value,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.bound {
            Bound::AtLeast => "≥",
            Bound::AtMost => "≤",
        };
        write!(f, "{sign} {} {}", self.value, self.unit)
    }
}

/// The target with `id` in `SPECIFICATION.md`; panics if it has none (a unit test checks
/// every id the benchmarks use).
pub fn target(id: &str) -> Target {
    parse(SPECIFICATION)
        .into_iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("SPECIFICATION.md has no target `{id}`"))
}

/// The targets of a specification's table: the rows whose first cell is a backquoted id,
/// with the bound (`≥ 2000`, `≤ 450`) in the third cell and the unit in the fourth.
fn parse(text: &str) -> Vec<Target> {
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().strip_prefix('|')?.split('|').collect();
            let id = cells.first()?.trim().strip_prefix('`')?.strip_suffix('`')?;
            let bound = cells.get(2)?.trim();
            let (bound, value) = if let Some(v) = bound.strip_prefix('≥') {
                (Bound::AtLeast, v)
            } else {
                (Bound::AtMost, bound.strip_prefix('≤')?)
            };
            Some(Target {
                id: id.to_string(),
                bound,
                value: value.trim().parse().ok()?,
                unit: cells.get(3)?.trim().to_string(),
            })
        })
        .collect()
}

/// The verdicts of one benchmark run.
#[derive(Debug, Default)]
pub struct Verdicts {
    missed: Vec<String>,
}

impl Verdicts {
    /// Judges `measured` against the target `id`, prints the verdict line (`what`, the bound,
    /// MET or NOT MET, the ratio and `note`) and remembers a miss. `valid` false (the run did
    /// not complete) is a miss whatever the number.
    pub fn check(&mut self, id: &str, what: &str, measured: f64, valid: bool, note: &str) {
        let target = target(id);
        let met = valid && target.met_by(measured);
        println!(
            "{what} ({target}): {} ({:.2}x){note}",
            if met { "MET" } else { "NOT MET" },
            measured / target.value
        );
        if !met {
            self.missed.push(id.to_string());
        }
    }

    /// The ids of the targets not met.
    pub fn missed(&self) -> &[String] {
        &self.missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_the_benchmarks_check_is_in_the_specification() {
        for id in [
            "store.writes",
            "store.watch-events",
            "scheduler.pods-per-second",
            "scheduler.kube-scheduler-floor",
            "scheduler.peak-memory",
            "pods.container-start",
            "pods.startup-p99",
            "pods.startup-vs-podman",
            "pods.fifty-running",
            "pods.idle-rss",
            "pods.memory-per-pod",
            "network.programming-p99",
            "network.clusterip-vs-direct",
            "network.dns-qps",
            "network.dns-p99",
            "start.cold-ready",
            "start.first-pod",
            "start.dashboard-paint",
            "start.dashboard-live",
        ] {
            target(id);
        }
        assert_eq!(target("scheduler.pods-per-second").value, 2000.0);
        assert_eq!(target("scheduler.kube-scheduler-floor").value, 680.0);
        assert_eq!(target("scheduler.peak-memory").bound, Bound::AtMost);
        assert_eq!(target("pods.startup-p99").value, 0.3);
        assert_eq!(target("pods.startup-vs-podman").bound, Bound::AtLeast);
    }

    #[test]
    fn a_floor_is_met_at_or_above_it_and_a_ceiling_at_or_below_it() {
        let floor = &parse("| `a` | x | ≥ 680 | pods/s | cmd |")[0];
        assert!(floor.met_by(680.0) && floor.met_by(2500.0) && !floor.met_by(679.9));
        let ceiling = &parse("| `b` | x | ≤ 450 | MiB | cmd |")[0];
        assert!(ceiling.met_by(450.0) && ceiling.met_by(300.0) && !ceiling.met_by(450.1));
        assert_eq!(ceiling.to_string(), "≤ 450 MiB");
    }

    #[test]
    fn rows_without_an_id_or_a_bound_are_not_targets() {
        let text = "| id | promise | bound |\n|---|---|---|\n| plain | x | ≥ 1 | u |\n\
                    | `c` | x | about 3 | u |\nprose | `d` | ≥ 1 |";
        assert!(parse(text).is_empty());
    }

    #[test]
    fn a_run_with_a_target_not_met_or_not_complete_reports_it_missed() {
        let mut v = Verdicts::default();
        v.check("scheduler.kube-scheduler-floor", "floor", 700.0, true, "");
        assert!(v.missed().is_empty());
        v.check("scheduler.kube-scheduler-floor", "floor", 700.0, false, "");
        v.check("scheduler.peak-memory", "memory", 451.0, true, "");
        assert_eq!(
            v.missed(),
            ["scheduler.kube-scheduler-floor", "scheduler.peak-memory"]
        );
    }
}
