//! Wix answers from the Wix docs (tests/fixtures/wix/), for mock servers to answer and for the
//! tests to check what the SDK made of them.

use wix_media_upload::wix::FileDescriptor;
use wix_media_upload::wix::{MediaType, OperationStatus};

/// The finalize response of wix-api.md §4, verbatim.
pub const FINALIZE_EXAMPLE: &str = include_str!("../fixtures/wix/finalize-example.json");

/// Checks that `file` is the descriptor of [`FINALIZE_EXAMPLE`].
pub fn assert_example_descriptor(file: &FileDescriptor) {
    assert_eq!(
        file.id.as_deref(),
        Some("2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg")
    );
    assert_eq!(file.size_in_bytes, Some(15359));
    assert_eq!(file.media_type, Some(MediaType::Image));
    assert_eq!(file.operation_status, Some(OperationStatus::Ready));
    assert_eq!(file.display_name.as_deref(), Some("file.jpg"));
    assert_eq!(file.parent_folder_id.as_deref(), Some("media-root"));
    assert_eq!(file.private, Some(false));
}
