//! Cursor paging: one page of a listing (`Page`, inside the crate), and every item of it,
//! pages fetched on demand ([`Items`]).

use serde::Deserialize;

use super::super::WixClient;
use crate::error::Result;

/// One page of a listing, and where the next one starts. Named by the sealed trait's
/// `fetch`, so `pub` in this private module, but not exported: [`Items`] is the way to page.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items of this page, in the listing's order.
    pub(crate) items: Vec<T>,
    /// The cursor of the next page; `None` on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// A query that lists something page by page: [`ListFiles`](super::ListFiles),
/// [`SearchFiles`](super::SearchFiles) or [`ListFolders`](super::ListFolders). Run it with
/// [`WixClient::list`]: every item, pages fetched as needed (`.take(n)` for the first `n`).
pub trait Listing: sealed::Sealed + Clone {
    /// What it lists: a [`FileDescriptor`](super::super::FileDescriptor) or a
    /// [`Folder`](super::Folder).
    type Item;
}

pub(crate) mod sealed {
    use super::{Listing, Page};
    use crate::error::Result;
    use crate::wix::WixClient;

    /// What [`Listing`] needs from its queries; not for other types.
    pub trait Sealed {
        /// One page: the first, or the one at the query's cursor.
        fn fetch(&self, client: &WixClient) -> Result<Page<<Self as Listing>::Item>>
        where
            Self: Listing;

        /// Sets the cursor of the page to fetch.
        fn set_cursor(&mut self, cursor: Option<String>);

        /// The cursor set.
        fn cursor(&self) -> Option<&str>;
    }
}

/// Every item of a listing, in its order; pages are fetched as they are needed. An error
/// ends it (returned once). Made by [`WixClient::list`].
#[derive(Debug)]
#[must_use = "an iterator does nothing unless consumed"]
pub struct Items<Q: Listing> {
    client: WixClient,
    query: Q,
    page: std::vec::IntoIter<Q::Item>,
    more: bool,
}

impl<Q: Listing> Items<Q> {
    pub(crate) fn new(client: WixClient, query: Q) -> Self {
        Items {
            client,
            query,
            page: Vec::new().into_iter(),
            more: true,
        }
    }
}

impl<Q: Listing> Iterator for Items<Q> {
    type Item = Result<Q::Item>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.page.next() {
                return Some(Ok(item));
            }
            if !self.more {
                return None;
            }
            let page = match self.query.fetch(&self.client) {
                Ok(page) => page,
                Err(e) => {
                    self.more = false;
                    return Some(Err(e));
                }
            };
            // A server that answers the cursor it was given would loop forever.
            let repeated =
                page.next_cursor.is_some() && page.next_cursor.as_deref() == self.query.cursor();
            if repeated {
                log::warn!("a listing answered the cursor it was asked for: stopping there");
            }
            self.more = page.next_cursor.is_some() && !repeated;
            self.query.set_cursor(page.next_cursor);
            self.page = page.items.into_iter();
        }
    }
}

/// `nextCursor` (`{cursors: {next}}`) of a list or search answer; `pagingMetadata` read too,
/// as other Wix APIs name it. An empty cursor is none.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct NextCursor {
    next_cursor: Option<Cursors>,
    paging_metadata: Option<Cursors>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Cursors {
    cursors: Option<Next>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Next {
    next: Option<String>,
}

impl NextCursor {
    /// The next page's cursor, if there is one.
    pub(crate) fn next(self) -> Option<String> {
        [self.next_cursor, self.paging_metadata]
            .into_iter()
            .flatten()
            .filter_map(|c| c.cursors?.next)
            .find(|c| !c.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn next(v: serde_json::Value) -> Option<String> {
        serde_json::from_value::<NextCursor>(v).unwrap().next()
    }

    #[test]
    fn the_next_cursor_is_read_leniently() {
        assert_eq!(
            next(json!({"nextCursor": {"cursors": {"next": "c1"}}})).as_deref(),
            Some("c1")
        );
        assert_eq!(
            next(json!({"pagingMetadata": {"cursors": {"next": "c2"}}})).as_deref(),
            Some("c2")
        );
        for last in [
            json!({}),
            json!({"nextCursor": null}),
            json!({"nextCursor": {"cursors": {"next": null}}}),
            json!({"nextCursor": {"cursors": {"next": ""}}}),
            json!({"nextCursor": {}}),
        ] {
            assert_eq!(next(last.clone()), None, "{last}");
        }
    }
}
