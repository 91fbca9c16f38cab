//! `krust logs`: the local cluster's own log (what its `krust server` wrote), as `minikube
//! logs`: the last lines, or all of it followed as it grows.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::Context as _;

use super::{Profile, ProfileArg};

/// Options of `krust logs`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    profile: ProfileArg,
    /// How many lines back to start (0: the whole log).
    #[arg(short = 'n', long, default_value_t = 60)]
    length: usize,
    /// Go on printing what is written (until Ctrl-C).
    #[arg(short, long)]
    follow: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let profile = Profile::named(&args.profile.name)?;
    let path = profile.log_file();
    let mut file = std::fs::File::open(&path).with_context(|| {
        format!(
            "no log of the {:?} cluster (it was never started): {}",
            profile.name,
            path.display()
        )
    })?;
    let mut text = Vec::new();
    file.read_to_end(&mut text)?;
    let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    let skip = if args.length == 0 {
        0
    } else {
        lines.len().saturating_sub(args.length)
    };
    let mut out = std::io::stdout().lock();
    for line in &lines[skip..] {
        out.write_all(line)?;
    }
    out.flush()?;
    if !args.follow {
        return Ok(());
    }
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < file.stream_position()? {
            file.seek(SeekFrom::Start(0))?; // written anew
        }
        let mut more = Vec::new();
        file.read_to_end(&mut more)?;
        out.write_all(&more)?;
        out.flush()?;
    }
}
