//! Environments: create, retrieve, update, list, archive, delete; names are unique.
//! `shared/spec/cma-api.md` §2.2, `cma-behaviour.md` C.

use hangar_protocol::environment::{
    CloudConfig, CloudConfigParams, Deleted, Environment, EnvironmentConfig,
    EnvironmentConfigParams, EnvironmentCreateParams, EnvironmentType, EnvironmentUpdateParams,
    LimitedNetwork, Networking, NetworkingParams, Packages, PackagesParams, Scope,
};
use hangar_protocol::error::ApiError;
use hangar_protocol::ids::IdKind;
use hangar_protocol::nullable::Patch;
use hangar_protocol::page::{Order, Page};
use hangar_protocol::time::Timestamp;

use crate::limits::*;
use crate::listing::{ListRequest, page};
use crate::resources::{CAS_ATTEMPTS, Resources, store_error};
use crate::store::{StoreError, Versioned};
use crate::validate;

const LIST: &str = "environments";

pub(crate) fn environment_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Environment `{}` not found.",
        id.chars().take(128).collect::<String>()
    ))
    .with_code("environment_not_found")
}

pub(crate) fn environment_archived(id: &str) -> ApiError {
    ApiError::invalid(format!("Environment {id} is archived.")).with_code("environment_archived")
}

fn duplicate_name(name: &str) -> ApiError {
    ApiError::conflict(format!("An environment named `{name}` already exists."))
}

fn resolve_networking(params: &NetworkingParams) -> Result<Networking, ApiError> {
    Ok(match params {
        NetworkingParams::Unrestricted(_) => Networking::Unrestricted,
        NetworkingParams::Limited(limited) => {
            let hosts = limited.allowed_hosts.clone().unwrap_or_default();
            let field = "config.networking.allowed_hosts";
            validate::count(field, &hosts, MAX_ALLOWED_HOSTS)?;
            for (i, host) in hosts.iter().enumerate() {
                validate::hostname(&format!("{field}[{i}]"), host, true)?;
            }
            Networking::Limited(LimitedNetwork {
                allowed_hosts: hosts,
                allow_mcp_servers: limited.allow_mcp_servers.unwrap_or(false),
                allow_package_managers: limited.allow_package_managers.unwrap_or(false),
            })
        }
    })
}

fn resolve_packages(params: &PackagesParams) -> Result<Packages, ApiError> {
    let packages = Packages {
        r#type: Default::default(),
        apt: params.apt.clone().unwrap_or_default(),
        cargo: params.cargo.clone().unwrap_or_default(),
        gem: params.gem.clone().unwrap_or_default(),
        go: params.go.clone().unwrap_or_default(),
        npm: params.npm.clone().unwrap_or_default(),
        pip: params.pip.clone().unwrap_or_default(),
    };
    for (manager, list) in packages.by_manager() {
        let field = format!("config.packages.{manager}");
        validate::count(&field, list, MAX_PACKAGES_PER_MANAGER)?;
        for (i, spec) in list.iter().enumerate() {
            check_package_spec(&format!("{field}[{i}]"), spec)?;
        }
    }
    Ok(packages)
}

/// A package spec is one token in the manager's own syntax (`pandas==2.2.0`, `curl=8.*`). It
/// may not look like an installer option, so it can never change how the installer runs.
fn check_package_spec(field: &str, spec: &str) -> Result<(), ApiError> {
    validate::text(field, spec, 1, MAX_PACKAGE_SPEC_CHARS)?;
    if spec.starts_with('-') || spec.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::invalid(format!(
            "{field}: `{spec}` is not a valid package spec (one package, no spaces, not an option)"
        )));
    }
    Ok(())
}

/// Resolves a cloud config; on update `stored` supplies omitted parts.
fn resolve_cloud(
    params: &CloudConfigParams,
    stored: Option<&CloudConfig>,
) -> Result<CloudConfig, ApiError> {
    let defaults = CloudConfig::default();
    let base = stored.unwrap_or(&defaults);
    let networking = match &params.networking {
        Patch::Keep => base.networking.clone(),
        Patch::Clear => Networking::Unrestricted,
        Patch::Set(n) => resolve_networking(n)?,
    };
    let packages = match &params.packages {
        Patch::Keep => base.packages.clone(),
        Patch::Clear => Packages::default(),
        Patch::Set(p) => resolve_packages(p)?,
    };
    if let Networking::Limited(limited) = &networking
        && !limited.allow_package_managers
        && !packages.is_empty()
    {
        return Err(ApiError::invalid(
            "config.packages: installing packages under `limited` networking requires \
             `networking.allow_package_managers: true`",
        ));
    }
    Ok(CloudConfig {
        networking,
        packages,
    })
}

