//! Session budgets (`budget: {type: "limit", max_list_cost: {amount, currency: "USD"}}`):
//! parsing, and whether a session has used its budget up. `cma-behaviour.md` 40.

use hangar_protocol::error::ApiError;
use hangar_protocol::session::{BudgetLimit, MonetaryAmount, Session, Usd};
use serde::Deserialize;

use crate::pricing::PriceTable;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetParams {
    r#type: String,
    max_list_cost: AmountParams,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AmountParams {
    amount: String,
    currency: String,
}

/// Validates a budget sent by a client.
pub(crate) fn parse(value: &serde_json::Value) -> Result<BudgetLimit, ApiError> {
    let params: BudgetParams = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::invalid(format!("budget: {e}")))?;
    if params.r#type != "limit" {
        return Err(ApiError::invalid(format!(
            "budget.type: `{}` is not a valid value; expected `limit`",
            params.r#type
        )));
    }
    if params.max_list_cost.currency != "USD" {
        return Err(ApiError::invalid(
            "budget.max_list_cost.currency: must be `USD`",
        ));
    }
    let amount = &params.max_list_cost.amount;
    let cents: u64 = amount.parse().ok().filter(|c| *c > 0).ok_or_else(|| {
        ApiError::invalid(
            "budget.max_list_cost.amount: must be a positive whole number of cents, as a string",
        )
    })?;
    Ok(BudgetLimit {
        r#type: "limit".to_owned(),
        max_list_cost: MonetaryAmount {
            amount: cents.to_string(),
            currency: Usd,
        },
    })
}

/// The budget's cap in cents.
pub(crate) fn cap_cents(budget: &BudgetLimit) -> u64 {
    budget.max_list_cost.amount.parse().unwrap_or(0)
}

/// The session's list cost so far in cents (0 for an unpriced model).
pub(crate) fn spent_cents(session: &Session, prices: &PriceTable) -> u64 {
    prices
        .cost_cents(&session.agent.definition.model.id, &session.usage)
        .unwrap_or(0)
}

/// Whether the session has a budget and has spent it.
pub fn reached(session: &Session, prices: &PriceTable) -> bool {
    session
        .budget
        .as_ref()
        .is_some_and(|b| spent_cents(session, prices) >= cap_cents(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn budgets_are_whole_positive_cents_in_usd() {
        let ok = parse(
            &json!({"type": "limit", "max_list_cost": {"amount": "2500", "currency": "USD"}}),
        );
        assert_eq!(ok.map(|b| cap_cents(&b)), Ok(2500));
        for bad in [
            json!({"type": "limit", "max_list_cost": {"amount": 2500, "currency": "USD"}}),
            json!({"type": "limit", "max_list_cost": {"amount": "0", "currency": "USD"}}),
            json!({"type": "limit", "max_list_cost": {"amount": "12.5", "currency": "USD"}}),
            json!({"type": "limit", "max_list_cost": {"amount": "100", "currency": "EUR"}}),
            json!({"type": "cap", "max_list_cost": {"amount": "100", "currency": "USD"}}),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }
}
