//! `krust dashboard`: a web dashboard of a local cluster, as `minikube dashboard` (which runs
//! `kubectl proxy` in front of the Kubernetes Dashboard). krust serves both halves itself, on
//! 127.0.0.1 only: the page's static files, embedded in the binary ([`assets`]), and a proxy
//! of the API to the profile's server with its admin credentials ([`proxy`]), so the page is
//! logged in for the local user and nothing listens beyond loopback; a page's watches share
//! one response ([`watches`]).

mod assets;
mod proxy;
mod watches;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::response::Response;

use crate::local::{Profile, ProfileArg};

/// `krust dashboard`'s flags.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    profile: ProfileArg,
    /// The local port to serve on (0: any free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Prints the URL instead of opening it in a browser.
    #[arg(long)]
    url: bool,
    /// An admin kubeconfig to use instead of the profile's (for tests).
    #[arg(long, hide = true)]
    kubeconfig: Option<PathBuf>,
}

/// Runs `krust dashboard`; its exit status (1 after `Error: …` on stderr, as the local
/// cluster's commands).
pub async fn main(args: Args) -> i32 {
    match run(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    }
}

/// Serves the dashboard until Ctrl-C.
async fn run(args: Args) -> anyhow::Result<()> {
    let kubeconfig = match args.kubeconfig {
        Some(path) => path,
        None => {
            let profile = Profile::named(&args.profile.name)?;
            if profile.server_pid().is_none() {
                return Err(profile.not_running());
            }
            profile.server_kubeconfig()
        }
    };
    let client = client(&kubeconfig).await?;
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, args.port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{}", args.port))?;
    let url = format!("http://127.0.0.1:{}/", listener.local_addr()?.port());
    if args.url {
        println!("{url}");
    } else {
        println!("The dashboard is at {url} (Ctrl-C stops it)");
        open(&url);
    }
    std::io::Write::flush(&mut std::io::stdout())?;
    let state = Arc::new(Dashboard {
        client,
        streams: Default::default(),
    });
    let app = axum::Router::new().fallback(serve).with_state(state);
    tokio::select! {
        r = axum::serve(listener, app) => r.context("serving the dashboard")?,
        r = crate::stop_requested() => r?,
    }
    Ok(())
}

/// A client of the API server as the kubeconfig's user, without a read timeout: a watch or a
/// followed log may stay quiet for long.
async fn client(kubeconfig: &std::path::Path) -> anyhow::Result<kube::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let file = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let mut config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await?;
    config.read_timeout = None;
    Ok(kube::Client::try_from(config)?)
}

/// What the dashboard's requests share: the API server's client, the pages' watch streams.
struct Dashboard {
    client: kube::Client,
    streams: Arc<watches::Streams>,
}

/// One request: the API's paths go to the server, the pages' watch streams to [`watches`],
/// the rest are the page's files.
async fn serve(State(dashboard): State<Arc<Dashboard>>, request: Request) -> Response {
    let path = request.uri().path();
    if proxy::is_api(path) {
        proxy::forward(&dashboard.client, request).await
    } else if watches::is_watches(path) {
        watches::serve(&dashboard.streams, &dashboard.client, request).await
    } else {
        assets::get(path)
    }
}

/// Opens `url` in the desktop's browser, when there is a desktop (as minikube does).
fn open(url: &str) {
    let desktop =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !desktop {
        return;
    }
    let opened = std::process::Command::new("xdg-open")
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if opened.is_err() {
        println!("(xdg-open is not installed: open the URL in a browser)");
    }
}