fn resolve_config(
    params: Option<&EnvironmentConfigParams>,
    stored: Option<&EnvironmentConfig>,
) -> Result<EnvironmentConfig, ApiError> {
    match (params, stored) {
        (None, Some(stored)) => Ok(stored.clone()),
        (None, None) => Ok(EnvironmentConfig::Cloud(CloudConfig::default())),
        (Some(EnvironmentConfigParams::Cloud(p)), None) => {
            Ok(EnvironmentConfig::Cloud(resolve_cloud(p, None)?))
        }
        (Some(EnvironmentConfigParams::Cloud(p)), Some(EnvironmentConfig::Cloud(s))) => {
            Ok(EnvironmentConfig::Cloud(resolve_cloud(p, Some(s))?))
        }
        (
            Some(EnvironmentConfigParams::SelfHosted(_)),
            None | Some(EnvironmentConfig::SelfHosted),
        ) => Ok(EnvironmentConfig::SelfHosted),
        (Some(p), Some(s)) => {
            let name = |cloud: bool| if cloud { "cloud" } else { "self_hosted" };
            let from = name(matches!(s, EnvironmentConfig::Cloud(_)));
            let to = name(matches!(p, EnvironmentConfigParams::Cloud(_)));
            Err(ApiError::invalid(format!(
                "config.type: cannot change from `{from}` to `{to}`"
            ))
            .with_code("invalid_config_type_change"))
        }
    }
}

impl Resources {
    pub async fn create_environment(
        &self,
        params: EnvironmentCreateParams,
    ) -> Result<Environment, ApiError> {
        validate::text("name", &params.name, 1, MAX_NAME_CHARS)?;
        if let Some(description) = &params.description {
            validate::text("description", description, 0, MAX_DESCRIPTION_CHARS)?;
        }
        let metadata = params.metadata.unwrap_or_default();
        validate::metadata(&metadata)?;
        let config = resolve_config(params.config.as_ref(), None)?;
        let now = Timestamp::now();
        let env = Environment {
            r#type: EnvironmentType,
            id: IdKind::Environment.mint(),
            name: params.name,
            description: params.description,
            scope: Some(params.scope.unwrap_or(Scope::Organization)),
            config,
            metadata,
            created_at: now,
            updated_at: now,
            archived_at: None,
        };
        match self.store.insert_environment(&env).await {
            Ok(()) => Ok(env),
            Err(StoreError::Duplicate { .. }) => Err(duplicate_name(&env.name)),
            Err(err) => Err(store_error(err)),
        }
    }

    pub(crate) async fn versioned_environment(
        &self,
        id: &str,
    ) -> Result<Versioned<Environment>, ApiError> {
        self.store
            .environment(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| environment_not_found(id))
    }

    pub async fn environment(&self, id: &str) -> Result<Environment, ApiError> {
        Ok(self.versioned_environment(id).await?.value)
    }

    pub async fn update_environment(
        &self,
        id: &str,
        params: EnvironmentUpdateParams,
    ) -> Result<Environment, ApiError> {
        self.modify_environment(id, |current| {
            if current.archived_at.is_some() {
                return Err(environment_archived(&current.id));
            }
            let mut next = current.clone();
            if let Some(name) = &params.name {
                validate::text("name", name, 1, MAX_NAME_CHARS)?;
                next.name = name.clone();
            }
            match &params.description {
                Patch::Keep => {}
                Patch::Clear => next.description = None,
                Patch::Set(text) => {
                    validate::text("description", text, 0, MAX_DESCRIPTION_CHARS)?;
                    next.description = Some(text.clone());
                }
            }
            match params.scope {
                Patch::Keep => {}
                Patch::Clear => next.scope = None,
                Patch::Set(scope) => next.scope = Some(scope),
            }
            next.config = resolve_config(params.config.as_ref(), Some(&current.config))?;
            if let Some(patch) = &params.metadata {
                next.metadata = validate::apply_metadata_patch(&current.metadata, patch, true)?;
            }
            Ok(next)
        })
        .await
    }

    pub async fn list_environments(
        &self,
        request: &ListRequest,
    ) -> Result<Page<Environment>, ApiError> {
        let query = request.query(LIST, Order::Desc)?;
        let rows = self
            .store
            .list_environments(&query)
            .await
            .map_err(store_error)?;
        Ok(page(LIST, &query, rows, |e| e.id.clone()))
    }

    /// Archives once; archiving again returns the archived environment unchanged.
    pub async fn archive_environment(&self, id: &str) -> Result<Environment, ApiError> {
        self.modify_environment(id, |current| {
            let mut next = current.clone();
            next.archived_at = current.archived_at.or(Some(Timestamp::now()));
            Ok(next)
        })
        .await
    }

    pub async fn delete_environment(&self, id: &str) -> Result<Deleted, ApiError> {
        if !self
            .store
            .delete_environment(id)
            .await
            .map_err(store_error)?
        {
            return Err(environment_not_found(id));
        }
        Ok(Deleted {
            id: id.to_owned(),
            r#type: "environment_deleted".to_owned(),
        })
    }

    /// Read-modify-write with compare-and-swap; `change` returns the wanted state. A change
    /// that alters nothing writes nothing (and keeps `updated_at`).
    async fn modify_environment(
        &self,
        id: &str,
        change: impl Fn(&Environment) -> Result<Environment, ApiError>,
    ) -> Result<Environment, ApiError> {
        for _ in 0..CAS_ATTEMPTS {
            let Versioned {
                rev,
                value: current,
            } = self.versioned_environment(id).await?;
            let mut next = change(&current)?;
            if next == current {
                return Ok(current);
            }
            next.updated_at = Timestamp::now();
            match self.store.update_environment(&next, rev).await {
                Ok(()) => return Ok(next),
                Err(StoreError::Stale) => continue,
                Err(StoreError::Duplicate { .. }) => return Err(duplicate_name(&next.name)),
                Err(err) => return Err(store_error(err)),
            }
        }
        Err(store_error(StoreError::Stale))
    }
}
