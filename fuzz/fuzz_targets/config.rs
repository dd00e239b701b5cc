//! Configuration files: TOML text -> `Config` -> `validate`. Nothing may
//! panic; a validated config's parsed fields must agree with the raw ones
//! and be usable as the pipeline uses them; an invalid one must name at
//! least one problem, each with a key.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

use dnsward::config::{Action, Config, ConfigError};
use dnsward::pipeline::dotted_name;
use dnsward::policy::parse::normalize_name;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = toml::from_str::<Config>(text) else {
        return;
    };
    let n_lists = config.lists.len();
    let n_listen = config.server.listen.len();
    match config.validate(Path::new("fuzz.toml"), Path::new("/nonexistent")) {
        Ok(v) => {
            assert_eq!(v.lists.len(), n_lists);
            assert_eq!(v.listen.len(), n_listen);
            assert!(!v.listen.is_empty());
            assert_eq!(v.root_servers.len(), v.config.resolver.root_servers.len());
            assert_eq!(v.upstreams.len(), v.config.resolver.upstreams.len());
            assert_eq!(
                v.authority_allow.len(),
                v.config.resolver.authority_allow.len()
            );
            assert_eq!(
                v.metrics_listen.is_none(),
                v.config.metrics.listen.is_empty()
            );
            assert!(v.config.server.max_udp_payload >= 512);
            assert!(v.config.cache.min_ttl_secs <= v.config.cache.max_ttl_secs);
            assert!(
                v.config.resolver.timeout_ms >= 1 && v.config.resolver.upstream_timeout_ms >= 1
            );
            let mut names = std::collections::HashSet::new();
            for l in &v.lists {
                assert!(matches!(l.ede, 15..=17));
                assert!(!l.name.is_empty() && names.insert(l.name.clone()));
                assert!(l.max_shrink_percent <= 100);
                assert_eq!(l.action == Action::Redirect, l.redirect_to.is_some());
                if let Some(t) = &l.redirect_to {
                    // pipeline/mod.rs builds the target with `dotted_name(t)` and
                    // answers NXDOMAIN instead of the redirect when that
                    // fails. Regressions: regress-redirect-trailing-dot
                    // (`x.`), regress-redirect-leading-hyphen (`-x`).
                    let name = dotted_name(t).unwrap_or_else(|| {
                        panic!("validated redirect_to {t:?} is not usable by the pipeline")
                    });
                    assert!(name.is_fqdn());
                    // ... and it is the name that was validated.
                    let want = normalize_name(t).expect("validated redirect_to normalises");
                    let got: Vec<Vec<u8>> = name.iter().map(<[u8]>::to_ascii_lowercase).collect();
                    let want: Vec<&[u8]> = want.split('.').map(str::as_bytes).collect();
                    assert_eq!(got, want, "redirect_to {t:?} became {name}");
                }
            }
            let _ = v.resolve_timeout();
        }
        Err(ConfigError::Invalid { problems, .. }) => {
            assert!(!problems.is_empty(), "Invalid with no problem");
            for p in &problems {
                assert!(!p.key.is_empty() && !p.reason.is_empty());
                let _ = p.to_string();
            }
        }
        Err(e) => panic!("validate returned a non-validation error: {e}"),
    }
});
