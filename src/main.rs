//! The `dnsward` command: run the resolver, or check configs and lists
//! offline.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dnsward::config::Config;
use dnsward::policy;
use dnsward::policy::parse::Format;
use dnsward::policy::store::ReloadRequest;
use dnsward::validate::Validated;

#[derive(Parser)]
#[command(name = "dnsward", version, about = "DNS blocking resolver for ISPs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve DNS. Without --config: 127.0.0.1:5353, recursion from the
    /// built-in root hints, every list in ./blocklists, metrics on 127.0.0.1:9153.
    Run {
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file and every list it names.
    CheckConfig {
        /// Configuration file (TOML).
        file: PathBuf,
    },
    /// Parse one list file and report every rejected line. Fails when
    /// nothing is usable or when the file would be refused as mostly
    /// malformed (`max_rejected_percent`).
    CheckList {
        /// The list file.
        file: PathBuf,
        /// auto, domains, hosts, adblock, urls or rpz.
        #[arg(long, default_value = "auto")]
        format: Format,
        /// Refuse the file when malformed lines exceed this percentage of
        /// its significant lines (as the list setting of that name).
        #[arg(long, default_value_t = 50)]
        max_rejected_percent: u8,
        /// Accept single-label (whole-TLD) entries, as the list setting
        /// `allow_tld_entries = true` does; they are still warned about.
        #[arg(long)]
        allow_tld_entries: bool,
    },
    /// Ask a running dnsward to re-read every list now (like SIGHUP).
    /// With --force, lists refused by the shrink, emptied or
    /// too-many-rejected guard are accepted too.
    Reload {
        /// Accept lists the shrink, emptied and too-many-rejected guards refuse.
        #[arg(long)]
        force: bool,
        /// The server's metrics/admin listener.
        #[arg(long, default_value = "127.0.0.1:9153")]
        admin: String,
        /// File with the bearer token the server's
        /// `metrics.admin_token_file` holds.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Print the effective configuration as TOML: every key with the value
    /// in force, defaults included, paths made absolute. Without --config,
    /// the built-in default (what `run` without --config serves). The
    /// output is itself a valid config file.
    Config {
        /// Print the configuration (the only action so far).
        #[arg(long, required = true)]
        print: bool,
        /// Configuration file (TOML); the built-in default without it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Compliance report from the audit log and the query log: per order
    /// id, the list, its entries now, when it was first enforced, every
    /// change (added/removed counts, hashes) and blocked queries per day.
    Report {
        /// Configuration file (TOML): names the lists, `[audit] log` and
        /// `[querylog] path`.
        #[arg(long)]
        config: PathBuf,
        /// Only changes and queries from this UTC day (YYYY-MM-DD) or RFC
        /// 3339 time on.
        #[arg(long)]
        since: Option<String>,
        /// md, csv or json.
        #[arg(long, value_enum, default_value = "md")]
        format: dnsward::report::ReportFormat,
    },
    /// Show which list entries block or allow NAME (offline).
    Explain {
        /// The name to look up.
        name: String,
        /// Decide for this client address: its policy group's lists
        /// (default: a client in no group).
        #[arg(long)]
        client: Option<std::net::IpAddr>,
        /// Configuration file (TOML); the built-in default without it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Load `config`, or the built-in default from the current directory.
/// The second value is a warning for the operator: the built-in default
/// found no list files, so nothing will be blocked.
fn load(config: Option<&PathBuf>) -> anyhow::Result<(Validated, Option<String>)> {
    Ok(match config {
        Some(p) => (Config::load(p)?, None),
        None => {
            let cwd = std::env::current_dir()?;
            let cfg = Config::builtin(&cwd)?;
            let note = cfg.lists.is_empty().then(|| {
                let dir = cwd.join(dnsward::config::DEFAULT_LIST_DIR);
                format!(
                    "built-in config: no list files in {}{} (looked for {}, case-sensitive): serving unfiltered, nothing will be blocked; add list files there or pass --config",
                    dir.display(),
                    if dir.is_dir() { "" } else { " (no such directory)" },
                    dnsward::config::BUILTIN_LIST_PATTERNS.join(", ")
                )
            });
            (cfg, note)
        }
    })
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    // Quiet by default: no per-query lines; hickory's own chatter is cut
    // to warnings.
    let filter = EnvFilter::try_from_env("DNSWARD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,hickory_proto=error"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cfg: Validated, path: Option<PathBuf>) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let running = dnsward::app::start(cfg).await?;
    // Machine-readable lines so scripts and tests learn ephemeral ports.
    for a in &running.dns {
        println!("listening dns udp+tcp {a}");
    }
    if let Some(a) = running.metrics_addr {
        println!("listening http {a}");
    }
    let config_reread = running.config_reread();
    loop {
        tokio::select! {
            _ = config_reread.notified() => {
                tracing::info!("POST /admin/reload: re-reading the configuration");
                if let Some(p) = &path {
                    if let Err(e) = Config::load(p).map_err(anyhow::Error::from).and_then(|c| running.reload_config(&c).map_err(Into::into)) {
                        tracing::error!("config not reloaded, keeping the running one: {e:#}");
                    }
                }
            }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading access control and every list");
                if let Some(p) = &path {
                    match Config::load(p).map_err(anyhow::Error::from).and_then(|c| running.reload_config(&c).map_err(Into::into)) {
                        Ok(_) => {}
                        Err(e) => tracing::error!("config not reloaded, keeping the running one: {e:#}"),
                    }
                }
                running.reload_all();
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!(
        inflight = running.inflight(),
        "shutting down: not ready, then draining"
    );
    running.shutdown_gracefully().await;
    Ok(())
}

fn report(
    config: &std::path::Path,
    since: Option<&str>,
    format: dnsward::report::ReportFormat,
) -> anyhow::Result<bool> {
    let cfg = Config::load(config)?;
    let since = since.map(dnsward::report::parse_since).transpose()?;
    let r = dnsward::report::build(&cfg, since, dnsward::policy::store::unix_secs())?;
    print!("{}", r.render(format));
    Ok(true)
}

fn check_config(file: &std::path::Path) -> anyhow::Result<bool> {
    let cfg = Config::load(file)?;
    let mut ok = true;
    for l in &cfg.lists {
        match policy::compile_list(l, None, false) {
            Ok((c, _)) => println!(
                "list {}: {} entries, {} rejected lines, sha256 {} ({})",
                l.name,
                c.set.len(),
                c.report.rejected,
                c.report.sha256,
                l.path.display()
            ),
            Err(e) => {
                ok = false;
                println!("list {}: {e}", l.name);
            }
        }
    }
    if ok {
        if cfg.lists.is_empty() {
            println!("note: no lists: nothing will be blocked");
        }
        println!("{}: ok", file.display());
    }
    Ok(ok)
}

/// `dnsward config --print`.
fn print_config(cfg: &Validated, source: Option<&PathBuf>) -> anyhow::Result<bool> {
    let text = cfg
        .effective_toml()
        .context("cannot write the configuration as TOML")?;
    let source = match source {
        Some(p) => p.display().to_string(),
        None => "the built-in default".to_string(),
    };
    println!(
        "# Effective dnsward {} configuration, from {source}:\n# every key with the value in force, defaults included.\n",
        env!("CARGO_PKG_VERSION")
    );
    print!("{text}");
    Ok(true)
}

fn check_list(
    file: &std::path::Path,
    format: Format,
    max_rejected_percent: u8,
    allow_tld_entries: bool,
) -> anyhow::Result<bool> {
    use std::io::Write;
    anyhow::ensure!(
        max_rejected_percent <= 100,
        "--max-rejected-percent {max_rejected_percent} is not a percentage (0-100)"
    );
    let (report, entries) = policy::check_list_with(
        file,
        format,
        policy::parse::ParseOptions { allow_tld_entries },
    )?;
    // Written through a locked handle, ignoring errors: `check-list | head`
    // closes the pipe early and that is not a failure of the list.
    let mut out = std::io::stdout().lock();
    for l in report.reject_lines() {
        if writeln!(out, "{l}").is_err() {
            break;
        }
    }
    if report.rejected as usize > report.rejects.len() {
        let _ = writeln!(
            out,
            "... {} more rejected lines not shown",
            report.rejected as usize - report.rejects.len()
        );
    }
    let _ = writeln!(
        out,
        "{}: format {}, {} lines: {} entries accepted ({} distinct names) on {} lines, {} comments/blank, {} skipped placeholders, {} rejected ({} IP addresses); sha256 {}",
        file.display(),
        report.format.unwrap_or(format),
        report.lines,
        report.accepted,
        entries,
        report.entry_lines,
        report.comments,
        report.skipped,
        report.rejected,
        report.ip_literals,
        report.sha256
    );
    if report.tld_entries > 0 {
        let first = report.first_tld_line.unwrap_or_default();
        let _ = writeln!(
            out,
            "warning: {} single-label entries (first at {}:{first}) would cover whole TLDs; {}",
            report.tld_entries,
            file.display(),
            if allow_tld_entries {
                "accepted because of --allow-tld-entries"
            } else {
                "rejected unless the list sets allow_tld_entries = true"
            }
        );
    }
    let too_many = report.too_many_rejected(max_rejected_percent);
    if let Some(percent) = too_many {
        let _ = writeln!(
            out,
            "error: {} of {} significant lines are malformed ({percent}% > max_rejected_percent {max_rejected_percent}): a reload of this file would be refused (too_many_rejected)",
            report.malformed(),
            report.significant(),
        );
    }
    Ok(entries > 0 && too_many.is_none())
}

fn explain(name: &str, client: Option<std::net::IpAddr>, cfg: Validated) -> anyhow::Result<bool> {
    // Before loading any list: an invalid name fails fast.
    policy::explain_query_name(name).map_err(|why| anyhow::anyhow!(why))?;
    let store = dnsward::policy::store::PolicyStore::new(
        cfg.lists.clone(),
        std::sync::Arc::new(dnsward::metrics::Metrics::new()?),
        None,
    );
    let out = store.reload(ReloadRequest {
        reread: true,
        force: false,
    });
    for o in out.failed() {
        eprintln!(
            "warning: list {} not loaded: {}",
            o.list,
            o.error.as_deref().unwrap_or("")
        );
    }
    // An invalid name is an error (exit 1) with the reason, never a
    // confident "not listed".
    store.set_groups(cfg.groups.clone());
    let p = store.load();
    let e = p
        .explain_for(name, &p.groups, client)
        .map_err(|why| anyhow::anyhow!(why))?;
    print!("{e}");
    Ok(true)
}

/// `dnsward reload`: ask a running server (its admin endpoint on the
/// metrics listener) to re-read every list now.
fn reload(admin: &str, force: bool, token_file: Option<&std::path::Path>) -> anyhow::Result<bool> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = admin
        .parse()
        .with_context(|| format!("--admin `{admin}` is not ip:port"))?;
    let auth = match token_file {
        Some(f) => format!(
            "Authorization: Bearer {}\r\n",
            dnsward::http::read_admin_token(f).map_err(|e| anyhow::anyhow!("--token-file {e}"))?
        ),
        None => String::new(),
    };
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot reach dnsward at {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let path = if force {
        "/admin/reload?force=1"
    } else {
        "/admin/reload"
    };
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    println!("{}", body.trim_end());
    Ok(head.starts_with("HTTP/1.1 200"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => {
            dnsward::sys::memory::return_large_frees();
            init_logging();
            load(config.as_ref()).and_then(|(cfg, note)| {
                if let Some(note) = note {
                    tracing::warn!("{note}");
                }
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .context("tokio runtime")?
                    .block_on(run(cfg, config.clone()))
                    .map(|_| true)
            })
        }
        Command::CheckConfig { file } => check_config(&file),
        Command::CheckList {
            file,
            format,
            max_rejected_percent,
            allow_tld_entries,
        } => check_list(&file, format, max_rejected_percent, allow_tld_entries),
        Command::Explain {
            name,
            client,
            config,
        } => load(config.as_ref()).and_then(|(c, note)| {
            if let Some(note) = note {
                eprintln!("warning: {note}");
            }
            explain(&name, client, c)
        }),
        Command::Config { print: _, config } => load(config.as_ref()).and_then(|(c, note)| {
            if let Some(note) = note {
                eprintln!("warning: {note}");
            }
            print_config(&c, config.as_ref())
        }),
        Command::Reload {
            force,
            admin,
            token_file,
        } => reload(&admin, force, token_file.as_deref()),
        Command::Report {
            config,
            since,
            format,
        } => report(&config, since.as_deref(), format),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("dnsward: {e:#}");
            ExitCode::FAILURE
        }
    }
}
