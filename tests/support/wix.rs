//! The SDK's side of the emulator in tests.

use wix_media_testkit::emulator::{API_KEY, Emu, SITE};
use wix_media_upload::Credentials;

/// What the SDK's tests ask of an [`Emu`].
pub trait EmuExt {
    /// Site credentials for the SDK, pointed at this emulator.
    fn credentials(&self) -> Credentials;
}

impl EmuExt for Emu {
    fn credentials(&self) -> Credentials {
        Credentials::site(API_KEY, SITE).with_api_base(self.emu.base_url())
    }
}
