//! Environments: container templates (`cloud` with networking and packages, or
//! `self_hosted`). `shared/spec/cma-api.md` §2.2, §3.2.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::agent::{Metadata, MetadataPatch};
use crate::nullable::Patch;
use crate::time::Timestamp;

literal_type!(
    /// `"environment"`
    EnvironmentType = "environment"
);
literal_type!(
    /// `"packages"`
    PackagesType = "packages"
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    pub r#type: EnvironmentType,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub scope: Option<Scope>,
    pub config: EnvironmentConfig,
    pub metadata: Metadata,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Organization,
    Account,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EnvironmentConfig {
    Cloud(CloudConfig),
    SelfHosted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CloudConfig {
    pub networking: Networking,
    pub packages: Packages,
}

impl Default for CloudConfig {
    fn default() -> Self {
        CloudConfig {
            networking: Networking::Unrestricted,
            packages: Packages::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Networking {
    Unrestricted,
    Limited(LimitedNetwork),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LimitedNetwork {
    pub allowed_hosts: Vec<String>,
    pub allow_mcp_servers: bool,
    pub allow_package_managers: bool,
}

/// Packages installed into the environment, one list per package manager.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Packages {
    pub r#type: PackagesType,
    pub apt: Vec<String>,
    pub cargo: Vec<String>,
    pub gem: Vec<String>,
    pub go: Vec<String>,
    pub npm: Vec<String>,
    pub pip: Vec<String>,
}

impl Packages {
    /// Each manager's name with its list, in a fixed order.
    pub fn by_manager(&self) -> [(&'static str, &Vec<String>); 6] {
        [
            ("apt", &self.apt),
            ("cargo", &self.cargo),
            ("gem", &self.gem),
            ("go", &self.go),
            ("npm", &self.npm),
            ("pip", &self.pip),
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.by_manager().iter().all(|(_, list)| list.is_empty())
    }
}

/// `{"id", "type": "<object>_deleted"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    pub r#type: String,
}

// ---------------------------------------------------------------------------------------------
// Request params
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentCreateParams {
    pub name: String,
    #[serde(default)]
    pub config: Option<EnvironmentConfigParams>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub scope: Option<Scope>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentUpdateParams {
    #[serde(default)]
    pub config: Option<EnvironmentConfigParams>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<MetadataPatch>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Scope>)]
    pub scope: Patch<Scope>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EnvironmentConfigParams {
    Cloud(CloudConfigParams),
    SelfHosted(SelfHostedConfigParams),
}

/// `{"type": "self_hosted"}` takes no other field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfHostedConfigParams {}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudConfigParams {
    #[serde(default)]
    #[schema(value_type = Option<NetworkingParams>)]
    pub networking: Patch<NetworkingParams>,
    #[serde(default)]
    #[schema(value_type = Option<PackagesParams>)]
    pub packages: Patch<PackagesParams>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NetworkingParams {
    Unrestricted(UnrestrictedNetworkParams),
    Limited(LimitedNetworkParams),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnrestrictedNetworkParams {}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitedNetworkParams {
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    #[serde(default)]
    pub allow_mcp_servers: Option<bool>,
    #[serde(default)]
    pub allow_package_managers: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackagesParams {
    #[serde(default)]
    pub r#type: Option<PackagesType>,
    #[serde(default)]
    pub apt: Option<Vec<String>>,
    #[serde(default)]
    pub cargo: Option<Vec<String>>,
    #[serde(default)]
    pub gem: Option<Vec<String>>,
    #[serde(default)]
    pub go: Option<Vec<String>>,
    #[serde(default)]
    pub npm: Option<Vec<String>>,
    #[serde(default)]
    pub pip: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn self_hosted_takes_no_sub_fields_and_cloud_rejects_unknown_keys() {
        let ok: Result<EnvironmentConfigParams, _> =
            serde_json::from_value(json!({"type": "self_hosted"}));
        assert!(ok.is_ok());
        let bad: Result<EnvironmentConfigParams, _> =
            serde_json::from_value(json!({"type": "self_hosted", "x": 1}));
        assert!(bad.is_err());
        let bad: Result<EnvironmentConfigParams, _> =
            serde_json::from_value(json!({"type": "cloud", "network": {}}));
        assert!(
            bad.map_err(|e| e.to_string())
                .unwrap_err()
                .contains("network")
        );
    }

    #[test]
    fn default_cloud_config_materialises_all_package_lists() {
        let value = serde_json::to_value(EnvironmentConfig::Cloud(CloudConfig::default()));
        assert_eq!(
            value.ok(),
            Some(
                json!({"type": "cloud", "networking": {"type": "unrestricted"},
                "packages": {"type": "packages", "apt": [], "cargo": [], "gem": [], "go": [],
                    "npm": [], "pip": []}})
            )
        );
    }
}
