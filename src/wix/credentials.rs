//! Who a Wix REST call acts for.

use crate::secret::Secret;

/// The Wix REST API's base URL.
pub const DEFAULT_API_BASE: &str = "https://www.wixapis.com";

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
    pub fn authorization(&self) -> &Secret {
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
