//! An environment's `packages` as a layer build sees them: validated and normalised into a
//! [`PackageSpec`], hashed into the layer's cache key, and turned into the install plan (which
//! installer runs which command, in which order, within which timeout). Pure: it runs
//! nothing and touches no files. Owns the per-manager policy; running the plan is `build`'s.
//!
//! # Package managers
//! Installers run in this order: apt, pip, npm, cargo, gem, go. A manager whose command is
//! missing after the apt step gets its Debian package first (in the same apt session):
//! - **apt**: `apt-get update`, `apt-get install -y --no-install-recommends …`, then
//!   `apt-get clean` and the package lists removed (they would be stale in a frozen layer).
//! - **pip** (`python3-pip`, `python3-venv`): installs into the system interpreter with
//!   `--break-system-packages`. PEP 668 marks Debian's Python as externally managed; we
//!   override it because the layer is a disposable image of its own, the sandbox's `PATH`
//!   is fixed (a venv would not be on it), and `python3 -c 'import x'` must just work, as in
//!   the hosted containers. `python3-venv` is installed too, so agents can still make venvs.
//! - **npm** (`nodejs`, `npm`): `npm install --global`, binaries in `/usr/local/bin`.
//! - **cargo** (`cargo`): `cargo install --locked --root /usr/local` per crate, over the
//!   sparse crates.io index. It needs cargo 1.68 or newer: older cargo only knows the git
//!   index on github.com, which build egress does not reach, so the build fails and says so
//!   (Debian bookworm ships cargo for Rust 1.65).
//! - **gem** (`ruby`): `gem install --no-document`.
//! - **go** (`golang-go`): `go install <module>@<version>` per package (`@latest` when no
//!   version is given), binaries in `/usr/local/bin`, module cache removed afterwards.

use std::collections::BTreeMap;
use std::time::Duration;

use hangar_protocol::environment::Packages;
use sha2::{Digest, Sha256};

use crate::error::SandboxError;

/// Bumped whenever the plan below changes what a layer contains; part of the layer key.
pub const BUILDER_VERSION: u32 = 1;
/// Longest package spec accepted (the API allows shorter ones; this guards the CLI path).
pub const MAX_PACKAGE_SPEC_CHARS: usize = 512;

/// `apt-get update` against the configured mirror.
pub const APT_UPDATE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// One `apt-get install` (the user's packages, or the managers' tools).
pub const APT_INSTALL_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// One `pip install` of all pip packages together (one resolution).
pub const PIP_INSTALL_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// One `npm install --global` of all npm packages together.
pub const NPM_INSTALL_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// One `cargo install` of one crate (a compile from source).
pub const CARGO_INSTALL_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// One `gem install` of all gems together.
pub const GEM_INSTALL_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// One `go install` of one package (download and compile).
pub const GO_INSTALL_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Quick housekeeping steps (version checks, cleaning caches).
pub const HOUSEKEEPING_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// The oldest cargo that speaks the sparse crates.io index protocol.
pub const MIN_CARGO_VERSION: &str = "1.68";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Manager {
    Apt,
    Pip,
    Npm,
    Cargo,
    Gem,
    Go,
}

impl Manager {
    /// The order installers run in.
    pub const INSTALL_ORDER: [Manager; 6] = [
        Manager::Apt,
        Manager::Pip,
        Manager::Npm,
        Manager::Cargo,
        Manager::Gem,
        Manager::Go,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Manager::Apt => "apt",
            Manager::Pip => "pip",
            Manager::Npm => "npm",
            Manager::Cargo => "cargo",
            Manager::Gem => "gem",
            Manager::Go => "go",
        }
    }

    fn from_name(name: &str) -> Option<Manager> {
        Manager::INSTALL_ORDER
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// The command this manager needs, and the Debian packages that provide it.
    pub fn tool(self) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            Manager::Apt => None,
            Manager::Pip => Some(("pip3", &["python3-pip", "python3-venv"])),
            Manager::Npm => Some(("npm", &["nodejs", "npm"])),
            Manager::Cargo => Some(("cargo", &["cargo"])),
            Manager::Gem => Some(("gem", &["ruby"])),
            Manager::Go => Some(("go", &["golang-go"])),
        }
    }
}

/// Packages per manager, each list trimmed, deduplicated and sorted, empty lists dropped:
/// two environments that ask for the same packages in another order share one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageSpec {
    lists: BTreeMap<Manager, Vec<String>>,
}

