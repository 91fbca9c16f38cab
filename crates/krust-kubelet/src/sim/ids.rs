//! Stable fake identifiers (container and image ids, machine ids) and image name
//! normalization, as a container runtime reports them.

use std::hash::{DefaultHasher, Hash, Hasher};

/// `4 * 16` hex digits derived from `parts` (stable for given inputs).
pub fn hex64(parts: &[&str]) -> String {
    (0u8..4)
        .map(|seed| {
            let mut h = DefaultHasher::new();
            seed.hash(&mut h);
            parts.hash(&mut h);
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// A UUID-shaped id derived from `parts`.
pub fn uuid(parts: &[&str]) -> String {
    let h = hex64(parts);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The name a runtime reports for an image: `nginx` → `docker.io/library/nginx:latest`.
pub fn normalize_image(image: &str) -> String {
    let (repo, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let first = repo.split('/').next().unwrap_or("");
    let has_domain =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = match (has_domain, repo.contains('/')) {
        (true, _) => repo.to_string(),
        (false, true) => format!("docker.io/{repo}"),
        (false, false) => format!("docker.io/library/{repo}"),
    };
    let last = full.rsplit('/').next().unwrap_or("");
    match digest {
        Some(d) => format!("{full}@{d}"),
        None => {
            if !last.contains(':') {
                full.push_str(":latest");
            }
            full
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        assert_eq!(normalize_image("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(
            normalize_image("nginx:1.27"),
            "docker.io/library/nginx:1.27"
        );
        assert_eq!(
            normalize_image("bitnami/redis"),
            "docker.io/bitnami/redis:latest"
        );
        assert_eq!(
            normalize_image("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            normalize_image("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            normalize_image("nginx@sha256:abc"),
            "docker.io/library/nginx@sha256:abc"
        );
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(hex64(&["a", "b"]).len(), 64);
        assert_eq!(hex64(&["a", "b"]), hex64(&["a", "b"]));
        assert_ne!(hex64(&["a", "b"]), hex64(&["ab"]));
        assert_eq!(uuid(&["n"]).len(), 36);
    }
}
