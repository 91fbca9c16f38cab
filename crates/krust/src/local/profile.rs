//! `krust profile list`: the local clusters, as `minikube profile list` tables them: name,
//! whether it runs, its nodes, its API server and whether kubectl's current context is it.

use super::{Profile, kubeconfig};

/// Options of `krust profile`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Lists the local clusters.
    List,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Command::List = args.command;
    let profiles = Profile::all()?;
    if profiles.is_empty() {
        println!("No local clusters: `krust start` makes one.");
        return Ok(());
    }
    let current = kubeconfig::current_context(&kubeconfig::path()?);
    let mut rows = vec![["PROFILE", "STATUS", "NODES", "API SERVER", "ACTIVE"].map(String::from)];
    for profile in profiles {
        let Some(settings) = profile.settings()? else {
            continue;
        };
        let running = profile.server_pid().is_some();
        rows.push([
            profile.name.clone(),
            if running { "Running" } else { "Stopped" }.into(),
            settings.nodes().to_string(),
            format!("https://127.0.0.1:{}", settings.apiserver_port),
            if current == profile.name { "*" } else { "" }.into(),
        ]);
    }
    print!("{}", table(&rows));
    Ok(())
}

/// Rows in columns as kubectl prints them (three spaces between columns).
fn table(rows: &[[String; 5]]) -> String {
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}
