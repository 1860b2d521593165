//! Who a Wix REST call acts for.

use crate::secret::Secret;

/// The Wix REST API's base URL.
pub(crate) const DEFAULT_API_BASE: &str = "https://www.wixapis.com";

/// What a call is for: one site (`wix-site-id`) or one account (`wix-account-id`), never both.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// A site-level call.
    Site(String),
    /// An account-level call.
    Account(String),
}

/// An API key (or OAuth access token) and what it acts for. `Debug` never shows the key.
#[derive(Clone, Debug)]
pub struct Credentials {
    api_base: String,
    authorization: Secret,
    scope: Scope,
}

impl Credentials {
    /// A site-level API key or token.
    pub fn site(authorization: impl Into<String>, site_id: impl Into<String>) -> Self {
        Self::new(authorization, Scope::Site(site_id.into()))
    }

    /// An account-level API key or token.
    pub fn account(authorization: impl Into<String>, account_id: impl Into<String>) -> Self {
        Self::new(authorization, Scope::Account(account_id.into()))
    }

    fn new(authorization: impl Into<String>, scope: Scope) -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            authorization: Secret::new(authorization),
            scope,
        }
    }

    /// The credentials in the environment: `WIX_API_KEY` with `WIX_SITE_ID` (or
    /// `WIX_ACCOUNT_ID`), and `WIX_API_BASE` to point the calls elsewhere. `Ok(None)` when
    /// none of the first three is set.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when only some are set, or both ids.
    pub fn from_env() -> crate::Result<Option<Self>> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let (key, site, account) = (
            var("WIX_API_KEY"),
            var("WIX_SITE_ID"),
            var("WIX_ACCOUNT_ID"),
        );
        let creds = match (key, site, account) {
            (None, None, None) => return Ok(None),
            (Some(key), Some(site), None) => Self::site(key, site),
            (Some(key), None, Some(account)) => Self::account(key, account),
            (Some(_), Some(_), Some(_)) => {
                return Err(crate::Error::InvalidInput(
                    "set WIX_SITE_ID or WIX_ACCOUNT_ID, not both".into(),
                ));
            }
            _ => {
                return Err(crate::Error::InvalidInput(
                    "set WIX_API_KEY and WIX_SITE_ID (or WIX_ACCOUNT_ID) together".into(),
                ));
            }
        };
        Ok(Some(match var("WIX_API_BASE") {
            Some(base) => creds.with_api_base(base),
            None => creds,
        }))
    }

    /// Points the calls at another base URL (the emulator's, a proxy's).
    pub fn with_api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// The base URL, without a trailing `/`.
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The site or account.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The `Authorization` value.
    pub(crate) fn authorization(&self) -> &Secret {
        &self.authorization
    }

    /// The headers every call carries.
    pub(crate) fn headers(&self) -> [(&'static str, String); 2] {
        let scope = match &self.scope {
            Scope::Site(id) => ("wix-site-id", id.clone()),
            Scope::Account(id) => ("wix-account-id", id.clone()),
        };
        [
            ("Authorization", self.authorization.expose().to_owned()),
            scope,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_scope_header_and_a_masked_key() {
        let c = Credentials::site("KEY-123", "site-1").with_api_base("http://127.0.0.1:9/");
        assert_eq!(c.api_base(), "http://127.0.0.1:9");
        let [auth, scope] = c.headers();
        assert_eq!(auth, ("Authorization", "KEY-123".to_owned()));
        assert_eq!(scope, ("wix-site-id", "site-1".to_owned()));
        let [_, scope] = Credentials::account("k", "acc").headers();
        assert_eq!(scope.0, "wix-account-id");
        assert!(!format!("{c:?}").contains("KEY-123"));
    }
}