impl PackageSpec {
    /// Validates every spec (one token, not an option) and normalises the lists.
    pub fn normalise(packages: &Packages) -> Result<PackageSpec, SandboxError> {
        let mut lists = BTreeMap::new();
        for (name, list) in packages.by_manager() {
            let Some(manager) = Manager::from_name(name) else {
                continue;
            };
            let mut specs = Vec::with_capacity(list.len());
            for raw in list {
                specs.push(validated_spec(manager, raw)?);
            }
            specs.sort();
            specs.dedup();
            if !specs.is_empty() {
                lists.insert(manager, specs);
            }
        }
        Ok(PackageSpec { lists })
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    pub fn packages(&self, manager: Manager) -> &[String] {
        self.lists.get(&manager).map_or(&[], Vec::as_slice)
    }

    /// `apt: jq; pip: six` — for logs and messages.
    pub fn describe(&self) -> String {
        self.lists
            .iter()
            .map(|(manager, specs)| format!("{}: {}", manager.name(), specs.join(" ")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The layer's cache key: a hash of the normalised lists, the base template's key and
    /// [`BUILDER_VERSION`]. Nothing else (an environment's name, id or networking) enters it.
    pub fn layer_key(&self, base_key: &str) -> String {
        let lists: BTreeMap<&str, &Vec<String>> =
            self.lists.iter().map(|(m, l)| (m.name(), l)).collect();
        let canonical = serde_json::json!({
            "builder": BUILDER_VERSION,
            "base": base_key,
            "packages": lists,
        });
        Sha256::digest(canonical.to_string().as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The managers with packages, in install order.
    pub fn managers(&self) -> impl Iterator<Item = Manager> + '_ {
        Manager::INSTALL_ORDER
            .into_iter()
            .filter(|m| self.lists.contains_key(m))
    }
}

fn validated_spec(manager: Manager, raw: &str) -> Result<String, SandboxError> {
    let spec = raw.trim();
    let problem = if spec.is_empty() {
        Some("is empty")
    } else if spec.starts_with('-') {
        Some("looks like an installer option")
    } else if spec.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("contains whitespace or control characters")
    } else if spec.chars().count() > MAX_PACKAGE_SPEC_CHARS {
        Some("is too long")
    } else {
        None
    };
    match problem {
        None => Ok(spec.to_owned()),
        Some(problem) => Err(SandboxError::TemplateBuild {
            step: "validate packages".into(),
            detail: format!(
                "{} package spec {raw:?} {problem} (one package per entry)",
                manager.name()
            ),
        }),
    }
}

/// One installer command of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallStep {
    pub manager: Manager,
    /// What the step does, for logs and as the failed step's name (`apt-get install jq`).
    pub action: String,
    /// The packages the step installs (named in its error).
    pub packages: Vec<String>,
    /// A POSIX shell script run under `set -e` with the build's environment.
    pub script: String,
    pub timeout: Duration,
}

/// Quotes `text` as one shell word.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn quoted(specs: &[String]) -> String {
    specs
        .iter()
        .map(|s| shell_quote(s))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The steps of a build, in order. Empty for an empty spec.
pub fn install_plan(spec: &PackageSpec) -> Vec<InstallStep> {
    if spec.is_empty() {
        return Vec::new();
    }
    let mut steps = apt_steps(spec);
    for manager in spec.managers() {
        let packages = spec.packages(manager);
        steps.extend(match manager {
            Manager::Apt => Vec::new(),
            Manager::Pip => vec![pip_step(packages)],
            Manager::Npm => vec![npm_step(packages)],
            Manager::Cargo => cargo_steps(packages),
            Manager::Gem => vec![gem_step(packages)],
            Manager::Go => go_steps(packages),
        });
    }
    steps.push(cleanup_step());
    steps
}

fn step(manager: Manager, action: String, packages: &[String], script: String) -> InstallStep {
    let timeout = match manager {
        Manager::Apt => APT_INSTALL_TIMEOUT,
        Manager::Pip => PIP_INSTALL_TIMEOUT,
        Manager::Npm => NPM_INSTALL_TIMEOUT,
        Manager::Cargo => CARGO_INSTALL_TIMEOUT,
        Manager::Gem => GEM_INSTALL_TIMEOUT,
        Manager::Go => GO_INSTALL_TIMEOUT,
    };
    InstallStep {
        manager,
        action,
        packages: packages.to_vec(),
        script,
        timeout,
    }
}

/// `apt-get update`, the user's apt packages, the other managers' tools when their commands
/// are missing, then `apt-get clean` and the lists removed. The base's lists are cleaned,
/// so every build starts with an update.
fn apt_steps(spec: &PackageSpec) -> Vec<InstallStep> {
    let apt = spec.packages(Manager::Apt);
    let mut steps = vec![InstallStep {
        timeout: APT_UPDATE_TIMEOUT,
        ..step(
            Manager::Apt,
            "apt-get update".into(),
            apt,
            "apt-get update".into(),
        )
    }];
    if !apt.is_empty() {
        steps.push(step(
            Manager::Apt,
            format!("apt-get install {}", apt.join(" ")),
            apt,
            format!("apt-get install -y --no-install-recommends {}", quoted(apt)),
        ));
    }
    let tools: Vec<(Manager, &str, &[&str])> = spec
        .managers()
        .filter_map(|m| m.tool().map(|(command, debs)| (m, command, debs)))
        .collect();
    if !tools.is_empty() {
        let names: Vec<&str> = tools.iter().map(|(m, ..)| m.name()).collect();
        let debs: Vec<String> = tools
            .iter()
            .flat_map(|(.., debs)| debs.iter().map(|d| (*d).to_owned()))
            .collect();
        let mut script = String::from("missing=\n");
        for (_, command, debs) in &tools {
            script.push_str(&format!(
                "command -v {command} >/dev/null || missing=\"$missing {}\"\n",
                debs.join(" ")
            ));
        }
        script.push_str(
            "if [ -n \"$missing\" ]; then\n  echo \"installing:$missing\"\n  \
             apt-get install -y --no-install-recommends $missing\nfi",
        );
        steps.push(step(
            Manager::Apt,
            format!("apt-get install the tools for {}", names.join(", ")),
            &debs,
            script,
        ));
    }
    steps.push(InstallStep {
        timeout: HOUSEKEEPING_TIMEOUT,
        ..step(
            Manager::Apt,
            "apt-get clean".into(),
            &[],
            // Keep the lists directory's `lock` and `partial/`, as the base has them.
            "apt-get clean\nrm -rf /var/lib/apt/lists/*_* /var/lib/apt/lists/partial/*".into(),
        )
    });
    steps
}

fn pip_step(packages: &[String]) -> InstallStep {
    step(
        Manager::Pip,
        format!("pip install {}", packages.join(" ")),
        packages,
        format!(
            "python3 -m pip install --break-system-packages --no-cache-dir --no-input \
             --disable-pip-version-check --root-user-action=ignore -- {}",
            quoted(packages)
        ),
    )
}

fn npm_step(packages: &[String]) -> InstallStep {
    step(
        Manager::Npm,
        format!("npm install --global {}", packages.join(" ")),
        packages,
        format!(
            "npm install --global --no-audit --no-fund --no-update-notifier -- {}",
            quoted(packages)
        ),
    )
}

fn cargo_steps(packages: &[String]) -> Vec<InstallStep> {
    let check = format!(
        "version=$(cargo --version | cut -d' ' -f2)\n\
         if ! dpkg --compare-versions \"$version\" ge {MIN_CARGO_VERSION}; then\n  \
         echo \"cargo $version is too old: crates.io's sparse index needs cargo \
         {MIN_CARGO_VERSION} or newer, and the git index on github.com is not a registry \
         host the build may reach\"\n  false\nfi"
    );
    let mut steps = vec![InstallStep {
        timeout: HOUSEKEEPING_TIMEOUT,
        ..step(
            Manager::Cargo,
            "cargo: check the version".into(),
            packages,
            check,
        )
    }];
    for package in packages {
        steps.push(step(
            Manager::Cargo,
            format!("cargo install {package}"),
            std::slice::from_ref(package),
            format!(
                "export CARGO_HOME=/var/tmp/hangar-cargo CARGO_TARGET_DIR=/var/tmp/hangar-cargo/target \
                 CARGO_REGISTRIES_CRATES_IO_PROTOCOL=sparse\n\
                 cargo install --locked --root /usr/local {}",
                shell_quote(package)
            ),
        ));
    }
    steps
}

fn gem_step(packages: &[String]) -> InstallStep {
    step(
        Manager::Gem,
        format!("gem install {}", packages.join(" ")),
        packages,
        format!("gem install --no-document {}", quoted(packages)),
    )
}

fn go_steps(packages: &[String]) -> Vec<InstallStep> {
    packages
        .iter()
        .map(|package| {
            let target = match package.contains('@') {
                true => package.clone(),
                false => format!("{package}@latest"),
            };
            step(
                Manager::Go,
                format!("go install {target}"),
                std::slice::from_ref(package),
                format!(
                    "export GOPATH=/var/tmp/hangar-go GOCACHE=/var/tmp/hangar-go/cache \
                     GOBIN=/usr/local/bin GOFLAGS=-modcacherw GOTOOLCHAIN=local\n\
                     go install {}",
                    shell_quote(&target)
                ),
            )
        })
        .collect()
}

/// Removes what the installers cached; none of it belongs in a frozen layer.
fn cleanup_step() -> InstallStep {
    InstallStep {
        manager: Manager::Apt,
        action: "remove the installers' caches".into(),
        packages: Vec::new(),
        script:
            "rm -rf /root/.cache /root/.npm /root/.gem /var/tmp/hangar-cargo /var/tmp/hangar-go"
                .into(),
        timeout: HOUSEKEEPING_TIMEOUT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn packages(apt: &[&str], pip: &[&str]) -> Packages {
        Packages {
            apt: apt.iter().map(|s| (*s).to_owned()).collect(),
            pip: pip.iter().map(|s| (*s).to_owned()).collect(),
            ..Packages::default()
        }
    }

    #[test]
    fn order_duplicates_and_padding_do_not_change_the_key() {
        let a = PackageSpec::normalise(&packages(&["jq", "curl"], &["six"])).unwrap();
        let b =
            PackageSpec::normalise(&packages(&[" curl", "jq", "jq "], &["six", "six"])).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.layer_key("base-1"), b.layer_key("base-1"));
        assert_eq!(a.describe(), "apt: curl jq; pip: six");
    }

    #[test]
    fn the_key_changes_with_packages_manager_and_base() {
        let jq = PackageSpec::normalise(&packages(&["jq"], &[])).unwrap();
        let jq_as_pip = PackageSpec::normalise(&packages(&[], &["jq"])).unwrap();
        let curl = PackageSpec::normalise(&packages(&["curl"], &[])).unwrap();
        let key = jq.layer_key("base-1");
        assert_eq!(key.len(), 32);
        assert_ne!(key, jq_as_pip.layer_key("base-1"));
        assert_ne!(key, curl.layer_key("base-1"));
        assert_ne!(key, jq.layer_key("base-2"));
    }

    #[test]
    fn no_packages_means_no_plan() {
        let spec = PackageSpec::normalise(&Packages::default()).unwrap();
        assert!(spec.is_empty());
        assert!(install_plan(&spec).is_empty());
    }

    #[test]
    fn options_and_multi_word_specs_are_refused_naming_the_manager() {
        for bad in ["-y", "--index-url=http://evil", "a b", "", "x\ny"] {
            let error = PackageSpec::normalise(&packages(&[], &[bad])).unwrap_err();
            assert!(error.to_string().contains("pip package spec"), "{error}");
        }
    }

    #[test]
    fn specs_are_quoted_as_single_shell_words() {
        assert_eq!(shell_quote("a'b;c"), r"'a'\''b;c'");
        let spec = PackageSpec::normalise(&packages(&["x;reboot"], &[])).unwrap();
        let plan = install_plan(&spec);
        assert!(plan[1].script.ends_with("'x;reboot'"), "{}", plan[1].script);
    }

    #[test]
    fn the_plan_runs_apt_first_then_each_manager_with_its_tool() {
        let spec = PackageSpec::normalise(&Packages {
            apt: vec!["jq".into()],
            pip: vec!["six".into()],
            go: vec!["example.com/tool".into()],
            ..Packages::default()
        })
        .unwrap();
        let actions: Vec<String> = install_plan(&spec).into_iter().map(|s| s.action).collect();
        assert_eq!(
            actions,
            [
                "apt-get update",
                "apt-get install jq",
                "apt-get install the tools for pip, go",
                "apt-get clean",
                "pip install six",
                "go install example.com/tool@latest",
                "remove the installers' caches",
            ]
        );
        let tools = &install_plan(&spec)[2];
        assert!(tools.script.contains("command -v pip3"), "{}", tools.script);
        assert!(tools.script.contains("python3-pip python3-venv"));
        assert!(tools.script.contains("golang-go"));
    }

    #[test]
    fn every_step_fits_in_one_bash_call() {
        let spec = PackageSpec::normalise(&Packages {
            apt: vec!["a".into()],
            cargo: vec!["c".into()],
            gem: vec!["g".into()],
            go: vec!["o".into()],
            npm: vec!["n".into()],
            pip: vec!["p".into()],
            ..Packages::default()
        })
        .unwrap();
        let max = Duration::from_millis(hangar_tools::limits::BASH_MAX_TIMEOUT_MS);
        for step in install_plan(&spec) {
            assert!(
                step.timeout <= max,
                "{} exceeds the bash limit",
                step.action
            );
        }
    }
}
