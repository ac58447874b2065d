//! List prices of models (operator configuration) and what a session's usage costs, for
//! `usage.list_cost` and session budgets. A model with no configured price cannot carry a
//! budget (`model_not_budgetable`): a budget that cannot be measured is refused, not ignored.

use std::collections::HashMap;

use serde::Deserialize;

use hangar_protocol::session::SessionUsage;

/// US dollars per million tokens. Cache writes and reads default to the input price (a
/// budget is a safety limit: when in doubt it counts high, never low).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
    #[serde(default)]
    pub cache_write_usd_per_mtok: Option<f64>,
    #[serde(default)]
    pub cache_read_usd_per_mtok: Option<f64>,
}

/// Prices by agent model id (`claude-sonnet-4-6`, `local/qwen2.5-coder`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    prices: HashMap<String, ModelPrice>,
}

impl PriceTable {
    pub fn new(prices: impl IntoIterator<Item = (String, ModelPrice)>) -> Self {
        PriceTable {
            prices: prices.into_iter().collect(),
        }
    }

    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        self.prices.get(model)
    }

    /// The list cost of `usage` on `model` in US cents (rounded up), if the model is priced.
    pub fn cost_cents(&self, model: &str, usage: &SessionUsage) -> Option<u64> {
        let price = self.price(model)?;
        let cache_write = usage.cache_creation.ephemeral_5m_input_tokens
            + usage.cache_creation.ephemeral_1h_input_tokens;
        let dollars = (usage.input_tokens as f64 * price.input_usd_per_mtok
            + usage.output_tokens as f64 * price.output_usd_per_mtok
            + cache_write as f64
                * price
                    .cache_write_usd_per_mtok
                    .unwrap_or(price.input_usd_per_mtok)
            + usage.cache_read_input_tokens as f64
                * price
                    .cache_read_usd_per_mtok
                    .unwrap_or(price.input_usd_per_mtok))
            / 1_000_000.0;
        Some((dollars * 100.0).ceil().max(0.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_counts_every_kind_of_token_and_rounds_up_to_a_cent() {
        let table = PriceTable::new([(
            "m".to_owned(),
            ModelPrice {
                input_usd_per_mtok: 3.0,
                output_usd_per_mtok: 15.0,
                cache_write_usd_per_mtok: None,
                cache_read_usd_per_mtok: Some(0.3),
            },
        )]);
        let mut usage = SessionUsage::zero();
        usage.input_tokens = 1_000_000;
        usage.output_tokens = 100_000;
        usage.cache_read_input_tokens = 1_000_000;
        usage.cache_creation.ephemeral_5m_input_tokens = 1;
        // $3 + $1.50 + $0.30 + a fraction of a cent.
        assert_eq!(table.cost_cents("m", &usage), Some(481));
        assert_eq!(table.cost_cents("other", &usage), None);
    }
}
